//! A run's reporting: the client, the data sources, the journal and the evidence, wired
//! together. Steps and the `reporting` command call [`ReportingSession::submit`]; every record
//! goes through the same path: plan, validate (nothing invalid leaves), consult the journal
//! (nothing accepted or in doubt is resent by accident), journal `sending`, send, journal the
//! answer, and log the submission to the run log as it happens.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::Endpoint;
use super::client::{Outcome, ReportingClient};
use super::clock::{Clock, DaySpread, DayStart, NearMidnight};
use super::journal::{Decision, Journal, JournalEntry, JournalState};
use super::model::{self, EndpointData, MAX_BODY_BYTES, PlanOptions, Record, SubmissionStatus};
use super::reconcile::{self, Finding, Observed};
use super::simulator::ReportingSimulator;
use super::sources::{self, ServedView, Source, ViewFlags};
use super::validate::{self, FieldError, Strictness};
use crate::net::tls::RunningServer;
use crate::record::events::LogEvent;
use crate::record::run::{DayCheck, Reconciliation, ReportingSubmission};
use crate::record::runlog::RunLog;

/// Reads the provider's served views (embedded default); `None` on a real target.
pub type ViewsSource = Arc<dyn Fn() -> Vec<ServedView> + Send + Sync>;

/// What a session is told by the target file (or the embedded default).
#[derive(Debug, Clone)]
pub struct Settings {
    pub sources: BTreeMap<Endpoint, Source>,
    /// Relative `file:` paths are resolved against this directory.
    pub base_dir: PathBuf,
    /// How long the reporting submissions may take (the UTC-day guard's budget).
    pub expected: Duration,
    /// What the guard does when that budget could straddle 00:00 UTC.
    pub near_midnight: NearMidnight,
    pub status: SubmissionStatus,
    /// Where the journal is kept; set per run on the embedded default.
    pub journal: Option<PathBuf>,
    /// The simulator's timeouts and connection cap (`[server]`).
    pub server: crate::net::server::ServerLimits,
    /// What `serve`'s reporting simulator received (`[reporting_simulator]`), for
    /// `--pack reporting-received`.
    pub received_journal: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            sources: BTreeMap::new(),
            base_dir: PathBuf::new(),
            expected: Duration::from_secs(15 * 60),
            near_midnight: NearMidnight::Refuse,
            status: SubmissionStatus::OnTime,
            journal: None,
            server: Default::default(),
            received_journal: None,
        }
    }
}

/// How to build what is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The configured source's data, as an initial submission.
    Initial,
    /// The configured source's data again, deliberately: `resubmission` + `correction`.
    Resubmission,
    /// A null submission (only where the spec has one).
    Null,
}

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("{0}")]
    Source(#[from] sources::SourceError),
    #[error("{0}")]
    Model(#[from] model::ModelError),
    #[error(
        "{endpoint}: the harness refused to send record {record_id}: {}",
        validate::describe(errors)
    )]
    Invalid {
        endpoint: Endpoint,
        record_id: Uuid,
        errors: Vec<FieldError>,
    },
    #[error("{endpoint}: the spec has no null submission here ({why})")]
    NoNullVariant {
        endpoint: Endpoint,
        why: &'static str,
    },
    #[error("{0}")]
    Journal(#[from] super::journal::JournalError),
    #[error("reporting journal: no journal path is set")]
    NoJournal,
    #[error(
        "{endpoint}: simulated crash after sending record {record_id}, before its answer was journaled"
    )]
    SimulatedCrash { endpoint: Endpoint, record_id: Uuid },
    #[error("{endpoint}: {message}")]
    Other { endpoint: Endpoint, message: String },
}

