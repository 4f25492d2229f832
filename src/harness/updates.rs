//! The match-update file on the harness's side (its format is `protocol::match_updates`): what
//! PDP sends an organisation between stage 1 and stage 2, and what the organisation applies in
//! its own system (possible matches confirmed or rejected, matches withdrawn, assets removed).
//! The harness writes it at the end of stage 1 from the test pack's planned updates and the
//! registrations it saw, checks it against the C&A's deletion rules when it is read back, and
//! applies it to a reference provider (`pdp-harness apply-updates`) or through the
//! organisation's `[updates] command`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cda::cas::Registration;
use crate::harness::testpack::{TestPack, UpdateAction};
use crate::protocol::match_status::deletion_allowed;

pub use crate::protocol::match_updates::{
    AppliedUpdate, FILE_NAME, FORMAT, MatchUpdate, MatchUpdateFile,
};

#[derive(Debug, thiserror::Error)]
pub enum UpdatesError {
    #[error("could not read the match-update file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the match-update file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a match-update file: {message}")]
    Invalid { path: PathBuf, message: String },
}

impl MatchUpdateFile {
    /// Build the file from the pack's planned updates and the live registrations. Updates
    /// whose registration stage 1 did not leave are returned separately (and left out), so
    /// the others still run and stage 2 names the missing ones.
    pub fn plan(
        pack: &TestPack,
        registrations: &[Registration],
        run_id: &str,
    ) -> (MatchUpdateFile, Vec<String>) {
        let mut updates = Vec::new();
        let mut missing = Vec::new();
        for planned in &pack.updates {
            let asset = planned.asset.get_ref().to_ascii_lowercase();
            let Some(reg) = registrations.iter().find(|r| {
                r.deleted.is_none()
                    && r.asset_guid()
                        .is_some_and(|a| a.eq_ignore_ascii_case(&asset))
            }) else {
                missing.push(format!(
                    "update {} left out: stage 1 left no live registration of asset {asset} (case {})",
                    planned.id.get_ref(),
                    planned.case.get_ref()
                ));
                continue;
            };
            updates.push(MatchUpdate {
                update_id: planned.id.get_ref().clone(),
                case: planned.case.get_ref().clone(),
                pei: reg.name.clone(),
                asset_guid: asset,
                resource_id: reg.resource_id.clone(),
                current_match_status: reg.match_status.to_string(),
                action: planned.action,
                new_match_status: (planned.action == UpdateAction::Confirm)
                    .then(|| "match-yes".to_owned()),
                deletion_reason: planned.action.deletion_reason().map(str::to_owned),
            });
        }
        let file = MatchUpdateFile {
            format: FORMAT.to_owned(),
            run_id: run_id.to_owned(),
            holdername_guid: pack.holdername_guid().to_owned(),
            generated_at: Utc::now(),
            updates,
        };
        (file, missing)
    }

