//! `pdp-harness load` over real sockets: a short bounded load against the embedded default,
//! latencies without coordinated omission against a slow find endpoint, and the refusals
//! (no rate or duration, a target not on loopback without the organisation's confirmation).

use crate::common;

use std::time::Duration;

use pdp_harness::app::load::{self, LoadOptions};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::redact::Redactor;
use pdp_harness::record::run::Verdict;

fn pack() -> TestPack {
    TestPack::load(&common::root().join("testpacks/integration/pack.toml"))
        .expect("the shipped pack loads")
}

async fn load_against(faults: Faults, opts: &LoadOptions, out: &std::path::Path) -> load::LoadRun {
    let pack = pack();
    let redactor = Redactor::new(pack.personal_values(), false);
    load::load_test(pack, &TargetConfig::default(), redactor, faults, opts, out)
        .await
        .expect("the load test runs")
}

/// Every find of a short load is acknowledged, every matching find's pension is registered at
/// the C&A (and nothing else is), and the figures reach run.json and the PDF.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_load_against_the_embedded_default_registers_every_match() {
    let out = tempfile::tempdir().expect("temp dir");
    let opts = LoadOptions::new(40.0, Duration::from_secs(1));
    let run = load_against(Faults::none(), &opts, out.path()).await;
    let s = &run.summary;
    assert_eq!(s.finds_planned, 40);
    assert_eq!(s.finds_sent, 40);
    assert_eq!(s.matching_finds, 20);
    assert_eq!(s.acknowledged, 40, "{s:?}");
    assert_eq!((s.errors, s.timeouts), (0, 0), "{s:?}");
    assert_eq!(s.registrations_expected, 20);
    assert_eq!(s.registrations_observed, 20, "{s:?}");
    assert_eq!(
        (s.registrations_missing, s.registrations_unexpected),
        (0, 0)
    );
    let ack = s
        .latency("acknowledgement")
        .expect("acknowledgement figures");
    assert_eq!(ack.count, 40);
    assert!(ack.p50_ms <= ack.p90_ms && ack.p90_ms <= ack.p99_ms && ack.p99_ms <= ack.max_ms);
    assert_eq!(s.latency("registration").map(|l| l.count), Some(20));
    assert_eq!(run.record.verdict, Verdict::Passed);

    let json: serde_json::Value = serde_json::from_slice(
        &std::fs::read(run.run_dir.join("run.json")).expect("run.json is written"),
    )
    .expect("run.json is JSON");
    assert_eq!(json["load"]["acknowledged"], 40);
    assert_eq!(json["load"]["registrations_observed"], 20);
    assert!(json["load"]["latencies"][0]["p999_ms"].is_number());
    let pdf = common::pdf_text(&run.run_dir.join("evidence.pdf"));
    assert!(
        pdf.contains("Load") && pdf.contains("Acknowledged 40, errors 0, timeouts 0"),
        "the PDF's load section: {pdf}"
    );
    // The HTML carries the same figures: the section, one row per latency measure, a chart.
    let html = std::fs::read_to_string(run.run_dir.join("report.html")).expect("report.html");
    assert!(
        html.contains("<h2 id=\"load\">Load</h2>"),
        "no load section"
    );
    assert!(
        html.contains("Acknowledged 40, errors 0, timeouts 0."),
        "{html}"
    );
    let table = html
        .split("<table id=\"load-latencies\">")
        .nth(1)
        .and_then(|t| t.split("</table>").next())
        .expect("the latency table");
    assert!(table.contains("<td>acknowledgement</td><td class=\"num\">40</td>"));
    assert!(table.contains("<td>registration</td><td class=\"num\">20</td>"));
    assert!(table.matches("<svg").count() >= 2, "a chart per measure");
}

/// A provider that leaves `inbound_request_id` out of its registrations is caught: no
/// registration can be tied to its find, so each is counted missing (and unexpected) and the
/// load test fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_registration_fails_the_load_test() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut opts = LoadOptions::new(20.0, Duration::from_secs(1));
    opts.registration_timeout = Duration::from_secs(2);
    let run = load_against(
        Faults::none().with(Fault::MissingInboundRequestId),
        &opts,
        out.path(),
    )
    .await;
    let s = &run.summary;
    assert_eq!(s.acknowledged, 20);
    assert_eq!(s.registrations_expected, 10);
    assert_eq!(s.registrations_observed, 0, "{s:?}");
    assert_eq!(s.registrations_missing, 10);
    assert_eq!(s.registrations_unexpected, 10);
    assert!(!s.passed());
    assert_eq!(run.record.verdict, Verdict::Failed);
}

