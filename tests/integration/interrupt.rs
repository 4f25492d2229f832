//! Stops leave evidence: SIGINT or SIGTERM mid-run seal an INTERRUPTED bundle that counts the
//! scenarios never started, and exit 1; `rerun` then runs those too; a closed stdout is not a
//! stop.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// A target file whose settle window keeps the first registration step waiting for 20 s, so
/// the run is certainly mid-scenario when it is signalled.
fn slow_target(dir: &Path) -> PathBuf {
    let target = dir.join("slow.toml");
    std::fs::write(&target, "[limits]\nregistration_settle_ms = 20000\n").expect("write");
    target
}

/// Start `run --pack all` and wait until its log shows the first scenario inside its
/// registration step.
fn start_slow_run(tmp: &Path, runs: &Path) -> (Child, PathBuf) {
    let target = slow_target(tmp);
    let child = common::bin()
        .args(["run", "--pack", "all", "--target"])
        .arg(&target)
        .arg("--out")
        .arg(runs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let log_path = common::run_log_once_acknowledged(runs, std::time::Duration::from_secs(120));
    (child, log_path)
}

fn signal(child: &Child, name: &str) {
    let status = std::process::Command::new("kill")
        .arg(format!("-{name}"))
        .arg(child.id().to_string())
        .status()
        .expect("kill runs");
    assert!(status.success());
}

fn interrupted_bundle(signal_name: &str) {
    let tmp = tempfile::tempdir().expect("temp dir");
    let runs = tmp.path().join("runs");
    let (child, log_path) = start_slow_run(tmp.path(), &runs);
    signal(&child, signal_name);
    let out = child.wait_with_output().expect("exits");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "exit 1 after {signal_name}: {stderr}"
    );
    assert!(stderr.contains("INTERRUPTED"), "said on stderr: {stderr}");

    let dir = log_path.parent().expect("run dir");
    let log = std::fs::read_to_string(&log_path).expect("log");
    assert!(log.contains("\"run_interrupted\""), "the log is finished");
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(record["verdict"], "interrupted");
    assert_eq!(
        record["interrupted"],
        format!("stopped by SIG{signal_name}")
    );
    assert_eq!(record["scenarios"][0]["status"], "interrupted");
    let counts = &record["counts"];
    let not_started = counts["not_started"].as_u64().expect("not_started counted");
    let planned = log
        .lines()
        .find(|l| l.contains("\"event\":\"planned\""))
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("json")["scenarios"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .expect("the plan is in the log");
    assert!(planned > 10, "pack all plans every scenario: {planned}");
    assert_eq!(not_started as usize, planned - 1, "{counts}");
    // Sealed: `verify` finds every file intact, and the PDF counts what never started.
    let verify = common::bin().arg("verify").arg(dir).output().expect("runs");
    assert_eq!(
        verify.status.code(),
        Some(0),
        "{}",
        common::output_text(&verify)
    );
    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    assert!(pdf.contains("INTERRUPTED"), "{pdf}");
    assert!(
        pdf.contains(&format!("{not_started} not started of {planned}")),
        "{pdf}"
    );
}

#[test]
fn sigint_mid_run_seals_an_interrupted_bundle_counting_what_never_started_and_exits_1() {
    interrupted_bundle("INT");
}

#[test]
fn sigterm_mid_run_seals_an_interrupted_bundle() {
    interrupted_bundle("TERM");
}

#[test]
fn rerun_runs_the_scenarios_an_interrupted_run_never_started() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let runs = tmp.path().join("runs");
    let (child, log_path) = start_slow_run(tmp.path(), &runs);
    signal(&child, "INT");
    let _ = child.wait_with_output();
    let earlier =
        pdp_harness::evidence::load_record(log_path.parent().expect("run dir")).expect("record");
    assert!(earlier.counts.not_started > 0);
    // Again against a target without the slow settle window.
    let fast = tmp.path().join("fast.toml");
    std::fs::write(&fast, "").expect("write");
    let out = common::bin()
        .args(["rerun", "--out"])
        .arg(&runs)
        .arg("--target")
        .arg(&fast)
        .output()
        .expect("runs");
    let text = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    let newest = std::fs::read_dir(&runs)
        .expect("runs")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.as_path() != log_path.parent().expect("dir"))
        .expect("the re-run's directory");
    let again = pdp_harness::evidence::load_record(&newest).expect("record");
    assert_eq!(
        again.counts.passed,
        earlier.counts.total(),
        "every planned scenario ran and passed: {text}"
    );
}

