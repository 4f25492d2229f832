//! The append-only run log: one JSON object per line, flushed as each event happens, so a
//! crash or a kill loses nothing already recorded.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::record::events::LogEvent;

pub const RUN_LOG: &str = "run.log.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum RunLogError {
    #[error("could not write the run log {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not read the run log {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a run log event: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path} is empty or does not start with a run_started event")]
    NoHeader { path: PathBuf },
}

/// Cheap to clone: every clone appends to the same file.
#[derive(Debug, Clone)]
pub struct RunLog {
    path: PathBuf,
    file: std::sync::Arc<File>,
    /// `[redaction] mask` values, replaced in every line before it is written: every output is
    /// rendered from this log, so none can hold them.
    masks: std::sync::Arc<Vec<String>>,
}

fn mask_strings(value: &mut serde_json::Value, masks: &[String]) {
    match value {
        serde_json::Value::String(s) => *s = super::redact::mask_all(s, masks),
        serde_json::Value::Array(items) => items.iter_mut().for_each(|v| mask_strings(v, masks)),
        serde_json::Value::Object(map) => map.values_mut().for_each(|v| mask_strings(v, masks)),
        _ => {}
    }
}

impl RunLog {
    pub fn create(dir: &Path) -> Result<RunLog, RunLogError> {
        let path = dir.join(RUN_LOG);
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(|source| RunLogError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(RunLog {
            path,
            file: std::sync::Arc::new(file),
            masks: Default::default(),
        })
    }

    /// Mask these values in every line written from now on.
    pub fn with_masks(mut self, masks: &[String]) -> RunLog {
        self.masks = std::sync::Arc::new(masks.to_vec());
        self
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one event and flush it to the operating system at once.
    pub fn append(&self, event: &LogEvent) -> Result<(), RunLogError> {
        let error = |e| RunLogError::Write {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        };
        let mut line = if self.masks.is_empty() {
            serde_json::to_vec(event).map_err(error)?
        } else {
            // Masked in string values only, so the line stays a valid event whatever the masks.
            let mut value = serde_json::to_value(event).map_err(error)?;
            mask_strings(&mut value, &self.masks);
            serde_json::to_vec(&value).map_err(error)?
        };
        line.push(b'\n');
        let mut file: &File = &self.file;
        file.write_all(&line)
            .and_then(|()| file.flush())
            .map_err(|source| RunLogError::Write {
                path: self.path.clone(),
                source,
            })
    }
}

/// Read a run log back: its events and the SHA-256 of its bytes. A torn last line (the
/// process died mid-write) is dropped; a bad line elsewhere is an error naming the line.
pub fn read(path: &Path) -> Result<(Vec<LogEvent>, String), RunLogError> {
    let read_err = |source| RunLogError::Read {
        path: path.to_owned(),
        source,
    };
    let bytes = std::fs::read(path).map_err(read_err)?;
    let digest = hex::encode(Sha256::digest(&bytes));
    let lines: Vec<String> = BufReader::new(&bytes[..])
        .lines()
        .collect::<Result<_, _>>()
        .map_err(read_err)?;
    let mut events = Vec::with_capacity(lines.len());
    let last = lines.len().saturating_sub(1);
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<LogEvent>(line) {
            Ok(e) => events.push(e),
            Err(_) if i == last && !bytes.ends_with(b"\n") => break,
            Err(e) => {
                return Err(RunLogError::Corrupt {
                    path: path.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    if !matches!(events.first(), Some(LogEvent::RunStarted(_))) {
        return Err(RunLogError::NoHeader {
            path: path.to_owned(),
        });
    }
    Ok((events, digest))
}
