//! The organisation's own reporting client rehearses against `serve`'s reporting simulator
//! (`[reporting_simulator]`), and `run --pack reporting-received` judges what it received as
//! PDP's pipeline does. The client here is independent of the harness's: reqwest with the
//! organisation's client certificate, over real mTLS, to a separate `serve` process.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::Utc;
use pdp_harness::net::pki::{TestPki, TlsIdentity};
use pdp_harness::reporting::Endpoint;
use pdp_harness::reporting::model::{self, EndpointData, PlanOptions, SubmissionStatus};
use serde_json::Value;

use crate::common;

struct Setup {
    dir: tempfile::TempDir,
    target: PathBuf,
    /// The organisation's reporting client certificate (issued by its client CA).
    org: TlsIdentity,
    /// What the organisation trusts for the simulator's server certificate.
    server_ca: String,
    port: u16,
    /// The target file has `[provider]`: runs attach to `serve`.
    attached: bool,
}

impl Setup {
    /// A target file with `[cda]` and `[reporting_simulator]` (certificates from `[cda]`).
    fn new() -> Setup {
        Setup::with_provider(false)
    }

    /// As [`new`](Self::new); with `provider`, also a `[provider]` whose endpoints are closed
    /// ports (the organisation's find and view are not up), so runs attach to `serve`.
    fn with_provider(provider: bool) -> Setup {
        let dir = tempfile::tempdir().expect("temp dir");
        let harness = TestPki::generate("harness operator").expect("harness CA");
        let organisation = TestPki::generate("organisation").expect("organisation CA");
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        let server = harness
            .server_identity("C&A server", "cda", &[])
            .expect("cert");
        write("cda-server.pem", &server.cert_pem);
        write("cda-server.key", server.private_key_pem());
        write("cda-ca.pem", &harness.ca_pem());
        write("org-ca.pem", &organisation.ca_pem());
        write(
            "cda-signing.key",
            &rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
                .expect("RSA key")
                .serialize_pem(),
        );
        let (cda_port, port) = (common::free_port(), common::free_port());
        write(
            "target.toml",
            &format!(
                r#"[cda]
listen = "127.0.0.1:{cda_port}"
public_url = "https://localhost:{cda_port}"
server_cert = "cda-server.pem"
server_key = "cda-server.key"
server_ca = "cda-ca.pem"
client_ca = "org-ca.pem"
signing_key = "cda-signing.key"

[reporting_simulator]
listen = "127.0.0.1:{port}"
{provider_section}"#,
                provider_section = if provider {
                    let closed = common::free_port();
                    format!(
                        r#"
[provider]
find_url = "https://localhost:{closed}"
view_url = "https://localhost:{closed}"
client_cert = "cda-server.pem"
client_key = "cda-server.key"
ca_bundle = "cda-ca.pem"
view_token_keys = [{{ file = "cda-signing.key", kid = "view-1" }}]

[clear_down]
url = "https://localhost:{closed}/clear-down"
"#
                    )
                } else {
                    String::new()
                }
            ),
        );
        Setup {
            target: dir.path().join("target.toml"),
            org: organisation
                .client_identity("reporting client", "organisation-reporting")
                .expect("cert"),
            server_ca: harness.ca_pem(),
            dir,
            port,
            attached: provider,
        }
    }

    /// Start `serve`, wait for it to announce the reporting simulator, and keep draining its
    /// console so it never blocks on a full pipe.
    fn serve(&self) -> common::KillOnDrop {
        let mut child = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
            .args(["serve", "--target"])
            .arg(&self.target)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("serve starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        loop {
            let mut line = String::new();
            if out.read_line(&mut line).unwrap_or(0) == 0 {
                let _ = child.kill();
                panic!("serve ended before announcing the reporting simulator: {banner}");
            }
            banner.push_str(&line);
            // With [provider], the line after the control API is up (runs attach from then on).
            if (line.contains("judges what it received today") && !self.attached)
                || line.contains("runs its scenarios here")
            {
                break;
            }
        }
        assert!(
            banner.contains(&format!("127.0.0.1:{}", self.port))
                && banner.contains("reporting-received.jsonl"),
            "{banner}"
        );
        std::thread::spawn(move || {
            let mut sink = String::new();
            while out.read_line(&mut sink).unwrap_or(0) > 0 {
                sink.clear();
            }
        });
        common::KillOnDrop(child)
    }

    fn journal(&self) -> PathBuf {
        self.dir.path().join("reporting-received.jsonl")
    }

    fn client(&self) -> reqwest::Client {
        pdp_harness::net::tls::client(
            Some(&self.org),
            std::slice::from_ref(&self.server_ca),
            std::time::Duration::from_secs(30),
        )
        .expect("client")
    }

