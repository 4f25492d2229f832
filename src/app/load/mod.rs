//! `pdp-harness load`: an open-model load generator for an organisation's find endpoint (and,
//! optionally, its view endpoint).
//!
//! Finds leave on a fixed schedule, the requested rate, whatever the answers: a slow endpoint
//! does not slow the sender down, so its queueing shows in the figures. Every latency is
//! measured from the find's *intended* send time into an HDR histogram, so a stall is counted
//! for every find that waited behind it (no coordinated omission). Matching finds are followed
//! to their registrations at the simulated C&A.

pub mod evidence;
pub mod personas;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hdrhistogram::Histogram;
use tokio::time::Instant;

pub use crate::harness::config::LoadConfig;
use crate::harness::config::TargetConfig;
use crate::harness::environment::Environment;
use crate::protocol::contract::FindData;
pub use crate::record::load::{LatencySummary, LoadSummary};
use personas::MatchingPerson;

/// Highest rate `load` sends at, finds per second.
pub const MAX_RATE: f64 = 5_000.0;
/// Longest a load test runs, seconds.
pub const MAX_DURATION_SECS: f64 = 600.0;
/// Most finds one load test sends (rate times duration).
pub const MAX_FINDS: u64 = 100_000;
/// A find's answer is read up to this many bytes (a 202 has next to none).
const BODY_CAP: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{0}")]
    Bounds(String),
    #[error(
        "the find endpoint {url} is not on this machine: load-testing it needs the organisation's explicit confirmation in the target file: [load] confirm_host = \"{host}\""
    )]
    NotConfirmed { url: String, host: String },
    #[error("the find URL {0:?} is not a valid URL")]
    BadUrl(String),
    #[error(
        "matching finds need people the provider holds: the test pack has no case that expects a match"
    )]
    NoMatchingPeople,
    #[error(transparent)]
    Environment(#[from] crate::harness::environment::EnvError),
    #[error("clear-down before the load test failed: {0}")]
    ClearDown(String),
    #[error(transparent)]
    Evidence(#[from] crate::runner::RunError),
}

/// A finished load test: its figures and where its evidence is.
#[derive(Debug)]
pub struct LoadRun {
    pub summary: LoadSummary,
    pub record: crate::record::run::RunRecord,
    pub run_dir: std::path::PathBuf,
}

/// The whole of `pdp-harness load`: check the bounds and the target's confirmation, start the
/// embedded default (with synthetic members for the matching finds) or the C&A for the
/// organisation's solution, clear down, send, and write the evidence under `out_dir`.
pub async fn load_test(
    mut pack: crate::harness::testpack::TestPack,
    config: &TargetConfig,
    redactor: crate::record::redact::Redactor,
    faults: crate::provider::Faults,
    opts: &LoadOptions,
    out_dir: &std::path::Path,
) -> Result<LoadRun, LoadError> {
    opts.check()?;
    if let Some(provider) = &config.provider {
        // Before anything is sent, even a clear-down.
        confirm_target(&provider.find_url, config)?;
    }
    let started_at = Utc::now();
    let (env, people) = match &config.provider {
        None => {
            let matching = match opts.matching_finds() {
                0 => Vec::new(),
                n => personas::add_synthetic_members(&mut pack, n as usize)
                    .ok_or(LoadError::NoMatchingPeople)?,
            };
            let env = Environment::embedded(Arc::new(pack), config, faults, redactor).await?;
            (env, matching)
        }
        Some(_) => {
            let env = Environment::external(Arc::new(pack), config, redactor).await?;
            let matching = personas::pack_matches(&env.pack);
            (env, matching)
        }
    };
    let env = Arc::new(env);
    let result = async {
        env.clear_down()
            .await
            .map_err(|e| LoadError::ClearDown(e.to_string()))?;
        env.recorder.pause(true);
        let summary = run(env.clone(), opts, People::new(people)).await?;
        let (record, run_dir) = evidence::write(&env, config, opts, &summary, started_at, out_dir)?;
        Ok(LoadRun {
            summary,
            record,
            run_dir,
        })
    }
    .await;
    env.shutdown();
    result
}

/// What to send, how fast and for how long.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Finds per second.
    pub rate: f64,
    pub duration: Duration,
    /// Share of finds (0 to 1) for people the provider holds.
    pub match_share: f64,
    /// Also view every registered pension (dashboard flow: ticket, RPT, view data).
    pub view: bool,
    /// How long a find may take to be answered.
    pub timeout: Duration,
    /// How long after the last answer registrations may still arrive.
    pub registration_timeout: Duration,
    /// Finds in flight at once; a find that finds none free waits, and the wait counts.
    pub max_in_flight: usize,
}

