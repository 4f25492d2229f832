//! `pdp-harness bench` (hidden): the speed figures in one run, on the embedded default:
//! (a) `run --pack all` wall time, (b) start-up (launch to the first scenario's start, in a
//! child process), (c) `load`'s highest sustained find rate beside a bare hyper + rustls
//! client's rate against the same reference provider, and (d) peak memory (VmHWM).
//!
//! Figures, not verdicts: nothing here passes or fails on time.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;

use crate::app::load::{self, LoadOptions, People};
use crate::harness::config::TargetConfig;
use crate::harness::environment::Environment;
use crate::harness::testpack::TestPack;
use crate::provider::Faults;
use crate::record::events::LogEvent;
use crate::record::redact::Redactor;
use crate::runner::{Pack, RunOptions};

#[derive(Debug, thiserror::Error)]
#[error("bench: {0}")]
pub struct BenchError(String);

fn fail(e: impl std::fmt::Display) -> BenchError {
    BenchError(e.to_string())
}

/// Where the scenarios and test data are, and how long each rate is held.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub features: PathBuf,
    pub testpacks: PathBuf,
    /// Seconds each measured rate is held (bare client, and each step of `load`).
    pub step_secs: f64,
    /// Start-up is measured this many times (child processes); the median is reported.
    pub startups: usize,
    /// Concurrent connections of the bare client.
    pub connections: usize,
}

/// Peak resident memory of this process so far, in MB (Linux `/proc/self/status` VmHWM).
pub fn peak_memory_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

fn pack(testpacks: &Path) -> Result<TestPack, BenchError> {
    TestPack::load(&testpacks.join(crate::harness::bundled::INTEGRATION_PACK)).map_err(fail)
}

async fn embedded(pack: TestPack) -> Result<Arc<Environment>, BenchError> {
    let redactor = Redactor::new(pack.personal_values(), false);
    let env = Environment::embedded(
        Arc::new(pack),
        &TargetConfig::default(),
        Faults::none(),
        redactor,
    )
    .await
    .map_err(fail)?;
    Ok(Arc::new(env))
}

