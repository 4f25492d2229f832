//! `rerun`, `history` and `diff` over real runs: a run against a deliberately broken reference
//! provider fails, the defect is "fixed" (the re-run uses a correct provider), and the re-run's
//! evidence (run.json, junit.xml, report.html, the PDF) shows both attempts; `history` lists
//! both runs and `diff` shows failed → passed. Every run goes over the real mTLS sockets.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Output;

use serde_json::Value;

use pdp_harness::evidence::history;
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::{RunRecord, Status, Verdict};
use pdp_harness::runner::{self, Pack, rerun, writer::Collect};

fn cli(args: &[&str]) -> Output {
    common::bin().args(args).output().expect("the binary runs")
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// The run directories under `out` other than those named.
fn other_runs(out: &Path, known: &[&str]) -> Vec<PathBuf> {
    std::fs::read_dir(out)
        .expect("out dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .filter(|p| {
            let name = p.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            !known.contains(&name)
        })
        .collect()
}

fn run_json(dir: &Path) -> Value {
    let text = std::fs::read_to_string(dir.join("run.json")).expect("run.json");
    serde_json::from_str(&text).expect("run.json parses")
}

/// A re-run made through the library (the same planner and runner `rerun` uses), against a
/// provider with `faults`.
async fn rerun_with(faults: Faults, earlier: &RunRecord, out: &Path) -> RunRecord {
    let plan = rerun::plan(earlier)
        .expect("the pack is known")
        .expect("something to re-run");
    let mut config = TargetConfig::default();
    config.limits.registration_ms = 6_000;
    config.limits.update_ms = 3_000;
    let env = common::environment_with(faults, &config).await;
    let options = plan.options(common::root().join("features"), out.to_owned(), config);
    let outcome = runner::run(env.clone(), &options, Box::new(Collect::default()))
        .await
        .expect("the re-run completes");
    env.shutdown();
    outcome.record
}