/// A forced error that could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ForceError {
    #[error(
        "scenario: forced errors need the simulator or the MaPS stub's /configuration ([reporting] stub = true)"
    )]
    NoStub,
    #[error(transparent)]
    Configure(#[from] super::simulator::ConfigureError),
    #[error("{url}: {source}")]
    Send {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{url}: expected 204 for the forced-error configuration, got {status}")]
    Refused {
        url: String,
        status: reqwest::StatusCode,
    },
}

pub struct ReportingSession {
    pub client: ReportingClient,
    pub clock: Arc<dyn Clock>,
    pub settings: Settings,
    /// The holdernameGuid reported for (the test pack's).
    pub holder: Uuid,
    /// The simulator and its server (embedded default only).
    pub simulator: Option<ReportingSimulator>,
    pub server: Option<RunningServer>,
    /// The API takes the stub's `/configuration` and raw invalid bodies (`@stub` scenarios).
    pub stub: bool,
    views: Option<ViewsSource>,
    journal_path: Mutex<Option<PathBuf>>,
    journal: Mutex<Option<Arc<Journal>>>,
    log: Mutex<Option<RunLog>>,
    window_start: Mutex<DateTime<Utc>>,
    /// Accepted records of this session: (endpoint, when).
    accepted: Mutex<Vec<(Endpoint, DateTime<Utc>)>>,
    /// What was reported per endpoint (data sources), for reconciliation, and when.
    reported: Mutex<Vec<(Endpoint, EndpointData)>>,
    reported_at: Mutex<Option<DateTime<Utc>>>,
    crash_after_send: AtomicBool,
    /// What verified view data carried, per asset GUID (the harness's own observation).
    observed_flags: Mutex<BTreeMap<String, ViewFlags>>,
}

impl std::fmt::Debug for ReportingSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReportingSession")
            .field("base_url", &self.client.base_url)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl ReportingSession {
    pub fn new(
        client: ReportingClient,
        settings: Settings,
        holder: Uuid,
        views: Option<ViewsSource>,
    ) -> ReportingSession {
        let clock = client.clock.clone();
        let now = clock.now();
        ReportingSession {
            journal_path: Mutex::new(settings.journal.clone()),
            client,
            clock,
            settings,
            holder,
            simulator: None,
            server: None,
            stub: false,
            views,
            journal: Mutex::new(None),
            log: Mutex::new(None),
            window_start: Mutex::new(now),
            accepted: Mutex::new(Vec::new()),
            reported: Mutex::new(Vec::new()),
            reported_at: Mutex::new(None),
            crash_after_send: AtomicBool::new(false),
            observed_flags: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn with_simulator(mut self, sim: ReportingSimulator, server: RunningServer) -> Self {
        self.simulator = Some(sim);
        self.server = Some(server);
        self
    }

    pub fn with_stub(mut self, stub: bool) -> Self {
        self.stub = stub;
        self
    }

    /// Submissions are logged to this run log as they happen.
    pub fn attach_log(&self, log: RunLog) {
        *lock(&self.log) = Some(log);
    }

    /// Use this journal file unless the target file named one.
    pub fn default_journal(&self, path: &Path) {
        let mut p = lock(&self.journal_path);
        if p.is_none() {
            *p = Some(path.to_owned());
        }
    }

    /// Note what a verified view data token carried for `asset_guid`.
    pub fn observe_view_data(&self, asset_guid: &str, view_data: &serde_json::Value) {
        lock(&self.observed_flags).insert(
            asset_guid.to_ascii_lowercase(),
            sources::flags_of(view_data),
        );
    }

    /// What the harness observed in the reporting window: its dashboard's view requests (the
    /// `exchanges` of `view_party`), their durations, and the flags of the view data it verified.
    pub fn observed(
        &self,
        exchanges: &[crate::record::run::Exchange],
        view_party: &str,
    ) -> Observed {
        let (from, to) = self.window();
        let flags = lock(&self.observed_flags).clone();
        reconcile::observe(exchanges, view_party, from, to, |asset| {
            flags.get(asset).cloned()
        })
    }

    /// Force an error on the API's next calls: the simulator directly, or the MaPS stub's
    /// `POST /configuration` when `[reporting] stub = true`.
    pub async fn force_error(
        &self,
        entry: super::simulator::StubConfiguration,
    ) -> Result<(), ForceError> {
        if let Some(sim) = &self.simulator {
            return Ok(sim.configure(&[entry])?);
        }
        if !self.stub {
            return Err(ForceError::NoStub);
        }
        let url = format!(
            "{}{}",
            self.client.base_url,
            super::simulator::CONFIGURATION_PATH
        );
        let response = self
            .client
            .http
            .post(&url)
            .json(&[entry])
            .send()
            .await
            .map_err(|source| ForceError::Send {
                url: url.clone(),
                source,
            })?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(ForceError::Refused {
                url,
                status: response.status(),
            })
        }
    }

    /// The UTC-day guard before the submissions start: `Err` when they could straddle
    /// 00:00 UTC and the settings say refuse, `WaitUntil` when they say wait.
    pub fn day_start(&self) -> Result<DayStart, super::clock::DayGuardError> {
        match super::clock::check_day(self.clock.now(), self.settings.expected) {
            Ok(()) => Ok(DayStart::Go),
            Err(super::clock::DayGuardError::TooCloseToMidnight { midnight, .. })
                if self.settings.near_midnight == NearMidnight::Wait =>
            {
                Ok(DayStart::WaitUntil(midnight + chrono::Duration::seconds(1)))
            }
            Err(e) => Err(e),
        }
    }

    /// Wait `d` through the session's sleeper (tests record it instead).
    pub async fn wait(&self, d: Duration) {
        self.client.sleeper.sleep(d).await;
    }

    /// How long until `t` by this session's clock (zero if past).
    pub fn time_until(&self, t: DateTime<Utc>) -> std::time::Duration {
        (t - self.clock.now()).to_std().unwrap_or_default()
    }

    /// Derived data and observations count from here (the reporting stage's start).
    pub fn start_window(&self) {
        *lock(&self.window_start) = self.clock.now();
    }

    pub fn window_start(&self) -> DateTime<Utc> {
        *lock(&self.window_start)
    }

    /// Test facility: the next send returns as if the process died before journaling the answer.
    pub fn simulate_crash_after_next_send(&self) {
        self.crash_after_send.store(true, Ordering::SeqCst);
    }

    fn journal(&self) -> Result<Arc<Journal>, SessionError> {
        let mut slot = lock(&self.journal);
        if let Some(j) = slot.as_ref() {
            return Ok(j.clone());
        }
        let path = lock(&self.journal_path)
            .clone()
            .ok_or(SessionError::NoJournal)?;
        let j = Arc::new(Journal::open(&path)?);
        *slot = Some(j.clone());
        Ok(j)
    }

    pub fn journal_path(&self) -> Option<PathBuf> {
        lock(&self.journal_path).clone()
    }

    fn log(&self, event: &LogEvent) {
        if let Some(log) = lock(&self.log).as_ref()
            && let Err(e) = log.append(event)
        {
            tracing::error!("could not log a reporting event: {e}");
        }
    }

    pub fn source_of(&self, endpoint: Endpoint) -> Source {
        self.settings
            .sources
            .get(&endpoint)
            .cloned()
            .unwrap_or_default()
    }

    /// What there is to report for `endpoint`, from its configured source.
    pub fn data(&self, endpoint: Endpoint) -> Result<EndpointData, SessionError> {
        match self.source_of(endpoint) {
            Source::Null => Ok(EndpointData::nothing(endpoint, &[self.holder])),
            Source::File(p) => {
                let path = if p.is_absolute() {
                    p
                } else {
                    self.settings.base_dir.join(p)
                };
                Ok(sources::load_file(endpoint, &path)?)
            }
            Source::Derived => {
                let Some(views) = &self.views else {
                    return Err(SessionError::Other {
                        endpoint,
                        message: "\"derived\" data needs the embedded reference provider; for a real target set [reporting.sources] to \"file:PATH\" (the organisation's export) or \"null\"".to_owned(),
                    });
                };
                let from = self.window_start();
                let served: Vec<ServedView> = views()
                    .into_iter()
                    .filter(|v| v.received_at >= from)
                    .collect();
                Ok(sources::derive(
                    endpoint,
                    self.holder,
                    &served,
                    self.clock.now(),
                ))
            }
        }
    }

    /// The records `mode` would send for `endpoint` (planned, not yet checked).
    pub fn plan(&self, endpoint: Endpoint, mode: Mode) -> Result<Vec<Record>, SessionError> {
        let now = self.clock.now();
        let period_start = model::utc_midnight(now);
        match mode {
            Mode::Null => {
                let why = match endpoint {
                    Endpoint::ViewResponseUnavailable => {
                        "submission_reason excludes \"null submission\"; send zero counts instead"
                    }
                    _ => "the discriminator maps no null variant; send req_count 0 instead",
                };
                model::null_submission(endpoint, &[self.holder], period_start, self.settings.status)
                    .ok_or(SessionError::NoNullVariant { endpoint, why })
            }
            Mode::Initial | Mode::Resubmission => {
                let data = self.data(endpoint)?;
                let records = model::plan(
                    endpoint,
                    &data,
                    PlanOptions {
                        period_start,
                        status: self.settings.status,
                        resubmission: mode == Mode::Resubmission,
                    },
                )?;
                let mut reported = lock(&self.reported);
                reported.retain(|(e, _)| *e != endpoint);
                reported.push((endpoint, data));
                *lock(&self.reported_at) = Some(now);
                Ok(records)
            }
        }
    }

    /// The harness's own check of a record: the shared validator, the response-time rules and
    /// the body size.
    pub fn check(record: &Record) -> Vec<FieldError> {
        let body = record.to_json();
        let mut errors = validate::check(record.endpoint, &body, Strictness::default());
        errors.extend(super::standards::response_time_errors(record));
        let size = record.to_bytes().len();
        if size > MAX_BODY_BYTES {
            errors.push(FieldError {
                field: "(body)".to_owned(),
                code: "CONTENT_TOO_LARGE".to_owned(),
                message: format!("{size} bytes; at most {MAX_BODY_BYTES}"),
            });
        }
        errors
    }

    /// The logical identity of a record, stable across reruns (fresh record ids are not).
    fn key(&self, record: &Record, part: usize, parts: usize, mode: Mode) -> String {
        let mut holders: Vec<String> = record.holders().iter().map(Uuid::to_string).collect();
        holders.sort();
        let reason = record.header.submission_reason.as_str();
        let mut key = format!(
            "{} {} period={} reason={reason} holders={} part={}/{parts}",
            self.client.base_url,
            record.endpoint.path(),
            model::ts(&record.header.reporting_period_start),
            holders.join(","),
            part + 1,
        );
        if mode == Mode::Null {
            // The connectivity set (source c) is its own submission, apart from derived or
            // exported data that happens to have nothing to report.
            key.push_str(" set=null");
        }
        if record.header.submission_reason == model::SubmissionReason::Resubmission {
            // A deliberate resubmission is never "already sent".
            key.push_str(&format!(" record={}", record.header.record_id));
        }
        key
    }

    fn evidence(
        record: &Record,
        at: DateTime<Utc>,
        outcome: &str,
        http: Option<u16>,
        codes: Vec<String>,
        attempts: usize,
        detail: String,
    ) -> ReportingSubmission {
        ReportingSubmission {
            at,
            endpoint: record.endpoint.path().to_owned(),
            record_id: record.header.record_id.to_string(),
            submission_id: record.header.submission_id.map(|s| s.to_string()),
            submission_reason: record.header.submission_reason.as_str().to_owned(),
            submission_status: record.header.submission_status.as_str().to_owned(),
            summary: record.summary(),
            outcome: outcome.to_owned(),
            http_status: http,
            codes,
            attempts,
            waits_ms: Vec::new(),
            detail,
        }
    }

    /// Validate every record without sending: what `--dry-run` shows.
    pub fn dry_run(
        &self,
        endpoint: Endpoint,
        mode: Mode,
    ) -> Result<Vec<(Record, Vec<FieldError>)>, SessionError> {
        let records = self.plan(endpoint, mode)?;
        let now = self.clock.now();
        Ok(records
            .into_iter()
            .map(|r| {
                let errors = Self::check(&r);
                let ev = Self::evidence(
                    &r,
                    now,
                    if errors.is_empty() {
                        "dry_run"
                    } else {
                        "invalid"
                    },
                    None,
                    errors.iter().map(|e| e.code.clone()).collect(),
                    0,
                    if errors.is_empty() {
                        "valid; not sent (dry run)".to_owned()
                    } else {
                        validate::describe(&errors)
                    },
                );
                self.log(&LogEvent::ReportingSubmission(Box::new(ev)));
                (r, errors)
            })
            .collect())
    }

    /// Plan, check and send `endpoint`'s records. Nothing is sent if any record is invalid.
    pub async fn submit(
        &self,
        endpoint: Endpoint,
        mode: Mode,
    ) -> Result<Vec<ReportingSubmission>, SessionError> {
        let records = self.plan(endpoint, mode)?;
        self.submit_records(records, mode).await
    }

    /// Check, journal and send prepared records (all for one endpoint).
    pub async fn submit_records(
        &self,
        records: Vec<Record>,
        mode: Mode,
    ) -> Result<Vec<ReportingSubmission>, SessionError> {
        // Validate all first: a batch goes whole or not at all.
        for r in &records {
            let errors = Self::check(r);
            if !errors.is_empty() {
                let ev = Self::evidence(
                    r,
                    self.clock.now(),
                    "invalid",
                    None,
                    errors.iter().map(|e| e.code.clone()).collect(),
                    0,
                    validate::describe(&errors),
                );
                self.log(&LogEvent::ReportingSubmission(Box::new(ev)));
                return Err(SessionError::Invalid {
                    endpoint: r.endpoint,
                    record_id: r.header.record_id,
                    errors,
                });
            }
        }
        let journal = self.journal()?;
        let parts = records.len();
        let mut out = Vec::new();
        for (i, record) in records.iter().enumerate() {
            let key = self.key(record, i, parts, mode);
            let held = match journal.decide(&key) {
                Decision::Send => None,
                Decision::AlreadyAccepted(e) => Some((
                    "already_accepted",
                    format!(
                        "not sent again: the same data was accepted at {} as record {} (send a resubmission to correct it)",
                        model::ts(&e.at),
                        e.record_id
                    ),
                    e,
                )),
                Decision::InDoubt(e) => Some((
                    "held_in_doubt",
                    format!(
                        "not sent again: record {} was sent at {} and its answer was never journaled, so it may have been received; check with PDP, or send a resubmission",
                        e.record_id,
                        model::ts(&e.at)
                    ),
                    e,
                )),
            };
            if let Some((outcome, detail, e)) = held {
                let ev = Self::evidence(
                    record,
                    self.clock.now(),
                    outcome,
                    e.http_status,
                    Vec::new(),
                    0,
                    detail,
                );
                self.log(&LogEvent::ReportingSubmission(Box::new(ev.clone())));
                out.push(ev);
                continue;
            }
            let body = record.to_json();
            journal.append(&JournalEntry {
                at: self.clock.now(),
                key: key.clone(),
                endpoint: record.endpoint,
                record_id: record.header.record_id,
                submission_id: record.header.submission_id,
                state: JournalState::Sending,
                http_status: None,
                detail: None,
                body: Some(body.clone()),
            })?;
            // In the run's evidence before it goes out: if the run is stopped in flight, this is
            // what the evidence shows (the answer, when it comes, replaces it).
            let in_flight = Self::evidence(
                record,
                self.clock.now(),
                "in_doubt",
                None,
                Vec::new(),
                0,
                "sent; no answer was recorded (the run stopped while this submission was in flight), so it may have been received".to_owned(),
            );
            self.log(&LogEvent::ReportingSubmission(Box::new(in_flight)));
            let bytes = serde_json::to_vec(&body).unwrap_or_default();
            let result = self.client.post(record.endpoint, &bytes).await;
            if self.crash_after_send.swap(false, Ordering::SeqCst) {
                return Err(SessionError::SimulatedCrash {
                    endpoint: record.endpoint,
                    record_id: record.header.record_id,
                });
            }
            let at = result
                .attempts
                .last()
                .map_or_else(|| self.clock.now(), |a| a.at);
            let (state, outcome, codes) = match &result.outcome {
                Outcome::Accepted { .. } => (JournalState::Accepted, "accepted", Vec::new()),
                Outcome::Refused { problem } => {
                    (JournalState::Refused, "refused", problem.codes.clone())
                }
                Outcome::Failed { in_doubt: true, .. } => {
                    (JournalState::InDoubt, "in_doubt", Vec::new())
                }
                Outcome::Failed { .. } => (JournalState::Failed, "failed", Vec::new()),
            };
            journal.append(&JournalEntry {
                at,
                key,
                endpoint: record.endpoint,
                record_id: record.header.record_id,
                submission_id: record.header.submission_id,
                state,
                http_status: result.outcome.http_status(),
                detail: Some(result.outcome.describe()),
                body: None,
            })?;
            if result.outcome.is_accepted() {
                lock(&self.accepted).push((record.endpoint, at));
            }
            let attempts = result.attempts.len();
            let waits_ms: Vec<u64> = result
                .attempts
                .iter()
                .skip(1)
                .map(|a| a.waited_ms)
                .collect();
            let waits: Vec<String> = waits_ms.iter().map(|w| format!("{w} ms")).collect();
            let detail = if waits_ms.is_empty() {
                result.outcome.describe()
            } else {
                format!(
                    "{} after {attempts} attempts (waited {})",
                    result.outcome.describe(),
                    waits.join(", ")
                )
            };
            let mut ev = Self::evidence(
                record,
                at,
                outcome,
                result.outcome.http_status(),
                codes,
                attempts,
                detail,
            );
            ev.waits_ms = waits_ms;
            self.log(&LogEvent::ReportingSubmission(Box::new(ev.clone())));
            out.push(ev);
        }
        Ok(out)
    }

    /// Which endpoints this session had accepted on which UTC day; logged to the evidence.
    pub fn day_check(&self) -> DaySpread {
        let spread = DaySpread::from_submissions(lock(&self.accepted).iter().copied());
        let check = DayCheck {
            at: self.clock.now(),
            days: spread
                .days
                .iter()
                .map(|(d, e)| {
                    (
                        d.to_string(),
                        e.iter().map(|x| x.path().to_owned()).collect(),
                    )
                })
                .collect(),
            complete: spread.complete_day().is_some() && spread.days.len() == 1,
            description: spread.describe(),
        };
        self.log(&LogEvent::ReportingDayCheck(check));
        spread
    }

    /// Compare what was reported with `observed`; logged to the evidence.
    pub fn reconcile(&self, observed: &Observed) -> Vec<Finding> {
        let reported = lock(&self.reported).clone();
        let findings = reconcile::reconcile(&reported, self.holder, observed);
        let (window_from, window_to) = self.window();
        self.log(&LogEvent::ReportingReconciliation(Reconciliation {
            at: self.clock.now(),
            window_from,
            window_to,
            findings: findings.clone(),
        }));
        findings
    }

    /// The window reconciliation compares: the stage's start to when the data was taken.
    pub fn window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.window_start(),
            lock(&self.reported_at).unwrap_or_else(|| self.clock.now()),
        )
    }

    pub fn shutdown(&self) {
        if let Some(s) = &self.server {
            s.shutdown();
        }
    }
}
