//! The @resilience feature: faults injected into the simulated C&A from Gherkin. It passes
//! against the reference provider, which retries with backoff honouring Retry-After, and fails
//! against a provider variant that gives up at the first error.

use crate::common;

use common::run_pack;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::{Status, Verdict};
use pdp_harness::runner::Pack;

#[tokio::test]
async fn the_reference_provider_retries_backs_off_and_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = run_pack(Pack::Resilience, Faults::none(), dir.path()).await;
    assert_eq!(
        record.verdict,
        Verdict::Passed,
        "{:#?}",
        record
            .scenarios
            .iter()
            .map(|s| (&s.case_id, s.status))
            .collect::<Vec<_>>()
    );
    // R-01..R-03 and E-RST-01 (the provider restarted between the 202 and the registration).
    assert_eq!(record.counts.passed, 4);
}

/// A provider that keeps acknowledged finds in memory only loses the find a restart
/// interrupts: E-RST-01 fails on the missing registration; the other cases pass.
#[tokio::test]
async fn a_provider_that_loses_acknowledged_finds_on_restart_fails_the_restart_case() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = run_pack(
        Pack::Resilience,
        Faults::none().with(Fault::LosesAcknowledgedFinds),
        dir.path(),
    )
    .await;
    let statuses = common::statuses(&record);
    for (case, status) in &statuses {
        let expected = if case == "E-RST-01" {
            Status::Failed
        } else {
            Status::Passed
        };
        assert_eq!(*status, expected, "{case}: {statuses:?}");
    }
    let (step, message) = common::failed_step(&record, "E-RST-01");
    assert!(step.starts_with("exactly the PeIs expected"), "{step}");
    assert!(
        message.contains("case CP-01: expected exactly 1 PeI(s) registered"),
        "{message}"
    );
}

#[tokio::test]
async fn a_provider_that_does_not_retry_fails_each_resilience_scenario() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = run_pack(
        Pack::Resilience,
        Faults::none().with(Fault::NoRetry),
        dir.path(),
    )
    .await;
    assert_eq!(record.verdict, Verdict::Failed);
    for s in &record.scenarios {
        assert_eq!(s.status, Status::Failed, "{:?} must fail", s.case_id);
    }
    let messages: Vec<String> = record
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter())
        .filter_map(|st| st.message.clone())
        .filter(|m| !m.starts_with("not run"))
        .collect();
    let all = messages.join("\n");
    // the registration never arrives because the provider gave up on the 429.
    assert!(
        all.contains("case CP-01: expected exactly 1 PeI(s) registered"),
        "{all}"
    );
    // the view flow stops at the provider's error instead of a ticket.
    assert!(all.contains("expected 401 with a ticket"), "{all}");
}