#[test]
fn a_closed_stdout_is_not_a_stop() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let mut child = common::bin()
        .args(["run", "--out"])
        .arg(tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    // As `run | head -0`: the reader goes away before the first line.
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("exits");
    assert_eq!(
        out.status.code(),
        Some(0),
        "the run goes on and exits by its verdict: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dir = common::only_run_dir(tmp.path());
    let record: Value =
        serde_json::from_slice(&std::fs::read(dir.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(record["verdict"], "passed");
    let verify = common::bin()
        .arg("verify")
        .arg(&dir)
        .output()
        .expect("runs");
    assert_eq!(verify.status.code(), Some(0));
}

/// Whether `pid` is a live process (a zombie waiting to be reaped counts as ended).
fn alive(pid: &str) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status")).is_ok_and(|s| {
        !s.lines()
            .any(|l| l.starts_with("State:") && (l.contains("Z") || l.contains("X")))
    })
}

#[test]
fn a_clear_down_command_and_its_children_end_with_the_run() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let pid_file = tmp.path().join("grandchild.pid");
    let target = tmp.path().join("target.toml");
    // The command starts a child of its own and waits for it: a long clear-down.
    std::fs::write(
        &target,
        format!(
            "[clear_down]\ncommand = [\"sh\", \"-c\", \"sleep 100000 & echo $! > {}; wait\"]\ntimeout_secs = 30\n",
            pid_file.display()
        ),
    )
    .expect("write");
    let runs = tmp.path().join("runs");
    let child = common::bin()
        .args(["run", "--pack", "stage1", "--target"])
        .arg(&target)
        .arg("--out")
        .arg(&runs)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawns");
    let deadline = Instant::now() + Duration::from_secs(120);
    let grandchild = loop {
        assert!(
            Instant::now() < deadline,
            "the clear-down command never started"
        );
        if let Ok(pid) = std::fs::read_to_string(&pid_file)
            && !pid.trim().is_empty()
        {
            break pid.trim().to_owned();
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(alive(&grandchild));
    signal(&child, "INT");
    let out = child.wait_with_output().expect("exits");
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !alive(&grandchild),
        "the clear-down command's child was killed with the run"
    );
}

/// Sets the reporting clock to a time near midnight as each stage starts: by the reporting
/// stage the day's submissions could straddle 00:00 UTC.
struct NearMidnight {
    clock: std::sync::Arc<pdp_harness::reporting::clock::FakeClock>,
    at: &'static str,
}

impl pdp_harness::runner::writer::Console for NearMidnight {
    fn line(&mut self, _text: &str) {}

    fn progress(&mut self, event: pdp_harness::runner::writer::Progress<'_>) {
        if matches!(event, pdp_harness::runner::writer::Progress::Stage(_)) {
            self.clock.set(at(self.at));
        }
    }
}

fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
    s.parse().expect("a timestamp")
}

