//! A failure's class (who has to act) comes from what went wrong, decided where it is known,
//! and travels into the evidence as a field: each test breaks the reference provider in one way
//! and reads the class from the run record, `run.json` or the doctor's check (issue 13, item 7;
//! issue 16, typed failures).

use crate::common;

use common::{failed_class, failed_step, provider_hosted, run_pack_with, scenario};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::doctor;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::classify::FailureClass;
use pdp_harness::record::run::Status;
use pdp_harness::runner::Pack;

const VIEW_STEP: &str =
    "the dashboard requests the view data of each registered PeI through the UMA flow";
const TOKEN_STEP: &str = "each view response is a valid view data token signed by the provider";

/// A challenge naming an `as_uri` that is not the C&A: the RPT cannot be fetched there, and the
/// failure is the provider's challenge, not an unreachable environment. The class is in the
/// record and in `run.json` as a field.
#[tokio::test]
async fn a_wrong_as_uri_is_the_providers_fault_not_the_environments() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = run_pack_with(
        Pack::ConnectionProving,
        Faults::none().with(Fault::WrongAsUri),
        dir.path(),
        TargetConfig::default(),
    )
    .await;
    let (step, msg) = failed_step(&record, "CP-01");
    assert_eq!(step, VIEW_STEP);
    assert!(
        msg.contains("expected as_uri")
            && msg.contains("(the C&A), observed \"https://127.0.0.1:9\""),
        "{msg}"
    );
    assert!(!msg.contains("could not be reached"), "{msg}");
    assert_eq!(
        failed_class(&record, "CP-01"),
        Some(FailureClass::SystemUnderTest)
    );
    let run_json = std::fs::read_to_string(
        common::only_run_dir(dir.path()).join(pdp_harness::evidence::RUN_JSON),
    )
    .expect("run.json written");
    let json: serde_json::Value = serde_json::from_str(&run_json).expect("run.json parses");
    let classes: Vec<&str> = json["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["case_id"] == "CP-01")
        .flat_map(|s| s["steps"].as_array().into_iter().flatten())
        .filter_map(|st| st["failure_class"].as_str())
        .collect();
    assert_eq!(classes, ["system-under-test"], "{run_json}");
}

/// A 401 challenge whose ticket the C&A issued for another resource: the RPT for it is
/// rightly refused by the provider, and the failure names the ticket, not "a valid RPT got
/// 401".
#[tokio::test]
async fn a_ticket_for_another_resource_is_named_as_such() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = run_pack_with(
        Pack::Stage1,
        Faults::none().with(Fault::TicketForAnotherResource),
        dir.path(),
        TargetConfig::default(),
    )
    .await;
    let view_failures: Vec<_> = record
        .scenarios
        .iter()
        .flat_map(|s| s.steps.iter())
        .filter(|st| st.status == Status::Failed && st.text == VIEW_STEP)
        .collect();
    assert!(!view_failures.is_empty(), "some view flow fails");
    for st in view_failures {
        let msg = st.message.as_deref().unwrap_or_default();
        assert!(
            msg.contains("the provider's 401 challenge carried a permission ticket issued for another resource"),
            "{msg}"
        );
        assert!(!msg.contains("after presenting a valid RPT"), "{msg}");
        assert_eq!(st.failure_class, Some(FailureClass::SystemUnderTest));
    }
}

/// A provider-hosted JWKS that is not a JWKS is the provider's to fix: the doctor classes it
/// as the system under test, not "configuration; test manager".
#[tokio::test]
async fn a_garbage_provider_jwks_is_the_system_under_test() {
    let env =
        common::environment_with(Faults::none().with(Fault::GarbageJwks), &provider_hosted()).await;
    let checks = doctor::examine(&env).await;
    let jwks = checks
        .iter()
        .find(|c| c.name.starts_with("provider view-token JWKS"))
        .expect("the provider's JWKS is checked");
    assert!(!jwks.ok && jwks.detail.contains("not a JWKS"), "{jwks:?}");
    assert_eq!(jwks.class, Some(FailureClass::SystemUnderTest), "{jwks:?}");
    assert!(
        jwks.line()
            .contains("class: system under test; to act: technical contact")
    );
    env.shutdown();
}

