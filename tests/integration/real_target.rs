//! Against an organisation's solution: the reference provider runs as a separate process
//! configured only through its file, the harness runs with a target file naming its endpoints,
//! certificates and keys (two CAs, as two organisations would have), and the full pack passes.
//! A wrong CA bundle, an expired client certificate and an unreachable endpoint each stop the
//! run at the doctor with the right message and class.

use crate::common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use pdp_harness::net::pki::{TestPki, TlsIdentity};

fn rsa_pem() -> String {
    rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
        .expect("RSA key")
        .serialize_pem()
}

struct Material {
    dir: tempfile::TempDir,
    cda_pki: TestPki,
    provider_pki: TestPki,
    cda_port: u16,
    provider_port: u16,
}

impl Material {
    fn new() -> Material {
        Material {
            dir: tempfile::tempdir().expect("temp dir"),
            cda_pki: TestPki::generate("harness operator").expect("CDA-side CA"),
            provider_pki: TestPki::generate("organisation").expect("provider-side CA"),
            cda_port: common::free_port(),
            provider_port: common::free_port(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).expect("write");
        p
    }

    fn identity(&self, name: &str, id: &TlsIdentity) {
        self.write(&format!("{name}.pem"), &id.cert_pem);
        self.write(&format!("{name}.key"), id.private_key_pem());
    }

    /// Certificates, keys and the provider's configuration file.
    fn provider_config(&self) -> PathBuf {
        self.write("cda-ca.pem", &self.cda_pki.ca_pem());
        self.write("org-ca.pem", &self.provider_pki.ca_pem());
        let server = self
            .provider_pki
            .server_identity("provider server", "provider", &[])
            .expect("cert");
        self.identity("provider-server", &server);
        let client = self
            .provider_pki
            .client_identity("provider client", "provider")
            .expect("cert");
        self.identity("provider-client", &client);
        self.write("view-signing.key", &rsa_pem());
        self.write("pat-signing.key", &rsa_pem());
        let pack = common::root().join("testpacks/integration/pack.toml");
        self.write(
            "provider.toml",
            &format!(
                r#"listen = "127.0.0.1:{}"
server_cert = "provider-server.pem"
server_key = "provider-server.key"
client_ca = "cda-ca.pem"
cda_url = "https://localhost:{}"
cda_ca = "cda-ca.pem"
client_cert = "provider-client.pem"
client_key = "provider-client.key"
view_signing_key = "view-signing.key"
pat_assertion_key = "pat-signing.key"
pat_assertion_kid = "pat-1"
pack = "{}"
"#,
                self.provider_port,
                self.cda_port,
                pack.display()
            ),
        )
    }

    /// The harness's target file; `client` is its client certificate's file stem.
    fn target(&self, name: &str, client: &str, ca_bundle: &str, find_port: u16) -> PathBuf {
        let cda_server = self
            .cda_pki
            .server_identity("C&A server", "cda", &[])
            .expect("cert");
        self.identity("cda-server", &cda_server);
        self.write("cda-signing.key", &rsa_pem());
        let provider = format!("https://localhost:{find_port}");
        self.write(
            name,
            &format!(
                r#"[provider]
find_url = "{provider}"
view_url = "https://localhost:{view_port}"
client_cert = "{client}.pem"
client_key = "{client}.key"
ca_bundle = "{ca_bundle}"
view_token_keys = [{{ file = "view-signing.key", kid = "reference-provider-view-1" }}]
pat_assertion_keys = [{{ file = "pat-signing.key", kid = "pat-1" }}]

[cda]
listen = "127.0.0.1:{cda_port}"
public_url = "https://localhost:{cda_port}"
server_cert = "cda-server.pem"
server_ca = "cda-ca.pem"
server_key = "env:PDP_TEST_CDA_SERVER_KEY"
client_ca = "org-ca.pem"
signing_key = "cda-signing.key"

[clear_down]
url = "https://localhost:{view_port}/test-support/clear-down"
"#,
                view_port = self.provider_port,
                cda_port = self.cda_port,
            ),
        )
    }

    /// `target.toml` with a client certificate the simulated CDA trusts, the organisation's CA
    /// bundle and the provider's port, plus `extra` (further sections) at its end.
    fn good_target(&self, extra: &str) -> PathBuf {
        self.good_target_with_client(extra).0
    }

    /// As [`Material::good_target`], with the client identity it wrote.
    fn good_target_with_client(&self, extra: &str) -> (PathBuf, TlsIdentity) {
        let good = self
            .cda_pki
            .client_identity("CDA client", "pdp-harness")
            .expect("cert");
        self.harness_client("harness-client", &good);
        let target = self.target(
            "target.toml",
            "harness-client",
            "org-ca.pem",
            self.provider_port,
        );
        if !extra.is_empty() {
            let mut text = std::fs::read_to_string(&target).expect("target");
            text.push_str(extra);
            std::fs::write(&target, text).expect("write");
        }
        (target, good)
    }

    fn harness_client(&self, name: &str, id: &TlsIdentity) {
        self.identity(name, id);
    }

    /// `[updates] command`: the organisation applies the match-update file (appended as the
    /// last argument) with `pdp-harness apply-updates` against its standalone reference
    /// provider, with the harness operator's client certificate it trusts.
    fn updates_section(&self) -> String {
        let path = |name: &str| self.dir.path().join(name).display().to_string();
        format!(
            "\n[updates]\ncommand = [{:?}, \"apply-updates\", \"--provider\", \"https://localhost:{}\", \"--cert\", {:?}, \"--key\", {:?}, \"--ca\", {:?}]\n",
            env!("CARGO_BIN_EXE_pdp-harness"),
            self.provider_port,
            path("harness-client.pem"),
            path("harness-client.key"),
            path("org-ca.pem"),
        )
    }

    fn cda_server_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cda-server.key")).expect("key")
    }
}