/// The scenarios `tags` selects on the embedded default, the reporting clock at noon when
/// the run starts and at `stage_time` when each stage starts; `adjust` sets up the session.
async fn run_near_midnight(
    out: &std::path::Path,
    tags: &str,
    stage_time: &'static str,
    adjust: impl FnOnce(&mut pdp_harness::reporting::session::ReportingSession),
) -> pdp_harness::runner::RunOutcome {
    use pdp_harness::runner::{self, Pack, RunOptions};
    let config = pdp_harness::harness::config::TargetConfig::default();
    let pack = common::pack();
    let redactor = pdp_harness::record::redact::Redactor::new(pack.personal_values(), false);
    let mut env = pdp_harness::harness::environment::Environment::embedded(
        pack,
        &config,
        pdp_harness::provider::Faults::none(),
        redactor,
    )
    .await
    .expect("starts");
    // Noon at the start: the guard lets the run begin.
    let clock = std::sync::Arc::new(pdp_harness::reporting::clock::FakeClock::at(at(
        "2026-11-23T12:00:00Z",
    )));
    let session = std::sync::Arc::get_mut(&mut env.reporting)
        .expect("the reporting session is not shared yet");
    session.clock = clock.clone();
    adjust(session);
    let env = std::sync::Arc::new(env);
    let options = RunOptions {
        tags: Some(tags.to_owned()),
        ..common::run_options(Pack::All, out, config)
    };
    let console = NearMidnight {
        clock,
        at: stage_time,
    };
    let outcome = runner::run(env.clone(), &options, Box::new(console))
        .await
        .expect("the run ends with sealed evidence");
    env.shutdown();
    outcome
}

/// Toward a real reporting API (the guard refuses, with a 15-minute budget) the run ends at
/// the reporting stage like an interruption, the earlier stages' results sealed.
#[tokio::test]
async fn the_midnight_guard_before_the_reporting_stage_ends_the_run_like_an_interruption() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let tags = "@case:CP-01 or @reporting";
    let outcome = run_near_midnight(tmp.path(), tags, "2026-11-23T23:55:00Z", |session| {
        session.settings.expected = std::time::Duration::from_secs(15 * 60);
        session.settings.near_midnight = pdp_harness::reporting::clock::NearMidnight::Refuse;
    })
    .await;
    let r = &outcome.record;
    assert_eq!(r.verdict, pdp_harness::record::run::Verdict::Interrupted);
    let reason = r.interrupted.as_deref().unwrap_or_default();
    assert!(
        reason.contains("reporting stage was not started"),
        "{reason}"
    );
    assert_eq!(r.counts.passed, 1, "connection proving ran: {:?}", r.counts);
    assert!(r.counts.not_started > 0);
    assert!(
        r.not_started
            .iter()
            .all(|p| p.tags.iter().any(|t| t == "reporting")),
        "only the reporting scenarios are not run"
    );
    assert!(outcome.run_dir.join("seal.json").is_file(), "sealed");
}

/// Toward the harness's own simulator (the embedded default: a 1-minute budget) a reporting
/// stage starting 30 s before midnight waits for the new day, says so, and runs.
#[tokio::test]
async fn near_midnight_the_reporting_stage_waits_for_the_new_day_toward_the_simulator() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let sleeper = pdp_harness::reporting::client::RecordingSleeper::default();
    let recorded = sleeper.clone();
    // Reconciliation (RP-09) is left out: it counts what the harness observed in real time
    // within the reporting window, which the frozen clock here makes an instant.
    let tags = "(@case:CP-01 or @reporting) and not @reconciliation";
    let outcome = run_near_midnight(tmp.path(), tags, "2026-11-23T23:59:30Z", |session| {
        assert_eq!(
            session.settings.expected,
            std::time::Duration::from_secs(60),
            "the simulator's default budget"
        );
        session.client.sleeper = std::sync::Arc::new(sleeper);
    })
    .await;
    let r = &outcome.record;
    let failed: Vec<String> = r
        .scenarios
        .iter()
        .filter(|s| s.steps.iter().any(|st| st.failure_class.is_some()))
        .map(|s| format!("{s:?}"))
        .collect();
    assert_eq!(
        r.verdict,
        pdp_harness::record::run::Verdict::Passed,
        "{failed:?}"
    );
    assert!(
        r.counts.passed > 1,
        "the reporting scenarios ran: {:?}",
        r.counts
    );
    assert_eq!(r.counts.not_started, 0);
    assert_eq!(
        recorded.delays().first(),
        Some(&std::time::Duration::from_secs(31)),
        "waited until 00:00:01 UTC"
    );
    assert!(
        r.notes
            .iter()
            .any(|n| n.text.contains("waits 31 s for 00:00 UTC")),
        "{:?}",
        r.notes
    );
}
