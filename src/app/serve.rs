//! `pdp-harness serve` with runs attached: while `serve` keeps the simulated CDA up (so the
//! organisation's solution stays configured against one address, certificates and key), `pdp-harness
//! run --target` hands its run to that process instead of starting a second C&A.
//!
//! The hand-off is a small control API on loopback only (plain HTTP on 127.0.0.1, a random
//! bearer token), announced in a file beside the target file that only its owner can read. The
//! run executes inside `serve`, where the C&A's state lives; its console lines stream back.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::app::session::{self, EXIT_COULD_NOT_RUN};
use crate::cda::service::CdaService;
use crate::harness::config::TargetConfig;
use crate::harness::environment::Environment;
use crate::harness::testpack::TestPack;
use crate::net::recorder::Recorder;
use crate::runner::stop::Stop;
use crate::runner::writer::Console;
use crate::runner::{Pack, RunOptions};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("could not write {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not start the control API on loopback: {0}")]
    Bind(std::io::Error),
    #[error("the running `pdp-harness serve` ({url}) refused the run: {status} {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the running `pdp-harness serve` ({url}) stopped answering mid-run: {message}")]
    Broken { url: String, message: String },
    #[error(
        "{}: serve needs a [cda] section (listen, public_url, server_cert, server_key, server_ca, client_ca, signing_key); `pdp-harness init` writes an example",
        .target.display()
    )]
    NoCda { target: PathBuf },
    #[error(transparent)]
    Cda(#[from] crate::cda::service::CdaServiceError),
    #[error(transparent)]
    Reporting(#[from] crate::reporting::setup::SetupError),
}

/// `pdp-harness serve`'s simulated CDA: the C&A and JWKS at the target file's `[cda]` address,
/// and the reporting API for the organisation's own reporting client when configured.
pub struct Serving {
    pub service: Arc<CdaService>,
    pub reporting: Option<crate::reporting::setup::Standalone>,
    /// What does not stop the C&A but is to be said (a key file not there yet: a run refuses
    /// to start until it is fixed).
    pub warnings: Vec<String>,
    config: TargetConfig,
    pack: Arc<TestPack>,
    recorder: Arc<Recorder>,
}

impl Serving {
    /// Start the C&A (every call it receives recorded, for the evidence of runs attached, and
    /// logged to the console) and the reporting API, for `pack`'s holdername.
    pub fn start(
        target: &Path,
        config: TargetConfig,
        pack: Arc<TestPack>,
    ) -> Result<Serving, ServeError> {
        let Some(cda) = &config.cda else {
            return Err(ServeError::NoCda {
                target: target.to_owned(),
            });
        };
        let recorder = Arc::new(Recorder::new(pack.redactor(&config, false)));
        let inbound = crate::net::recorder::InboundParty {
            recorder: recorder.clone(),
            party: crate::harness::environment::PARTY_PROVIDER_TO_CAS,
        };
        let service = CdaService::start(
            &cda.service_settings(&config.base_dir())?,
            &config.contract,
            &config.server,
            |router| {
                router
                    .layer(axum::middleware::from_fn_with_state(
                        inbound,
                        crate::net::recorder::record_inbound,
                    ))
                    .layer(axum::middleware::from_fn(
                        crate::cda::service::log_to_console,
                    ))
            },
        )?;
        // The provider's registered view token keys are at /jwk_uri from the start, not only
        // once a run attaches: the solution (and a dashboard) may read them at any time.
        // The holdername (the test pack's, or [organisation]'s) PATs for find tokens are
        // issued for.
        service.cas.register_holdername(pack.holdername_guid());
        let mut warnings = Vec::new();
        if let Some(provider) = &config.provider {
            match provider.view_token_key_set(&config.base_dir()) {
                Ok(keys) if !keys.keys.is_empty() => service.cas.register_view_token_keys(&keys),
                Ok(_) => {}
                Err(e) => warnings.push(format!("/jwk_uri publishes no view token key yet: {e}")),
            }
            // The solution's PAT assertion keys: the PAT refresh route works from the start,
            // as the find-token route does.
            match provider.pat_assertion_key_set(&config.base_dir()) {
                Ok(keys) => service
                    .cas
                    .register_pat_assertion_keys(pack.holdername_guid(), &keys),
                Err(e) => warnings.push(format!("no PAT assertion key registered yet: {e}")),
            }
        }
        let reporting = crate::reporting::setup::standalone(&config.reporting_sections())?;
        Ok(Serving {
            service: Arc::new(service),
            reporting,
            warnings,
            config,
            pack,
            recorder,
        })
    }

    /// With `[provider]`, runs attach to this serve (`run --target` hands its run over): the
    /// control API is started and announced beside `target`. Returns the runs, the jobs to
    /// run and the handoff file; `None` without `[provider]`.
    pub async fn attach(
        &self,
        target: &Path,
    ) -> Result<Option<(AttachedRuns, mpsc::UnboundedReceiver<Job>, PathBuf)>, ServeError> {
        if self.config.provider.is_none() {
            return Ok(None);
        }
        let (jobs, handoff) = start_control(target, &self.config.server).await?;
        let runs = AttachedRuns {
            config: self.config.clone(),
            pack: self.pack.clone(),
            recorder: self.recorder.clone(),
            service: self.service.clone(),
        };
        Ok(Some((runs, jobs, handoff)))
    }

    /// Stop the C&A and the reporting API.
    pub fn shutdown(&self) {
        self.service.shutdown();
        if let Some(r) = &self.reporting {
            r.server.shutdown();
        }
    }
}

/// What `serve` announces beside the target file.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Handoff {
    pub control_url: String,
    pub token: String,
    pub pid: u32,
}

