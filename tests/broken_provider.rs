//! A reference provider with one deliberate defect must turn exactly the scenarios that check
//! that behaviour red, at the right step, with a message naming expectation and observation.

mod common;

use common::{failed_step, run_with, scenario, statuses};
use pdp_harness::evidence::record::{Status, Verdict};
use pdp_harness::provider::{Fault, Faults};

fn out() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

#[tokio::test]
async fn a_correct_provider_passes_every_scenario() {
    let dir = out();
    let record = run_with(Faults::none(), dir.path()).await;
    assert_eq!(record.verdict, Verdict::Passed, "{:#?}", statuses(&record));
    assert_eq!(record.counts.passed, 3);
}

async fn only_failure(fault: Fault, case: &str) -> (String, String) {
    let dir = out();
    let record = run_with(Faults::none().with(fault), dir.path()).await;
    assert_eq!(record.verdict, Verdict::Failed);
    for (id, status) in statuses(&record) {
        let expected = if id == case {
            Status::Failed
        } else {
            Status::Passed
        };
        assert_eq!(status, expected, "{fault:?}: scenario {id}");
    }
    failed_step(&record, case)
}

#[tokio::test]
async fn wrong_match_status_fails_the_registration_check() {
    let (step, msg) = only_failure(Fault::WrongMatchStatus, "CP-01").await;
    assert!(
        step.starts_with("every registration has match status"),
        "{step}"
    );
    assert!(msg.contains("case CP-01"), "{msg}");
    assert!(
        msg.contains("expected match_status \"match-yes\", observed \"match-possible\""),
        "{msg}"
    );
}

#[tokio::test]
async fn missing_inbound_request_id_is_named() {
    let (step, msg) = only_failure(Fault::MissingInboundRequestId, "CP-01").await;
    assert!(
        step.starts_with("every registration has match status"),
        "{step}"
    );
    assert!(msg.contains("expected inbound_request_id"), "{msg}");
    assert!(msg.contains("observed none"), "{msg}");
}

#[tokio::test]
async fn wrong_description_is_named() {
    let (_, msg) = only_failure(Fault::WrongDescription, "CP-01").await;
    assert!(
        msg.contains("expected description \"Northwind Workplace Pension Scheme\""),
        "{msg}"
    );
}

#[tokio::test]
async fn a_200_to_a_find_fails_the_acknowledgement() {
    let (step, msg) = only_failure(Fault::FindAnswers200, "CP-01").await;
    assert!(
        step.starts_with("the provider acknowledges the find request"),
        "{step}"
    );
    assert!(
        msg.contains("expected the find request to be acknowledged with [202]"),
        "{msg}"
    );
    assert!(msg.contains("observed 200"), "{msg}");
}

#[tokio::test]
async fn view_data_for_the_wrong_pei_is_caught() {
    let (step, msg) = only_failure(Fault::ViewDataForWrongPei, "CP-01").await;
    assert_eq!(
        step,
        "the view data matches the registration and the test pack"
    );
    assert!(
        msg.contains("expected pensionReference \"NWP-00412377\""),
        "{msg}"
    );
    assert!(msg.contains("NWP-00988120"), "{msg}");
}

#[tokio::test]
async fn a_provider_that_skips_introspection_fails_twice() {
    let dir = out();
    let record = run_with(Faults::none().with(Fault::AcceptsAnyBearer), dir.path()).await;
    assert_eq!(scenario(&record, "CP-02").status, Status::Passed);
    let (step, msg) = failed_step(&record, "CP-01");
    assert!(
        step.starts_with("the dashboard requests the view data"),
        "{step}"
    );
    assert!(
        msg.contains("expected the provider to introspect the RPT"),
        "{msg}"
    );
    let (step, msg) = failed_step(&record, "CP-03");
    assert_eq!(
        step,
        "the provider refuses the view request and returns no view data"
    );
    assert!(msg.contains("observed 200 with a view data token"), "{msg}");
}

#[tokio::test]
async fn the_pdf_shows_the_failure_and_the_exchange_that_explains_it() {
    let dir = out();
    let record = run_with(
        Faults::none().with(Fault::MissingInboundRequestId),
        dir.path(),
    )
    .await;
    let pdf = dir.path().join(&record.header.run_id).join("evidence.pdf");
    let output = std::process::Command::new("pdftotext")
        .arg(&pdf)
        .arg("-")
        .output()
        .expect("pdftotext is installed (poppler-utils)");
    let text = String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ");
    assert!(text.contains("FAILED"), "verdict");
    assert!(
        text.contains("expected inbound_request_id"),
        "the failure message"
    );
    // The registration exchange behind the failure, its body redacted but present.
    assert!(text.contains("/rreguri"), "the rreguri exchange");
    assert!(text.contains("match_status"), "the request body excerpt");
    assert!(!text.contains("eyJ"), "tokens are redacted");
}