    /// POST a body as the organisation's own client would; the answer's status.
    async fn post(&self, endpoint: Endpoint, body: &Value) -> u16 {
        self.client()
            .post(format!(
                "https://localhost:{}{}",
                self.port,
                endpoint.path()
            ))
            .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
            .header("Content-Type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("the reporting simulator answers")
            .status()
            .as_u16()
    }

    /// `run --pack reporting-received`: exit code and the run record.
    fn judge(&self, name: &str) -> (i32, Value, String) {
        let out = self.dir.path().join(name);
        let o = common::bin()
            .args(["run", "--pack", "reporting-received", "--target"])
            .arg(&self.target)
            .arg("--out")
            .arg(&out)
            .output()
            .expect("run");
        let text = common::output_text(&o);
        assert!(out.is_dir(), "no run directory: {text}");
        let record = std::fs::read_to_string(common::only_run_dir(&out).join("run.json"))
            .unwrap_or_else(|e| panic!("run.json: {e}\n{text}"));
        (
            o.status.code().unwrap_or(-1),
            serde_json::from_str(&record).expect("run.json parses"),
            text,
        )
    }
}

/// A valid body for each endpoint: "nothing to report" (null submissions where the spec has
/// them, zero counts elsewhere), as an organisation's client sends on a quiet day.
fn bodies() -> Vec<(Endpoint, Value)> {
    let holder = uuid::Uuid::new_v4();
    Endpoint::ALL
        .into_iter()
        .map(|e| {
            let records = model::plan(
                e,
                &EndpointData::nothing(e, &[holder]),
                PlanOptions {
                    period_start: model::utc_midnight(Utc::now()),
                    status: SubmissionStatus::OnTime,
                    resubmission: false,
                },
            )
            .expect("planned");
            (e, records[0].to_json())
        })
        .collect()
}

/// `(case id, status, first failure message)` per scenario.
fn verdicts(record: &Value) -> Vec<(String, String, String)> {
    record["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .map(|s| {
            let message = s["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .find_map(|st| st["message"].as_str())
                .unwrap_or_default()
                .to_owned();
            (
                s["case_id"].as_str().unwrap_or_default().to_owned(),
                s["status"].as_str().unwrap_or_default().to_owned(),
                message,
            )
        })
        .collect()
}

fn failed(record: &Value) -> Vec<(String, String)> {
    verdicts(record)
        .into_iter()
        .filter(|(_, status, _)| status != "passed")
        .map(|(case, _, message)| (case, message))
        .collect()
}

/// The class of every failed step, in run order (`run.json`'s `failure_class`).
fn failure_classes(record: &Value) -> Vec<String> {
    record["scenarios"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["steps"].as_array().into_iter().flatten())
        .filter_map(|st| st["failure_class"].as_str())
        .map(str::to_owned)
        .collect()
}

fn message_of<'a>(failed: &'a [(String, String)], case: &str) -> &'a str {
    failed
        .iter()
        .find(|(c, _)| c == case)
        .map(|(_, m)| m.as_str())
        .unwrap_or_else(|| panic!("{case} failed: {failed:#?}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_organisations_own_client_submits_to_serve_and_the_received_pack_judges_it() {
    let s = Setup::new();
    let _serve = s.serve();

    // Nothing submitted yet: every endpoint is missing.
    let (code, record, text) = s.judge("runs-empty");
    assert_eq!(code, 1, "{text}");
    let f = failed(&record);
    assert!(
        message_of(&f, "RR-03").contains("/view-response/request-number: nothing received on"),
        "{f:#?}"
    );

    // All six, valid, from the organisation's own client: the pack passes.
    for (e, body) in bodies() {
        assert_eq!(s.post(e, &body).await, 202, "{e}: {body}");
    }
    let (code, record, text) = s.judge("runs-six");
    assert_eq!(code, 0, "{text}");
    let v = verdicts(&record);
    assert_eq!(v.len(), 9, "{v:#?}");
    assert!(v.iter().all(|(_, status, _)| status == "passed"), "{v:#?}");
    assert!(text.contains("PASSED"), "{text}");

    // The doctor names the simulator's address and what its journal holds.
    let o = common::bin()
        .args(["doctor", "--target"])
        .arg(&s.target)
        .output()
        .expect("doctor");
    let d = common::output_text(&o);
    assert!(
        d.contains(&format!(
            "reporting simulator (serve): listening at 127.0.0.1:{}",
            s.port
        )) && d.contains("6 request(s) recorded"),
        "{d}"
    );

    // A body the specification forbids: refused with its code, and the day fails on it.
    let (e, mut body) = bodies()
        .into_iter()
        .find(|(e, _)| *e == Endpoint::ViewResponseRequestNumber)
        .expect("request-number");
    body["req_count"] = Value::from(-1);
    assert_eq!(s.post(e, &body).await, 400);
    // And a null submission where the specification has none (unavailable: zero counts).
    let (e, mut body) = bodies()
        .into_iter()
        .find(|(e, _)| *e == Endpoint::ViewResponseUnavailable)
        .expect("unavailable");
    body["submission_reason"] = Value::from("null submission");
    body["submission_id"] = Value::Null;
    assert_eq!(s.post(e, &body).await, 400);
    let (code, record, text) = s.judge("runs-invalid");
    assert_eq!(code, 1, "{text}");
    let f = failed(&record);
    let failing: Vec<&str> = f.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(failing, ["RR-07", "RR-08"], "{f:#?}");
    assert!(
        message_of(&f, "RR-08").contains("/view-response/unavailable: a null submission at")
            && message_of(&f, "RR-08").contains("send zero counts"),
        "{f:#?}"
    );
    assert!(
        message_of(&f, "RR-07").contains("INVALID_SUBMISSION_REASON"),
        "{f:#?}"
    );
    let m = message_of(&f, "RR-07");
    assert!(
        m.contains("/view-response/request-number")
            && m.contains("refused with 400 INVALID_REQ_COUNT")
            && m.contains("req_count"),
        "{m}"
    );
}

/// Rewrite the journal in place (serve keeps appending to the same file), moving the
/// requests to `endpoints` back one day: submissions recorded yesterday.
fn move_to_yesterday(journal: &Path, endpoints: &[Endpoint]) {
    let text = std::fs::read_to_string(journal).expect("journal");
    let mut out = String::new();
    for line in text.lines() {
        let mut r: Value = serde_json::from_str(line).expect("a received request");
        let endpoint: Endpoint = serde_json::from_value(r["endpoint"].clone()).expect("endpoint");
        if endpoints.contains(&endpoint) {
            let at: chrono::DateTime<Utc> = serde_json::from_value(r["at"].clone()).expect("at");
            r["at"] = serde_json::to_value(at - chrono::Duration::days(1)).expect("at");
        }
        out.push_str(&r.to_string());
        out.push('\n');
    }
    std::fs::write(journal, out).expect("journal rewritten");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_endpoint_and_submissions_on_two_utc_days_fail_naming_the_endpoints() {
    // With [provider] (not up): the runs attach to serve, and the provider checks, which would
    // stop a run whose provider is down, are not made for this pack.
    let s = Setup::with_provider(true);
    let _serve = s.serve();
    let all = bodies();
    for (e, body) in all
        .iter()
        .filter(|(e, _)| *e != Endpoint::ViewResponseCalculations)
    {
        assert_eq!(s.post(*e, body).await, 202, "{e}");
    }
    let (code, record, text) = s.judge("runs-five");
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("attached to the running pdp-harness serve")
            && text.contains("the provider checks are not made"),
        "{text}"
    );
    let f = failed(&record);
    let failing: Vec<&str> = f.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(failing, ["RR-05", "RR-09"], "{f:#?}");
    // What the organisation's client did not submit is the system under test's to act on.
    assert_eq!(
        failure_classes(&record),
        ["system-under-test", "system-under-test"],
        "{f:#?}"
    );
    assert!(
        message_of(&f, "RR-09").contains("1 of the six endpoints had none that counts: /view-response/calculations: nothing received"),
        "{f:#?}"
    );

    // Find and view were submitted yesterday; calculations today.
    move_to_yesterday(
        &s.journal(),
        &[
            Endpoint::ServiceAvailabilityFind,
            Endpoint::ServiceAvailabilityView,
        ],
    );
    let (e, body) = &all[4];
    assert_eq!(*e, Endpoint::ViewResponseCalculations);
    assert_eq!(s.post(*e, body).await, 202);
    let (code, record, text) = s.judge("runs-two-days");
    assert_eq!(code, 1, "{text}");
    let f = failed(&record);
    let failing: Vec<&str> = f.iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(failing, ["RR-01", "RR-02", "RR-09"], "{f:#?}");
    let yesterday = (Utc::now() - chrono::Duration::days(1)).date_naive();
    let m = message_of(&f, "RR-09");
    assert!(
        m.contains("2 of the six endpoints")
            && m.contains(&format!(
                "/service-availability/find: nothing received on {}; accepted on {yesterday} instead",
                Utc::now().date_naive()
            ))
            && m.contains("/service-availability/view"),
        "{m}"
    );
}