#[tokio::test]
async fn a_fixed_failure_is_re_run_and_the_evidence_shows_both_attempts() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let out = path_str(tmp.path());
    let first = common::run_with(Faults::none().with(Fault::WrongMatchStatus), tmp.path()).await;
    assert_eq!(first.verdict, Verdict::Failed);
    let a = first.header.run_id.clone();

    // "Fixed": the re-run runs against the embedded default's correct provider.
    let o = cli(&["rerun", "--out", out]);
    let text = common::output_text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "Re-running 1 scenario(s) of run {a} that did not pass: CP-01"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("Attempt history (re-run of {a}):")),
        "{text}"
    );
    assert!(text.contains(&format!("failed in run {a} at ")), "{text}");
    assert!(text.contains("passed in this run"), "{text}");
    assert!(
        !text.contains("CP-02 ") && !text.contains("CP-03 "),
        "only the failed scenario runs: {text}"
    );

    let new_runs = other_runs(tmp.path(), &[&a]);
    assert_eq!(new_runs.len(), 1, "one new run: {new_runs:?}");
    let dir = &new_runs[0];
    let b = dir
        .file_name()
        .and_then(|n| n.to_str())
        .expect("run id")
        .to_owned();

    // run.json: only CP-01, passed; the earlier attempt with its run id and failure.
    let record = run_json(dir);
    assert_eq!(record["verdict"], "passed");
    let scenarios = record["scenarios"].as_array().expect("scenarios");
    assert_eq!(scenarios.len(), 1, "{scenarios:#?}");
    assert_eq!(scenarios[0]["case_id"], "CP-01");
    assert_eq!(record["rerun"]["rerun_of"], a.as_str());
    let history = &record["rerun"]["previous_attempts"];
    assert_eq!(history.as_array().map(Vec::len), Some(1), "{history:#}");
    assert_eq!(history[0]["case_id"], "CP-01");
    assert_eq!(history[0]["reason"], "failed");
    let attempt = &history[0]["attempts"][0];
    assert_eq!(attempt["run_id"], a.as_str());
    assert_eq!(attempt["status"], "failed");
    assert!(
        attempt["message"]
            .as_str()
            .is_some_and(|m| m.contains("expected match_status \"match-yes\"")),
        "{attempt:#}"
    );

    // junit.xml: the attempt history on the test case.
    let junit = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml");
    assert!(
        junit.contains(&format!(r#"<property name="rerun_of" value="{a}"/>"#)),
        "{junit}"
    );
    assert!(
        junit.contains(&format!("failed in run {a} at ")) && junit.contains("passed in this run"),
        "{junit}"
    );
    assert!(junit.contains("<system-out>Attempt history:"), "{junit}");

    // report.html and the PDF.
    let html = std::fs::read_to_string(dir.join("report.html")).expect("report.html");
    assert!(html.contains("<h2>Attempt history</h2>"), "html section");
    assert!(
        html.contains(&format!("failed in run {a} at ")),
        "html history"
    );
    let pdf = common::pdf_text(&dir.join("evidence.pdf"));
    assert!(pdf.contains("Attempt history"), "{pdf}");
    assert!(pdf.contains("Re-run of"), "cover row: {pdf}");
    assert!(pdf.contains(&format!("failed in run {a}")), "{pdf}");
    assert!(pdf.contains("passed in this run"), "{pdf}");
    assert!(
        pdf.contains("expected match_status"),
        "the earlier failure: {pdf}"
    );

    // The re-run's bundle verifies like any other.
    let v = cli(&["verify", path_str(dir)]);
    assert_eq!(v.status.code(), Some(0), "{}", common::output_text(&v));

    // history: both runs, newest first, the re-run marked.
    let h = cli(&["history", "--out", out]);
    let htext = common::output_text(&h);
    assert_eq!(h.status.code(), Some(0), "{htext}");
    let (pos_a, pos_b) = (htext.find(&a), htext.find(&b));
    assert!(
        pos_a.is_some() && pos_b.is_some() && pos_b < pos_a,
        "B listed before A: {htext}"
    );
    let line_b = htext.lines().find(|l| l.starts_with(&b)).expect("B's line");
    assert!(line_b.contains(&format!("rerun of {a}")), "{line_b}");
    assert!(line_b.contains("PASSED"), "{line_b}");
    let line_a = htext.lines().find(|l| l.starts_with(&a)).expect("A's line");
    assert!(line_a.contains("FAILED"), "{line_a}");
    assert!(line_a.contains("embedded default"), "{line_a}");
    let h1 = cli(&["history", "--out", out, "--limit", "1"]);
    let h1text = common::output_text(&h1);
    assert!(
        h1text.lines().any(|l| l.starts_with(&b)) && !h1text.lines().any(|l| l.starts_with(&a)),
        "--limit 1 shows the newest: {h1text}"
    );

    // diff: failed → passed; the scenarios not re-run are missing from B.
    let d = cli(&["diff", &a, &b, "--out", out]);
    let dtext = common::output_text(&d);
    assert_eq!(d.status.code(), Some(0), "{dtext}");
    assert!(dtext.contains("failed → passed"), "{dtext}");
    let fixed = dtext
        .lines()
        .find(|l| l.contains("failed → passed"))
        .expect("the fixed line");
    assert!(fixed.contains("CP-01"), "{fixed}");
    assert!(dtext.contains("1 failed → passed"), "{dtext}");
    assert!(dtext.contains("2 missing"), "{dtext}");
    // By path as well as by id.
    let d2 = cli(&["diff", path_str(&tmp.path().join(&a)), path_str(dir)]);
    assert_eq!(d2.status.code(), Some(0), "{}", common::output_text(&d2));
    assert!(common::output_text(&d2).contains("1 failed → passed"));

    // Nothing failed in the re-run: nothing to do, no new run.
    let again = cli(&["rerun", "--out", out]);
    let again_text = common::output_text(&again);
    assert_eq!(again.status.code(), Some(0), "{again_text}");
    assert!(again_text.contains("nothing to re-run"), "{again_text}");
    assert_eq!(other_runs(tmp.path(), &[&a, &b]).len(), 0, "no third run");
}

#[tokio::test]
async fn the_history_chains_through_earlier_re_runs() {
    let tmp = tempfile::tempdir().expect("temp dir");
    // A: CP-01 and CP-03 fail.
    let first = common::run_with(Faults::none().with(Fault::AcceptsAnyBearer), tmp.path()).await;
    let a = first.header.run_id.clone();
    assert_eq!(
        common::statuses(&first)
            .into_iter()
            .filter(|(_, s)| *s == Status::Failed)
            .count(),
        2
    );
    // B re-runs both against another broken provider: CP-01 still fails, CP-03 passes.
    let second = rerun_with(
        Faults::none().with(Fault::WrongMatchStatus),
        &first,
        tmp.path(),
    )
    .await;
    let b = second.header.run_id.clone();
    assert_eq!(
        common::statuses(&second),
        vec![
            ("CP-01".to_owned(), Status::Failed),
            ("CP-03".to_owned(), Status::Passed)
        ]
    );
    // C re-runs B (named by its directory) against a correct provider: only CP-01.
    let o = cli(&[
        "rerun",
        path_str(&tmp.path().join(&b)),
        "--out",
        path_str(tmp.path()),
    ]);
    let text = common::output_text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    let c_dir = other_runs(tmp.path(), &[&a, &b]);
    assert_eq!(c_dir.len(), 1, "{c_dir:?}");
    let third = history::read_run(&c_dir[0]).expect("C's record");
    assert_eq!(
        common::statuses(&third),
        vec![("CP-01".to_owned(), Status::Passed)]
    );
    let rerun_info = third.header.rerun.as_ref().expect("C is a re-run");
    assert_eq!(rerun_info.rerun_of, b);
    assert_eq!(rerun_info.chain, vec![a.clone(), b.clone()]);
    let attempts: Vec<(&str, Status)> = rerun_info.previous_attempts[0]
        .attempts
        .iter()
        .map(|t| (t.run_id.as_str(), t.status))
        .collect();
    assert_eq!(
        attempts,
        vec![(a.as_str(), Status::Failed), (b.as_str(), Status::Failed)]
    );
    let line = text
        .lines()
        .find(|l| l.contains("CP-01") && l.contains("in this run"))
        .unwrap_or_else(|| panic!("a history line for CP-01: {text}"));
    assert!(
        line.contains(&format!("failed in run {a}"))
            && line.contains(&format!("failed in run {b}"))
            && line.ends_with("passed in this run"),
        "{line}"
    );
    let pdf = common::pdf_text(&c_dir[0].join("evidence.pdf"));
    assert!(
        pdf.contains(&a) && pdf.contains(&b),
        "both earlier runs in the PDF: {pdf}"
    );
}

#[tokio::test]
async fn a_failed_stage2_scenario_is_re_run_after_the_whole_of_stage1() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let first = common::run_pack(
        Pack::All,
        Faults::none().with(Fault::WrongDeletionReason),
        tmp.path(),
    )
    .await;
    let a = first.header.run_id.clone();
    let o = cli(&["rerun", &a, "--out", path_str(tmp.path())]);
    let text = common::output_text(&o);
    assert_eq!(o.status.code(), Some(0), "{text}");
    assert!(text.contains("with every @stage1 scenario"), "{text}");
    let dir = other_runs(tmp.path(), &[&a]);
    assert_eq!(dir.len(), 1);
    let record = history::read_run(&dir[0]).expect("the re-run's record");
    let stages: Vec<Option<String>> = record.scenarios.iter().map(|s| s.stage.clone()).collect();
    let stage1 = first
        .scenarios
        .iter()
        .filter(|s| s.stage.as_deref() == Some("stage 1"))
        .count();
    assert_eq!(
        stages,
        std::iter::repeat_n(Some("stage 1".to_owned()), stage1)
            .chain([Some("stage 2".to_owned())])
            .collect::<Vec<_>>(),
        "stage 1 first, then S2-02 alone"
    );
    assert_eq!(
        record.scenarios.last().and_then(|s| s.case_id.as_deref()),
        Some("S2-02")
    );
    assert_eq!(record.verdict, Verdict::Passed);
    let rerun_info = record.header.rerun.as_ref().expect("a re-run");
    let reasons: Vec<&str> = rerun_info
        .previous_attempts
        .iter()
        .map(|h| h.reason.as_str())
        .collect();
    assert_eq!(reasons.iter().filter(|r| **r == "failed").count(), 1);
    assert_eq!(
        reasons.iter().filter(|r| **r == "dependency").count(),
        stage1
    );
}

