//! The PDF's own tests: rendered samples read back with pdftotext, determinism, and line
//! breaking.

use super::fonts::Fonts;
use super::style::{CODE, para};
use super::*;
use crate::evidence::present::excerpt;
use crate::record::run::{
    CertificateInfo, Counts, Exchange, RunHeader, RunRecord, ScenarioRecord, Selection, Standards,
    Status, StepRecord, TargetInfo, Timing, Verdict,
};
use chrono::{DateTime, TimeZone, Utc};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000 + secs, 0)
        .single()
        .expect("valid time")
}

fn step(keyword: &str, text: &str, status: Status) -> StepRecord {
    StepRecord {
        keyword: keyword.to_owned(),
        text: text.to_owned(),
        status,
        duration_ms: 12.5,
        message: None,
        failure_class: None,
        exchanges: Vec::new(),
        timings: Vec::new(),
        warnings: Vec::new(),
        observed: None,
        judged: None,
        view_data: Vec::new(),
    }
}

fn exchange(status: Option<u16>, body: String) -> Exchange {
    Exchange {
        party: "pension finder -> provider find".to_owned(),
        at: at(5),
        method: "POST".to_owned(),
        url: "https://provider.example/find/v1/requests".to_owned(),
        request_headers: vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("authorization".to_owned(), "[redacted]".to_owned()),
        ],
        request_body: Some(body.clone()),
        status,
        response_headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        response_body: Some(body),
        duration_ms: 143.0,
        error: None,
    }
}

fn scenario(case: &str, name: &str, status: Status, steps: Vec<StepRecord>) -> ScenarioRecord {
    ScenarioRecord {
        feature: "Find requests".to_owned(),
        name: name.to_owned(),
        tags: vec![format!("case:{case}"), "connection-proving".to_owned()],
        case_id: Some(case.to_owned()),
        stage: Some("connection proving".to_owned()),
        location: "features/find.feature:12".to_owned(),
        started_at: at(0),
        ended_at: (status != Status::Interrupted).then(|| at(2)),
        status,
        steps,
    }
}

fn sample() -> RunRecord {
    let long = format!(
        "{{\"name\":\"Zoë Müller → test\",\"token\":\"{}\"}}",
        "A1b2C3d4".repeat(200)
    );
    let mut failed = step(
        "Then",
        "the provider acknowledges within 2 seconds",
        Status::Failed,
    );
    failed.message = Some("expected HTTP 202, got 400: invalid request_id".to_owned());
    failed.exchanges = vec![exchange(Some(400), long.clone()), exchange(None, long)];
    failed.timings = vec![Timing {
        measure: "acknowledgement".to_owned(),
        millis: 2400.0,
        limit_millis: 2000.0,
    }];
    let mut interrupted = step("When", "the view request is sent", Status::Interrupted);
    interrupted.message = Some("the run was stopped here".to_owned());
    let mut passed_with_exchange = step("When", "a find request is sent", Status::Passed);
    passed_with_exchange.exchanges = vec![exchange(Some(202), "{}".to_owned())];
    let scenarios = vec![
        scenario(
            "CP-01",
            "Find request is acknowledged",
            Status::Passed,
            vec![
                step("Given", "a registered provider", Status::Passed),
                passed_with_exchange,
            ],
        ),
        scenario(
            "CP-02",
            "Bad request is rejected",
            Status::Failed,
            vec![
                step("Given", "a registered provider", Status::Passed),
                failed,
            ],
        ),
        scenario(
            "CP-03",
            "View request times out",
            Status::Interrupted,
            vec![interrupted],
        ),
    ];
    RunRecord {
        header: RunHeader {
            run_id: "run-20261122-0001".to_owned(),
            started_at: at(0),
            harness_version: "0.1.0".to_owned(),
            standards: Standards {
                technical: "1.3".to_owned(),
                data: "1.2".to_owned(),
                reporting: "1.0".to_owned(),
                find_view_contract: "documented default".to_owned(),
                view_data_schema: String::new(),
            },
            target: TargetInfo {
                organisation: "Northwind Pensions Administration".to_owned(),
                environment: "embedded default (reference provider)".to_owned(),
                holdername_guid: "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned(),
                find_url: "https://provider.example/find".to_owned(),
                view_url: "https://provider.example/view".to_owned(),
                target_file: None,
                reporting_simulated: None,
            },
            selection: Selection {
                pack: "connection-proving".to_owned(),
                tags: None,
                features: Vec::new(),
            },
            certificates: vec![CertificateInfo {
                role: "client".to_owned(),
                subject: "CN=harness-client-1".to_owned(),
                sha256_fingerprint: "ab".repeat(32),
                not_after: at(86_400 * 365),
            }],
            configuration: vec![("timeout_ms".to_owned(), "2000".to_owned())],
            personal_data_revealed: false,
            test_pack: Some("integration 1.0.0".to_owned()),
            rerun: None,
            inputs: Vec::new(),
            after: None,
        },
        ended_at: None,
        verdict: Verdict::Incomplete,
        counts: Counts {
            passed: 1,
            failed: 1,
            skipped: 0,
            interrupted: 1,
            not_started: 0,
        },
        scenarios,
        run_log_sha256: "0123456789abcdef".repeat(4),
        notes: Vec::new(),
        timing_summary: Vec::new(),
        reporting: Default::default(),
        load: None,
        interrupted: None,
        not_started: Vec::new(),
        sign_off: None,
        resealed: Vec::new(),
        match_updates: None,
        pending: Vec::new(),
    }
}

