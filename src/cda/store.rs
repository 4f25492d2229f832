//! The simulated C&A's durable state: one SQLite file (bundled library, WAL) beside the target
//! file, so `serve` can stop and start again, and stage 2 can run the next day, without losing
//! registrations, resource ids, PATs, tickets, RPTs, the audit's call log or the epoch.
//!
//! The store is a journal of the C&A's in-memory maps, not a query engine: every map entry is one
//! row `(kind, key, value)` with the value as JSON, in one of two tables: `live` (what a
//! clear-down empties) and `kept` (what outlives clear-downs: the audit's log). A new map is a
//! new `kind` constant and a `#[derive(Serialize, Deserialize)]`, with no schema change. Rows load
//! in the order they were first written (`rowid`), which keeps the order of the C&A's lists.
//!
//! The file is opened with an exclusive lock held for the process's life, so a second process
//! on the same file (a second `serve`, or a `run` that did not attach to the `serve`) is told
//! so at once instead of both writing. A file that is not ours, is damaged, or comes from a
//! newer schema is refused with the file named; it is never reset silently.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, ErrorCode, OpenFlags, params};
use serde::Serialize;

/// The schema this build writes and reads (`PRAGMA user_version`).
pub const SCHEMA_VERSION: i64 = 1;
/// `PRAGMA application_id` of a C&A state file ("PDPH"): another program's SQLite file is
/// refused rather than written into.
const APPLICATION_ID: i64 = 0x5044_5048;

/// Where a row lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Emptied by clear-down.
    Live,
    /// Survives clear-downs (the audit's call log and what attributes its calls).
    Kept,
}

impl Scope {
    fn table(self) -> &'static str {
        match self {
            Scope::Live => "live",
            Scope::Kept => "kept",
        }
    }
}

/// One change, applied with the others of its call in a single transaction.
#[derive(Debug, Clone)]
pub enum Op {
    /// Insert or replace a row (a replaced row keeps its place in the load order).
    Put {
        scope: Scope,
        kind: &'static str,
        key: String,
        value: String,
    },
    Delete {
        scope: Scope,
        kind: &'static str,
        key: String,
    },
    /// A counter (epoch, last call sequence number).
    Meta { key: &'static str, value: i64 },
    /// Empty the `live` table: clear-down.
    ClearLive,
}

impl Op {
    pub fn put(
        scope: Scope,
        kind: &'static str,
        key: impl Into<String>,
        value: &impl Serialize,
    ) -> Result<Op, StoreError> {
        Ok(Op::Put {
            scope,
            kind,
            key: key.into(),
            value: serde_json::to_string(value).map_err(StoreError::Encode)?,
        })
    }

    pub fn delete(scope: Scope, kind: &'static str, key: impl Into<String>) -> Op {
        Op::Delete {
            scope,
            kind,
            key: key.into(),
        }
    }
}

/// One stored row, in load order.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: String,
    pub key: String,
    pub value: String,
}

/// Everything the file holds.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub live: Vec<Entry>,
    pub kept: Vec<Entry>,
    pub meta: HashMap<String, i64>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the C&A state database {} is in use by another process (a `pdp-harness serve`, or a run that started its own C&A, on this target file): stop that process, or let this run attach to the serve",
        path.display()
    )]
    Locked { path: PathBuf },
    #[error(
        "the C&A state database {} cannot be read ({detail}): it is damaged or not a pdp-harness C&A database. Move it aside to start with an empty C&A (its registrations are lost), or set [cda] state_file to another file",
        path.display()
    )]
    Damaged { path: PathBuf, detail: String },
    #[error(
        "the C&A state database {} has schema version {found}, newer than this pdp-harness reads ({SCHEMA_VERSION}): use the pdp-harness that wrote it, or move the file aside to start with an empty C&A",
        path.display()
    )]
    NewerSchema { path: PathBuf, found: i64 },
    #[error("the C&A state database {}: {what}: {source}", path.display())]
    Io {
        path: PathBuf,
        what: String,
        source: std::io::Error,
    },
    #[error("the C&A state database {}: {source}", path.display())]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("encoding a C&A state entry: {0}")]
    Encode(serde_json::Error),
}

