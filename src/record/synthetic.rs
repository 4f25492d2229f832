//! A synthetic run record of any size, for measuring how the evidence renders at scale
//! (`pdp-harness bench-evidence`). Nothing in it comes from a real run.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::record::run::{
    CertificateInfo, Counts, Exchange, RunHeader, RunRecord, ScenarioRecord, Selection, Standards,
    Status, StepRecord, TargetInfo, TimingSummary, Verdict,
};

fn at(secs: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(1_795_000_000, 0)
        .single()
        .unwrap_or_default()
        + Duration::seconds(secs)
}

fn step(keyword: &str, text: String, status: Status, exchanges: Vec<Exchange>) -> StepRecord {
    StepRecord {
        keyword: keyword.to_owned(),
        text,
        status,
        duration_ms: 42.0,
        message: (status == Status::Failed).then(|| {
            "case S1-00: expected match status match-yes, observed match-possible".to_owned()
        }),
        failure_class: None,
        exchanges,
        timings: Vec::new(),
        warnings: Vec::new(),
        observed: None,
        judged: None,
        view_data: Vec::new(),
    }
}

fn exchange(i: usize) -> Exchange {
    let body = format!("{{\"request\":{i},\"detail\":\"{}\"}}", "x".repeat(900));
    Exchange {
        party: "pension finder -> provider find".to_owned(),
        at: at(i as i64),
        method: "POST".to_owned(),
        url: "https://provider.example/find".to_owned(),
        request_headers: vec![("x-request-id".to_owned(), format!("req-{i}"))],
        request_body: Some(body.clone()),
        status: Some(400),
        response_headers: vec![("content-type".to_owned(), "application/json".to_owned())],
        response_body: Some(body),
        duration_ms: 12.0,
        error: None,
    }
}

/// `n` scenarios of four steps each; one in ten fails with two recorded exchanges.
pub fn record(n: usize) -> RunRecord {
    let mut counts = Counts::default();
    let scenarios: Vec<ScenarioRecord> = (0..n)
        .map(|i| {
            let failed = i % 10 == 9;
            if failed {
                counts.failed += 1;
            } else {
                counts.passed += 1;
            }
            let last = if failed {
                Status::Failed
            } else {
                Status::Passed
            };
            ScenarioRecord {
                feature: "Stage 1 - find, register and view without intervention".to_owned(),
                name: format!("Synthetic case {i}: a member is found, registered and viewed"),
                tags: vec![format!("case:SY-{i:03}"), "stage1".to_owned()],
                case_id: Some(format!("SY-{i:03}")),
                stage: Some("stage 1".to_owned()),
                location: format!("features/synthetic.feature:{}", 10 + i * 6),
                started_at: at(i as i64),
                ended_at: Some(at(i as i64 + 1)),
                status: last,
                steps: vec![
                    step(
                        "Given",
                        "the provider's test data has been cleared down".into(),
                        Status::Passed,
                        Vec::new(),
                    ),
                    step(
                        "When",
                        format!("the pension finder sends a find request for case SY-{i:03}"),
                        Status::Passed,
                        Vec::new(),
                    ),
                    step(
                        "Then",
                        "the provider acknowledges the find request with 202".into(),
                        Status::Passed,
                        Vec::new(),
                    ),
                    step(
                        "And",
                        "exactly the PeIs expected by the test pack are registered".into(),
                        last,
                        if failed {
                            vec![exchange(i), exchange(i + 1)]
                        } else {
                            Vec::new()
                        },
                    ),
                ],
            }
        })
        .collect();
    RunRecord {
        header: RunHeader {
            run_id: format!("synthetic-{n}"),
            started_at: at(0),
            harness_version: env!("CARGO_PKG_VERSION").to_owned(),
            standards: Standards {
                technical: "2.0".to_owned(),
                data: "1.3".to_owned(),
                reporting: "2.2".to_owned(),
                find_view_contract: "documented default".to_owned(),
                view_data_schema: String::new(),
            },
            target: TargetInfo {
                environment: "synthetic".to_owned(),
                organisation: "Synthetic Pensions".to_owned(),
                holdername_guid: "00000000-0000-4000-8000-000000000000".to_owned(),
                find_url: "https://provider.example/find".to_owned(),
                view_url: "https://provider.example/view/{assetGuid}".to_owned(),
                target_file: None,
                reporting_simulated: None,
            },
            selection: Selection {
                pack: "stage1".to_owned(),
                tags: None,
                features: vec!["features/synthetic.feature".to_owned()],
            },
            certificates: vec![CertificateInfo {
                role: "CDA client".to_owned(),
                subject: "CN=pdp-harness".to_owned(),
                sha256_fingerprint: "ab".repeat(32),
                not_after: at(86_400),
            }],
            configuration: vec![("limits.acknowledgement_ms".to_owned(), "2000".to_owned())],
            personal_data_revealed: false,
            test_pack: Some("synthetic 1.0.0".to_owned()),
            rerun: None,
            inputs: Vec::new(),
            after: None,
        },
        ended_at: Some(at(n as i64 + 1)),
        verdict: if counts.failed > 0 {
            Verdict::Failed
        } else {
            Verdict::Passed
        },
        counts,
        scenarios,
        run_log_sha256: "0".repeat(64),
        notes: Vec::new(),
        timing_summary: ["acknowledgement", "registration", "view response"]
            .iter()
            .map(|m| TimingSummary {
                measure: (*m).to_owned(),
                count: n,
                p50_ms: 40.0,
                p95_ms: 90.0,
                max_ms: 120.0,
                limit_ms: 2000.0,
                over_limit: 0,
            })
            .collect(),
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
