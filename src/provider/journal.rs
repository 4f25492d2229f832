//! The reference provider's journal: what it has promised and what it has registered, on disk,
//! so that a restart loses neither.
//!
//! PDP's code of connection asks a provider to restore service without losing acknowledged
//! data: a 202 to a find is a promise to register its matches. So a find is journalled before
//! it is acknowledged, marked done when its processing ends, and every registration is
//! journalled with its resource id. On start the provider replays the finds not done and knows
//! the registrations it made. Clear-down empties the journal with the rest of the test state.
//!
//! One JSON object a line, appended; `open` reads what is there and rewrites the file with
//! only what is still needed. A line that does not parse is an error naming the file and line:
//! a damaged journal is never silently dropped.

use std::collections::BTreeMap;
use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Finds acknowledged and not yet done that the journal will hold; beyond it a find is
/// refused (503) rather than acknowledged without a record.
pub const MAX_PENDING: usize = 10_000;
/// Lines appended before the file is rewritten with only what is still needed.
const COMPACT_AFTER: usize = 4_096;

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("provider journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "provider journal {path}, line {line}: not a journal entry ({reason}); the file is damaged: move it away to start with an empty journal (its finds will not be replayed)"
    )]
    Damaged {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("provider journal {path}: {MAX_PENDING} acknowledged finds are still pending")]
    Full { path: PathBuf },
}

/// A find the provider acknowledged: what it needs to finish it after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingFind {
    pub request_id: String,
    /// The find request token (the PAT assertion); empty in the claims-body contract.
    pub token: String,
    pub claims: serde_json::Map<String, Value>,
}

/// A registration the provider made: enough to act on it again (view, update).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub asset_guid: String,
    pub resource_id: String,
    /// `match-yes` or `match-possible`.
    pub match_status: String,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Entry {
    Acknowledged(PendingFind),
    Done { request_id: String },
    Registered(Registration),
    Unregistered { asset_guid: String },
}

/// What a journal held when it was opened.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recovered {
    /// Acknowledged finds whose processing never ended, in the order they arrived.
    pub pending: Vec<PendingFind>,
    /// Registrations made, by asset GUID.
    pub registrations: BTreeMap<String, Registration>,
}

#[derive(Debug)]
struct State {
    file: std::fs::File,
    pending: Vec<PendingFind>,
    registrations: BTreeMap<String, Registration>,
    appended: usize,
}

/// An open journal. Each write reaches the file before the call returns; with `sync` it is
/// also flushed to the disk (`fsync`), so it survives the machine as well as the process.
#[derive(Debug)]
pub struct FindJournal {
    path: PathBuf,
    sync: bool,
    state: Mutex<State>,
}