/// The open state file. Its connection is behind a mutex: the C&A writes through from inside
/// its own critical sections, so this lock is always the innermost one.
#[derive(Debug)]
pub struct Store {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl Store {
    /// Open (or create) the state file at `path`, take its exclusive lock, and check its schema.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: path.to_owned(),
                what: format!("creating {}", dir.display()),
                source,
            })?;
        }
        let classify = |source: rusqlite::Error| classify(path, source);
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(classify)?;
        // No waiting for another process's lock: say so at once.
        conn.busy_timeout(std::time::Duration::ZERO)
            .map_err(classify)?;
        // EXCLUSIVE before WAL: the lock is held until the connection closes, and the WAL index
        // lives in this process's memory (no -shm file shared with anyone).
        conn.pragma_update(None, "locking_mode", "EXCLUSIVE")
            .map_err(classify)?;
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
            .map_err(classify)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Damaged {
                path: path.to_owned(),
                detail: format!("journal mode {mode} instead of WAL"),
            });
        }
        // NORMAL in WAL: each commit survives the process being killed; only a power cut can
        // lose the last commits, which costs no fsync per registration.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(classify)?;
        // Registrations and PeIs are test data, but still nobody else's to read (the -wal file
        // SQLite makes takes the same permissions).
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
                |source| StoreError::Io {
                    path: path.to_owned(),
                    what: "making it readable by its owner only".to_owned(),
                    source,
                },
            )?;
        }
        let store = Store {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        };
        store.migrate()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while writing leaves SQLite's own transaction to roll back; carry on.
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Create the tables in a new file; refuse a file that is not ours or is newer. Also takes
    /// the exclusive lock (a write transaction), so a second process fails here.
    fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let classify = |source: rusqlite::Error| classify(&self.path, source);
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
            .map_err(classify)?;
        let version: i64 = tx
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .map_err(classify)?;
        let app: i64 = tx
            .pragma_query_value(None, "application_id", |r| r.get(0))
            .map_err(classify)?;
        let tables: i64 = tx
            .query_row("SELECT count(*) FROM sqlite_master", [], |r| r.get(0))
            .map_err(classify)?;
        if version == 0 && app == 0 && tables == 0 {
            tx.execute_batch(&format!(
                "CREATE TABLE live (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                                    PRIMARY KEY (kind, key));
                 CREATE TABLE kept (kind TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
                                    PRIMARY KEY (kind, key));
                 CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
                 PRAGMA application_id = {APPLICATION_ID};
                 PRAGMA user_version = {SCHEMA_VERSION};"
            ))
            .map_err(classify)?;
        } else if app != APPLICATION_ID {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                detail: format!("application id {app:#x}, not a pdp-harness C&A database"),
            });
        } else if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found: version,
            });
        } else if version < 1 {
            return Err(StoreError::Damaged {
                path: self.path.clone(),
                detail: format!("schema version {version}"),
            });
        }
        tx.commit().map_err(classify)
    }

    /// Apply `ops` in one transaction: all or none.
    pub fn apply(&self, ops: &[Op]) -> Result<(), StoreError> {
        if ops.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let classify = |source: rusqlite::Error| classify(&self.path, source);
        let tx = conn.transaction().map_err(classify)?;
        for op in ops {
            match op {
                Op::Put {
                    scope,
                    kind,
                    key,
                    value,
                } => tx
                    .prepare_cached(&format!(
                        "INSERT INTO {} (kind, key, value) VALUES (?1, ?2, ?3)
                         ON CONFLICT (kind, key) DO UPDATE SET value = excluded.value",
                        scope.table()
                    ))
                    .and_then(|mut s| s.execute(params![kind, key, value])),
                Op::Delete { scope, kind, key } => tx
                    .prepare_cached(&format!(
                        "DELETE FROM {} WHERE kind = ?1 AND key = ?2",
                        scope.table()
                    ))
                    .and_then(|mut s| s.execute(params![kind, key])),
                Op::Meta { key, value } => tx
                    .prepare_cached(
                        "INSERT INTO meta (key, value) VALUES (?1, ?2)
                         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    )
                    .and_then(|mut s| s.execute(params![key, value])),
                Op::ClearLive => tx.execute("DELETE FROM live", []),
            }
            .map_err(classify)?;
        }
        tx.commit().map_err(classify)
    }

    /// Every row, in the order each was first written.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        let conn = self.conn();
        let classify = |source: rusqlite::Error| classify(&self.path, source);
        let rows = |table: &str| -> Result<Vec<Entry>, StoreError> {
            let mut s = conn
                .prepare(&format!(
                    "SELECT kind, key, value FROM {table} ORDER BY rowid"
                ))
                .map_err(classify)?;
            s.query_map([], |r| {
                Ok(Entry {
                    kind: r.get(0)?,
                    key: r.get(1)?,
                    value: r.get(2)?,
                })
            })
            .and_then(Iterator::collect)
            .map_err(classify)
        };
        let live = rows("live")?;
        let kept = rows("kept")?;
        let mut s = conn
            .prepare("SELECT key, value FROM meta")
            .map_err(classify)?;
        let meta = s
            .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?)))
            .and_then(Iterator::collect)
            .map_err(classify)?;
        Ok(Snapshot { live, kept, meta })
    }

    /// A row that does not decode as its kind: the file is damaged (or written by a build
    /// whose shapes differ, which the schema version should have said).
    pub fn undecodable(&self, table: &str, entry: &Entry, error: &serde_json::Error) -> StoreError {
        StoreError::Damaged {
            path: self.path.clone(),
            detail: format!(
                "{table} row {}/{} does not decode: {error}",
                entry.kind, entry.key
            ),
        }
    }
}

