//! Stage 2 on PDP's timetable: stage 1 on its own issues the match-update file and says what to
//! do next; a later `--pack stage2 --after <run id>` checks the registrations stage 1 left at the
//! same C&A, and links the two runs; a run id that is unknown, a stage 1 that failed, or a C&A
//! that no longer holds stage 1's registrations stops it before any scenario.

use crate::common;

use std::sync::Arc;

use common::{environment_with, pdf_text, run_on, test_limits};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::updates::{AfterError, AfterStage1, MatchUpdateFile, STAGE1_FILE};
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::{Status, Verdict};
use pdp_harness::runner::{Pack, RunError};

#[tokio::test]
async fn stage_1_alone_issues_the_file_and_a_later_stage_2_after_it_passes_on_the_same_cas() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_limits(TargetConfig::default());
    let env = environment_with(Faults::none(), &config).await;

    let (stage1, printed) = run_on(&env, Pack::Stage1, dir.path(), config.clone(), None)
        .await
        .expect("stage 1 runs");
    assert_eq!(stage1.verdict, Verdict::Passed, "{:?}", stage1.scenarios);
    let id = stage1.header.run_id.clone();
    let run_dir = dir.path().join(&id);
    let file = run_dir.join("match-updates.json");
    let updates = MatchUpdateFile::load(&file).expect("stage 1 alone writes the file");
    assert_eq!(updates.updates.len(), 5);
    assert!(run_dir.join(STAGE1_FILE).is_file());
    let console = printed.join("\n");
    assert!(
        console.contains(&format!(
            "Stage 1 done: the match-update file is {} (5 updates)",
            file.display()
        )),
        "{console}"
    );
    let next = format!(
        "apply these updates in your system, then run `pdp-harness run --pack stage2 --after {id}`"
    );
    assert!(console.contains(&format!("Next: {next}")), "{console}");
    let issued = stage1.match_updates.as_ref().expect("in the record");
    assert!(issued.next.starts_with(&next), "{issued:?}");
    let pdf = pdf_text(&run_dir.join("evidence.pdf"));
    assert!(
        pdf.contains("Match-update file issued at the end of stage 1 (5 updates)"),
        "{pdf}"
    );
    // pdftotext may drop the run id's hyphen where the line wraps.
    let id_in = |text: &str, before: &str| {
        text.contains(&format!("{before}{id}"))
            || text.contains(&format!("{before}{}", id.replace('-', "")))
    };
    assert!(id_in(&pdf, "run --pack stage2 --after "), "{pdf}");
    let html = std::fs::read_to_string(run_dir.join("report.html")).expect("report.html");
    assert!(html.contains("Match-update file issued"), "html");

    // Later, against the same C&A: stage 2 alone, continuing that run.
    let after = Arc::new(AfterStage1::load(dir.path(), &id).expect("a passing stage 1"));
    let (stage2, printed) = run_on(&env, Pack::Stage2, dir.path(), config, Some(after))
        .await
        .expect("stage 2 runs");
    env.shutdown();
    assert_eq!(
        stage2.verdict,
        Verdict::Passed,
        "{}\n{:?}",
        printed.join("\n"),
        stage2.scenarios
    );
    assert_eq!(stage2.counts.passed, 5, "{:?}", stage2.counts);
    assert!(
        stage2
            .scenarios
            .iter()
            .all(|s| s.case_id.as_deref().is_some_and(|c| c.starts_with("S2-"))),
        "only stage 2 ran"
    );
    assert_eq!(stage2.header.after.as_deref(), Some(id.as_str()));
    let run2 = dir.path().join(&stage2.header.run_id);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run2.join("run.json")).expect("run.json"))
            .expect("JSON");
    assert_eq!(json["after"], id.as_str(), "both ids in run.json");
    assert_eq!(json["run_id"], stage2.header.run_id.as_str());
    let pdf = pdf_text(&run2.join("evidence.pdf"));
    assert!(id_in(&pdf, "stage-1 run "), "{pdf}");
    let html = std::fs::read_to_string(run2.join("report.html")).expect("report.html");
    assert!(html.contains(&format!("stage-1 run {id}")), "html");
}

#[tokio::test]
async fn stage_2_after_refuses_an_unknown_run_a_failed_stage_1_and_a_cas_that_forgot_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = test_limits(TargetConfig::default());

    let unknown = AfterStage1::load(dir.path(), "20990101T000000Z-nope").expect_err("unknown");
    assert!(
        unknown.to_string().contains("no run 20990101T000000Z-nope"),
        "{unknown}"
    );

    // A stage 1 that failed: its failures are named.
    let broken = environment_with(Faults::none().with(Fault::WrongMatchStatus), &config).await;
    let (failed, _) = run_on(&broken, Pack::Stage1, dir.path(), config.clone(), None)
        .await
        .expect("stage 1 runs");
    broken.shutdown();
    assert_eq!(failed.verdict, Verdict::Failed);
    let err = AfterStage1::load(dir.path(), &failed.header.run_id).expect_err("failed stage 1");
    assert!(matches!(err, AfterError::Stage1Failed { .. }), "{err}");
    let first_failed = failed
        .scenarios
        .iter()
        .find(|s| s.status == Status::Failed)
        .and_then(|s| s.case_id.clone())
        .expect("a failed case");
    assert!(
        err.to_string().contains("did not pass") && err.to_string().contains(&first_failed),
        "{err}"
    );

    // A passing stage 1, then a C&A that does not hold its registrations (another process's).
    let env = environment_with(Faults::none(), &config).await;
    let (passed, _) = run_on(&env, Pack::Stage1, dir.path(), config.clone(), None)
        .await
        .expect("stage 1 runs");
    env.shutdown();
    assert_eq!(passed.verdict, Verdict::Passed);
    let after = Arc::new(AfterStage1::load(dir.path(), &passed.header.run_id).expect("passed"));
    let fresh = environment_with(Faults::none(), &config).await;
    let runs_before = std::fs::read_dir(dir.path()).expect("dir").count();
    let err = run_on(&fresh, Pack::Stage2, dir.path(), config, Some(after))
        .await
        .expect_err("refused");
    fresh.shutdown();
    assert!(
        matches!(err, RunError::After(AfterError::Gone { .. })),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains("the C&A no longer holds the registrations stage 1"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).expect("dir").count(),
        runs_before,
        "nothing was run"
    );
}