/// The audit step's message in a scenario amended by the whole-run registration audit.
fn audit_message(record: &pdp_harness::evidence::record::RunRecord, case: &str) -> String {
    let s = scenario(record, case);
    assert_eq!(s.status, Status::Failed, "{case} is amended: {s:#?}");
    s.steps
        .iter()
        .find(|st| st.text == pdp_harness::evidence::record::AUDIT_STEP)
        .and_then(|st| st.message.clone())
        .unwrap_or_else(|| panic!("{case} carries the audit step: {:#?}", s.steps))
}

#[tokio::test]
async fn a_second_members_pension_registered_late_fails_the_scenario_that_caused_it() {
    let dir = out();
    let record = run_with(
        Faults::none().with(Fault::RegistersAnotherMemberLate),
        dir.path(),
    )
    .await;
    assert_eq!(record.verdict, Verdict::Failed);
    let m = audit_message(&record, "CP-01");
    assert!(m.contains("registration audit"), "{m}");
    assert!(m.contains("POST /rreguri for urn:pei:"), "{m}");
    assert!(m.contains("(match-yes)"), "{m}");
    assert!(m.contains("for case CP-01"), "{m}");
    // It arrived after CP-02's clear-down, with CP-01's PAT: late activity, not silence.
    assert!(
        m.contains("late activity after a clear-down") || m.contains("the test pack expects only"),
        "{m}"
    );
    // The evidence shows the amended verdict in JUnit and the PDF.
    let run_dir = dir.path().join(&record.header.run_id);
    let junit = std::fs::read_to_string(run_dir.join("junit.xml")).expect("junit");
    assert!(junit.contains("registration audit"), "{junit}");
    let pdf = common::pdf_text(&run_dir.join("evidence.pdf"));
    assert!(
        pdf.contains("registration audit"),
        "the PDF names the audit finding"
    );
}

#[tokio::test]
async fn a_registration_posted_twice_is_caught_although_the_cas_deduplicates_it() {
    let dir = out();
    let record = run_with(Faults::none().with(Fault::RegistersTwice), dir.path()).await;
    assert_eq!(record.verdict, Verdict::Failed);
    let m = audit_message(&record, "CP-01");
    assert!(m.contains("registered the same PeI again"), "{m}");
    assert!(m.contains("deduplicated"), "{m}");
}

#[tokio::test]
async fn a_registration_deleted_with_no_update_asking_is_caught() {
    let dir = out();
    let record = run_with(
        Faults::none().with(Fault::DeletesAfterRegistering),
        dir.path(),
    )
    .await;
    assert_eq!(record.verdict, Verdict::Failed);
    let m = audit_message(&record, "CP-01");
    assert!(m.contains("DELETE /rreguri for urn:pei:"), "{m}");
    assert!(m.contains("deletion_reason match-withdrawn"), "{m}");
}

/// A call no find of the run explains fails the run-level check, shown in every output.
#[tokio::test]
async fn an_unattributable_registration_fails_the_run_level_check() {
    use pdp_harness::evidence::record::AUDIT_CHECK_NAME;
    use pdp_harness::runner::{self, Pack, RunOptions, writer::Collect};
    let dir = out();
    let env = common::environment(Faults::none()).await;
    // A stray registration made with a PAT issued for a token the harness never sent as a find.
    let persona = env.pack.persona("P-S1-05").expect("persona");
    let token = env
        .finder
        .find_token(&pdp_harness::contract::FindData::of(persona))
        .expect("signed");
    let options = RunOptions {
        pack: Pack::ConnectionProving,
        tags: Some("@case:CP-01".to_owned()),
        features_dir: common::root().join("features"),
        out_dir: dir.path().to_owned(),
        config: pdp_harness::config::TargetConfig::default(),
        cases: None,
        rerun: None,
        sign_off: None,
        stop: Default::default(),
    };
    let stray = {
        let env = env.clone();
        tokio::spawn(async move {
            // After CP-01's clear-down: wait for its registration, then slip one in.
            let _ = env
                .cas
                .wait_for(std::time::Duration::from_secs(10), |r| r.first().cloned())
                .await;
            env.finder.send_token(&token).await
        })
    };
    let outcome = runner::run(env.clone(), &options, Box::new(Collect::default()))
        .await
        .expect("the run completes");
    let _ = stray.await;
    env.shutdown();
    let record = outcome.record.clone();
    let check = record
        .scenarios
        .iter()
        .find(|s| s.name == AUDIT_CHECK_NAME)
        .unwrap_or_else(|| {
            panic!(
                "the run-level check is in the record: {:#?}",
                statuses(&record)
            )
        });
    assert_eq!(check.status, Status::Failed);
    let m = check.steps[0].message.clone().unwrap_or_default();
    assert!(
        m.contains("cannot be attributed to any find request"),
        "{m}"
    );
    assert_eq!(record.verdict, Verdict::Failed);
    // Shown in JUnit, HTML and the PDF like any failed check.
    for file in ["junit.xml", "report.html"] {
        let text = std::fs::read_to_string(outcome.run_dir.join(file)).expect("written");
        assert!(text.contains("Registration audit"), "{file}");
        assert!(text.contains("cannot be attributed"), "{file}");
    }
    let pdf = common::pdf_text(&outcome.run_dir.join("evidence.pdf"));
    assert!(
        pdf.contains("Registration audit"),
        "the PDF shows the check"
    );
}

