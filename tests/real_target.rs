//! Against an organisation's solution: the reference provider runs as a separate process
//! configured only through its file, the harness runs with a target file naming its endpoints,
//! certificates and keys (two CAs, as two organisations would have), and the full pack passes.
//! A wrong CA bundle, an expired client certificate and an unreachable endpoint each stop the
//! run at the doctor with the right message and class.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use pdp_harness::pki::{TestPki, TlsIdentity};

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

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
            cda_port: free_port(),
            provider_port: free_port(),
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

[cda]
listen = "127.0.0.1:{cda_port}"
public_url = "https://localhost:{cda_port}"
server_cert = "cda-server.pem"
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

    fn harness_client(&self, name: &str, id: &TlsIdentity) {
        self.identity(name, id);
    }

    fn cda_server_key(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("cda-server.key")).expect("key")
    }
}

fn start_provider(config: &Path) -> Child {
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
    child
}

fn harness(m: &Material, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_pdp-harness"))
        .current_dir(common::root())
        .args(args)
        .env("PDP_TEST_CDA_SERVER_KEY", m.cda_server_key())
        .output()
        .expect("runs")
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

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_full_pack_passes_against_a_separate_provider_process_and_the_doctor_stops_bad_configurations()
 {
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
    let mut provider = start_provider(&provider_config);

    let runs = m.dir.path().join("runs");
    let out = harness(
        &m,
        &[
            "run",
            "--pack",
            "all",
            "--target",
            target.to_str().expect("utf-8"),
            "--out",
            runs.to_str().expect("utf-8"),
        ],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(0), "{t}\n{}", failures(&runs));
    assert!(t.contains("against organisation's endpoints"), "{t}");
    assert!(t.contains("22 passed, 0 failed of 22"), "{t}");

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
    let t = text(&out);
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
        text(&out)
    );
    assert!(text(&out).contains("nothing was run"), "{}", text(&out));

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
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains("✖ client certificate") && t.contains("expired on"),
        "{t}"
    );
    assert!(t.contains("class: configuration"), "{t}");

    // An endpoint nothing listens on.
    let closed = free_port();
    let unreachable = m.target("unreachable.toml", "harness-client", "org-ca.pem", closed);
    let out = harness(
        &m,
        &["doctor", "--target", unreachable.to_str().expect("utf-8")],
    );
    let t = text(&out);
    assert_eq!(out.status.code(), Some(2), "{t}");
    assert!(
        t.contains(&format!("✖ provider find TLS (https://localhost:{closed})")),
        "{t}"
    );
    assert!(t.contains("class: environment"), "{t}");

    let _ = provider.kill();
    let _ = provider.wait();
}