fn start_provider(config: &Path) -> common::KillOnDrop {
    let mut child = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .args(["reference-provider", "--config"])
        .arg(config)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the reference provider starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("a first line");
    assert!(line.contains("listening on"), "{line}");
    common::KillOnDrop(child)
}

/// `serve` prints what to configure, answers the solution's client certificate (JWKS with the
/// configured key id), refuses a certificate from another CA, and logs each call. It is left
/// running.
fn check_serve(m: &Material, target: &Path) -> Child {
    let mut serve = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .args(["serve", "--target"])
        .arg(target)
        .env("PDP_TEST_CDA_SERVER_KEY", m.cda_server_key())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("serve starts");
    let mut out = BufReader::new(serve.stdout.take().expect("stdout"));
    let mut banner = String::new();
    while !banner.contains("Ctrl-C") {
        let mut line = String::new();
        if out.read_line(&mut line).expect("read") == 0 {
            let _ = serve.kill();
            panic!("serve ended early: {banner}");
        }
        banner.push_str(&line);
    }
    let url = format!("https://localhost:{}", m.cda_port);
    assert!(banner.contains(&format!("{url}/jwks")), "{banner}");
    assert!(banner.contains(&format!("{url}/rreguri")), "{banner}");
    assert!(banner.contains("cda-ca.pem"), "{banner}");
    assert!(banner.contains("runs its scenarios here"), "{banner}");

    let read = |name: &str| std::fs::read(m.dir.path().join(name)).expect("read");
    let cda_ca = String::from_utf8(read("cda-ca.pem")).expect("utf-8");
    let client_of = |cert: &str, key: &str| {
        let mut identity = read(cert);
        identity.extend(read(key));
        pdp_harness::net::tls::client_from_pem(
            Some(&identity),
            std::slice::from_ref(&cda_ca),
            std::time::Duration::from_secs(10),
        )
        .expect("client")
    };
    let solution = client_of("provider-client.pem", "provider-client.key");
    let stranger = {
        let other = TestPki::generate("stranger").expect("CA");
        let id = other.client_identity("stranger", "stranger").expect("cert");
        pdp_harness::net::tls::client_from_pem(
            Some(&id.identity_pem()),
            std::slice::from_ref(&cda_ca),
            std::time::Duration::from_secs(10),
        )
        .expect("client")
    };
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (jwks, refused) = rt.block_on(async {
        let jwks: serde_json::Value = solution
            .get(format!("{url}/jwks"))
            .send()
            .await
            .expect("the solution's certificate is accepted")
            .json()
            .await
            .expect("JWKS JSON");
        let refused = stranger.get(format!("{url}/jwks")).send().await.is_err();
        (jwks, refused)
    });
    assert_eq!(jwks["keys"][0]["kid"], "pdp-harness-cda-1", "{jwks}");
    // The provider's registered view token keys are published from the start, before any run.
    let view_keys: serde_json::Value = rt.block_on(async {
        solution
            .get(format!("{url}/jwk_uri"))
            .send()
            .await
            .expect("/jwk_uri answers")
            .json()
            .await
            .expect("JWKS JSON")
    });
    assert_eq!(
        view_keys["keys"][0]["kid"], "reference-provider-view-1",
        "{view_keys}"
    );
    assert!(refused, "a client certificate from another CA is refused");
    let mut line = String::new();
    out.read_line(&mut line).expect("a logged call");
    assert!(line.contains("GET /jwks -> 200"), "{line}");
    let mut line = String::new();
    out.read_line(&mut line).expect("a logged call");
    assert!(line.contains("GET /jwk_uri -> 200"), "{line}");
    // Keep draining its output so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in out.lines() {});
    serve
}

fn harness_owned(m: &Material, args: &[String]) -> Output {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    harness(m, &args)
}

fn harness(m: &Material, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .current_dir(common::root())
        .args(args)
        .env("PDP_TEST_CDA_SERVER_KEY", m.cda_server_key())
        .output()
        .expect("runs")
}