/// `.<target file name>.serve.json` beside the target file: one per target file.
pub fn handoff_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "target".to_owned());
    target.with_file_name(format!(".{name}.serve.json"))
}

/// A run asked of `serve`; paths are absolute (serve may run elsewhere in the file system).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRequest {
    pub pack: Pack,
    pub tags: Option<String>,
    pub features_dir: PathBuf,
    pub out_dir: PathBuf,
    pub reveal_personal_data: bool,
    /// A re-run's scenarios (absent from the requests of older clients).
    #[serde(default)]
    pub cases: Option<crate::runner::CaseFilter>,
    /// A re-run's attempt history.
    #[serde(default)]
    pub rerun: Option<crate::record::run::RerunInfo>,
    /// The test manager's sign-off details.
    #[serde(default)]
    pub sign_off: Option<crate::record::run::SignOff>,
    /// Stage 2 after this stage-1 run (its directory).
    #[serde(default)]
    pub after: Option<PathBuf>,
    /// `--concurrency` (absent from older clients' requests: the default).
    #[serde(default)]
    pub concurrency: Option<usize>,
}

impl RunRequest {
    /// The run's options: the request's selection against `config`, stopped by `stop`.
    pub fn options(
        &self,
        config: TargetConfig,
        after: Option<Arc<crate::harness::updates::AfterStage1>>,
        stop: Stop,
        interactive: bool,
    ) -> RunOptions {
        RunOptions {
            pack: self.pack,
            tags: self.tags.clone(),
            features_dir: self.features_dir.clone(),
            out_dir: self.out_dir.clone(),
            config,
            cases: self.cases.clone(),
            rerun: self.rerun.clone(),
            stop,
            sign_off: self.sign_off.clone(),
            after,
            interactive,
            concurrency: self
                .concurrency
                .unwrap_or(crate::runner::DEFAULT_CONCURRENCY),
        }
    }

    /// The request with its paths absolute, for a `serve` that may run elsewhere in the file
    /// system.
    pub fn absolute(&self) -> RunRequest {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        RunRequest {
            features_dir: absolute(&self.features_dir),
            out_dir: absolute(&self.out_dir),
            after: self.after.as_deref().map(absolute),
            ..self.clone()
        }
    }
}

/// How often a quiet run's answer stream carries a blank line, so a client that went away is
/// noticed (and its run cancelled) within seconds rather than at the next console line.
const HEARTBEAT: std::time::Duration = std::time::Duration::from_secs(2);

/// One line of the streamed answer (JSON lines): console text, then the exit code.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunMessage {
    Line(String),
    Exit(u8),
}

/// A run waiting for the runner loop, with where its lines go.
pub struct Job {
    request: RunRequest,
    lines: mpsc::UnboundedSender<RunMessage>,
    /// Cleared when the run ends, whether or not its client is still there to hear it.
    busy: Arc<AtomicBool>,
}

#[derive(Clone)]
struct ControlState {
    token: Arc<String>,
    jobs: mpsc::UnboundedSender<Job>,
    busy: Arc<AtomicBool>,
}

/// The console of a run inside `serve`: lines go back to the caller and to serve's own output.
struct StreamConsole(mpsc::UnboundedSender<RunMessage>);

