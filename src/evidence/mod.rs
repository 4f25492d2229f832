//! Evidence: the run log, the record folded from it, and the outputs rendered from that record
//! alone (`run.json`, `junit.xml`, `cucumber.json`, `report.html`, `evidence.pdf`), sealed by `manifest.json`
//! and `seal.json` (see [`seal`]). `run` and `report` call the same [`render`], so a report
//! re-rendered later is the same as the one the run wrote.

pub mod classify;
pub mod cucumber_json;
pub mod history;
pub mod html;
pub mod junit;
pub mod pdf;
pub mod record;
pub mod redact;
pub mod runlog;
pub mod seal;
pub mod synthetic;

use std::path::{Path, PathBuf};

use record::RunRecord;

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
    #[error("could not read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Which outputs to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
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

/// Fold a run directory's log into its record.
pub fn load_record(run_dir: &Path) -> Result<RunRecord, EvidenceError> {
    let path = run_dir.join(runlog::RUN_LOG);
    let (events, digest) = runlog::read(&path)?;
    RunRecord::from_events(events, digest)
        .ok_or_else(|| EvidenceError::RunLog(runlog::RunLogError::NoHeader { path: path.clone() }))
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
    if matches!(format, Format::Html | Format::All) {
        let path = run_dir.join(REPORT_HTML);
        let html = html::render_html(&record);
        written.push(write(path, html.as_bytes())?);
    }
    // The manifest covers everything but the PDF, which prints the manifest's digest; the
    // seal then covers the manifest and the PDF. Any re-render re-seals.
    let run_id = &record.header.run_id;
    let manifest_sha256 = seal::write_manifest(run_dir, run_id)?;
    written.push(run_dir.join(seal::MANIFEST));
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