impl LoadOptions {
    pub fn new(rate: f64, duration: Duration) -> LoadOptions {
        LoadOptions {
            rate,
            duration,
            match_share: 0.5,
            view: false,
            timeout: Duration::from_secs(10),
            registration_timeout: Duration::from_secs(10),
            max_in_flight: 512,
        }
    }

    pub fn total_finds(&self) -> u64 {
        (self.rate * self.duration.as_secs_f64()).round() as u64
    }

    /// Finds for people the provider holds: spread evenly through the schedule.
    pub fn matching_finds(&self) -> u64 {
        (self.total_finds() as f64 * self.match_share).floor() as u64
    }

    fn is_matching(&self, i: u64) -> bool {
        ((i + 1) as f64 * self.match_share).floor() > (i as f64 * self.match_share).floor()
    }

    /// Refuse what is unbounded or meaningless.
    pub fn check(&self) -> Result<(), LoadError> {
        let bad = |m: String| Err(LoadError::Bounds(m));
        if !(self.rate.is_finite() && self.rate > 0.0 && self.rate <= MAX_RATE) {
            return bad(format!(
                "--rate {} is out of bounds: give finds per second, more than 0 and at most {MAX_RATE}",
                self.rate
            ));
        }
        let secs = self.duration.as_secs_f64();
        if !(secs > 0.0 && secs <= MAX_DURATION_SECS) {
            return bad(format!(
                "--duration {secs} s is out of bounds: more than 0 and at most {MAX_DURATION_SECS} s"
            ));
        }
        if self.total_finds() == 0 || self.total_finds() > MAX_FINDS {
            return bad(format!(
                "--rate x --duration gives {} finds: a load test sends between 1 and {MAX_FINDS}",
                self.total_finds()
            ));
        }
        if !(0.0..=1.0).contains(&self.match_share) {
            return bad(format!(
                "--match-share {} is out of bounds: a share from 0 to 1",
                self.match_share
            ));
        }
        if self.max_in_flight == 0 {
            return bad("--max-in-flight must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// Loopback needs no confirmation; any other host must be named in `[load] confirm_host`.
pub fn confirm_target(find_url: &str, config: &TargetConfig) -> Result<(), LoadError> {
    let url = url::Url::parse(find_url).map_err(|_| LoadError::BadUrl(find_url.to_owned()))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(LoadError::BadUrl(find_url.to_owned())),
    };
    let host = url.host_str().unwrap_or_default().to_owned();
    let confirmed = config
        .load
        .confirm_host
        .as_deref()
        .is_some_and(|c| c.trim().eq_ignore_ascii_case(host.trim_matches(['[', ']'])));
    if loopback || confirmed {
        Ok(())
    } else {
        Err(LoadError::NotConfirmed {
            url: find_url.to_owned(),
            host: host.trim_matches(['[', ']']).to_owned(),
        })
    }
}

/// Microseconds from one microsecond to an hour, three significant digits; longer values are
/// recorded as an hour.
fn histogram() -> Histogram<u64> {
    // Constant, valid bounds: `new_with_bounds` fails only for invalid ones.
    #[allow(clippy::expect_used)]
    Histogram::new_with_bounds(1, MAX_MICROS, 3).expect("valid histogram bounds")
}

const MAX_MICROS: u64 = 3_600_000_000;

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros())
        .unwrap_or(u64::MAX)
        .clamp(1, MAX_MICROS)
}

#[derive(Debug)]
struct Pending {
    intended_at: DateTime<Utc>,
    expected: BTreeSet<String>,
}

/// The load test's shared state: what is outstanding and what was measured.
struct Tracker {
    pending: HashMap<String, Pending>,
    outstanding: u64,
    ack: Histogram<u64>,
    service: Histogram<u64>,
    registration: Histogram<u64>,
    view: Histogram<u64>,
    acknowledged: u64,
    errors: BTreeMap<String, u64>,
    timeouts: u64,
    expected: u64,
    observed: u64,
    unexpected: u64,
    views_started: u64,
    views_ok: u64,
    view_errors: u64,
    last_sent: Option<Instant>,
    sent: u64,
}

impl Tracker {
    fn new() -> Tracker {
        Tracker {
            pending: HashMap::new(),
            outstanding: 0,
            ack: histogram(),
            service: histogram(),
            registration: histogram(),
            view: histogram(),
            acknowledged: 0,
            errors: BTreeMap::new(),
            timeouts: 0,
            expected: 0,
            observed: 0,
            unexpected: 0,
            views_started: 0,
            views_ok: 0,
            view_errors: 0,
            last_sent: None,
            sent: 0,
        }
    }