#[test]
fn unreadable_runs_are_listed_and_diff_of_a_missing_run_exits_2() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let broken = tmp.path().join("20261123T010035Z-bad000");
    std::fs::create_dir_all(&broken).expect("dir");
    std::fs::write(broken.join("run.log.jsonl"), "not json\n").expect("write");
    let h = cli(&["history", "--out", path_str(tmp.path())]);
    let text = common::output_text(&h);
    assert_eq!(h.status.code(), Some(0), "{text}");
    assert!(
        text.contains("20261123T010035Z-bad000 ") && text.contains("cannot be read"),
        "{text}"
    );
    let d = cli(&[
        "diff",
        "20261123T010035Z-bad000",
        "nosuchrun",
        "--out",
        path_str(tmp.path()),
    ]);
    assert_eq!(d.status.code(), Some(2), "{}", common::output_text(&d));
    let r = cli(&["rerun", "--out", path_str(tmp.path())]);
    assert_eq!(r.status.code(), Some(2), "{}", common::output_text(&r));
    let empty = tempfile::tempdir().expect("temp dir");
    let r = cli(&["rerun", "--out", path_str(empty.path())]);
    assert_eq!(r.status.code(), Some(2), "{}", common::output_text(&r));
    assert!(common::output_text(&r).contains("no run under"));
}
