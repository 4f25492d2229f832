//! The @errors pack (`--pack errors`): the reference provider passes every case, and each
//! deliberately broken provider fails exactly the cases its defect is about. The four runs go
//! side by side (they mostly wait on retries and watch windows).

use std::collections::{BTreeMap, BTreeSet};

use crate::common;

use pdp_harness::harness::config::TargetConfig;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::{RunRecord, Status};
use pdp_harness::runner::Pack;

async fn run(faults: Faults, out: &std::path::Path) -> RunRecord {
    let mut config = TargetConfig::default();
    // The no-answer case (E-REG-07) costs the provider's 5 s C&A call timeout before its retry.
    config.limits.registration_ms = 12_000;
    common::run_pack_with(Pack::Errors, faults, out, config).await
}

fn failed(record: &RunRecord) -> BTreeSet<String> {
    common::statuses(record)
        .into_iter()
        .filter(|(_, s)| *s == Status::Failed)
        .map(|(id, _)| id)
        .collect()
}

/// Each failed case with its failing step's message, for an assertion's output.
fn why(record: &RunRecord) -> Vec<String> {
    record
        .scenarios
        .iter()
        .filter(|s| s.status == Status::Failed)
        .map(|s| {
            let message = s
                .steps
                .iter()
                .find(|st| st.status == Status::Failed)
                .and_then(|st| st.message.clone())
                .unwrap_or_default();
            format!("{}: {message}", s.case_id.as_deref().unwrap_or("?"))
        })
        .collect()
}

fn ids(list: &[&str]) -> BTreeSet<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[tokio::test]
async fn the_reference_provider_passes_the_errors_pack_and_each_broken_provider_fails_exactly_its_cases()
 {
    let dirs: Vec<tempfile::TempDir> = (0..4)
        .map(|_| tempfile::tempdir().expect("temp dir"))
        .collect();
    let (reference, not_found, ignores, no_retry) = tokio::join!(
        run(Faults::none(), dirs[0].path()),
        run(Faults::none().with(Fault::RetriesNotFound), dirs[1].path()),
        run(
            Faults::none().with(Fault::IgnoresIntrospectionResult),
            dirs[2].path()
        ),
        run(Faults::none().with(Fault::NoRetry), dirs[3].path()),
    );

    // Every case of the catalogue ran and passed against the reference provider.
    let cases = common::errors_feature_cases();
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let ran: BTreeSet<String> = common::statuses(&reference)
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    // The pack also holds the restart case, tagged @errors in features/restart.feature.
    let mut expected: BTreeSet<String> = cases.keys().cloned().collect();
    expected.insert("E-RST-01".to_owned());
    // And the reporting scripts (@reporting-errors, features/reporting_errors.feature).
    let scripts = std::fs::read_to_string(common::root().join("features/reporting_errors.feature"))
        .expect("features/reporting_errors.feature");
    let rs = regex::Regex::new(r"\| (RS-[A-Z]+-\d{2}) ").expect("regex");
    let before = expected.len();
    expected.extend(rs.captures_iter(&scripts).map(|c| c[1].to_owned()));
    assert_eq!(expected.len() - before, 77, "the 77 reporting scripts");
    assert_eq!(ran, expected);
    assert!(failed(&reference).is_empty(), "{:#?}", why(&reference));

    // Retrying a 404 (user removed, resource not found, unknown RPT) is a retry storm.
    assert_eq!(
        failed(&not_found),
        ids(&["E-INT-03", "E-PRM-02", "E-REG-01", "E-RPT-07"]),
        "{:#?}",
        why(&not_found)
    );
    let (step, message) = common::failed_step(&not_found, "E-REG-01");
    assert!(step.contains("exactly 1 time"), "{step}");
    assert!(
        message.contains("expected exactly 1 call(s) to POST /rreguri"),
        "{message}"
    );

    // Serving view data on any 200 from /introspect fails each negative introspection result.
    assert_eq!(
        failed(&ignores),
        ids(&[
            "E-RPT-01", "E-RPT-02", "E-RPT-03", "E-RPT-04", "E-RPT-05", "E-RPT-06"
        ]),
        "{:#?}",
        why(&ignores)
    );
    let (_, message) = common::failed_step(&ignores, "E-RPT-01");
    assert!(
        message.contains("expected the provider to refuse the view"),
        "{message}"
    );

    // Giving up at the first transient error fails each case that needs the retry (the
    // restart case holds the registration back with a 503 too).
    assert_eq!(
        failed(&no_retry),
        ids(&[
            "E-INT-08", "E-INT-09", "E-INT-10", "E-INT-11", "E-PRM-07", "E-PRM-08", "E-PRM-09",
            "E-PRM-10", "E-REG-02", "E-REG-03", "E-REG-04", "E-REG-05", "E-REG-06", "E-REG-07",
            "E-REG-08", "E-RST-01", "E-TOK-06", "E-TOK-07", "E-TOK-08", "E-TOK-09", "E-TOK-10",
        ]),
        "{:#?}",
        why(&no_retry)
    );
}

/// README's traceability table lists exactly the feature file's cases, each with the stub
/// scenario the feature names, so neither can drift from the other.
#[test]
fn the_readme_traceability_table_matches_the_errors_feature() {
    let readme = std::fs::read_to_string(common::root().join("README.md")).expect("README.md");
    let re = regex::Regex::new(r"(?m)^\| (E-[A-Z]+-\d{2}) \| ([^|]+?) \|").expect("regex");
    let table: BTreeMap<String, String> = re
        .captures_iter(&readme)
        .map(|c| (c[1].to_owned(), c[2].to_owned()))
        .collect();
    assert_eq!(table, common::errors_feature_cases());
}
