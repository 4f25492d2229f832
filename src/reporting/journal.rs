//! The submission journal: one JSON line per state change of a record, written and flushed
//! before the request goes out (`sending`) and after the answer (`accepted`, `refused`,
//! `failed`). A rerun reads it back and, for each record it plans, looks up the record's
//! logical key (target, endpoint, period, reason, holders, part): accepted records are not
//! sent again; a record left `sending` (the process died between sending and journaling the
//! answer) or `in_doubt` (no answer) may have reached the API, so it is held back and
//! reported rather than resent; only a deliberate resubmission (`resubmission` +
//! `correction`) sends that data again. Refused and failed records were not taken, so they
//! may be sent again.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Endpoint;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("reporting journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reporting journal {path}, line {line}: not a journal entry: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalState {
    /// Written before the request; the last word if the process died in flight.
    Sending,
    /// 202 received.
    Accepted,
    /// A 4xx answer: not taken.
    Refused,
    /// Not delivered (connection refused, or 5xx/429 until the retry bound).
    Failed,
    /// Sent, but no answer came (timeout, connection lost): it may have been taken.
    InDoubt,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub at: DateTime<Utc>,
    pub key: String,
    pub endpoint: Endpoint,
    pub record_id: Uuid,
    pub submission_id: Option<Uuid>,
    pub state: JournalState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// A short account of the answer (message and timestamp, or problem codes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// The body, on `sending` entries: a deliberate resubmission can start from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<serde_json::Value>,
}

/// What to do with a planned record, given the journal.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    Send,
    /// Already accepted (when, which record id).
    AlreadyAccepted(JournalEntry),
    /// Sent earlier without a recorded answer: held back, never resent automatically.
    InDoubt(JournalEntry),
}

#[derive(Debug)]
pub struct Journal {
    path: PathBuf,
    file: Mutex<File>,
    last: Mutex<HashMap<String, JournalEntry>>,
}

/// The complete entry at the end of a line that an entry was appended onto after a torn one.
fn glued(line: &str) -> Option<JournalEntry> {
    let start = line.rfind("{\"at\":")?;
    (start > 0)
        .then(|| serde_json::from_str(&line[start..]).ok())
        .flatten()
}

impl Journal {
    /// Open (creating) the journal at `path` and read what it holds. A torn last line (the
    /// process died mid-write, so the entry never completed and its request was never sent)
    /// is cut off, so the next entry starts on a line of its own; a bad line elsewhere is an
    /// error naming it, except a line that an older version wrote an entry onto after a torn
    /// one, whose complete entry is read.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut last = HashMap::new();
        if path.exists() {
            let text = std::fs::read_to_string(path).map_err(io)?;
            let lines: Vec<&str> = text.lines().collect();
            for (i, line) in lines.iter().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<JournalEntry>(line).or_else(|e| glued(line).ok_or(e)) {
                    Ok(e) => {
                        last.insert(e.key.clone(), e);
                    }
                    Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
                    Err(e) => {
                        return Err(JournalError::Corrupt {
                            path: path.to_owned(),
                            line: i + 1,
                            message: e.to_string(),
                        });
                    }
                }
            }
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if path.exists() {
            let text = std::fs::read(path).map_err(io)?;
            if !text.is_empty() && !text.ends_with(b"\n") {
                let keep = text.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
                tracing::warn!(
                    journal = %path.display(),
                    bytes = text.len() - keep,
                    "cut off a torn last line (an entry the process did not finish writing)"
                );
                file.set_len(keep as u64).map_err(io)?;
            }
        }
        Ok(Journal {
            path: path.to_owned(),
            file: Mutex::new(file),
            last: Mutex::new(last),
        })
    }

    /// Append one entry and flush it to the operating system before returning.
    pub fn append(&self, entry: &JournalEntry) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(entry).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        {
            let mut f = self
                .file
                .lock()
                .map_err(|_| io(std::io::Error::other("journal lock poisoned")))?;
            f.write_all(&line)
                .and_then(|()| f.sync_data())
                .map_err(io)?;
        }
        if let Ok(mut last) = self.last.lock() {
            last.insert(entry.key.clone(), entry.clone());
        }
        Ok(())
    }

    pub fn last(&self, key: &str) -> Option<JournalEntry> {
        self.last.lock().ok().and_then(|l| l.get(key).cloned())
    }

    pub fn decide(&self, key: &str) -> Decision {
        match self.last(key) {
            None => Decision::Send,
            Some(e) => match e.state {
                JournalState::Accepted => Decision::AlreadyAccepted(e),
                JournalState::Sending | JournalState::InDoubt => Decision::InDoubt(e),
                JournalState::Refused | JournalState::Failed => Decision::Send,
            },
        }
    }
}