    /// Read and check a file: format, actions consistent with reasons and the state rules.
    pub fn load(path: &Path) -> Result<MatchUpdateFile, UpdatesError> {
        let bytes = std::fs::read(path).map_err(|source| UpdatesError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message: String| UpdatesError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: MatchUpdateFile =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if file.format != FORMAT {
            return Err(invalid(format!(
                "format is {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        for u in &file.updates {
            if u.deletion_reason.as_deref() != u.action.deletion_reason() {
                return Err(invalid(format!(
                    "update {}: action {} goes with deletion_reason {:?}, not {:?}",
                    u.update_id,
                    u.action.as_str(),
                    u.action.deletion_reason(),
                    u.deletion_reason
                )));
            }
            if let Some(reason) = &u.deletion_reason
                && deletion_allowed(reason, &u.current_match_status) != Some(true)
            {
                return Err(invalid(format!(
                    "update {}: deletion_reason {reason} is not allowed for a PeI with match_status {}",
                    u.update_id, u.current_match_status
                )));
            }
        }
        Ok(file)
    }

    pub fn save(&self, path: &Path) -> Result<(), UpdatesError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| UpdatesError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(path, json).map_err(|source| UpdatesError::Write {
            path: path.to_owned(),
            source,
        })
    }

    pub fn update(&self, id: &str) -> Option<&MatchUpdate> {
        self.updates.iter().find(|u| u.update_id == id)
    }
}

/// The match-update file could not be applied at a reference provider.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{url}: {chain}")]
    Send {
        url: String,
        /// The error with its causes, as the transport reports them.
        chain: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{0}")]
    Read(#[source] reqwest::Error),
    #[error("{url} answered {status}: {body}")]
    Refused {
        url: String,
        status: reqwest::StatusCode,
        body: String,
    },
    #[error("{url} answered an unreadable body: {source}")]
    Unreadable {
        url: String,
        #[source]
        source: serde_json::Error,
    },
}

/// Send the file to a reference provider's match-update endpoint and return its results.
pub async fn apply(
    client: &reqwest::Client,
    provider_base_url: &str,
    file: &MatchUpdateFile,
) -> Result<Vec<AppliedUpdate>, ApplyError> {
    let url = format!(
        "{}{}",
        provider_base_url.trim_end_matches('/'),
        crate::protocol::match_updates::MATCH_UPDATES_PATH
    );
    let resp = client
        .post(&url)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .json(file)
        .send()
        .await
        .map_err(|source| ApplyError::Send {
            url: url.clone(),
            chain: crate::net::tls::error_chain(&source),
            source,
        })?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(ApplyError::Read)?;
    if !status.is_success() {
        return Err(ApplyError::Refused {
            url,
            status,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
    }
    serde_json::from_slice(&body).map_err(|source| ApplyError::Unreadable { url, source })
}

/// Most bytes of each of the `[updates] command`'s stdout and stderr kept for the evidence; the
/// rest is read and dropped so the command never blocks on a full pipe.
pub const COMMAND_OUTPUT_CAP: usize = 8 * 1024;

/// What the `[updates] command` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The command line as run (program, arguments, the file's path).
    pub command: String,
    /// Exit status 0.
    pub success: bool,
    /// "exit status 3", "did not finish within 300 s", "could not be started: ...".
    pub status: String,
    /// The first [`COMMAND_OUTPUT_CAP`] bytes of each stream (lossy UTF-8), and whether more
    /// was cut.
    pub stdout: String,
    pub stderr: String,
    pub truncated: bool,
}

async fn read_capped(
    stream: Option<impl tokio::io::AsyncRead + Unpin>,
) -> std::io::Result<(Vec<u8>, bool)> {
    use tokio::io::AsyncReadExt as _;
    let mut kept = Vec::new();
    let mut cut = false;
    let Some(mut stream) = stream else {
        return Ok((kept, cut));
    };
    let mut buf = [0u8; 4096];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok((kept, cut));
        }
        let room = COMMAND_OUTPUT_CAP.saturating_sub(kept.len());
        kept.extend_from_slice(&buf[..n.min(room)]);
        cut |= n > room;
    }
}

/// Run the organisation's `[updates] command` (no shell) in its own process group: the file's
/// path is its last argument and `PDP_MATCH_UPDATES`; stdout and stderr are kept, bounded; the
/// command is killed (children included) at `timeout` or when the returned future is dropped.
pub async fn run_command(
    argv: &[String],
    file: &Path,
    timeout: std::time::Duration,
) -> CommandOutcome {
    let mut shown: Vec<String> = argv.to_vec();
    shown.push(file.display().to_string());
    let mut outcome = CommandOutcome {
        command: shown.join(" "),
        success: false,
        status: String::new(),
        stdout: String::new(),
        stderr: String::new(),
        truncated: false,
    };
    let Some((program, args)) = argv.split_first() else {
        outcome.status = "the command is empty".to_owned();
        return outcome;
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .arg(file)
        .env("PDP_MATCH_UPDATES", file)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let mut child = match command.spawn() {
        Ok(c) => c,
        Err(e) => {
            outcome.status = format!("could not be started: {e}");
            return outcome;
        }
    };
    let _group = child.id().map(crate::harness::environment::Group::track);
    let (stdout, stderr) = (child.stdout.take(), child.stderr.take());
    let all = async {
        let (out, err, status) =
            tokio::join!(read_capped(stdout), read_capped(stderr), child.wait());
        (out, err, status)
    };
    match tokio::time::timeout(timeout, all).await {
        Err(_) => {
            outcome.status = format!("did not finish within {} s", timeout.as_secs_f64());
        }
        Ok((out, err, status)) => {
            let (out, out_cut) = out.unwrap_or_default();
            let (err, err_cut) = err.unwrap_or_default();
            outcome.stdout = String::from_utf8_lossy(&out).into_owned();
            outcome.stderr = String::from_utf8_lossy(&err).into_owned();
            outcome.truncated = out_cut || err_cut;
            match status {
                Ok(s) => {
                    outcome.success = s.success();
                    outcome.status = match s.code() {
                        Some(c) => format!("exit status {c}"),
                        None => format!("ended by a signal ({s})"),
                    };
                }
                Err(e) => outcome.status = format!("could not be waited for: {e}"),
            }
        }
    }
    outcome
}

/// What stage 1 left at the C&A, written beside the match-update file so that a later stage 2
/// (`run --pack stage2 --after <run id>`) can check the C&A still holds it.
pub const STAGE1_FILE: &str = "stage1-registrations.json";

/// One live registration at the end of stage 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeftRegistration {
    pub resource_id: String,
    pub pei: String,
    pub asset_guid: String,
    pub match_status: String,
}

/// The C&A's live registrations at the end of stage 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stage1Left {
    pub run_id: String,
    pub at: DateTime<Utc>,
    pub registrations: Vec<LeftRegistration>,
}

impl Stage1Left {
    pub fn of(registrations: &[Registration], run_id: &str) -> Stage1Left {
        Stage1Left {
            run_id: run_id.to_owned(),
            at: Utc::now(),
            registrations: registrations
                .iter()
                .filter(|r| r.deleted.is_none())
                .map(|r| LeftRegistration {
                    resource_id: r.resource_id.clone(),
                    pei: r.name.clone(),
                    asset_guid: r.asset_guid().unwrap_or_default().to_ascii_lowercase(),
                    match_status: r.match_status.to_string(),
                })
                .collect(),
        }
    }
}

/// Why `--after <run id>` cannot run stage 2.
#[derive(Debug, thiserror::Error)]
pub enum AfterError {
    #[error("--after {id}: {source}")]
    NoRun {
        id: String,
        #[source]
        source: crate::evidence::history::HistoryError,
    },
    #[error(
        "--after {id}: run {id} did not run stage 1 (pack {pack}): it issued no match-update file; run `pdp-harness run --pack stage1` first and give its run id"
    )]
    NotStage1 { id: String, pack: String },
    #[error(
        "--after {id}: stage 1 of run {id} did not pass ({what}): stage 2 checks the matches a passing stage 1 set up; fix the failures and run stage 1 again"
    )]
    Stage1Failed { id: String, what: String },
    #[error("--after {id}: {what} of run {id} cannot be read: {message}")]
    Unreadable {
        id: String,
        what: &'static str,
        message: String,
    },
    #[error(
        "--after {id}: the C&A no longer holds the registrations stage 1 of run {id} left ({missing} of {total} missing, e.g. {example}): {why}"
    )]
    Gone {
        id: String,
        missing: usize,
        total: usize,
        example: String,
        /// What probably happened, and what to do.
        why: String,
    },
}