/// Coordinated omission: the find endpoint takes 50 ms per find and only one find may be in
/// flight, so at 40 finds per second the k-th find cannot be answered before (k + 1) x 50 ms
/// while it was due at k x 25 ms. Measured from the intended send time, the median therefore
/// waits at least about a second; measured from the actual send (as a closed-loop tool would)
/// it would look like 50 ms. Only lower bounds are asserted: a slower machine only adds to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn latencies_include_the_queueing_behind_a_slow_endpoint() {
    let out = tempfile::tempdir().expect("temp dir");
    let mut opts = LoadOptions::new(40.0, Duration::from_secs(2));
    opts.match_share = 0.0;
    opts.max_in_flight = 1;
    let run = load_against(Faults::none().with(Fault::SlowFind), &opts, out.path()).await;
    let s = &run.summary;
    assert_eq!(s.acknowledged, 80, "{s:?}");
    let ack = s
        .latency("acknowledgement")
        .expect("acknowledgement figures");
    // Find 40 (the median) was due at 1000 ms and answered no sooner than 2050 ms.
    assert!(ack.p50_ms >= 1_000.0, "p50 {} ms", ack.p50_ms);
    // The last, due at 1975 ms, answered no sooner than 4000 ms.
    assert!(ack.max_ms >= 2_000.0, "max {} ms", ack.max_ms);
    assert!(ack.p99_ms >= 1_900.0, "p99 {} ms", ack.p99_ms);
    // Each find itself took at least the 50 ms; the difference is the queue.
    let service = s.latency("service").expect("service figures");
    assert!(service.p50_ms >= 50.0);
    // Sending could not keep up: at most one find per 50 ms.
    assert!(s.achieved_rate <= 21.0, "achieved {}", s.achieved_rate);
}

#[test]
fn the_bounds_are_enforced() {
    let ok = LoadOptions::new(100.0, Duration::from_secs(10));
    assert!(ok.check().is_ok());
    assert_eq!(ok.total_finds(), 1_000);
    assert_eq!(ok.matching_finds(), 500);
    for (rate, secs) in [
        (0.0, 1.0),
        (-1.0, 1.0),
        (f64::NAN, 1.0),
        (1e6, 1.0),
        (10.0, 0.0),
        (10.0, 1e5),
    ] {
        let o = LoadOptions::new(rate, Duration::from_secs_f64(secs));
        assert!(
            o.check().is_err(),
            "rate {rate} for {secs} s must be refused"
        );
    }
    let mut share = LoadOptions::new(10.0, Duration::from_secs(1));
    share.match_share = 1.5;
    assert!(share.check().is_err());
}

#[test]
fn load_refuses_to_run_without_a_rate_or_a_duration() {
    for args in [
        &["load", "--duration", "1"][..],
        &["load", "--rate", "10"][..],
        &["load"][..],
    ] {
        let out = common::bin().args(args).output().expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--rate") || stderr.contains("--duration"),
            "{args:?}: {stderr}"
        );
    }
    let out = common::bin()
        .args(["load", "--rate", "100000", "--duration", "1"])
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("out of bounds"));
}

/// `init`'s target file points at find.pensions.example.org: load refuses it, naming the
/// confirmation to add, before anything is sent; with the confirmation the refusal is gone.
#[test]
fn load_refuses_a_target_not_on_loopback_without_confirmation() {
    let dir = tempfile::tempdir().expect("temp dir");
    let init = common::bin()
        .arg("init")
        .arg(dir.path())
        .output()
        .expect("init runs");
    assert!(init.status.success(), "{init:?}");
    let target = dir.path().join(pdp_harness::harness::init::TARGET_FILE);
    let out = common::bin()
        .args(["load", "--rate", "10", "--duration", "1", "--target"])
        .arg(&target)
        .arg("--out")
        .arg(dir.path().join("reports"))
        .output()
        .expect("the binary runs");
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("[load] confirm_host = \"find.pensions.example.org\""),
        "{stderr}"
    );
    assert!(!dir.path().join("reports").exists(), "nothing was run");

    let mut config = TargetConfig::load(&target).expect("init's target file loads");
    assert!(load::confirm_target("https://find.pensions.example.org/find", &config).is_err());
    config.load.confirm_host = Some("find.pensions.example.org".to_owned());
    assert!(load::confirm_target("https://find.pensions.example.org/find", &config).is_ok());
    assert!(load::confirm_target("https://other.example.org/find", &config).is_err());
    let plain = TargetConfig::default();
    for local in [
        "https://localhost:8443/find",
        "https://127.0.0.1/find",
        "https://[::1]/find",
    ] {
        assert!(load::confirm_target(local, &plain).is_ok(), "{local}");
    }
}