/// `pdp-harness run --pack PACK [--tags EXPR] --target TARGET --out RUNS`.
fn run_pack(m: &Material, pack: &str, tags: Option<&str>, target: &Path, runs: &Path) -> Output {
    let mut args = vec!["run", "--pack", pack];
    if let Some(expr) = tags {
        args.extend(["--tags", expr]);
    }
    args.extend([
        "--target",
        target.to_str().expect("utf-8"),
        "--out",
        runs.to_str().expect("utf-8"),
    ]);
    harness(m, &args)
}

/// The failure messages of the run's JUnit file, to explain a failed assertion.
fn failures(runs: &Path) -> String {
    std::fs::read_dir(runs)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("junit.xml")).ok())
        .flat_map(|x| {
            x.lines()
                .filter(|l| l.contains("<failure"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_full_pack_passes_against_a_separate_provider_process_and_the_doctor_stops_bad_configurations()
 {
    let m = Material::new();
    let provider_config = m.provider_config();
    // Stage 2 in the same run: the organisation's [updates] command applies the match updates.
    let (target, good) = m.good_target_with_client(&m.updates_section());
    let provider = start_provider(&provider_config);

    // The organisation configures its solution against `serve`; with serve still running, the
    // run attaches to it and its scenarios meet that C&A.
    let mut serve = check_serve(&m, &target);
    let runs = m.dir.path().join("runs");
    let run_args = |pack: &'static str| {
        [
            "run",
            "--pack",
            pack,
            "--target",
            target.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ]
        .map(str::to_owned)
    };
    // Reporting needs the organisation's exports on a real target ([reporting.sources]): a
    // target file without [reporting] leaves it out of --pack all, and says so.
    let out = harness_owned(&m, &run_args("all"));
    let _ = serve.kill();
    let _ = serve.wait();
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    assert!(
        t.contains("attached to the running pdp-harness serve"),
        "{t}"
    );
    assert!(t.contains("(run inside pdp-harness serve, pid"), "{t}");
    assert!(t.contains("against organisation's endpoints"), "{t}");
    assert!(t.contains("30 passed, 0 failed of 30"), "{t}");
    assert!(
        t.contains("the reporting stage is left out") && t.contains("no [reporting] section"),
        "{t}"
    );
    // The updates were applied by the organisation's command, its output kept in the evidence.
    assert!(t.contains("Applying the match updates:"), "{t}");
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::only_run_dir(&runs).join("run.json")).expect("run.json"),
    )
    .expect("JSON");
    let notes = record["notes"].to_string();
    assert!(
        notes.contains("[updates] command") && notes.contains("5 of 5 updates applied"),
        "{notes}"
    );
    let run_dirs = std::fs::read_dir(&runs).expect("runs").count();
    assert_eq!(run_dirs, 1, "the evidence is where the caller asked");

    // With serve gone (its announcement left behind), run starts the same C&A itself.
    let out = harness_owned(&m, &run_args("connection-proving"));
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    assert!(!t.contains("attached to"), "{t}");
    assert!(t.contains("3 passed, 0 failed of 3"), "{t}");

    // Reporting derived from the reference provider cannot be had from a real target: refused
    // before any scenario, naming the setting and the fix.
    let text = std::fs::read_to_string(&target).expect("target");
    let derived = m.write(
        "derived.toml",
        &format!(
            "{text}\n[reporting]\n[reporting.sources]\nservice-availability-find = \"null\"\n"
        ),
    );
    let before = std::fs::read_dir(&runs).expect("runs").count();
    let out = run_pack(&m, "reporting", None, &derived, &runs);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("[reporting.sources] service-availability-view,")
            && t.contains("\"derived\" (the default)")
            && t.contains("\"file:PATH\""),
        "{t}"
    );
    assert_eq!(
        std::fs::read_dir(&runs).expect("runs").count(),
        before,
        "no run started"
    );

    // Null sources everywhere: the reporting pack runs, and reconciliation is not applicable
    // (shown as such, not failed).
    let sources: String = [
        "service-availability-find",
        "service-availability-view",
        "view-response-request-number",
        "view-response-response-time",
        "view-response-unavailable",
        "view-response-calculations",
    ]
    .iter()
    .map(|e| format!("{e} = \"null\"\n"))
    .collect();
    let null = m.write(
        "null.toml",
        &format!("{text}\n[reporting]\n[reporting.sources]\n{sources}"),
    );
    let null_runs = m.dir.path().join("null-runs");
    let out = run_pack(&m, "reporting", None, &null, &null_runs);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&null_runs));
    assert!(
        t.contains("reconciliation (RP-09) is not applicable"),
        "{t}"
    );
    assert!(!t.contains("RP-09 What"), "{t}");
    let record = std::fs::read_to_string(common::only_run_dir(&null_runs).join("run.json"))
        .expect("run.json");
    assert!(
        record.contains("is not applicable"),
        "the note is in the evidence"
    );

    // The doctor checks the reporting sources (not blocking: only the reporting stage needs
    // them) and says that its clear-down check clears the data.
    let doctor = |file: &Path| harness(&m, &["doctor", "--target", file.to_str().expect("utf-8")]);
    let out = doctor(&derived);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("✖ reporting data sources") && t.contains("\"derived\" (the default)"),
        "{t}"
    );
    assert!(t.contains("the provider's test data was cleared"), "{t}");
    let t = common::output_text(&doctor(&null));
    assert!(t.contains("✔ reporting data sources"), "{t}");
    let t = common::output_text(&doctor(&target));
    assert!(
        t.contains("✔ reporting data sources: no [reporting] section"),
        "{t}"
    );

    // `clear --target` uses the target file's [clear_down] url with the harness's certificate.
    let out = harness(&m, &["clear", "--target", target.to_str().expect("utf-8")]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("cleared down: https://localhost:")
            && t.contains("/test-support/clear-down answered 20"),
        "{t}"
    );

    // A CA bundle that did not issue the provider's certificate.
    let wrong_ca = m.target(
        "wrong-ca.toml",
        "harness-client",
        "cda-ca.pem",
        m.provider_port,
    );
    let out = harness(
        &m,
        &["doctor", "--target", wrong_ca.to_str().expect("utf-8")],
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("not issued by the CA bundle"), "{t}");
    assert!(t.contains("class: configuration"), "{t}");
    let out = harness(
        &m,
        &[
            "run",
            "--target",
            wrong_ca.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "run stops at the doctor: {}",
        common::output_text(&out)
    );
    assert!(
        common::output_text(&out).contains("nothing was run"),
        "{}",
        common::output_text(&out)
    );

    // An expired client certificate.
    let now = time::OffsetDateTime::now_utc();
    let expired = m
        .cda_pki
        .client_identity_valid(
            "CDA client",
            "pdp-harness",
            now - time::Duration::days(30),
            now - time::Duration::days(1),
        )
        .expect("cert");
    m.harness_client("expired-client", &expired);
    let expired_target = m.target(
        "expired.toml",
        "expired-client",
        "org-ca.pem",
        m.provider_port,
    );
    let out = harness(
        &m,
        &[
            "doctor",
            "--target",
            expired_target.to_str().expect("utf-8"),
        ],
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("✖ client certificate") && t.contains("expired on"),
        "{t}"
    );
    assert!(t.contains("class: configuration"), "{t}");

    // A key that belongs to another certificate.
    m.write("mismatch.pem", &good.cert_pem);
    m.write("mismatch.key", expired.private_key_pem());
    let mismatch = m.target("mismatch.toml", "mismatch", "org-ca.pem", m.provider_port);
    let out = harness(
        &m,
        &["doctor", "--target", mismatch.to_str().expect("utf-8")],
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("CDA client key: does not belong to the CDA client certificate"),
        "{t}"
    );

    // An endpoint nothing listens on.
    let closed = common::free_port();
    let unreachable = m.target("unreachable.toml", "harness-client", "org-ca.pem", closed);
    let out = harness(
        &m,
        &["doctor", "--target", unreachable.to_str().expect("utf-8")],
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("✖ provider find TLS (https://localhost:{closed})")),
        "{t}"
    );
    assert!(t.contains("class: environment"), "{t}");

    drop(provider);
}

