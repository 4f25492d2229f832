//! Evidence: the run log, the record folded from it, and the outputs rendered from that record
//! alone (`run.json`, `junit.xml`, `cucumber.json`, `report.html`, `evidence.pdf`), sealed by `manifest.json`
//! and `seal.json` (see [`seal`]). `run` and `report` call the same [`render`], so a report
//! re-rendered later is the same as the one the run wrote.

pub mod cucumber_json;
pub mod history;
pub mod html;
pub mod junit;
pub mod pdf;
pub mod present;
pub mod seal;

use std::path::{Path, PathBuf};

use crate::record::run::{self as record, RunRecord};
use crate::record::runlog;

pub const RUN_JSON: &str = "run.json";
pub const JUNIT_XML: &str = "junit.xml";
pub const EVIDENCE_PDF: &str = "evidence.pdf";
pub const CUCUMBER_JSON: &str = "cucumber.json";
pub const REPORT_HTML: &str = "report.html";

#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error(transparent)]
    RunLog(#[from] runlog::RunLogError),
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not render {path}: {message}")]
    Render { path: PathBuf, message: String },
    #[error("{} is not readable: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which outputs to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pdf,
    Junit,
    Json,
    /// Cucumber JSON (`cucumber.json`)
    Cucumber,
    /// One self-contained page (`report.html`)
    Html,
    All,
}

/// ", 36 not started" when planned scenarios never started, else nothing (so complete runs
/// read as before).
pub fn not_started_text(c: &record::Counts) -> String {
    if c.not_started > 0 {
        format!(", {} not started", c.not_started)
    } else {
        String::new()
    }
}

/// The test manager's sign-off details, inside the bundle (covered by the manifest).
pub const SIGN_OFF: &str = "inputs/signoff.json";
/// The record of each `report --reseal`, inside the bundle.
pub const RESEAL: &str = "reseal.json";
/// Notes files larger than this are refused: they are free text, not attachments.
pub const NOTES_LIMIT: usize = 64 * 1024;

/// Fold a run directory's log into its record, with the sign-off details and re-seal history
/// kept beside it.
pub fn load_record(run_dir: &Path) -> Result<RunRecord, EvidenceError> {
    let path = run_dir.join(runlog::RUN_LOG);
    let (events, digest) = runlog::read(&path)?;
    let mut record = RunRecord::from_events(events, digest).ok_or_else(|| {
        EvidenceError::RunLog(runlog::RunLogError::NoHeader { path: path.clone() })
    })?;
    record.sign_off = read_json(&run_dir.join(SIGN_OFF))?;
    record.resealed = read_json(&run_dir.join(RESEAL))?.unwrap_or_default();
    if record.header.inputs.is_empty() {
        // Logs older than the header's digests: the bundle's own list.
        record.header.inputs = read_json(&run_dir.join(seal::INPUTS_USED))?.unwrap_or_default();
    }
    Ok(record)
}

/// A JSON file of the bundle, if it is there.
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, EvidenceError> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => {
            return Err(EvidenceError::Read {
                path: path.to_owned(),
                source,
            });
        }
    };
    serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|source| EvidenceError::Unreadable {
            path: path.to_owned(),
            source,
        })
}

fn write_json<T: serde::Serialize>(path: PathBuf, value: &T) -> Result<PathBuf, EvidenceError> {
    let json = serde_json::to_vec_pretty(value).map_err(|e| EvidenceError::Render {
        path: path.clone(),
        message: e.to_string(),
    })?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| EvidenceError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    write(path, &json)
}

/// Add sign-off details to a run directory (fields given replace those already there). The
/// next [`render`] prints them and seals them.
pub fn set_sign_off(run_dir: &Path, sign_off: record::SignOff) -> Result<(), EvidenceError> {
    let path = run_dir.join(SIGN_OFF);
    let current: record::SignOff = read_json(&path)?.unwrap_or_default();
    write_json(path, &current.merged(sign_off)).map(|_| ())
}

/// Record that the bundle is about to be re-rendered from a log that no longer matches its
/// seal: the new cover says so, and lists what had changed.
pub fn record_reseal(run_dir: &Path, problems: Vec<String>) -> Result<(), EvidenceError> {
    let path = run_dir.join(RESEAL);
    let mut all: Vec<record::Reseal> = read_json(&path)?.unwrap_or_default();
    all.push(record::Reseal {
        at: chrono::Utc::now(),
        problems,
    });
    write_json(path, &all).map(|_| ())
}

fn write(path: PathBuf, bytes: &[u8]) -> Result<PathBuf, EvidenceError> {
    // Write beside and rename, so a reader never sees half a file.
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, &path))
        .map_err(|source| EvidenceError::Write {
            path: path.clone(),
            source,
        })?;
    Ok(path)
}

/// Render the chosen outputs of a run directory from its run log; returns the files written.
pub fn render(run_dir: &Path, format: Format) -> Result<(RunRecord, Vec<PathBuf>), EvidenceError> {
    let record = load_record(run_dir)?;
    let mut written = Vec::new();
    if matches!(format, Format::Json | Format::All) {
        let path = run_dir.join(RUN_JSON);
        let json = serde_json::to_vec_pretty(&record).map_err(|e| EvidenceError::Render {
            path: path.clone(),
            message: e.to_string(),
        })?;
        written.push(write(path, &json)?);
    }
    if matches!(format, Format::Junit | Format::All) {
        let path = run_dir.join(JUNIT_XML);
        let xml = junit::render_junit(&record).map_err(|e| EvidenceError::Render {
            path: path.clone(),
            message: e.to_string(),
        })?;
        written.push(write(path, &xml)?);
    }
    if matches!(format, Format::Cucumber | Format::All) {
        let path = run_dir.join(CUCUMBER_JSON);
        let json =
            cucumber_json::render_cucumber_json(&record).map_err(|e| EvidenceError::Render {
                path: path.clone(),
                message: e.to_string(),
            })?;
        written.push(write(path, &json)?);
    }
    // The manifest covers everything but the PDF and the HTML, which print the manifest's
    // digest; the seal then covers the manifest, the PDF and the HTML. Any re-render re-seals.
    let run_id = &record.header.run_id;
    let manifest_sha256 = seal::write_manifest(run_dir, run_id)?;
    written.push(run_dir.join(seal::MANIFEST));
    if matches!(format, Format::Html | Format::All) {
        let path = run_dir.join(REPORT_HTML);
        let html = html::render_html(&record, Some(&manifest_sha256));
        written.push(write(path, html.as_bytes())?);
    }
    if matches!(format, Format::Pdf | Format::All) {
        let path = run_dir.join(EVIDENCE_PDF);
        let pdf = pdf::render_pdf(&record, Some(&manifest_sha256)).map_err(|e| {
            EvidenceError::Render {
                path: path.clone(),
                message: e.to_string(),
            }
        })?;
        written.push(write(path, &pdf)?);
    }
    seal::write_seal(run_dir, run_id)?;
    written.push(run_dir.join(seal::SEAL));
    Ok((record, written))
}