impl Console for StreamConsole {
    fn line(&mut self, text: &str) {
        crate::runner::writer::print_line(text);
        let _ = self.0.send(RunMessage::Line(text.to_owned()));
    }
}

/// What runs need from `serve`: the target, the pack, the running C&A and its recorder.
pub struct AttachedRuns {
    pub config: TargetConfig,
    pub pack: Arc<TestPack>,
    pub recorder: Arc<Recorder>,
    pub service: Arc<CdaService>,
}

/// Start the control API and announce it beside `target`; returns the jobs to run (in order,
/// one at a time, on the caller's task: the runner's future is not `Send`) and the handoff
/// file to remove on exit.
pub async fn start_control(
    target: &Path,
    limits: &crate::net::server::ServerLimits,
) -> Result<(mpsc::UnboundedReceiver<Job>, PathBuf), ServeError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(ServeError::Bind)?;
    let addr = listener.local_addr().map_err(ServeError::Bind)?;
    let (jobs_tx, jobs_rx) = mpsc::unbounded_channel();
    let state = ControlState {
        token: Arc::new(uuid::Uuid::new_v4().simple().to_string()),
        jobs: jobs_tx,
        busy: Arc::new(AtomicBool::new(false)),
    };
    let handoff = Handoff {
        control_url: format!("http://{addr}"),
        token: state.token.to_string(),
        pid: std::process::id(),
    };
    let path = handoff_path(target);
    write_private(
        &path,
        &serde_json::to_vec_pretty(&handoff).unwrap_or_default(),
    )?;
    let app = Router::new()
        .route("/runs", post(accept_run))
        .with_state(state);
    // Runs until the process ends (the control API lives as long as serve).
    crate::net::server::serve(listener, app, None, *limits).map_err(ServeError::Bind)?;
    Ok((jobs_rx, path))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ServeError> {
    use std::io::Write as _;
    let err = |source| ServeError::Write {
        path: path.to_owned(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(err)?;
    file.write_all(bytes).map_err(err)
}

async fn accept_run(
    State(state): State<ControlState>,
    headers: HeaderMap,
    axum::Json(request): axum::Json<RunRequest>,
) -> Response {
    let presented = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if presented != Some(state.token.as_str()) {
        return (
            StatusCode::UNAUTHORIZED,
            "the control token is missing or wrong",
        )
            .into_response();
    }
    if state.busy.swap(true, Ordering::SeqCst) {
        return (
            StatusCode::CONFLICT,
            "a run is in progress in this serve; try again when it has finished",
        )
            .into_response();
    }
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    let busy = state.busy.clone();
    if state
        .jobs
        .send(Job {
            request,
            lines: lines_tx,
            busy: busy.clone(),
        })
        .is_err()
    {
        busy.store(false, Ordering::SeqCst);
        return (StatusCode::SERVICE_UNAVAILABLE, "serve is stopping").into_response();
    }
    // Dropping this stream (the client went away) closes the channel, which cancels the run.
    // A blank line every HEARTBEAT while the run is quiet makes a vanished client show up as a
    // failed write within seconds (clients skip blank lines).
    let stream = futures::stream::unfold(lines_rx, |mut rx| async move {
        let line = tokio::select! {
            message = rx.recv() => {
                let mut line = serde_json::to_vec(&message?).unwrap_or_default();
                line.push(b'\n');
                line
            }
            () = tokio::time::sleep(HEARTBEAT) => b"\n".to_vec(),
        };
        Some((Ok::<_, std::convert::Infallible>(line), rx))
    });
    Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

impl AttachedRuns {
    /// Run the jobs one after another until the channel closes or `shutdown` is raised (which
    /// also stops the run in progress, sealing its evidence as INTERRUPTED).
    pub async fn serve_jobs(&self, mut jobs: mpsc::UnboundedReceiver<Job>, shutdown: &Stop) {
        loop {
            let job = tokio::select! {
                job = jobs.recv() => job,
                _ = shutdown.requested() => None,
            };
            let Some(job) = job else { break };
            let lines = job.lines.clone();
            let busy = job.busy.clone();
            // The run stops when its client goes away (the answer stream is dropped) or serve
            // is stopped.
            let stop = Stop::new();
            let watcher = {
                let (stop, lines, shutdown) = (stop.clone(), lines.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let reason = tokio::select! {
                        _ = lines.closed() => "client gone: the client that started the run went away".to_owned(),
                        r = shutdown.requested() => r,
                    };
                    stop.request(reason);
                })
            };
            let code = self.run_one(job, &stop).await;
            watcher.abort();
            busy.store(false, Ordering::SeqCst);
            let _ = lines.send(RunMessage::Exit(code));
        }
    }

    async fn run_one(&self, job: Job, stop: &Stop) -> u8 {
        let say = |text: String| {
            crate::runner::writer::print_line(&text);
            let _ = job.lines.send(RunMessage::Line(text));
        };
        let reveals = self.recorder.redactor().reveals_personal_data();
        if job.request.reveal_personal_data && !reveals {
            say("error: this serve masks personal data; restart it with `[redaction] reveal_personal_data = true` in the target file, or run without --reveal-personal-data".to_owned());
            return EXIT_COULD_NOT_RUN;
        }
        let after = match &job.request.after {
            Some(dir) => match crate::harness::updates::AfterStage1::load(
                &job.request.out_dir,
                &dir.display().to_string(),
            ) {
                Ok(a) => Some(Arc::new(a)),
                Err(e) => {
                    say(format!("error: {e}"));
                    return EXIT_COULD_NOT_RUN;
                }
            },
            None => None,
        };
        // The run is in serve's process: its terminal is not the caller's.
        let options = job
            .request
            .options(self.config.clone(), after, stop.clone(), false);
        if let Err(e) = crate::runner::check_selection(&options) {
            say(format!("error: {e}"));
            return EXIT_COULD_NOT_RUN;
        }
        self.recorder.clear();
        let env = match Environment::with_service(
            self.pack.clone(),
            &self.config,
            self.recorder.clone(),
            &self.service,
        ) {
            Ok(env) => Arc::new(env),
            Err(e) => {
                say(format!("error: {e}"));
                return EXIT_COULD_NOT_RUN;
            }
        };
        say(format!(
            "(run inside pdp-harness serve, pid {}, with its C&A at {})",
            std::process::id(),
            self.service.public_url
        ));
        let console = crate::runner::writer::shared(Box::new(StreamConsole(job.lines.clone())));
        // The run's own servers (the reporting simulator) stop; serve's C&A keeps running.
        match session::execute(env, &options, console, |line| say(line.to_owned())).await {
            Ok(outcome) => session::exit_code(&outcome),
            Err(e) => {
                say(format!("error: {e}"));
                EXIT_COULD_NOT_RUN
            }
        }
    }
}

/// If a `serve` for `target` is running, hand it the run and print its lines; `Ok(None)` when
/// none is (no handoff file, or a stale one).
pub async fn delegate(
    target: &Path,
    request: &RunRequest,
    mut print: impl FnMut(&str),
) -> Result<Option<u8>, ServeError> {
    let Ok(text) = std::fs::read(handoff_path(target)) else {
        return Ok(None);
    };
    let Ok(handoff) = serde_json::from_slice::<Handoff>(&text) else {
        return Ok(None);
    };
    let url = format!("{}/runs", handoff.control_url);
    let client = reqwest::Client::new();
    let response = match client
        .post(&url)
        .bearer_auth(&handoff.token)
        .json(request)
        .send()
        .await
    {
        Ok(r) => r,
        // Nothing listens: the serve that wrote the file has gone.
        Err(e) if e.is_connect() => return Ok(None),
        Err(e) => {
            return Err(ServeError::Broken {
                url,
                message: crate::net::tls::error_chain(&e),
            });
        }
    };
    let status = response.status().as_u16();
    if status != 200 {
        return Err(ServeError::Refused {
            url,
            status,
            message: response.text().await.unwrap_or_default(),
        });
    }
    print(&format!(
        "attached to the running pdp-harness serve (pid {}) for {}",
        handoff.pid,
        target.display()
    ));
    let mut response = response;
    let mut pending = Vec::new();
    loop {
        let chunk = response.chunk().await.map_err(|e| ServeError::Broken {
            url: url.clone(),
            message: crate::net::tls::error_chain(&e),
        })?;
        let Some(chunk) = chunk else {
            return Err(ServeError::Broken {
                url,
                message: "the answer ended before the run's exit code".to_owned(),
            });
        };
        pending.extend_from_slice(&chunk);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            match serde_json::from_slice::<RunMessage>(&line) {
                Ok(RunMessage::Line(text)) => print(&text),
                Ok(RunMessage::Exit(code)) => return Ok(Some(code)),
                Err(_) => {}
            }
        }
    }
}
