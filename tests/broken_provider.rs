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