#[test]
fn init_writes_a_commented_target_file_that_loads_and_material_serve_starts_with() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out_dir = dir.path().join("acme");
    let port = common::free_port();
    let init = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
            .arg("init")
            .arg(&out_dir)
            .args(["--cda-port", &port.to_string()])
            .args(extra)
            .output()
            .expect("runs")
    };
    let out = init(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
    let target = out_dir.join("target.toml");
    let example = std::fs::read_to_string(&target).expect("target.toml");
    assert!(example.contains("CHANGE"), "{example}");
    assert!(example.contains(&format!("public_url = \"https://localhost:{port}\"")));
    // localhost is served on loopback only; the view URL comment says what is requested and
    // points at a README section that exists; reporting is there to uncomment.
    assert!(
        example.contains(&format!("listen = \"127.0.0.1:{port}\"")),
        "{example}"
    );
    assert!(
        example.contains("{view_url}/view-data/{assetGuid}?scope=owner"),
        "{example}"
    );
    let readme = std::fs::read_to_string(common::root().join("README.md")).expect("README");
    assert!(readme.contains("\n## Target file and the wire contracts\n"));
    assert!(example.contains("(README: \"Target file and the wire contracts\")"));
    assert!(
        example.contains("# [reporting]") && example.contains("# [reporting.sources]"),
        "{example}"
    );
    let uncommented = example
        .lines()
        .map(|l| {
            if l.starts_with("# [reporting")
                || l.starts_with("# service-availability")
                || l.starts_with("# view-response")
                || l.starts_with("# submission_status")
                || l.starts_with("# expected_minutes")
            {
                l.trim_start_matches("# ").to_owned()
            } else {
                l.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    let with_reporting = dir.path().join("with-reporting.toml");
    std::fs::write(&with_reporting, uncommented).expect("write");
    let config = pdp_harness::harness::config::TargetConfig::load(&with_reporting)
        .expect("the reporting example loads once uncommented");
    assert!(config.reporting_section);
    assert_eq!(config.reporting.sources.len(), 6);
    // The example loads as it is written, every section included.
    let config =
        pdp_harness::harness::config::TargetConfig::load(&target).expect("the example loads");
    assert!(config.provider.is_some() && config.cda.is_some());
    assert!(!config.redaction.reveal_personal_data);
    #[cfg(unix)]
    for key in ["cda-server.key", "harness-client.key", "cda-signing.key"] {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(out_dir.join(key))
            .expect("key")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{key} is readable by its owner only");
    }
    // Nothing is overwritten without --force.
    let again = init(&[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        common::output_text(&again).contains("exists; use --force"),
        "{}",
        common::output_text(&again)
    );

    // With the organisation's CA in place, serve starts on the generated material.
    std::fs::copy(out_dir.join("cda-ca.pem"), out_dir.join("org-ca.pem")).expect("copy");
    let mut serve = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .args(["serve", "--target"])
        .arg(&target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("serve starts");
    let mut out = BufReader::new(serve.stdout.take().expect("stdout"));
    let mut first = String::new();
    out.read_line(&mut first).expect("a first line");
    let _ = serve.kill();
    let _ = serve.wait();
    assert!(first.contains("the simulated CDA"), "{first}");
}

/// A client that dies mid-run does not wedge `serve`: its run is cancelled and sealed as
/// INTERRUPTED (client gone), and the next run is accepted within 30 s. SIGTERM then stops
/// serve and removes its announcement file.
#[test]
fn serve_cancels_the_run_of_a_killed_client_and_takes_the_next_run() {
    let m = Material::new();
    let provider_config = m.provider_config();
    // The registration step of CP-01 then waits 10 s: the client is certainly killed mid-run.
    let target = m.good_target("\n[limits]\nregistration_settle_ms = 10000\n");
    let _provider = start_provider(&provider_config);
    let mut serve = check_serve(&m, &target);
    let runs = m.dir.path().join("runs");
    let args = |tags: &str| -> Vec<String> {
        [
            "run",
            "--pack",
            "connection-proving",
            "--tags",
            tags,
            "--target",
            target.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let mut client = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .current_dir(common::root())
        .args(args("@case:CP-01"))
        .env("PDP_TEST_CDA_SERVER_KEY", m.cda_server_key())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("client starts");
    let first_log = common::run_log_once_acknowledged(&runs, std::time::Duration::from_secs(120));
    client.kill().expect("killed");
    let _ = client.wait();

    // The next run is accepted (no "409 a run is in progress") within 30 s.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let out = loop {
        let out = harness_owned(&m, &args("@case:CP-02"));
        let t = common::output_text(&out);
        if !t.contains("409") || std::time::Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    };
    let t = common::output_text(&out);
    assert!(
        t.contains("attached to the running pdp-harness serve"),
        "{t}"
    );
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));

    // The abandoned run was sealed as interrupted, client gone.
    let first = first_log.parent().expect("run dir");
    let record: serde_json::Value =
        serde_json::from_slice(&std::fs::read(first.join("run.json")).expect("run.json"))
            .expect("json");
    assert_eq!(record["verdict"], "interrupted", "{record}");
    assert!(
        record["interrupted"]
            .as_str()
            .is_some_and(|r| r.contains("client gone")),
        "{}",
        record["interrupted"]
    );

    // SIGTERM stops serve like Ctrl-C: the announcement file goes.
    let handoff = pdp_harness::app::serve::handoff_path(&target);
    assert!(handoff.is_file());
    let status = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let _ = serve.wait();
    assert!(!handoff.exists(), "serve removed {}", handoff.display());
}

/// `--cda-host` decides where the C&A listens: an address as given, a name on every interface.
#[test]
fn init_listens_where_the_cda_host_says() {
    for (host, listen) in [
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "127.0.0.1"),
        ("cda.example.org", "0.0.0.0"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        let out = Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
            .arg("init")
            .arg(dir.path())
            .args(["--cda-host", host, "--cda-port", "9443"])
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(0), "{}", common::output_text(&out));
        let target = dir.path().join("target.toml");
        let config = pdp_harness::harness::config::TargetConfig::load(&target).expect("loads");
        let cda = config.cda.expect("[cda]");
        assert_eq!(cda.listen.to_string(), format!("{listen}:9443"), "{host}");
        assert_eq!(cda.public_url, format!("https://{host}:9443"));
    }
}

/// The standalone reference provider stops cleanly on SIGTERM (as a service manager stops it),
/// not only on Ctrl-C.
#[cfg(unix)]
#[test]
fn the_standalone_reference_provider_stops_on_sigterm() {
    let m = Material::new();
    let config = m.provider_config();
    let mut provider = start_provider(&config);
    let pid = provider.0.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let exit = provider.0.wait().expect("the provider exits");
    assert_eq!(
        exit.code(),
        Some(0),
        "stopped by SIGTERM, cleanly: {exit:?}"
    );
}

/// `load` against a separate provider process on loopback (so no confirmation is needed):
/// every find is acknowledged, and each matching persona's pensions are registered once, tied
/// to the find that asked.
#[test]
fn load_runs_against_a_separate_provider_process() {
    let m = Material::new();
    let provider_config = m.provider_config();
    let target = m.good_target("");
    let provider = start_provider(&provider_config);
    let runs = m.dir.path().join("runs");
    let out = harness(
        &m,
        &[
            "load",
            "--rate",
            "20",
            "--duration",
            "1",
            "--registration-timeout",
            "10",
            "--target",
            target.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ],
    );
    drop(provider);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    let run: serde_json::Value = serde_json::from_slice(
        &std::fs::read(common::only_run_dir(&runs).join("run.json")).expect("run.json"),
    )
    .expect("JSON");
    let load = &run["load"];
    assert_eq!(load["acknowledged"], 20, "{load}");
    assert_eq!(load["matching_finds"], 10, "{load}");
    let expected = load["registrations_expected"].as_u64().expect("a count");
    assert!(expected >= 10, "{load}");
    assert_eq!(
        load["registrations_observed"].as_u64(),
        Some(expected),
        "{load}"
    );
    assert_eq!(load["registrations_unexpected"], 0, "{load}");
    assert_eq!(run["verdict"], "passed", "{run}");
}

/// Stage 2 on PDP's timetable against a separate provider process: stage 1 alone through
/// `serve`; `serve` killed and started again on its state file; stage 2 `--after` it is red while the updates are not applied (naming each), green
/// once the organisation applied them with a separate command; `--pack all` without an
/// `[updates] command` ends "stage 2 pending" (exit 0); a C&A cleared since, or an unknown run,
/// stops `--after` with exit 2; a failing `[updates] command` fails the stage with its output.
#[test]
fn stage_2_runs_later_once_the_organisation_has_applied_the_updates() {
    let m = Material::new();
    let provider_config = m.provider_config();
    // Updates that never arrive are waited for this long (30 s in use).
    let target = m.good_target("\n[limits]\nupdate_ms = 2000\n");
    let text = std::fs::read_to_string(&target).expect("target");
    let _provider = start_provider(&provider_config);
    let mut serve = check_serve(&m, &target);
    let runs = m.dir.path().join("runs");
    let run = |extra: &[&str]| {
        let mut args = vec![
            "run",
            "--target",
            target.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ];
        args.extend_from_slice(extra);
        harness(&m, &args)
    };
    let record_of = |id: &str| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(runs.join(id).join("run.json")).expect("run.json"))
            .expect("JSON")
    };
    let new_run = |before: &[PathBuf]| -> String {
        std::fs::read_dir(&runs)
            .expect("runs")
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| !before.contains(p))
            .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .expect("a new run directory")
    };
    let listing = || -> Vec<PathBuf> {
        std::fs::read_dir(&runs)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect()
    };

    // Stage 1 on its own: the file is issued and what to do next is said.
    let out = run(&["--pack", "stage1"]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    let stage1 = new_run(&[]);
    let file = runs.join(&stage1).join("match-updates.json");
    assert!(
        t.contains(&format!(
            "Stage 1 done: the match-update file is {} (5 updates)",
            file.display()
        )),
        "{t}"
    );
    assert!(
        t.contains(&format!(
            "Next: apply these updates in your system, then run `pdp-harness run --pack stage2 --after {stage1}`"
        )),
        "{t}"
    );

    // serve stops (killed, as a crash would end it) and starts again on the same target file:
    // the C&A's state file keeps the registrations stage 1 left, so stage 2 can run later.
    let _ = serve.kill();
    let _ = serve.wait();
    serve = check_serve(&m, &target);

    // Stage 2 before the updates were applied: red, each update named with what was observed.
    let before = listing();
    let out = run(&["--pack", "stage2", "--after", &stage1]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let red = new_run(&before);
    let record = record_of(&red);
    assert_eq!(record["after"], stage1.as_str(), "both ids in run.json");
    let failed_cases: Vec<String> = record["scenarios"]
        .as_array()
        .expect("scenarios")
        .iter()
        .filter(|s| s["status"] == "failed")
        .map(|s| s["case_id"].as_str().unwrap_or("run-level").to_owned())
        .collect();
    assert!(
        (1..=5).all(|i| failed_cases.contains(&format!("S2-0{i}"))),
        "every stage 2 scenario fails: {failed_cases:?} {}",
        record["scenarios"]
    );
    // The registration audit also finds the PeIs the updates should have deleted still live.
    assert!(
        record["scenarios"]
            .to_string()
            .contains("which the test pack does not expect at this point"),
        "{}",
        record["scenarios"]
    );
    let messages = failures(&runs);
    assert!(
        messages.contains("update U-01 (case S1-")
            && messages.contains(
                "PATCHed to match-yes within 2000 ms; observed still registered as match-possible"
            ),
        "{messages}"
    );
    assert!(
        messages.contains(
            "deleted with deletion_reason match-no within 2000 ms; observed still registered"
        ),
        "{messages}"
    );

    // The organisation applies them with a separate command; stage 2 then passes.
    let out = harness(
        &m,
        &[
            "apply-updates",
            file.to_str().expect("utf-8"),
            "--provider",
            &format!("https://localhost:{}", m.provider_port),
            "--cert",
            m.dir
                .path()
                .join("harness-client.pem")
                .to_str()
                .expect("utf-8"),
            "--key",
            m.dir
                .path()
                .join("harness-client.key")
                .to_str()
                .expect("utf-8"),
            "--ca",
            m.dir.path().join("org-ca.pem").to_str().expect("utf-8"),
        ],
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(t.contains("5 of 5 updates applied"), "{t}");
    let before = listing();
    let out = run(&["--pack", "stage2", "--after", &stage1]);
    let t = common::output_text(&out);
    let green = new_run(&before);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{t}\n{:?}",
        record_of(&green)["scenarios"]
    );
    assert!(t.contains("5 passed, 0 failed of 5"), "{t}");
    assert!(
        t.contains(&format!("Stage 2 of stage-1 run {stage1}")),
        "{t}"
    );
    let record = record_of(&green);
    assert_eq!(record["after"], stage1.as_str());
    assert_eq!(record["verdict"], "passed");

    // --pack all without an [updates] command: stage 1 passes, stage 2 waits; exit 0.
    let before = listing();
    let out = run(&["--pack", "all"]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}");
    assert!(
        t.contains("STAGE 1 PASSED, STAGE 2 PENDING") && t.contains("Stage 2 PENDING"),
        "{t}"
    );
    let pending = new_run(&before);
    let record = record_of(&pending);
    assert_eq!(record["verdict"], "pending");
    assert!(
        !record["scenarios"].to_string().contains("S2-0"),
        "stage 2 did not run"
    );
    let pdf = common::pdf_text(&runs.join(&pending).join("evidence.pdf"));
    assert!(pdf.contains("STAGE 2 NOT RUN - pending"), "{pdf}");

    // That run cleared the C&A down: the first stage 1's registrations are gone.
    let before = listing();
    let out = run(&["--pack", "stage2", "--after", &stage1]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("the C&A no longer holds the registrations stage 1"),
        "{t}"
    );
    let out = run(&["--pack", "stage2", "--after", "20990101T000000Z-nope"]);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(t.contains("no run 20990101T000000Z-nope"), "{t}");
    assert_eq!(listing().len(), before.len(), "nothing was run");
    let _ = serve.kill();
    let _ = serve.wait();

    // An [updates] command that fails: the stage fails, with the command's output in evidence.
    let failing = m.write(
        "failing-updates.toml",
        &format!(
            "{text}\n[updates]\ncommand = [\"sh\", \"-c\", \"echo applying $1; echo cannot reach the administration system >&2; exit 3\", \"apply\"]\n"
        ),
    );
    let before = listing();
    let out = run_pack(&m, "all", None, &failing, &runs);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    let failed = new_run(&before);
    let record = record_of(&failed);
    assert_eq!(record["verdict"], "failed");
    let check = record["scenarios"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|s| s["name"] == pdp_harness::runner::UPDATES_CHECK)
        })
        .expect("the failed [updates] check")
        .to_string();
    assert!(check.contains("exit status 3"), "{check}");
    assert!(
        check.contains("cannot reach the administration system"),
        "{check}"
    );
    assert!(check.contains("match-updates.json"), "{check}");
}

