//! The reporting scripts (`--pack reporting-errors`): every `INVALID_*` code the reporting yaml
//! lists for an endpoint has a scenario, the pack passes on the embedded default, a script
//! whose expectation is wrong fails naming the field and code, and README's traceability table
//! is the one the feature file gives.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::Arc;

use cucumber::gherkin;
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::provider::Faults;
use pdp_harness::record::classify::FailureClass;
use pdp_harness::record::run::Status;
use pdp_harness::reporting::Endpoint;
use pdp_harness::runner::{self, Pack, RunOptions, writer::Collect};

use crate::common::{environment, root, run_options, run_pack, spec};

const FEATURE: &str = "features/reporting_errors.feature";
const README_START: &str = "<!-- reporting-errors traceability: generated from features/reporting_errors.feature; `PDP_UPDATE_README=1 cargo test --test integration reporting_errors::` rewrites it -->";
const README_END: &str = "<!-- end of reporting-errors traceability -->";

/// One expanded script: case id, endpoint (or path), the status and code it expects, and how
/// the request is broken.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Script {
    case: String,
    endpoint: String,
    status: u16,
    code: String,
    broken: String,
}

fn quoted(text: &str) -> Vec<String> {
    text.split('"')
        .skip(1)
        .step_by(2)
        .map(str::to_owned)
        .collect()
}

/// The scripts of the feature file, as the runner expands them.
fn scripts(path: &Path) -> Vec<Script> {
    use cucumber::feature::Ext as _;
    let feature = gherkin::Feature::parse_path(path, gherkin::GherkinEnv::default())
        .expect("the feature file parses")
        .expand_examples()
        .expect("its outlines expand");
    assert!(
        feature.tags.iter().any(|t| t == "reporting-errors"),
        "{FEATURE} is tagged @reporting-errors"
    );
    feature
        .scenarios
        .iter()
        .map(|s| {
            let row = |name: &str| -> Option<String> {
                let table = s.examples.first()?.table.as_ref()?;
                let col = table.rows.first()?.iter().position(|h| h == name)?;
                table.rows.get(1)?.get(col).cloned()
            };
            let case = row("case").expect("every row has a case id");
            let when = &s.steps[0].value;
            let then = s.steps.last().expect("steps").value.clone();
            let endpoint = quoted(when)
                .first()
                .cloned()
                .expect("the When names a path");
            let status: u16 = then
                .split_whitespace()
                .find_map(|w| w.parse().ok())
                .expect("the Then names a status");
            let code = quoted(&then)
                .last()
                .cloned()
                .expect("the Then names a code");
            let broken = match (row("field"), row("value")) {
                (Some(f), Some(v)) => format!("`{f}` = `{v}`"),
                (None, Some(v)) => format!("`X-Request-ID: {v}`"),
                _ => match status {
                    413 => "a body over 1 MiB".to_owned(),
                    415 => "`Content-Type: text/plain`".to_owned(),
                    405 => "`PUT` instead of `POST`".to_owned(),
                    _ => "a path that is not one of the six".to_owned(),
                },
            };
            Script {
                case,
                endpoint,
                status,
                code,
                broken,
            }
        })
        .collect()
}

/// `(endpoint path, code)` for every `INVALID_*` code the yaml's 400 answer lists per endpoint.
fn yaml_codes() -> BTreeSet<(String, String)> {
    let doc = spec("reporting-api-v2_1.yaml");
    let component = |r: &serde_json::Value| -> serde_json::Value {
        let path = r["$ref"].as_str().expect("a $ref");
        let mut node = &doc;
        for part in path.trim_start_matches("#/").split('/') {
            node = &node[part];
        }
        node.clone()
    };
    let mut out = BTreeSet::new();
    for e in Endpoint::ALL {
        let bad = component(&doc["paths"][e.path()]["post"]["responses"]["400"]);
        let examples = bad["content"]["application/problem+json"]["examples"]
            .as_object()
            .expect("the 400 answer lists its examples");
        for ex in examples.values() {
            let value = component(ex);
            for err in value["value"]["errors"].as_array().expect("errors") {
                let code = err["code"].as_str().expect("a code");
                if code.starts_with("INVALID_") {
                    out.insert((e.path().to_owned(), code.to_owned()));
                }
            }
        }
    }
    out
}