/// A refused connection is the environment's in every doctor check that meets it: the
/// handshakes, the provider's JWKS and the clear-down alike.
#[tokio::test]
async fn the_same_refused_connection_gets_the_same_class_in_every_doctor_check() {
    let env = common::environment_with(Faults::none(), &provider_hosted()).await;
    let provider_url = common::provider(&env).base_url();
    common::provider(&env).shutdown();
    let checks = doctor::examine(&env).await;
    let on_provider: Vec<_> = checks
        .iter()
        .filter(|c| c.name.contains(&provider_url) || c.name == "clear-down")
        .collect();
    assert_eq!(
        on_provider.len(),
        4,
        "find TLS, view TLS, JWKS, clear-down: {checks:#?}"
    );
    for c in on_provider {
        assert!(!c.ok, "{c:?}");
        assert_eq!(c.class, Some(FailureClass::Environment), "{c:?}");
    }
    env.shutdown();
}

/// A provider JWKS that never answers fails the step within the view response limit plus the
/// margin (here 1 000 + 500 ms), naming the endpoint and the limit.
#[tokio::test]
async fn a_hung_provider_jwks_fails_the_step_within_its_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = provider_hosted();
    config.limits.view_response_ms = 1_000;
    config.limits.timeout_margin_ms = 500;
    let record = run_pack_with(
        Pack::ConnectionProving,
        Faults::none().with(Fault::JwksHangs),
        dir.path(),
        config,
    )
    .await;
    let (step, msg) = failed_step(&record, "CP-01");
    assert_eq!(step, TOKEN_STEP);
    assert!(
        msg.contains("/jwks could not be fetched: no response arrived: timed out after 1500 ms"),
        "{msg}"
    );
    assert_eq!(
        failed_class(&record, "CP-01"),
        Some(FailureClass::SystemUnderTest)
    );
    // The limit is a timeout, not a wait: the step ends once it has passed.
    let jwks = scenario(&record, "CP-01")
        .steps
        .iter()
        .flat_map(|st| st.exchanges.iter())
        .find(|e| e.party == pdp_harness::cda::dashboard::PARTY_JWKS)
        .expect("the JWKS fetch is recorded");
    assert!(jwks.status.is_none() && jwks.error.is_some(), "{jwks:?}");
}

/// CP-02's set-up step takes only a PeI registered for its own find: a provider that registers
/// CP-01's PeI late, after CP-02's find, fails CP-02 saying the PeI belongs to another find.
#[tokio::test]
async fn a_pei_registered_for_another_find_does_not_set_up_cp02() {
    let dir = tempfile::tempdir().expect("temp dir");
    let record = run_pack_with(
        Pack::ConnectionProving,
        Faults::none().with(Fault::RegistersOnNextFind),
        dir.path(),
        TargetConfig::default(),
    )
    .await;
    let (step, msg) = failed_step(&record, "CP-02");
    assert_eq!(
        step,
        "the member of test case \"CP-02\" has a registered PeI"
    );
    assert!(
        msg.contains("case CP-02: the PeI urn:pei:")
            && msg.contains("belongs to another find")
            && msg.contains("(case CP-01's find)"),
        "{msg}"
    );
    assert_eq!(
        failed_class(&record, "CP-02"),
        Some(FailureClass::SystemUnderTest)
    );
}

/// Cucumber hands a step's error on as text only, so every step definition keeps its typed
/// failure on the world (`HarnessWorld::settle`) for the evidence writer; a step that did not
/// would have its failure recorded as the harness's own.
#[test]
fn every_step_keeps_its_typed_failure_for_the_evidence() {
    let dir = common::root().join("src/runner/steps");
    let mut steps = 0;
    for entry in std::fs::read_dir(&dir).expect("the steps directory") {
        let path = entry.expect("a directory entry").path();
        let text = std::fs::read_to_string(&path).expect("a step file");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            if !["#[given", "#[when", "#[then"]
                .iter()
                .any(|a| line.starts_with(a))
            {
                continue;
            }
            steps += 1;
            let definition: Vec<&str> = lines[i + 1..]
                .iter()
                .take_while(|l| **l != "}")
                .copied()
                .collect();
            assert!(
                definition.iter().any(|l| l.contains(".settle(")),
                "{}:{}: the step does not keep its failure (world.settle)",
                path.display(),
                i + 1
            );
        }
    }
    assert!(steps >= 40, "found {steps} step definitions");
}