    /// A registration seen at the C&A: for which find, which pension, when.
    fn registered(&mut self, request_id: Option<&str>, asset: Option<&str>, at: DateTime<Utc>) {
        let hit = request_id
            .and_then(|id| self.pending.get_mut(id))
            .and_then(|p| {
                let asset = asset?.to_ascii_lowercase();
                p.expected.remove(&asset).then_some(p.intended_at)
            });
        match hit {
            Some(intended_at) => {
                let waited = (at - intended_at).to_std().unwrap_or_default();
                let _ = self.registration.record(micros(waited));
                self.observed += 1;
                self.outstanding = self.outstanding.saturating_sub(1);
            }
            None => self.unexpected += 1,
        }
    }
}

type Shared = Arc<Mutex<Tracker>>;

fn lock(t: &Shared) -> MutexGuard<'_, Tracker> {
    t.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Who the finds are for: matching people in turn, the rest synthetic strangers.
pub struct People {
    matching: Vec<MatchingPerson>,
    /// Pensions already expected once: a correct provider registers a pension once per person.
    expected_before: BTreeSet<String>,
}

impl People {
    pub fn new(matching: Vec<MatchingPerson>) -> People {
        People {
            matching,
            expected_before: BTreeSet::new(),
        }
    }

    fn next(&mut self, i: u64, m: u64, matching: bool) -> (FindData, BTreeSet<String>) {
        if !matching || self.matching.is_empty() {
            return (personas::non_matching(i), BTreeSet::new());
        }
        let person = &self.matching[(m % self.matching.len() as u64) as usize];
        let fresh: BTreeSet<String> = person
            .assets
            .iter()
            .filter(|a| self.expected_before.insert((*a).clone()))
            .cloned()
            .collect();
        (person.find.clone(), fresh)
    }
}

/// Run the load test against `env` (already cleared down) and return its figures.
pub async fn run(
    env: Arc<Environment>,
    opts: &LoadOptions,
    mut people: People,
) -> Result<LoadSummary, LoadError> {
    opts.check()?;
    if opts.matching_finds() > 0 && people.matching.is_empty() {
        return Err(LoadError::NoMatchingPeople);
    }
    let client = finds_client(&env, opts)?;
    let tracker: Shared = Arc::new(Mutex::new(Tracker::new()));
    let done = Arc::new(tokio::sync::Notify::new());
    let observer = tokio::spawn(observe(
        env.clone(),
        tracker.clone(),
        done.clone(),
        opts.view,
    ));

    let total = opts.total_finds();
    let slots = Arc::new(tokio::sync::Semaphore::new(opts.max_in_flight));
    let mut tasks = tokio::task::JoinSet::new();
    // A short lead lets the first finds leave on time.
    let start = Instant::now() + Duration::from_millis(20);
    let start_wall = Utc::now() + chrono::Duration::milliseconds(20);
    let mut m = 0;
    for i in 0..total {
        let offset = Duration::from_secs_f64(i as f64 / opts.rate);
        let intended = start + offset;
        let intended_at = start_wall + chrono::Duration::from_std(offset).unwrap_or_default();
        tokio::time::sleep_until(intended).await;
        let matching = opts.is_matching(i);
        let (find, expected) = people.next(i, m, matching);
        if matching {
            m += 1;
        }
        // Waiting for a free slot is queueing: it counts, since latency runs from `intended`.
        let Ok(permit) = slots.clone().acquire_owned().await else {
            break;
        };
        let env = env.clone();
        let client = client.clone();
        let tracker = tracker.clone();
        let timeout = opts.timeout;
        tasks.spawn(async move {
            send_find(
                &env,
                &client,
                &tracker,
                find,
                expected,
                (intended, intended_at, timeout),
            )
            .await;
            drop(permit);
        });
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}

    // Registrations may trail the answers; wait for the outstanding ones, within the limit.
    let deadline = Instant::now() + opts.registration_timeout;
    loop {
        let notified = done.notified();
        if lock(&tracker).outstanding == 0 {
            break;
        }
        if tokio::time::timeout_at(deadline, notified).await.is_err() {
            break;
        }
    }
    observer.abort();
    let views = if opts.view {
        wait_views(&tracker, deadline).await
    } else {
        0
    };
    let t = lock(&tracker);
    let window = t
        .last_sent
        .map(|last| last.saturating_duration_since(start).as_secs_f64())
        .unwrap_or_default()
        + 1.0 / opts.rate;
    let summarise = |measure: &str, definition: &str, h: &Histogram<u64>| {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        LatencySummary {
            measure: measure.to_owned(),
            definition: definition.to_owned(),
            count: h.len(),
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    };
    let mut latencies = vec![
        summarise(
            "acknowledgement",
            "intended send time to the answer (queueing included)",
            &t.ack,
        ),
        summarise(
            "service",
            "actual send time to the answer (queueing excluded)",
            &t.service,
        ),
        summarise(
            "registration",
            "intended send time to each PeI registration at the C&A",
            &t.registration,
        ),
    ];
    if opts.view {
        latencies.push(summarise(
            "view",
            "registration seen to view data served (401 ticket, RPT, view)",
            &t.view,
        ));
    }
    let errors = t.errors.values().sum::<u64>();
    Ok(LoadSummary {
        find_url: env.finder.url(),
        requested_rate: opts.rate,
        achieved_rate: if window > 0.0 {
            t.sent as f64 / window
        } else {
            0.0
        },
        duration_secs: opts.duration.as_secs_f64(),
        match_share: opts.match_share,
        max_in_flight: opts.max_in_flight,
        timeout_ms: u64::try_from(opts.timeout.as_millis()).unwrap_or(u64::MAX),
        finds_planned: total,
        finds_sent: t.sent,
        matching_finds: m,
        acknowledged: t.acknowledged,
        errors,
        error_kinds: t.errors.clone(),
        timeouts: t.timeouts,
        registrations_expected: t.expected,
        registrations_observed: t.observed,
        registrations_missing: t.outstanding,
        registrations_unexpected: t.unexpected,
        views_ok: t.views_ok,
        view_errors: t.view_errors + views,
        latencies,
    })
}

/// Send one find at (or as soon as possible after) its intended time and record the answer.
async fn send_find(
    env: &Environment,
    client: &reqwest::Client,
    tracker: &Shared,
    find: FindData,
    expected: BTreeSet<String>,
    (intended, intended_at, timeout): (Instant, DateTime<Utc>, Duration),
) {
    let request_id = uuid::Uuid::new_v4().to_string();
    let token = match env.finder.find_token(&find) {
        Ok(t) => t,
        Err(_) => {
            *lock(tracker)
                .errors
                .entry("signing the find token".to_owned())
                .or_default() += 1;
            return;
        }
    };
    {
        let mut t = lock(tracker);
        t.expected += expected.len() as u64;
        t.outstanding += expected.len() as u64;
        t.pending.insert(
            request_id.clone(),
            Pending {
                intended_at,
                expected,
            },
        );
    }
    let request = env
        .finder
        .request(client, &token, &request_id)
        .timeout(timeout);
    let sent = Instant::now();
    {
        let mut t = lock(tracker);
        t.sent += 1;
        t.last_sent = Some(t.last_sent.map_or(sent, |l| l.max(sent)));
    }
    let outcome = match request.send().await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match read_capped(resp).await {
                Ok(()) => Ok(status),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    let now = Instant::now();
    let mut t = lock(tracker);
    let _ = t
        .ack
        .record(micros(now.saturating_duration_since(intended)));
    let _ = t
        .service
        .record(micros(now.saturating_duration_since(sent)));
    match outcome {
        Ok(202) => t.acknowledged += 1,
        Ok(status) => *t.errors.entry(format!("status {status}")).or_default() += 1,
        Err(e) if e.is_timeout() => t.timeouts += 1,
        Err(e) => {
            let kind = if e.is_connect() {
                "connection"
            } else if e.is_body() || e.is_decode() {
                "reading the answer"
            } else {
                "request"
            };
            *t.errors.entry(kind.to_owned()).or_default() += 1;
        }
    }
}

/// The finds' own client: the harness's certificate and trust, HTTP/1.1 on as many
/// kept-alive connections as finds in flight (as a finder spreads its calls), rather than the
/// run's client, which multiplexes everything over one HTTP/2 connection.
fn finds_client(env: &Environment, opts: &LoadOptions) -> Result<reqwest::Client, LoadError> {
    let client_err = |e: reqwest::Error| {
        LoadError::Environment(crate::harness::environment::EnvError::Tls(
            crate::net::tls::TlsError::Client(e.to_string()),
        ))
    };
    let trust = env
        .provider_trust
        .iter()
        .map(|der| reqwest::Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(client_err)?;
    reqwest::Client::builder()
        .tls_certs_only(trust)
        .tls_version_min(reqwest::tls::Version::TLS_1_2)
        .http1_only()
        .pool_max_idle_per_host(opts.max_in_flight)
        .timeout(opts.timeout)
        .connect_timeout(opts.timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .identity(
            reqwest::Identity::from_pem(&env.harness_identity.identity_pem())
                .map_err(client_err)?,
        )
        .build()
        .map_err(client_err)
}

/// Read the answer, at most [`BODY_CAP`] bytes of it.
async fn read_capped(mut resp: reqwest::Response) -> Result<(), reqwest::Error> {
    let mut read = 0;
    while let Some(chunk) = resp.chunk().await? {
        read += chunk.len();
        if read >= BODY_CAP {
            break;
        }
    }
    Ok(())
}

/// Follow the C&A's registrations as they arrive and match them to the finds.
async fn observe(
    env: Arc<Environment>,
    tracker: Shared,
    done: Arc<tokio::sync::Notify>,
    view: bool,
) {
    let mut seen = 0usize;
    loop {
        let new = env
            .cas
            .wait_for(Duration::from_millis(250), |regs| {
                (regs.len() > seen).then(|| {
                    regs.get(seen..)
                        .unwrap_or_default()
                        .iter()
                        .map(|r| {
                            (
                                r.inbound_request_id.clone(),
                                r.asset_guid().map(str::to_owned),
                                r.registered_at,
                            )
                        })
                        .collect::<Vec<_>>()
                })
            })
            .await;
        let Some(new) = new else { continue };
        seen += new.len();
        let outstanding = {
            let mut t = lock(&tracker);
            for (request_id, asset, at) in &new {
                t.registered(request_id.as_deref(), asset.as_deref(), *at);
            }
            t.outstanding
        };
        if view {
            for asset in new.into_iter().filter_map(|(_, a, _)| a) {
                lock(&tracker).views_started += 1;
                let env = env.clone();
                let tracker = tracker.clone();
                tokio::spawn(async move {
                    let started = Instant::now();
                    let ok = env.dashboard.obtain_view_token(&asset).await.is_ok();
                    let mut t = lock(&tracker);
                    if ok {
                        t.views_ok += 1;
                        let _ = t.view.record(micros(started.elapsed()));
                    } else {
                        t.view_errors += 1;
                    }
                });
            }
        }
        if outstanding == 0 {
            done.notify_waiters();
        }
    }
}

/// Views still running at the deadline count as errors; returns how many.
async fn wait_views(tracker: &Shared, deadline: Instant) -> u64 {
    loop {
        let (finished, expected) = {
            let t = lock(tracker);
            (t.views_ok + t.view_errors, t.views_started)
        };
        if finished >= expected {
            return 0;
        }
        if Instant::now() >= deadline {
            return expected - finished;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
