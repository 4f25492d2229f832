//! The target file's hooks: the provider's clear-down (an HTTP call or a command) and the
//! commands the harness runs (clear-down, restart) in their own process groups, killed with the
//! run. A run and `pdp-harness clear` clear down through the same [`ClearDown::run`].

use std::time::Duration;

use crate::harness::config::TargetConfig;
use crate::net::recorder::{Recorder, SendFailure};
use crate::net::tls::TlsError;
use crate::record::redact::Redactor;

use super::PARTY_CLEAR_DOWN;

/// The provider's clear-down hook.
#[derive(Debug, Clone)]
pub enum ClearDown {
    /// POST to this URL with the harness's client certificate.
    Http(String),
    /// Run this program with these arguments; exit status 0 means cleared.
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
}

/// What a clear-down did, for the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cleared {
    /// The URL answered this 2xx status.
    Http { url: String, status: u16 },
    /// The command exited 0.
    Command(Vec<String>),
}

impl std::fmt::Display for Cleared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cleared::Http { url, status } => match reqwest::StatusCode::from_u16(*status) {
                Ok(code) => write!(f, "{url} answered {code}"),
                Err(_) => write!(f, "{url} answered {status}"),
            },
            Cleared::Command(argv) => write!(f, "{} exited 0", argv.join(" ")),
        }
    }
}

impl ClearDown {
    pub(super) fn describe(&self) -> String {
        match self {
            ClearDown::Http(url) => url.clone(),
            ClearDown::Command { argv, .. } => format!("command {}", argv.join(" ")),
        }
    }

    /// Clear down: POST to the URL with `client` (the exchange kept by `recorder`), or run the
    /// command; a 2xx answer or exit status 0 means the provider's test data was cleared.
    pub async fn run(
        &self,
        recorder: &Recorder,
        client: &reqwest::Client,
    ) -> Result<Cleared, ClearDownError> {
        match self {
            ClearDown::Http(url) => post_clear_down(recorder, client, url).await,
            ClearDown::Command { argv, timeout } => {
                run_clear_down_command(argv, *timeout).await?;
                Ok(Cleared::Command(argv.clone()))
            }
        }
    }
}

async fn post_clear_down(
    recorder: &Recorder,
    client: &reqwest::Client,
    url: &str,
) -> Result<Cleared, ClearDownError> {
    let request = client
        .post(url)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .build()
        .map_err(|e| ClearDownError::Http {
            url: url.to_owned(),
            source: SendFailure::NotSent(e.to_string()),
        })?;
    let obs = recorder
        .send(PARTY_CLEAR_DOWN, client, request)
        .await
        .map_err(|source| ClearDownError::Http {
            url: url.to_owned(),
            source,
        })?;
    if (200..300).contains(&obs.status) {
        Ok(Cleared::Http {
            url: url.to_owned(),
            status: obs.status,
        })
    } else {
        Err(ClearDownError::Refused {
            url: url.to_owned(),
            status: obs.status,
        })
    }
}