/// Issue 13 item 2: the headline says the C&A refused the registration, and why.
#[tokio::test]
async fn a_refused_registration_is_named_with_the_cas_reason() {
    let (step, msg) = only_failure_of(Fault::RegistersWithoutPat, "CP-01").await;
    assert!(step.starts_with("exactly the PeIs expected"), "{step}");
    assert!(
        msg.starts_with("case CP-01: the provider tried to register urn:pei:"),
        "{msg}"
    );
    assert!(
        msg.contains("and the C&A refused it: 401, a PAT is required: Authorization: Bearer <PAT>"),
        "{msg}"
    );
}

/// The failed step of `case` (other scenarios may fail too: the fault is everywhere).
async fn only_failure_of(fault: Fault, case: &str) -> (String, String) {
    let dir = out();
    let record = run_with(Faults::none().with(fault), dir.path()).await;
    assert_eq!(record.verdict, Verdict::Failed);
    failed_step(&record, case)
}

/// Issue 13 item 3: results only ever reach dashboards as registrations.
#[tokio::test]
async fn a_202_carrying_match_results_fails_the_acknowledgement() {
    let (step, msg) = only_failure_of(Fault::Find202WithResults, "CP-01").await;
    assert!(
        step.starts_with("the provider acknowledges the find request"),
        "{step}"
    );
    assert!(
        msg.contains("acknowledged with 202 but the body carries match results"),
        "{msg}"
    );
    assert!(msg.contains("urn:pei:"), "{msg}");
}

/// Issue 13 item 4: a view response that is not application/json fails.
#[tokio::test]
async fn a_view_response_served_as_text_plain_fails() {
    let (step, msg) = only_failure(Fault::ViewAsTextPlain, "CP-01").await;
    assert!(
        step.starts_with("the dashboard requests the view data"),
        "{step}"
    );
    assert!(
        msg.contains(
            "expected the view response as Content-Type application/json, observed text/plain"
        ),
        "{msg}"
    );
}

/// Issue 13 item 4: truncated JSON is named as malformed, with its position.
#[tokio::test]
async fn a_truncated_view_response_is_named_as_malformed_json_with_its_position() {
    let (step, msg) = only_failure(Fault::ViewTruncatedJson, "CP-01").await;
    assert!(
        step.starts_with("the dashboard requests the view data"),
        "{step}"
    );
    assert!(
        msg.contains("the view response body is malformed JSON"),
        "{msg}"
    );
    assert!(msg.contains("line 1 column"), "{msg}");
    assert!(!msg.contains("found none"), "{msg}");
}

/// Issue 13 item 4: a hung find endpoint costs its limit plus the margin, not a library default.
#[tokio::test]
async fn a_hung_find_endpoint_times_out_at_its_limit_plus_the_margin() {
    let dir = out();
    let record = run_with(Faults::none().with(Fault::FindHangs), dir.path()).await;
    let (step, msg) = failed_step(&record, "CP-01");
    assert!(
        step.starts_with("the pension finder sends a find request"),
        "{step}"
    );
    // acknowledgement_ms 2000 + timeout_margin_ms 2000.
    assert!(msg.contains("timed out after 4000 ms"), "{msg}");
}

/// Issue 13 item 4: a huge view body fails the step at the cap, not read whole.
#[tokio::test]
async fn a_huge_view_body_fails_at_the_cap() {
    let (step, msg) = only_failure(Fault::HugeViewBody, "CP-01").await;
    assert!(
        step.starts_with("the dashboard requests the view data"),
        "{step}"
    );
    assert!(
        msg.contains("answered, but the response body exceeds the 1048576-byte cap"),
        "{msg}"
    );
}