#[test]
#[cfg_attr(
    pdp_specs_absent,
    ignore = "needs the MaPS reporting API yaml (../shared/specs/pdp or PDP_SPECS_DIR)"
)]
fn every_invalid_code_of_the_reporting_yaml_has_a_script_on_its_endpoint() {
    let codes = yaml_codes();
    let scripts = scripts(&root().join(FEATURE));
    let covered: BTreeSet<(String, String)> = scripts
        .iter()
        .filter(|s| s.status == 400)
        .map(|s| (s.endpoint.clone(), s.code.clone()))
        .collect();
    let missing: Vec<_> = codes.difference(&covered).collect();
    assert!(missing.is_empty(), "no script for {missing:?}");
    // And no script claims a code the yaml does not list for its endpoint.
    let extra: Vec<_> = covered.difference(&codes).collect();
    assert!(
        extra.is_empty(),
        "scripts for codes the yaml does not list: {extra:?}"
    );
    // 9 + 9 + 6 + 8 + 10 + 15 codes across the six endpoints.
    assert_eq!(codes.len(), 57, "{codes:?}");
    // Transport cases on every endpoint, and unknown paths.
    for e in Endpoint::ALL {
        for (status, code) in [
            (413, "CONTENT_TOO_LARGE"),
            (415, "INVALID_CONTENT_TYPE"),
            (405, "METHOD_NOT_ALLOWED"),
        ] {
            assert!(
                scripts
                    .iter()
                    .any(|s| s.endpoint == e.path() && s.status == status && s.code == code),
                "{e}: no {status} {code} script"
            );
        }
    }
    assert!(
        scripts
            .iter()
            .any(|s| s.status == 404 && s.code == "INVALID_URL")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reporting_errors_pack_passes_on_the_embedded_default() {
    let dir = tempfile::tempdir().expect("tempdir");
    let record = run_pack(Pack::ReportingErrors, Faults::none(), dir.path()).await;
    let expected = scripts(&root().join(FEATURE));
    assert_eq!(record.scenarios.len(), expected.len());
    let failed: Vec<_> = record
        .scenarios
        .iter()
        .filter(|s| s.status != Status::Passed)
        .map(|s| (s.case_id.clone(), s.name.clone(), s.status))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
    // Each row is its own case (the outline's `@case:<case>` tag resolved per row), in the
    // reporting-errors stage, and no C&A or reporting stage ran with it.
    let ids: BTreeSet<_> = record
        .scenarios
        .iter()
        .filter_map(|s| s.case_id.clone())
        .collect();
    let want: BTreeSet<_> = expected.iter().map(|s| s.case.clone()).collect();
    assert_eq!(ids, want);
    assert!(
        record
            .scenarios
            .iter()
            .all(|s| s.stage.as_deref() == Some("reporting errors"))
    );
}

/// A script expecting another code than the one the body earns fails, naming the field and
/// both codes: the scripts are checks, not recitals.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_script_expecting_the_wrong_code_fails_naming_the_field_and_the_code() {
    let features = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(root().join(FEATURE)).expect("feature");
    let row = text
        .lines()
        .find(|l| l.contains("RS-REQNUM-06"))
        .expect("the request-number count row");
    // req_count -1 is INVALID_REQ_COUNT; claim it is a holder GUID problem instead.
    let broken = row.replace("INVALID_REQ_COUNT     ", "INVALID_HOLDERNAMEGUID");
    assert_ne!(row, broken);
    std::fs::write(
        features.path().join("reporting_errors.feature"),
        text.replace(row, &broken),
    )
    .expect("write");
    let out = tempfile::tempdir().expect("tempdir");
    let env = environment(Faults::none()).await;
    let options = RunOptions {
        tags: Some("@case:RS-REQNUM-06 or @case:RS-REQNUM-05".to_owned()),
        features_dir: features.path().to_owned(),
        ..run_options(Pack::ReportingErrors, out.path(), TargetConfig::default())
    };
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = runner::run(env.clone(), &options, Box::new(Collect(lines)))
        .await
        .expect("the run completes")
        .record;
    env.shutdown();
    assert_eq!(record.scenarios.len(), 2);
    assert_eq!(
        crate::common::scenario(&record, "RS-REQNUM-05").status,
        Status::Passed
    );
    let (step, message) = crate::common::failed_step(&record, "RS-REQNUM-06");
    assert!(
        step.contains("the harness refuses it before sending"),
        "{step}"
    );
    assert!(
        message.contains("req_count")
            && message.contains("INVALID_HOLDERNAMEGUID")
            && message.contains("INVALID_REQ_COUNT"),
        "{message}"
    );
}

fn traceability_table(scripts: &[Script]) -> String {
    let mut out = String::from(
        "| case | endpoint | refusal it mirrors (status, code) | how the request is broken |\n|---|---|---|---|\n",
    );
    for s in scripts {
        out.push_str(&format!(
            "| {} | `{}` | {} `{}` | {} |\n",
            s.case, s.endpoint, s.status, s.code, s.broken
        ));
    }
    out
}

/// README's table from each RS case to the reporting error it mirrors is generated from the
/// feature file, so it cannot drift from what runs.
#[test]
fn the_readme_traceability_table_is_the_feature_files() {
    let mut scripts = scripts(&root().join(FEATURE));
    // The six endpoints in the yaml's order, then the unknown paths.
    let rank = |s: &Script| {
        Endpoint::ALL
            .iter()
            .position(|e| e.path() == s.endpoint)
            .unwrap_or(Endpoint::ALL.len())
    };
    scripts.sort_by(|a, b| (rank(a), &a.case).cmp(&(rank(b), &b.case)));
    let table = traceability_table(&scripts);
    let readme_path = root().join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README");
    let (Some(start), Some(end)) = (readme.find(README_START), readme.find(README_END)) else {
        panic!("README has no block between {README_START} and {README_END}");
    };
    let current = &readme[start + README_START.len()..end];
    let wanted = format!("\n{table}");
    if current != wanted {
        if std::env::var_os("PDP_UPDATE_README").is_some() {
            let updated = format!(
                "{}{wanted}{}",
                &readme[..start + README_START.len()],
                &readme[end..]
            );
            std::fs::write(&readme_path, updated).expect("README written");
        } else {
            panic!(
                "README's reporting-errors traceability table differs from {FEATURE}; run with PDP_UPDATE_README=1 to regenerate. Expected:\n{table}"
            );
        }
    }
}

/// Run the scripts tagged `tags` against the reporting API at `base_url` (a server of `pki`,
/// whose CA also signs the organisation's client certificate).
async fn run_scripts(
    pki: &pdp_harness::net::pki::TestPki,
    base_url: &str,
    tags: &str,
) -> pdp_harness::record::run::RunRecord {
    let dir = tempfile::tempdir().expect("tempdir");
    let client = pki
        .client_identity("reporting client", "organisation")
        .expect("cert");
    std::fs::write(dir.path().join("client.pem"), &client.cert_pem).expect("write");
    std::fs::write(dir.path().join("client.key"), client.private_key_pem()).expect("write");
    std::fs::write(dir.path().join("ca.pem"), pki.ca_pem()).expect("write");
    let target = dir.path().join("target.toml");
    std::fs::write(
        &target,
        format!(
            "[reporting]\nbase_url = \"{base_url}\"\nclient_cert = \"client.pem\"\nclient_key = \"client.key\"\nca_bundle = \"ca.pem\"\nstub = true\n"
        ),
    )
    .expect("write");
    let config = TargetConfig::load(&target).expect("target loads");
    let env = crate::common::environment_with(Faults::none(), &config).await;
    let out = tempfile::tempdir().expect("tempdir");
    let options = RunOptions {
        tags: Some(tags.to_owned()),
        ..run_options(Pack::ReportingErrors, out.path(), config)
    };
    let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = runner::run(env.clone(), &options, Box::new(Collect(lines)))
        .await
        .expect("the run completes")
        .record;
    env.shutdown();
    record
}

/// A reporting API that takes everything (a stub left in a mode that accepts all, or a proxy
/// that answers for it) fails the scripts: each names what it expected and the 202 it got, and
/// each failure is the system under test's (typed, not read from the words).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reporting_api_that_accepts_everything_fails_the_scripts() {
    use axum::response::IntoResponse as _;
    let pki = pdp_harness::net::pki::TestPki::generate("lenient reporting API").expect("CA");
    let server_id = pki
        .server_identity("reporting API server", "reporting", &[])
        .expect("cert");
    let accept_all = axum::Router::new().fallback(|| async {
        (
            axum::http::StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({
                "message": "ACCEPTED",
                "datetimestamp": "2026-12-01T10:00:00.000Z"
            })),
        )
            .into_response()
    });
    let server = pdp_harness::net::tls::serve_mtls(
        accept_all,
        ([127, 0, 0, 1], 0).into(),
        &server_id,
        &[pki.ca_der()],
        &Default::default(),
    )
    .expect("lenient API serves");
    let record = run_scripts(
        &pki,
        &server.base_url(),
        "@case:RS-REQNUM-06 or @case:RS-REQNUM-92 or @case:RS-URL-01",
    )
    .await;
    server.shutdown();
    assert_eq!(record.scenarios.len(), 3);
    let (step, message) = crate::common::failed_step(&record, "RS-REQNUM-06");
    assert!(
        step.contains("the reporting API refuses the same body"),
        "{step}"
    );
    assert!(
        message.contains("expected the reporting API to refuse the invalid body with 400 and INVALID_REQ_COUNT, got 202"),
        "{message}"
    );
    let (_, message) = crate::common::failed_step(&record, "RS-REQNUM-92");
    assert!(
        message.contains("POST /view-response/request-number: expected the reporting API to answer 415 with the code INVALID_CONTENT_TYPE, got HTTP 202"),
        "{message}"
    );
    let (_, message) = crate::common::failed_step(&record, "RS-URL-01");
    assert!(
        message.contains("answer 404 with the code INVALID_URL"),
        "{message}"
    );
    for case in ["RS-REQNUM-06", "RS-REQNUM-92", "RS-URL-01"] {
        assert_eq!(
            crate::common::failed_class(&record, case),
            Some(FailureClass::SystemUnderTest),
            "{case}"
        );
    }
}

/// A reporting API nobody listens at: a raw request gets no answer, and the failure is the
/// environment's (a refused connection, classed by the send failure's kind), not the API's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_reporting_api_is_the_environments_failure() {
    let pki = pdp_harness::net::pki::TestPki::generate("absent reporting API").expect("CA");
    // A port that was free a moment ago and has nobody listening now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("address")
        .port();
    let record = run_scripts(
        &pki,
        &format!("https://127.0.0.1:{port}"),
        "@case:RS-URL-01",
    )
    .await;
    let (_, message) = crate::common::failed_step(&record, "RS-URL-01");
    assert!(
        message.contains("answer 404 with the code INVALID_URL, got no answer"),
        "{message}"
    );
    assert_eq!(
        crate::common::failed_class(&record, "RS-URL-01"),
        Some(FailureClass::Environment)
    );
}