/// Kills the process whose pid a file holds when the test ends: the provider a restart
/// command started is not this test's child.
struct KillPidFile(PathBuf);

impl Drop for KillPidFile {
    fn drop(&mut self) {
        if let Ok(pid) = std::fs::read_to_string(&self.0) {
            let _ = Command::new("kill").arg(pid.trim()).status();
        }
    }
}

/// E-RST-01 against a separate provider process: the target file's `[provider] restart`
/// command kills it and starts it again between the 202 and the registration, and the
/// provider's journal (beside its configuration) keeps the acknowledged find. Without the
/// command the case is not applicable, said so, and the rest of the pack runs.
#[cfg(unix)]
#[test]
fn the_restart_case_restarts_a_separate_provider_through_the_target_files_command() {
    let m = Material::new();
    let provider_config = m.provider_config();
    let target = m.good_target("");
    let pid_file = m.dir.path().join("provider.pid");
    let _provider = KillPidFile(pid_file.clone());
    let log = m.dir.path().join("provider.log");
    // Starts the provider detached (its pid in a file), first stopping the one running: the
    // organisation's own restart, as the target file's command.
    let script = m.write(
        "restart.sh",
        &format!(
            r#"set -e
if [ -s "{pid}" ]; then
  old=$(cat "{pid}")
  kill "$old"
  while kill -0 "$old" 2>/dev/null; do sleep 0.05; done
fi
: > "{log}"
PDP_HARNESS_LOG=info "{bin}" reference-provider --config "{config}" > "{log}" 2>&1 < /dev/null &
echo $! > "{pid}"
for i in $(seq 1 200); do grep -q "listening on" "{log}" && exit 0; sleep 0.05; done
echo "the provider did not start again" >&2; exit 1
"#,
            pid = pid_file.display(),
            log = log.display(),
            bin = env!("CARGO_BIN_EXE_pdp-harness"),
            config = provider_config.display(),
        ),
    );
    let started = Command::new("bash").arg(&script).status().expect("bash");
    assert!(started.success(), "the provider starts");
    let first = std::fs::read_to_string(&pid_file).expect("pid");
    let text = std::fs::read_to_string(&target).expect("target");
    let with_restart = m.write(
        "restart-target.toml",
        &text.replace(
            "[provider]\n",
            &format!(
                "[provider]\nrestart = [\"bash\", \"{}\"]\n",
                script.display()
            ),
        ),
    );
    let runs = m.dir.path().join("runs");
    let out = run_pack(
        &m,
        "resilience",
        Some("@case:E-RST-01"),
        &with_restart,
        &runs,
    );
    let t = common::output_text(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{t}\n{}\nthe provider's log after its restart:\n{}\njournal:\n{}",
        failures(&runs),
        std::fs::read_to_string(&log).unwrap_or_default(),
        std::fs::read_to_string(m.dir.path().join("provider-journal.jsonl")).unwrap_or_default()
    );
    assert!(t.contains("passed  E-RST-01"), "{t}");
    assert!(t.contains("1 passed, 0 failed of 1"), "{t}");
    // The provider really was replaced, and it kept the find in its journal.
    let now = std::fs::read_to_string(&pid_file).expect("pid");
    assert_ne!(now.trim(), first.trim(), "a new process serves");
    assert!(
        m.dir.path().join("provider-journal.jsonl").exists(),
        "the journal is beside the provider's configuration"
    );

    // Without the command: not applicable, said so; the other resilience cases still run.
    let out = run_pack(&m, "resilience", None, &target, &runs);
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    assert!(
        t.contains("the restart case (E-RST-01) is not applicable")
            && t.contains("[provider] restart"),
        "{t}"
    );
    assert!(!t.contains("E-RST-01 A find"), "not run: {t}");
    assert!(t.contains("3 passed, 0 failed of 3"), "{t}");
}