/// Why `pdp-harness clear` could not clear down outside a run.
#[derive(Debug, thiserror::Error)]
pub enum ClearError {
    #[error(
        "[clear_down] url needs [provider] client_cert, client_key and ca_bundle: the certificate the call is made with"
    )]
    NoProvider,
    /// A certificate or key setting could not be read (the error names the setting).
    #[error(transparent)]
    Setting(#[from] crate::net::secret::KeyFileError),
    #[error("the clear-down client could not be built: {0}")]
    Client(#[from] TlsError),
    #[error(transparent)]
    ClearDown(#[from] ClearDownError),
}

/// Clear down outside a run, once: `hook` called with `client` (for a URL), its exchange not
/// kept.
pub async fn clear_down_once(
    hook: &ClearDown,
    client: &reqwest::Client,
) -> Result<Cleared, ClearDownError> {
    hook.run(&Recorder::new(Redactor::default()), client).await
}

/// `pdp-harness clear --target FILE`: the target file's `[clear_down]` hook, called as a run
/// calls it (a URL with the `[provider]` client certificate, within `[clear_down]
/// timeout_secs`); `Ok(None)` when the file names no hook.
pub async fn clear_down_configured(config: &TargetConfig) -> Result<Option<Cleared>, ClearError> {
    let hook = match (&config.clear_down.url, &config.clear_down.command) {
        (_, Some(argv)) => ClearDown::Command {
            argv: argv.clone(),
            timeout: clear_down_timeout(config),
        },
        (Some(url), None) => ClearDown::Http(url.clone()),
        (None, None) => return Ok(None),
    };
    let client = match &hook {
        ClearDown::Command { .. } => reqwest::Client::new(),
        ClearDown::Http(_) => {
            let Some(provider) = &config.provider else {
                return Err(ClearError::NoProvider);
            };
            let base = config.base_dir();
            let read = |setting: &str, path: &std::path::Path| {
                crate::net::secret::read_file(setting, &base.join(path))
            };
            let mut identity = read("provider.client_cert", &provider.client_cert)?;
            identity.push('\n');
            identity.push_str(&provider.client_key.text("provider.client_key", &base)?);
            let ca = read("provider.ca_bundle", &provider.ca_bundle)?;
            crate::net::tls::client_from_pem(
                Some(identity.as_bytes()),
                &[ca],
                clear_down_timeout(config),
            )?
        }
    };
    Ok(Some(clear_down_once(&hook, &client).await?))
}

/// How long a clear-down may take, HTTP call or command alike: `[clear_down] timeout_secs`
/// (default 120 s). No standard governs it; the organisation's hook sets its own pace.
pub(super) fn clear_down_timeout(config: &TargetConfig) -> Duration {
    Duration::from_secs(config.clear_down.timeout_secs.unwrap_or(120))
}

/// The clear-down hook from the target file, or `default_url` (the reference provider's).
pub(super) fn clear_down_hook(config: &TargetConfig, default_url: String) -> ClearDown {
    match (&config.clear_down.url, &config.clear_down.command) {
        (Some(url), _) => ClearDown::Http(url.clone()),
        (_, Some(argv)) => ClearDown::Command {
            argv: argv.clone(),
            timeout: clear_down_timeout(config),
        },
        _ => ClearDown::Http(default_url),
    }
}

/// Process groups of clear-down commands still running: killed with the run, also when the
/// process exits at once (a second Ctrl-C).
static RUNNING_GROUPS: std::sync::Mutex<Vec<u32>> = std::sync::Mutex::new(Vec::new());

/// Kill every clear-down command still running, children included.
pub fn kill_clear_down_commands() {
    let groups = RUNNING_GROUPS
        .lock()
        .map(|mut g| std::mem::take(&mut *g))
        .unwrap_or_default();
    for pgid in groups {
        kill_group(pgid);
    }
}

fn kill_group(pgid: u32) {
    #[cfg(unix)]
    if let Ok(pgid) = i32::try_from(pgid)
        && pgid > 1
    {
        // SAFETY: killpg only sends a signal; a group that is gone already yields ESRCH.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
    #[cfg(not(unix))]
    let _ = pgid;
}

/// A clear-down (or `[updates]`) command's process group, killed (children included) when
/// dropped: when the command ends, times out, or the run stops while it is running.
pub(crate) struct Group(u32, bool);

impl Group {
    /// Track the process group `pgid` until the guard is dropped.
    pub(crate) fn track(pgid: u32) -> Group {
        if let Ok(mut g) = RUNNING_GROUPS.lock() {
            g.push(pgid);
        }
        Group(pgid, true)
    }

    /// Leave what the command started running (a restarted service), and no longer kill
    /// its group when the run stops.
    fn release(&mut self) {
        self.1 = false;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if self.1 {
            kill_group(self.0);
        }
        if let Ok(mut g) = RUNNING_GROUPS.lock() {
            g.retain(|p| *p != self.0);
        }
    }
}

/// Why the provider's test data could not be cleared down. The hook's failures are the
/// environment's to fix (it belongs to the test set-up, not to what the standards judge), and
/// the kind says which: nothing listening, a hook that answered no, a command that failed; the
/// C&A's own state is the harness's.
#[derive(Debug, thiserror::Error)]
pub enum ClearDownError {
    #[error("the provider's clear-down at {url} failed: {source}")]
    Http {
        url: String,
        #[source]
        source: crate::net::recorder::SendFailure,
    },
    #[error("expected the provider's clear-down at {url} to answer 2xx, got {status}")]
    Refused { url: String, status: u16 },
    #[error(transparent)]
    Command(#[from] HookError),
    /// The C&A's own state could not be cleared (its state file).
    #[error("the C&A's state could not be cleared: {0}")]
    CasState(#[from] crate::cda::store::StoreError),
}

/// Why one of the target file's commands (clear-down, restart) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HookError {
    #[error("the {what} command is empty")]
    Empty { what: &'static str },
    #[error("the {what} command {program} did not finish within {} s", .timeout.as_secs())]
    TimedOut {
        what: &'static str,
        program: String,
        timeout: Duration,
    },
    #[error("the {what} command {program} could not be started: {reason}")]
    NotStarted {
        what: &'static str,
        program: String,
        reason: String,
    },
    #[error("the {what} command {program} failed ({status}): {stderr}")]
    Failed {
        what: &'static str,
        program: String,
        status: String,
        stderr: String,
    },
}

/// Run a clear-down command (no shell) in its own process group, with a time limit; its
/// stderr explains a failure.
pub async fn run_clear_down_command(
    argv: &[String],
    timeout: Duration,
) -> Result<(), ClearDownError> {
    Ok(run_hook_command(Hook::ClearDown, argv, timeout).await?)
}

/// The target file's commands the harness runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    ClearDown,
    /// Restarts the solution: what it starts must outlive the command.
    Restart,
}

impl Hook {
    fn name(self) -> &'static str {
        match self {
            Hook::ClearDown => "clear-down",
            Hook::Restart => "restart",
        }
    }
}

/// Run one of the target file's commands without a shell, in its
/// own process group (killed if the run stops), within `timeout`; exit status 0 is success.
/// Whatever it leaves behind is killed with its group, except after a successful restart,
/// whose point is the service it started.
pub async fn run_hook_command(
    hook: Hook,
    argv: &[String],
    timeout: Duration,
) -> Result<(), HookError> {
    let what = hook.name();
    let Some((program, args)) = argv.split_first() else {
        return Err(HookError::Empty { what });
    };
    let mut command = tokio::process::Command::new(program);
    command
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    #[cfg(unix)]
    command.process_group(0);
    let child = command.spawn();
    let mut group = match &child {
        Ok(c) => c.id().map(|pid| {
            if let Ok(mut g) = RUNNING_GROUPS.lock() {
                g.push(pid);
            }
            Group(pid, true)
        }),
        Err(_) => None,
    };
    let child = async move { child?.wait_with_output().await };
    let finished = tokio::time::timeout(timeout, child).await;
    if hook == Hook::Restart
        && matches!(&finished, Ok(Ok(out)) if out.status.success())
        && let Some(g) = group.as_mut()
    {
        g.release();
    }
    match finished {
        Err(_) => Err(HookError::TimedOut {
            what,
            program: program.clone(),
            timeout,
        }),
        Ok(Err(e)) => Err(HookError::NotStarted {
            what,
            program: program.clone(),
            reason: e.to_string(),
        }),
        Ok(Ok(out)) if out.status.success() => Ok(()),
        Ok(Ok(out)) => {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let tail: String = stderr
                .chars()
                .rev()
                .take(400)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            Err(HookError::Failed {
                what,
                program: program.clone(),
                status: out.status.to_string(),
                stderr: tail.trim().to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clear_down_says_what_answered_as_the_console_always_did() {
        let http = Cleared::Http {
            url: "https://p/test-support/clear-down".to_owned(),
            status: 204,
        };
        assert_eq!(
            http.to_string(),
            "https://p/test-support/clear-down answered 204 No Content"
        );
        let command = Cleared::Command(vec!["/opt/clear".to_owned(), "--all".to_owned()]);
        assert_eq!(command.to_string(), "/opt/clear --all exited 0");
    }

    #[test]
    fn a_target_file_without_a_hook_clears_nothing() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let cleared = rt
            .block_on(clear_down_configured(&TargetConfig::default()))
            .expect("no hook is no error");
        assert_eq!(cleared, None);
    }
}

/// Match updates could not be handed over within a scenario or a stage.
#[derive(Debug, thiserror::Error)]
pub enum ApplyNowError {
    #[error(
        "the match updates are applied by the organisation: this run has no embedded reference provider"
    )]
    NotEmbedded,
    #[error(
        "the target file names no [updates] command, so the harness cannot have the match updates applied"
    )]
    NoCommand,
    #[error(transparent)]
    Apply(#[from] crate::harness::updates::ApplyError),
    #[error(transparent)]
    File(#[from] crate::harness::updates::UpdatesError),
    /// The `[updates] command` ran and failed; `text` names it and its exit status, `stderr`
    /// is masked and cut to 500 characters.
    #[error("{text}; stderr: {stderr}")]
    CommandFailed { text: String, stderr: String },
}

/// The provider under test could not be restarted.
#[derive(Debug, thiserror::Error)]
pub enum RestartError {
    #[error("the reference provider could not be restarted: {0}")]
    Embedded(#[from] crate::provider::embedded::EmbeddedProviderError),
    #[error(transparent)]
    Command(#[from] HookError),
    #[error("the provider cannot be restarted: the target file has no [provider] restart command")]
    NotPossible,
}