fn pdf_text(bytes: &[u8], name: &str) -> String {
    let path = std::env::temp_dir().join(format!(
        "pdp-harness-pdf-test-{}-{name}.pdf",
        std::process::id()
    ));
    std::fs::write(&path, bytes).expect("write temp PDF");
    let out = std::process::Command::new("pdftotext")
        .arg("-layout")
        .arg(&path)
        .arg("-")
        .output();
    let _ = std::fs::remove_file(&path);
    let out = out.expect("pdftotext must be installed (poppler-utils) to check the PDF");
    assert!(out.status.success(), "pdftotext failed: {out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn renders_the_evidence_that_a_reviewer_needs() {
    let record = sample();
    let bytes = render_pdf(&record, None).expect("render");
    assert!(bytes.starts_with(b"%PDF-"));
    let text = pdf_text(&bytes, "content");
    assert!(text.contains("run-20261122-0001"), "{text}");
    assert!(text.contains("Page 1 of"), "{text}");
    assert!(text.contains(Verdict::Incomplete.plain_words()), "{text}");
    for s in &record.scenarios {
        let line = text
            .lines()
            .find(|l| l.contains(&s.name) && l.contains(s.case_id.as_deref().unwrap_or("")))
            .unwrap_or_else(|| panic!("no summary line for {}:\n{text}", s.name));
        assert!(
            line.contains(&s.status.as_str().to_uppercase()),
            "{} without its verdict: {line}",
            s.name
        );
        for step in s.steps.iter().filter(|st| st.status != Status::Passed) {
            if let Some(m) = &step.message {
                assert!(text.contains(m.as_str()), "missing message {m}:\n{text}");
            }
        }
    }
    assert!(
        text.contains("Zoë Müller → test"),
        "non-ASCII lost:\n{text}"
    );
    assert!(text.contains("more bytes)"), "body not truncated:\n{text}");
    assert!(
        text.contains("acknowledgement 2400 ms (limit 2000 ms)"),
        "{text}"
    );
    // A passing step says what it observed (here, its one exchange) rather than
    // "1 HTTP exchange recorded" (issue 18).
    assert!(
        text.contains("Observed: POST /find/v1/requests -> 202"),
        "{text}"
    );
    assert!(text.contains("not finished - run interrupted"), "{text}");
    assert!(text.contains(&record.run_log_sha256), "{text}");
    assert!(text.contains("Reviewed by"), "{text}");
    // No error-catalogue case ran, so there is no catalogue coverage section.
    assert!(!text.contains("Error catalogue coverage"), "{text}");
}

#[test]
fn the_coverage_matrix_gives_the_page_each_scenario_is_on() {
    let record = sample();
    let fonts = Fonts::load().expect("fonts");
    let (_, pages) = lay_out(&fonts, &record, None, None);
    assert_eq!(pages.len(), record.scenarios.len());
    let text = pdf_text(&render_pdf(&record, None).expect("render"), "pages");
    let by_page: Vec<&str> = text.split('\x0c').collect();
    for (s, page) in record.scenarios.iter().zip(&pages) {
        let title = present::scenario_title(s);
        let first_words: String = title
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        let on_page = by_page.get(page - 1).copied().unwrap_or_default();
        assert!(
            on_page.contains(&first_words),
            "{first_words:?} expected on page {page}: {on_page}"
        );
    }
}

#[test]
fn same_record_same_bytes() {
    let record = sample();
    let a = render_pdf(&record, None).expect("render");
    let b = render_pdf(&record, None).expect("render");
    assert_eq!(a, b);
}

#[test]
fn renders_a_run_with_no_scenarios() {
    let mut record = sample();
    record.scenarios.clear();
    record.counts = Counts::default();
    record.verdict = Verdict::NoScenarios;
    record.header.certificates.clear();
    record.header.configuration.clear();
    let text = pdf_text(&render_pdf(&record, None).expect("render"), "empty");
    assert!(text.contains(Verdict::NoScenarios.plain_words()), "{text}");
    assert!(
        text.contains("No scenarios matched the selection."),
        "{text}"
    );
}

#[test]
fn lines_break_at_spaces_and_inside_long_tokens() {
    let fonts = Fonts::load().expect("fonts");
    let text = format!("short words then {}", "x".repeat(300));
    let lines = fonts.wrap(&para(text.clone(), CODE), 200.0);
    assert!(lines.len() > 2);
    assert!(lines.iter().all(|l| l.width <= 200.0 + 0.01));
    let joined: String = lines
        .iter()
        .flat_map(|l| l.spans.iter().map(|s| s.text.as_str()))
        .collect::<Vec<_>>()
        .join(" ");
    assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
    assert_eq!(excerpt("héllo", 2), ("h", 5));
}
