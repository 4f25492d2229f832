//! Issue 17 item 9: the evidence's error catalogue coverage section. A run of a few catalogue
//! cases (C&A cases, the restart case and reporting scripts) against a provider that retries a
//! 404 forever: the PDF and the HTML each list every case with the stub scenario or reporting
//! code its feature file names, and its result in this run (E-REG-01 failed, the rest passed).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use crate::common;

use pdp_harness::harness::config::TargetConfig;
use pdp_harness::provider::{Fault, Faults};
use pdp_harness::record::run::Status;
use pdp_harness::runner::{self, Pack, RunOptions, writer::Collect};

/// The cases run: two C&A cases, the restart case (it names no stub scenario) and three
/// reporting scripts of different shapes (a field's code, a transport status, a wrong path).
const CASES: [&str; 6] = [
    "E-TOK-01",
    "E-REG-01",
    "E-RST-01",
    "RS-CALC-07",
    "RS-FIND-91",
    "RS-URL-01",
];

/// A reporting script's endpoint and code from its row of `features/reporting_errors.feature`
/// (`| case | endpoint | code | …`).
fn script_row(case: &str) -> (String, String) {
    let text = std::fs::read_to_string(common::root().join("features/reporting_errors.feature"))
        .expect("features/reporting_errors.feature");
    let row = text
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("| {case} ")))
        .unwrap_or_else(|| panic!("{case} has a row"));
    let cells: Vec<&str> = row.split('|').map(str::trim).collect();
    (cells[2].to_owned(), cells[3].to_owned())
}

/// The HTML-escaped form of the few characters a stub name may hold.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('\'', "&#39;")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_evidence_traces_each_catalogue_case_to_what_it_mirrors_with_its_result() {
    let out = tempfile::tempdir().expect("tempdir");
    let config = common::test_limits(TargetConfig::default());
    let env = common::environment_with(Faults::none().with(Fault::RetriesNotFound), &config).await;
    let options = RunOptions {
        tags: Some(
            CASES
                .iter()
                .map(|c| format!("@case:{c}"))
                .collect::<Vec<_>>()
                .join(" or "),
        ),
        ..common::run_options(Pack::Errors, out.path(), config)
    };
    let outcome = runner::run(
        env.clone(),
        &options,
        Box::new(Collect(Arc::new(Mutex::new(Vec::new())))),
    )
    .await
    .expect("the run completes");
    env.shutdown();
    let record = &outcome.record;
    let statuses: BTreeMap<String, Status> = common::statuses(record).into_iter().collect();
    let expected: BTreeMap<String, Status> = CASES
        .iter()
        .map(|c| {
            let status = if *c == "E-REG-01" {
                Status::Failed
            } else {
                Status::Passed
            };
            ((*c).to_owned(), status)
        })
        .collect();
    assert_eq!(statuses, expected);

    // What each case mirrors, from the feature files themselves.
    let stubs = common::errors_feature_cases();
    let mirrors: Vec<(&str, String)> = vec![
        ("E-TOK-01", format!("MaPS stub: {}", stubs["E-TOK-01"])),
        ("E-REG-01", format!("MaPS stub: {}", stubs["E-REG-01"])),
        (
            "E-RST-01",
            "no stub scenario or reporting code named".to_owned(),
        ),
        ("RS-CALC-07", {
            let (endpoint, code) = script_row("RS-CALC-07");
            format!("reporting API: {code} on {endpoint}")
        }),
        ("RS-FIND-91", {
            let (endpoint, _) = script_row("RS-FIND-91");
            format!("reporting API: 413 CONTENT_TOO_LARGE on {endpoint}")
        }),
        (
            "RS-URL-01",
            "reporting API: 404 INVALID_URL on /service-availability".to_owned(),
        ),
    ];

    let html = std::fs::read_to_string(outcome.run_dir.join("report.html")).expect("report.html");
    assert!(html.contains("<h2 id=\"catalogue-coverage\">Error catalogue coverage</h2>"));
    assert!(html.contains("6 case(s): 5 passed, 1 failed."), "{html}");
    for (case, mirror) in &mirrors {
        let status = if *case == "E-REG-01" {
            "<span class=\"badge failed\">FAILED</span>"
        } else {
            "<span class=\"badge passed\">PASSED</span>"
        };
        let row = format!(
            "{case}</a></td><td>{}</td><td>{status}</td></tr>",
            esc(mirror)
        );
        assert!(html.contains(&row), "{case}: {row}");
    }

    let pdf = common::pdf_text(&outcome.run_dir.join("evidence.pdf"));
    let section = pdf
        .split("Error catalogue coverage")
        .nth(1)
        .expect("the PDF has the coverage section");
    let section = section.split("Timings").next().unwrap_or(section);
    assert!(
        section.contains("6 case(s): 5 passed, 1 failed."),
        "{section}"
    );
    for (case, mirror) in &mirrors {
        let status = if *case == "E-REG-01" {
            "FAILED"
        } else {
            "PASSED"
        };
        // pdftotext puts a space where a cell's text wraps: compare without spaces.
        let row = format!("{case} {mirror} {status}");
        assert!(
            section.replace(' ', "").contains(&row.replace(' ', "")),
            "{row} in {section}"
        );
    }
}