/// Run every measure; returns the report lines.
pub async fn run(opts: &BenchOptions) -> Result<Vec<String>, BenchError> {
    let mut out = vec![format!(
        "pdp-harness bench {} on {} core(s)",
        env!("CARGO_PKG_VERSION"),
        std::thread::available_parallelism().map_or(1, usize::from)
    )];
    let scratch = std::env::temp_dir().join(format!("pdp-harness-bench-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&scratch).map_err(fail)?;

    // (b) first, in child processes, before this process has warmed anything.
    let mut startups = Vec::new();
    for i in 0..opts.startups.max(1) {
        startups.push(startup_ms(opts, &scratch.join(format!("startup-{i}")))?);
    }
    let best = startups.iter().copied().fold(f64::MAX, f64::min);
    out.push(format!(
        "(b) start-up, launch to first scenario: median {:.0} ms, best {best:.0} ms of {} launches",
        median(&mut startups),
        startups.len()
    ));

    // What start-up is made of: the RS256 keys, four one after another (as first written: a
    // key per token kind) beside the two, one a party, generated concurrently (as now).
    // RSA key generation time varies with the primes it happens to try: the median of rounds.
    let (mut serial, mut concurrent) = (Vec::new(), Vec::new());
    for _ in 0..KEY_ROUNDS {
        let t = Instant::now();
        for kid in ["bench-1", "bench-2", "bench-3", "bench-4"] {
            crate::net::pki::SigningKey::generate(kid).map_err(fail)?;
        }
        serial.push(t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        crate::net::pki::SigningKey::generate_all(&["bench-cda", "bench-provider"])
            .map_err(fail)?;
        concurrent.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    out.push(format!(
        "    of which the RSA-2048 signing keys (median of {KEY_ROUNDS}): four one after another {:.0} ms (before), two concurrently {:.0} ms (now)",
        median(&mut serial),
        median(&mut concurrent)
    ));

    // (a) and (d): the whole pack in this process, at the default concurrency (then, for
    // comparison, one scenario at a time).
    for concurrency in [crate::runner::DEFAULT_CONCURRENCY, 1] {
        out.extend(whole_pack(opts, &scratch, concurrency).await?);
    }

    // (c) the bare client, then `load` at rising rates, against one reference provider.
    let env = embedded(pack(&opts.testpacks)?).await?;
    let bare = bare_rate(&env, opts).await?;
    out.push(format!(
        "(c) bare hyper + rustls client, {} connections, non-matching finds: {bare:.0} finds/s (load: as many finds in flight)",
        opts.connections
    ));
    // Rising rates until `load` no longer keeps up (or every factor was tried).
    let (mut in_full, mut within_p99) = (None, None);
    for factor in [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 1.0, 1.1, 1.25] {
        let rate = (bare * factor).clamp(1.0, load::MAX_RATE).round();
        let mut lo = LoadOptions::new(rate, Duration::from_secs_f64(opts.step_secs));
        lo.match_share = 0.0;
        // As many connections as the bare client has: the same resources, measured openly.
        lo.max_in_flight = opts.connections.max(1);
        let s = load::run(env.clone(), &lo, People::new(Vec::new()))
            .await
            .map_err(fail)?;
        let ack = s.latency("acknowledgement");
        let p99 = ack.map_or(f64::MAX, |l| l.p99_ms);
        let kept_up = s.acknowledged == s.finds_planned && s.achieved_rate >= 0.97 * rate;
        out.push(format!(
            "    load at {rate:.0}/s: achieved {:.0}/s, {} of {} acknowledged, acknowledgement p50 {:.1} ms, p99 {p99:.1} ms, max {:.1} ms",
            s.achieved_rate,
            s.acknowledged,
            s.finds_planned,
            ack.map_or(0.0, |l| l.p50_ms),
            ack.map_or(0.0, |l| l.max_ms),
        ));
        if !kept_up {
            break;
        }
        in_full = Some(rate);
        if p99 <= SUSTAINED_P99_MS {
            within_p99 = Some(rate);
        }
    }
    env.shutdown();
    let share = |r: Option<f64>| match r {
        Some(rate) => format!(
            "{rate:.0} finds/s = {:.0}% of the bare client's",
            100.0 * rate / bare
        ),
        None => "none of the rates tried".to_owned(),
    };
    out.push(format!(
        "(c) load's highest sustained rate (every find acknowledged, >= 97% of the rate achieved): {}",
        share(in_full)
    ));
    out.push(format!(
        "    and with p99 acknowledgement (from the intended send time) within {SUSTAINED_P99_MS} ms as well: {}",
        share(within_p99)
    ));
    out.push(format!(
        "peak memory of the whole bench: {}",
        peak_memory_mb().map_or("unknown".to_owned(), |mb| format!("{mb:.1} MB"))
    ));
    let _ = std::fs::remove_dir_all(&scratch);
    Ok(out)
}

/// `run --pack all` at `concurrency` in this process, from the environment's start: its
/// wall time (and, the first time, the peak memory).
async fn whole_pack(
    opts: &BenchOptions,
    scratch: &Path,
    concurrency: usize,
) -> Result<Vec<String>, BenchError> {
    let started = Instant::now();
    let env = embedded(pack(&opts.testpacks)?).await?;
    let options = RunOptions {
        concurrency,
        ..RunOptions::new(
            Pack::All,
            opts.features.clone(),
            scratch.join("all"),
            TargetConfig::default(),
        )
    };
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let console =
        crate::runner::writer::shared(Box::new(crate::runner::writer::Collect(lines.clone())));
    let outcome = crate::app::session::checked_run(env.clone(), &options, console).await;
    env.shutdown();
    let wall = started.elapsed().as_secs_f64();
    let outcome = outcome.map_err(fail)?;
    let mut out = vec![format!(
        "(a) run --pack all --concurrency {concurrency}: {wall:.2} s wall for {} scenarios ({})",
        outcome.record.counts.total(),
        outcome.record.verdict.plain_words()
    )];
    if concurrency != 1 {
        out.push(format!(
            "(d) peak memory after run --pack all: {} (VmHWM)",
            peak_memory_mb().map_or("unknown".to_owned(), |mb| format!("{mb:.1} MB"))
        ));
    }
    Ok(out)
}

/// The stricter reading of "sustained": the p99 acknowledgement stays under this.
const SUSTAINED_P99_MS: f64 = 200.0;
const KEY_ROUNDS: usize = 5;

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Launch `run --pack connection-proving` and time from launch to its first scenario's start
/// (from the run log).
fn startup_ms(opts: &BenchOptions, out: &Path) -> Result<f64, BenchError> {
    let exe = std::env::current_exe().map_err(fail)?;
    let launched = chrono::Utc::now();
    let status = std::process::Command::new(exe)
        .args(["run", "--pack", "connection-proving", "--out"])
        .arg(out)
        .arg("--features")
        .arg(&opts.features)
        .arg("--testpacks")
        .arg(&opts.testpacks)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map_err(fail)?;
    if !status.success() {
        return Err(fail(format!(
            "run --pack connection-proving exited with {status}"
        )));
    }
    let dir = std::fs::read_dir(out)
        .map_err(fail)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.is_dir())
        .ok_or_else(|| fail("the start-up run wrote no run directory"))?;
    let (events, _) =
        crate::record::runlog::read(&dir.join(crate::record::runlog::RUN_LOG)).map_err(fail)?;
    let first = events
        .iter()
        .find_map(|e| match e {
            LogEvent::ScenarioStarted { at, .. } => Some(*at),
            _ => None,
        })
        .ok_or_else(|| fail("the start-up run started no scenario"))?;
    Ok((first - launched).num_microseconds().unwrap_or(0) as f64 / 1000.0)
}

/// Finds per second a bare hyper + rustls client gets from the reference provider: the same
/// signed, non-matching finds, back to back on `connections` kept-alive connections.
async fn bare_rate(env: &Arc<Environment>, opts: &BenchOptions) -> Result<f64, BenchError> {
    let Some(server) = &env.provider_server else {
        return Err(fail("no embedded reference provider"));
    };
    let mut roots = rustls::RootCertStore::empty();
    for ca in &env.provider_trust {
        roots.add(ca.clone()).map_err(fail)?;
    }
    let id = &env.harness_identity;
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(fail)?
    .with_root_certificates(roots)
    .with_client_auth_cert(vec![id.cert_der.clone()], id.private_key_der())
    .map_err(fail)?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let addr = server.addr;
    let deadline = tokio::time::Instant::now() + Duration::from_secs_f64(opts.step_secs);
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..opts.connections.max(1) {
        let connector = connector.clone();
        let env = env.clone();
        workers.spawn(async move {
            let tcp = tokio::net::TcpStream::connect(addr).await.map_err(fail)?;
            let _ = tcp.set_nodelay(true);
            let name = ServerName::try_from("localhost").map_err(fail)?;
            let tls = connector.connect(name, tcp).await.map_err(fail)?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
                .await
                .map_err(fail)?;
            tokio::spawn(conn);
            let c = &env.finder.contract;
            let mut done = 0u64;
            let mut i = w as u64 * 1_000_000;
            while tokio::time::Instant::now() < deadline {
                i += 1;
                let token = env
                    .finder
                    .find_token(&load::personas::non_matching(i))
                    .map_err(fail)?;
                let mut body = serde_json::Map::new();
                body.insert(c.token_field.clone(), serde_json::Value::String(token));
                let body = serde_json::Value::Object(body).to_string();
                let request = hyper::Request::post(&c.path)
                    .header("host", "localhost")
                    .header("content-type", "application/json")
                    .header(
                        c.request_id_header.as_str(),
                        uuid::Uuid::new_v4().to_string(),
                    )
                    .body(Full::new(Bytes::from(body)))
                    .map_err(fail)?;
                sender.ready().await.map_err(fail)?;
                let response = sender.send_request(request).await.map_err(fail)?;
                let status = response.status().as_u16();
                response.into_body().collect().await.map_err(fail)?;
                if status != 202 {
                    return Err(fail(format!("the provider answered {status}")));
                }
                done += 1;
            }
            Ok::<u64, BenchError>(done)
        });
    }
    let mut total = 0;
    while let Some(r) = workers.join_next().await {
        total += r.map_err(fail)??;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}