/// A stage-1 run that a stage 2 run continues: its match-update file and what it left at the
/// C&A, read from its run directory.
#[derive(Debug, Clone)]
pub struct AfterStage1 {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub updates: MatchUpdateFile,
    pub left: Stage1Left,
}

impl AfterStage1 {
    /// Read run `id` (a directory name under `out`, or a path): it must have run stage 1 and
    /// passed it (with connection proving, if it ran that too).
    pub fn load(out: &Path, id: &str) -> Result<AfterStage1, AfterError> {
        let dir =
            crate::evidence::history::resolve(out, id).map_err(|source| AfterError::NoRun {
                id: id.to_owned(),
                source,
            })?;
        let record =
            crate::evidence::history::read_run(&dir).map_err(|source| AfterError::NoRun {
                id: id.to_owned(),
                source,
            })?;
        let run_id = record.header.run_id.clone();
        let file = dir.join(FILE_NAME);
        if record.match_updates.is_none() || !file.is_file() {
            return Err(AfterError::NotStage1 {
                id: run_id,
                pack: record.header.selection.pack.clone(),
            });
        }
        let early = |s: &crate::record::run::ScenarioRecord| {
            matches!(
                s.stage.as_deref(),
                Some("connection proving" | "stage 1") | None
            )
        };
        let failed: Vec<String> = record
            .scenarios
            .iter()
            .filter(|s| early(s) && s.status != crate::record::run::Status::Passed)
            .map(|s| {
                s.case_id
                    .clone()
                    .unwrap_or_else(|| format!("{}: {}", s.feature, s.name))
            })
            .collect();
        if !failed.is_empty() {
            return Err(AfterError::Stage1Failed {
                id: run_id,
                what: format!("not passed: {}", failed.join(", ")),
            });
        }
        if let Some(reason) = &record.interrupted {
            return Err(AfterError::Stage1Failed {
                id: run_id,
                what: format!("interrupted: {reason}"),
            });
        }
        let unreadable = |what: &'static str, message: String| AfterError::Unreadable {
            id: run_id.clone(),
            what,
            message,
        };
        let updates = MatchUpdateFile::load(&file)
            .map_err(|e| unreadable("the match-update file", e.to_string()))?;
        let left_path = dir.join(STAGE1_FILE);
        let left: Stage1Left = std::fs::read(&left_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice(&b).map_err(|e| e.to_string()))
            .map_err(|e| unreadable(STAGE1_FILE, format!("{}: {e}", left_path.display())))?;
        Ok(AfterStage1 {
            run_id,
            run_dir: dir,
            updates,
            left,
        })
    }

    /// The C&A must still hold every registration stage 1 left (live, or deleted by one of
    /// the file's updates): else stage 2 would judge a C&A that has forgotten stage 1.
    /// `embedded`: the C&A is the embedded default's, which lives only as long as its process.
    pub fn check_held(
        &self,
        registrations: &[Registration],
        embedded: bool,
    ) -> Result<(), AfterError> {
        let missing: Vec<&LeftRegistration> = self
            .left
            .registrations
            .iter()
            .filter(|l| !registrations.iter().any(|r| r.resource_id == l.resource_id))
            .collect();
        match missing.first() {
            None => Ok(()),
            Some(first) => Err(AfterError::Gone {
                id: self.run_id.clone(),
                missing: missing.len(),
                total: self.left.registrations.len(),
                example: format!("{} ({})", first.pei, first.resource_id),
                why: if embedded {
                    "the embedded default's C&A lives only as long as its run's process; for stage 2 in a later process give a --target whose C&A `pdp-harness serve` keeps running, or use --pack all".to_owned()
                } else {
                    "it was cleared down or restarted since; run stage 1 again".to_owned()
                },
            }),
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn sh(script: &str) -> Vec<String> {
        ["sh", "-c", script, "apply"].map(str::to_owned).to_vec()
    }

    #[tokio::test]
    async fn the_command_gets_the_file_and_its_output_is_kept_bounded() {
        let file = Path::new("/tmp/some dir/match-updates.json");
        let out = run_command(
            &sh("echo \"arg=$1 env=$PDP_MATCH_UPDATES\"; head -c 20000 /dev/zero | tr '\\0' x >&2; exit 4"),
            file,
            std::time::Duration::from_secs(60),
        )
        .await;
        assert!(!out.success);
        assert_eq!(out.status, "exit status 4");
        assert_eq!(
            out.stdout.trim(),
            format!("arg={} env={}", file.display(), file.display())
        );
        assert_eq!(
            out.stderr.len(),
            COMMAND_OUTPUT_CAP,
            "stderr cut at the cap"
        );
        assert!(out.truncated);
        assert!(
            out.command.ends_with("match-updates.json"),
            "{}",
            out.command
        );
    }

    #[tokio::test]
    async fn a_command_that_overruns_its_timeout_fails_and_a_missing_one_is_named() {
        let out = run_command(
            &sh("sleep 30"),
            Path::new("f.json"),
            std::time::Duration::from_millis(200),
        )
        .await;
        assert!(!out.success);
        assert_eq!(out.status, "did not finish within 0.2 s");
        let out = run_command(
            &["/nonexistent/apply-updates".to_owned()],
            Path::new("f.json"),
            std::time::Duration::from_secs(5),
        )
        .await;
        assert!(!out.success);
        assert!(
            out.status.starts_with("could not be started"),
            "{}",
            out.status
        );
    }
}