/// The errors pack's match-update cases against a separate provider process: with the target
/// file's `[updates] command` the organisation applies one update while a C&A fault is armed (a
/// 401 refreshed and retried; a 404 not retried and nothing changed, though the command exits
/// non-zero for it); without the command they are not applicable, said so, and the rest runs.
#[test]
fn the_match_update_error_cases_run_through_the_target_files_updates_command() {
    let m = Material::new();
    let provider_config = m.provider_config();
    let good = m
        .cda_pki
        .client_identity("CDA client", "pdp-harness")
        .expect("cert");
    m.harness_client("harness-client", &good);
    let target = m.target(
        "target.toml",
        "harness-client",
        "org-ca.pem",
        m.provider_port,
    );
    let _provider = start_provider(&provider_config);
    let text = std::fs::read_to_string(&target).expect("target");
    let with_updates = m.write(
        "updates-target.toml",
        &format!("{text}{}", m.updates_section()),
    );
    let runs = m.dir.path().join("runs");
    let out = run_pack(
        &m,
        "errors",
        Some("@case:E-UPD-01 or @case:E-UPD-09"),
        &with_updates,
        &runs,
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    assert!(t.contains("passed  E-UPD-01"), "{t}");
    assert!(t.contains("passed  E-UPD-09"), "{t}");
    assert!(t.contains("2 passed, 0 failed of 2"), "{t}");

    // Without the command: not applicable, said so; the other selected case still runs.
    let out = run_pack(
        &m,
        "errors",
        Some("@case:E-UPD-01 or @case:E-VIEW-04"),
        &target,
        &runs,
    );
    let t = common::output_text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    assert!(
        t.contains("the match-update error cases (E-UPD-01..14) are not applicable")
            && t.contains("[updates] command"),
        "{t}"
    );
    assert!(!t.contains("E-UPD-01 A match"), "not run: {t}");
    assert!(t.contains("1 passed, 0 failed of 1"), "{t}");
}