impl FindJournal {
    /// Open (or create) the journal at `path` and recover what it holds.
    pub fn open(path: &Path, sync: bool) -> Result<(FindJournal, Recovered), JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_owned(),
            source,
        };
        let mut pending: Vec<PendingFind> = Vec::new();
        let mut registrations = BTreeMap::new();
        match std::fs::File::open(path) {
            Ok(file) => {
                for (i, line) in std::io::BufReader::new(file).lines().enumerate() {
                    let line = line.map_err(io)?;
                    if line.trim().is_empty() {
                        continue;
                    }
                    let entry: Entry =
                        serde_json::from_str(&line).map_err(|e| JournalError::Damaged {
                            path: path.to_owned(),
                            line: i + 1,
                            reason: e.to_string(),
                        })?;
                    match entry {
                        Entry::Acknowledged(find) => pending.push(find),
                        Entry::Done { request_id } => {
                            pending.retain(|p| p.request_id != request_id);
                        }
                        Entry::Registered(r) => {
                            registrations.insert(r.asset_guid.clone(), r);
                        }
                        Entry::Unregistered { asset_guid } => {
                            registrations.remove(&asset_guid);
                        }
                    }
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(e)),
        }
        let file = rewrite(path, &pending, &registrations, sync)?;
        let recovered = Recovered {
            pending: pending.clone(),
            registrations: registrations.clone(),
        };
        Ok((
            FindJournal {
                path: path.to_owned(),
                sync,
                state: Mutex::new(State {
                    file,
                    pending,
                    registrations,
                    appended: 0,
                }),
            },
            recovered,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Record a find before it is acknowledged.
    pub fn acknowledged(&self, find: &PendingFind) -> Result<(), JournalError> {
        self.append(Entry::Acknowledged(find.clone()))
    }

    /// The find's processing ended (registered, nothing matched, or given up).
    pub fn done(&self, request_id: &str) -> Result<(), JournalError> {
        self.append(Entry::Done {
            request_id: request_id.to_owned(),
        })
    }

    pub fn registered(&self, registration: &Registration) -> Result<(), JournalError> {
        self.append(Entry::Registered(registration.clone()))
    }

    pub fn unregistered(&self, asset_guid: &str) -> Result<(), JournalError> {
        self.append(Entry::Unregistered {
            asset_guid: asset_guid.to_owned(),
        })
    }

    /// Forget everything (clear-down).
    pub fn clear(&self) -> Result<(), JournalError> {
        let mut state = self.lock();
        state.file = rewrite(&self.path, &[], &BTreeMap::new(), self.sync)?;
        state.pending.clear();
        state.registrations.clear();
        state.appended = 0;
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn append(&self, entry: Entry) -> Result<(), JournalError> {
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        let mut state = self.lock();
        match &entry {
            Entry::Acknowledged(find) => {
                if state.pending.len() >= MAX_PENDING {
                    return Err(JournalError::Full {
                        path: self.path.clone(),
                    });
                }
                state.pending.push(find.clone());
            }
            Entry::Done { request_id } => state.pending.retain(|p| &p.request_id != request_id),
            Entry::Registered(r) => {
                state.registrations.insert(r.asset_guid.clone(), r.clone());
            }
            Entry::Unregistered { asset_guid } => {
                state.registrations.remove(asset_guid);
            }
        }
        if state.appended >= COMPACT_AFTER {
            state.file = rewrite(&self.path, &state.pending, &state.registrations, self.sync)?;
            state.appended = 0;
            return Ok(());
        }
        let mut line = serde_json::to_vec(&entry).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        state.file.write_all(&line).map_err(io)?;
        if self.sync {
            state.file.sync_data().map_err(io)?;
        }
        state.appended += 1;
        Ok(())
    }
}

/// Write what is still needed to a new file beside `path`, move it into place, and return the
/// file opened for appending. Readable by its owner only: it holds find tokens and the
/// persons' find data.
fn rewrite(
    path: &Path,
    pending: &[PendingFind],
    registrations: &BTreeMap<String, Registration>,
    sync: bool,
) -> Result<std::fs::File, JournalError> {
    let io = |source| JournalError::Io {
        path: path.to_owned(),
        source,
    };
    let tmp = path.with_extension("jsonl.tmp");
    let mut out = Vec::new();
    for r in registrations.values() {
        serde_json::to_writer(&mut out, &Entry::Registered(r.clone()))
            .map_err(|e| io(std::io::Error::other(e)))?;
        out.push(b'\n');
    }
    for p in pending {
        serde_json::to_writer(&mut out, &Entry::Acknowledged(p.clone()))
            .map_err(|e| io(std::io::Error::other(e)))?;
        out.push(b'\n');
    }
    {
        let mut file = owner_only().open(&tmp).map_err(io)?;
        file.write_all(&out).map_err(io)?;
        if sync {
            file.sync_data().map_err(io)?;
        }
    }
    std::fs::rename(&tmp, path).map_err(io)?;
    let mut options = owner_only();
    options.truncate(false).append(true);
    options.open(path).map_err(io)
}

fn owner_only() -> std::fs::OpenOptions {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    fn find(id: &str) -> PendingFind {
        PendingFind {
            request_id: id.to_owned(),
            token: format!("token-{id}"),
            claims: serde_json::Map::new(),
        }
    }

    fn temp(name: &str) -> PathBuf {
        std::env::temp_dir().join(format!("pdp-journal-{name}-{}.jsonl", uuid::Uuid::new_v4()))
    }

    #[test]
    fn finds_not_done_and_registrations_survive_a_reopen() {
        let path = temp("reopen");
        let (j, recovered) = FindJournal::open(&path, false).expect("open");
        assert_eq!(recovered, Recovered::default());
        j.acknowledged(&find("a")).expect("a");
        j.acknowledged(&find("b")).expect("b");
        j.done("a").expect("done a");
        let reg = Registration {
            asset_guid: "g1".into(),
            resource_id: "r1".into(),
            match_status: "match-yes".into(),
        };
        j.registered(&reg).expect("registered");
        drop(j);
        let (j, recovered) = FindJournal::open(&path, true).expect("reopen");
        assert_eq!(recovered.pending, vec![find("b")]);
        assert_eq!(recovered.registrations.get("g1"), Some(&reg));
        j.unregistered("g1").expect("unregistered");
        j.clear().expect("clear");
        drop(j);
        let (_, recovered) = FindJournal::open(&path, false).expect("reopen after clear");
        assert_eq!(recovered, Recovered::default());
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_damaged_journal_is_an_error_naming_the_file_and_line() {
        let path = temp("damaged");
        std::fs::write(&path, "{\"done\":{\"request_id\":\"a\"}}\nnot json\n").expect("write");
        let err = FindJournal::open(&path, false).expect_err("damaged");
        let text = err.to_string();
        assert!(
            text.contains(&path.display().to_string()) && text.contains("line 2"),
            "{text}"
        );
        assert!(matches!(err, JournalError::Damaged { line: 2, .. }));
        // Nothing was rewritten: the damaged file is still there for the organisation to look at.
        assert!(
            std::fs::read_to_string(&path)
                .expect("read")
                .contains("not json")
        );
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn the_journal_compacts_and_bounds_pending_finds() {
        let path = temp("compact");
        let (j, _) = FindJournal::open(&path, false).expect("open");
        for i in 0..(COMPACT_AFTER + 10) {
            let id = i.to_string();
            j.acknowledged(&find(&id)).expect("ack");
            j.done(&id).expect("done");
        }
        let lines = std::fs::read_to_string(&path)
            .expect("read")
            .lines()
            .count();
        assert!(lines < COMPACT_AFTER, "compacted: {lines} lines");
        drop(j);
        let (_, recovered) = FindJournal::open(&path, false).expect("reopen");
        assert!(recovered.pending.is_empty());
        let _ = std::fs::remove_file(&path);
    }
}