/// Lock and corruption codes become the errors that tell the user what to do.
fn classify(path: &Path, source: rusqlite::Error) -> StoreError {
    let path = path.to_owned();
    match source.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => StoreError::Locked { path },
        Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => StoreError::Damaged {
            path,
            detail: source.to_string(),
        },
        _ => StoreError::Sqlite { path, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(kind: &'static str, key: &str, value: i64) -> Op {
        Op::put(Scope::Live, kind, key, &value).expect("encode")
    }

    #[test]
    fn rows_come_back_in_first_write_order_and_clear_down_keeps_the_kept_table() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("sub/cda.sqlite");
        {
            let store = Store::open(&path).expect("new file");
            store
                .apply(&[put("a", "2", 1), put("a", "1", 2), put("b", "x", 3)])
                .expect("write");
            // Replacing a row keeps its place.
            store.apply(&[put("a", "2", 9)]).expect("write");
            store
                .apply(&[
                    Op::put(Scope::Kept, "call", "1", &"kept").expect("encode"),
                    Op::Meta {
                        key: "epoch",
                        value: 4,
                    },
                    Op::delete(Scope::Live, "b", "x"),
                ])
                .expect("write");
        }
        let store = Store::open(&path).expect("reopened");
        let snap = store.load().expect("load");
        let live: Vec<(String, String, String)> = snap
            .live
            .iter()
            .map(|e| (e.kind.clone(), e.key.clone(), e.value.clone()))
            .collect();
        assert_eq!(
            live,
            [("a", "2", "9"), ("a", "1", "2")].map(|(k, key, v)| (k.into(), key.into(), v.into()))
        );
        assert_eq!(snap.meta.get("epoch"), Some(&4));
        store.apply(&[Op::ClearLive]).expect("clear");
        let snap = store.load().expect("load");
        assert!(snap.live.is_empty());
        assert_eq!(snap.kept.len(), 1);
    }

    #[test]
    fn a_foreign_or_newer_sqlite_file_is_refused_and_left_as_it_was() {
        let dir = tempfile::tempdir().expect("temp dir");
        let foreign = dir.path().join("other.sqlite");
        Connection::open(&foreign)
            .and_then(|c| c.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);"))
            .expect("someone else's database");
        let err = Store::open(&foreign).expect_err("not ours");
        assert!(matches!(err, StoreError::Damaged { .. }), "{err}");
        let count: i64 = Connection::open(&foreign)
            .and_then(|c| c.query_row("SELECT count(*) FROM t", [], |r| r.get(0)))
            .expect("still readable");
        assert_eq!(count, 1, "the file was not reset");

        let newer = dir.path().join("newer.sqlite");
        drop(Store::open(&newer).expect("new file"));
        Connection::open(&newer)
            .and_then(|c| c.pragma_update(None, "user_version", SCHEMA_VERSION + 1))
            .expect("bump the version");
        let err = Store::open(&newer).expect_err("newer schema");
        assert!(
            matches!(err, StoreError::NewerSchema { found, .. } if found == SCHEMA_VERSION + 1),
            "{err}"
        );
        assert!(err.to_string().contains("newer.sqlite"), "{err}");
    }

    #[test]
    fn a_second_opener_is_told_the_file_is_in_use_until_the_first_closes() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cda.sqlite");
        let first = Store::open(&path).expect("new file");
        let err = Store::open(&path).expect_err("locked");
        assert!(matches!(err, StoreError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("cda.sqlite"), "{err}");
        drop(first);
        Store::open(&path).expect("free again");
    }

    /// Per-registration cost of the write-through, printed (`--nocapture`) for the README; the
    /// assertion is that every row arrived, never how fast.
    #[test]
    fn a_thousand_single_row_transactions_all_arrive() {
        let dir = tempfile::tempdir().expect("temp dir");
        let store = Store::open(&dir.path().join("cda.sqlite")).expect("new file");
        let value = serde_json::json!({
            "resource_id": "0b4c4f0e-2b8a-4a53-9a43-6f1b8d7c0e2a7",
            "name": "urn:pei:0b4c4f0e-2b8a-4a53-9a43-6f1b8d7c0e2a:1b4c4f0e-2b8a-4a53-9a43-6f1b8d7c0e2a",
            "description": "a pension", "match_status": "match-yes",
            "resource_scopes": ["owner", "value"], "patches": []
        });
        let n = 1000;
        let started = std::time::Instant::now();
        for i in 0..n {
            store
                .apply(&[
                    Op::put(Scope::Live, "registration", i.to_string(), &value).expect("encode"),
                    Op::put(Scope::Live, "post_request_id", i.to_string(), &true).expect("encode"),
                    Op::put(Scope::Kept, "name", i.to_string(), &"name").expect("encode"),
                ])
                .expect("write");
        }
        let per = started.elapsed() / n;
        println!("C&A store: {per:?} per registration write ({n} transactions of 3 rows)");
        let snap = store.load().expect("load");
        assert_eq!(snap.live.len(), 2 * n as usize);
        assert_eq!(snap.kept.len(), n as usize);
    }
}
