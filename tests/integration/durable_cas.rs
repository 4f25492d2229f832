//! The C&A's state survives `serve` stopping (killed, not asked) and starting again on the same
//! target file: registrations, resource ids, PATs, the X-Request-IDs it has seen and the audit's
//! call log. A clear-down empties it durably. A damaged state file, or one another running serve
//! holds, stops serve with exit 2 and the file named, and the file is left as it was.
//!
//! The test plays the organisation's solution itself, over mTLS, with the certificates a target
//! file names; between two serves it opens the file in-process to look at what the audit sees.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common;

use pdp_harness::cda::cas::Cas;
use pdp_harness::cda::store::Store;
use pdp_harness::net::pki::{SigningKey, TestPki, jwks_of};

struct Target {
    dir: tempfile::TempDir,
    file: PathBuf,
    /// `[cda] state_file`, when the target file sets it.
    state_file: Option<String>,
    port: u16,
    cda_ca: String,
    solution_identity: Vec<u8>,
    signing_pem: String,
}

impl Target {
    /// A target file with only `[cda]`: what `serve` needs.
    fn new() -> Target {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let cda = TestPki::generate("harness operator").expect("CDA CA");
        let org = TestPki::generate("organisation").expect("organisation CA");
        let server = cda
            .server_identity("C&A server", "localhost", &[])
            .expect("cert");
        let solution = org
            .client_identity("solution", "solution")
            .expect("client cert");
        let signing_pem = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256)
            .expect("RSA key")
            .serialize_pem();
        let write = |name: &str, text: &str| {
            std::fs::write(dir.path().join(name), text).expect("write");
        };
        write("cda-ca.pem", &cda.ca_pem());
        write("org-ca.pem", &org.ca_pem());
        write("cda-server.pem", &server.cert_pem);
        write("cda-server.key", server.private_key_pem());
        write("cda-signing.key", &signing_pem);
        write(
            "target.toml",
            &format!(
                r#"[cda]
listen = "127.0.0.1:{port}"
public_url = "https://localhost:{port}"
server_cert = "cda-server.pem"
server_key = "cda-server.key"
server_ca = "cda-ca.pem"
client_ca = "org-ca.pem"
signing_key = "cda-signing.key"
"#
            ),
        );
        Target {
            file: dir.path().join("target.toml"),
            state_file: None,
            port,
            cda_ca: cda.ca_pem(),
            solution_identity: solution.identity_pem(),
            signing_pem,
            dir,
        }
    }

    /// Keep the state in `relative` (to the target file) instead of the default.
    fn set_state_file(&mut self, relative: &str) {
        let mut text = std::fs::read_to_string(&self.file).expect("target file");
        text.push_str(&format!("state_file = \"{relative}\"\n"));
        std::fs::write(&self.file, text).expect("write");
        self.state_file = Some(relative.to_owned());
    }

    /// Where the state is kept: by default beside the target file.
    fn state_file(&self) -> PathBuf {
        self.dir.path().join(
            self.state_file
                .as_deref()
                .unwrap_or(".pdp-harness/cda.sqlite"),
        )
    }

    fn serve_command(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_pdp-harness"));
        c.args(["serve", "--target"]).arg(&self.file);
        c
    }

    /// `serve`, once it says it is running and what it carried on from (`kept`: the banner's
    /// account of the state file); its output is drained so it never blocks.
    fn serve(&self, kept: &str) -> common::KillOnDrop {
        let mut child = self
            .serve_command()
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("serve starts");
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut banner = String::new();
        while !banner.contains("Ctrl-C") {
            let mut line = String::new();
            if out.read_line(&mut line).expect("read") == 0 {
                let _ = child.kill();
                panic!("serve ended early: {banner}");
            }
            banner.push_str(&line);
        }
        assert!(
            banner.contains(&format!("{} ({kept})", self.state_file().display())),
            "serve names its state file and what it holds: {banner}"
        );
        std::thread::spawn(move || for _ in out.lines() {});
        common::KillOnDrop(child)
    }

    fn signing_key(&self) -> SigningKey {
        SigningKey::from_pem("pdp-harness-cda-1", &self.signing_pem).expect("signing key")
    }

    /// The C&A as the next serve would load it, in this process (the file's lock is held until
    /// it is dropped).
    fn open_cas(&self) -> Cas {
        let key = self.signing_key();
        let settings = pdp_harness::cda::service::cas_settings(
            &pdp_harness::protocol::contract::WireContract::default(),
        );
        let store = Store::open(&self.state_file()).expect("the state file opens");
        Cas::with_store(settings, key.clone(), jwks_of([&key]), store).expect("the state loads")
    }

    fn client(&self) -> Solution {
        Solution {
            http: pdp_harness::net::tls::client_from_pem(
                Some(&self.solution_identity),
                std::slice::from_ref(&self.cda_ca),
                Duration::from_secs(20),
            )
            .expect("client"),
            base: format!("https://localhost:{}", self.port),
        }
    }
}

/// The organisation's solution calling the C&A.
struct Solution {
    http: reqwest::Client,
    base: String,
}

impl Solution {
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        pat: Option<&str>,
        request_id: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header("X-Request-ID", request_id);
        if let Some(pat) = pat {
            req = req.bearer_auth(pat);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        let response = req.send().await.expect("the C&A answers");
        let status = response.status().as_u16();
        (status, response.text().await.expect("body"))
    }

    /// The PAT for a find request token.
    async fn pat(&self, assertion: &str) -> String {
        let path = format!(
            "/token?grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&scope=uma_protection&assertion={assertion}"
        );
        let (status, body) = self
            .call(reqwest::Method::POST, &path, None, &new_id(), None)
            .await;
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        v["access_token"].as_str().expect("a PAT").to_owned()
    }
}

/// A find request token, signed as the pension finder and addressed to the C&A on `port`: a
/// PAT assertion, for the registered holdername (the test pack's).
fn assertion(key: &SigningKey, port: u16) -> String {
    let now = chrono::Utc::now().timestamp();
    key.sign(&serde_json::json!({
        "iss": pdp_harness::protocol::contract::WireContract::default().find.issuer,
        "aud": format!("https://localhost:{port}/token"),
        "sub": "provider",
        "iat": now,
        "exp": now + 600,
        "jti": uuid::Uuid::new_v4().to_string(),
    }))
    .expect("sign")
}

fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

fn stderr_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_restarted_on_the_same_file_finds_registrations_pats_and_the_audit_log_and_clear_down_is_durable()
 {
    let t = Target::new();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let key = t.signing_key();
    let holder = crate::common::pack().holdername_guid().to_owned();
    let name = format!("urn:pei:{holder}:{}", new_id());
    let post_id = new_id();
    let registration = serde_json::json!({
        "name": name, "description": "a pension", "match_status": "match-possible",
        "resource_scopes": ["owner", "value"],
    });

    // First serve: a PAT and a registration.
    let first = t.serve("0 registration(s), 0 clear-down(s) so far");
    let solution = t.client();
    let find_token = assertion(&key, t.port);
    let (pat, resource_id) = rt.block_on(async {
        let pat = solution.pat(&find_token).await;
        let (status, body) = solution
            .call(
                reqwest::Method::POST,
                "/rreguri",
                Some(&pat),
                &post_id,
                Some(registration.clone()),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        (pat, v["resource_id"].as_str().expect("id").to_owned())
    });

    // A second serve on the same target while the first runs: refused, the file named.
    let out = t.serve_command().output().expect("runs");
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("in use by another process"), "{err}");
    assert!(err.contains(&t.state_file().display().to_string()), "{err}");

    // Killed, not asked to stop: what was answered is in the file, but not the PAT itself
    // (a bearer token), and only its owner can read the file.
    drop(first);
    let signature = pat.rsplit('.').next().expect("a JWS");
    for file in [
        t.state_file(),
        PathBuf::from(format!("{}-wal", t.state_file().display())),
    ] {
        let bytes = std::fs::read(&file).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&bytes).contains(signature),
            "{} holds the PAT",
            file.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(t.state_file())
            .expect("the state file")
            .permissions();
        assert_eq!(mode.mode() & 0o077, 0, "readable by its owner only");
    }
    {
        let cas = t.open_cas();
        let regs = cas.registrations();
        assert_eq!(regs.len(), 1, "{regs:?}");
        assert_eq!(regs[0].resource_id, resource_id);
        assert_eq!(regs[0].name, name);
        let calls = cas.rreguri_calls_after(0);
        assert_eq!(calls.len(), 1, "the audit sees the first serve's call");
        assert_eq!(
            (calls[0].method.as_str(), calls[0].status),
            ("POST", 201),
            "{calls:?}"
        );
        assert!(
            calls[0].assertion_jti.is_some(),
            "the call is still attributed to its PAT's assertion"
        );
        assert_eq!(cas.epoch(), 0);
    }

    // Second serve: the same PAT still works on the same resource id.
    let second = t.serve("1 registration(s), 0 clear-down(s) so far");
    let solution = t.client();
    rt.block_on(async {
        let path = format!("/rreguri/{resource_id}");
        let (status, body) = solution
            .call(reqwest::Method::GET, &path, Some(&pat), &new_id(), None)
            .await;
        assert_eq!(status, 200, "the registration and its PAT survived: {body}");
        assert!(body.contains(&name), "{body}");
        assert_eq!(
            solution.pat(&find_token).await,
            pat,
            "the same assertion still gets the same PAT"
        );
        // The PeI is still registered (200 with its id), and its X-Request-ID still used.
        let (status, body) = solution
            .call(
                reqwest::Method::POST,
                "/rreguri",
                Some(&pat),
                &new_id(),
                Some(registration.clone()),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains(&resource_id), "{body}");
        let (status, body) = solution
            .call(
                reqwest::Method::POST,
                "/perm",
                Some(&pat),
                &new_id(),
                Some(serde_json::json!({
                    "resource_id": resource_id, "resource_scopes": ["value", "owner"],
                })),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let (status, body) = solution
            .call(
                reqwest::Method::PATCH,
                &path,
                Some(&pat),
                &new_id(),
                Some(serde_json::json!({ "match_status": "match-yes" })),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let (status, body) = solution
            .call(
                reqwest::Method::DELETE,
                &format!("{path}?deletion_reason=match-withdrawn"),
                Some(&pat),
                &new_id(),
                None,
            )
            .await;
        assert_eq!(
            status, 204,
            "match-withdrawn of the PATCHed match-yes: {body}"
        );
    });
    drop(second);

    // A clear-down (what a run does before stage 1) empties the live state, keeps the log.
    {
        let cas = t.open_cas();
        let regs = cas.registrations();
        assert_eq!(regs.len(), 1);
        assert_eq!(regs[0].match_status, "match-yes");
        assert!(regs[0].deleted.is_some(), "{regs:?}");
        let methods: Vec<String> = cas
            .rreguri_calls_after(0)
            .into_iter()
            .map(|c| c.method)
            .collect();
        assert_eq!(methods, ["POST", "POST", "PATCH", "DELETE"]);
        assert_eq!(cas.last_rreguri_seq(), 4);
        cas.clear().expect("clear-down");
    }
    {
        let cas = t.open_cas();
        assert!(cas.registrations().is_empty());
        assert_eq!(cas.epoch(), 1, "the clear-down epoch is kept");
        assert_eq!(
            cas.rreguri_calls_after(0).len(),
            4,
            "the audit's log is kept"
        );
    }
    let _third = t.serve("0 registration(s), 1 clear-down(s) so far");
    let solution = t.client();
    rt.block_on(async {
        let (status, body) = solution
            .call(
                reqwest::Method::GET,
                &format!("/rreguri/{resource_id}"),
                Some(&pat),
                &new_id(),
                None,
            )
            .await;
        assert_eq!(status, 401, "the cleared PAT is no longer known: {body}");
        let pat = solution.pat(&find_token).await;
        // The first X-Request-ID is free again after the clear-down.
        let (status, body) = solution
            .call(
                reqwest::Method::POST,
                "/rreguri",
                Some(&pat),
                &post_id,
                Some(registration),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    });
}

#[test]
fn a_damaged_state_file_stops_serve_with_exit_2_naming_it_and_is_left_as_it_was() {
    let mut t = Target::new();
    // Where the target file says.
    t.set_state_file("state/acme-cda.db");
    let path = t.state_file();
    std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
    let garbage: Vec<u8> = (0..8192u32).map(|i| (i * 7 + 3) as u8).collect();
    std::fs::write(&path, &garbage).expect("write");
    let out = t.serve_command().output().expect("runs");
    let err = stderr_of(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(err.contains("Move it aside"), "says what to do: {err}");
    assert_eq!(
        std::fs::read(&path).expect("still there"),
        garbage,
        "never reset"
    );
    assert!(!Path::new(&format!("{}-wal", path.display())).exists());
}

/// Registrations arriving at once, each with its own PAT, all reach the file: after a kill, the
/// reloaded C&A holds every resource id it answered, and the audit's log is every call once, in
/// sequence, with the counter where it stopped.
#[test]
fn concurrent_registrations_all_survive_a_kill_with_the_audit_log_in_sequence() {
    let mut t = Target::new();
    // Where the target file says, in a folder serve creates.
    t.set_state_file("runs/state/cda.sqlite");
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let key = t.signing_key();
    let serve = t.serve("0 registration(s), 0 clear-down(s) so far");
    let solution = std::sync::Arc::new(t.client());
    let n = 40;
    let answered: Vec<String> = rt.block_on(async {
        let calls = (0..n).map(|_| {
            let solution = solution.clone();
            let holder = crate::common::pack().holdername_guid().to_owned();
            let find_token = assertion(&key, t.port);
            async move {
                let pat = solution.pat(&find_token).await;
                let (status, body) = solution
                    .call(
                        reqwest::Method::POST,
                        "/rreguri",
                        Some(&pat),
                        &new_id(),
                        Some(serde_json::json!({
                            "name": format!("urn:pei:{holder}:{}", new_id()),
                            "description": "a pension", "match_status": "match-yes",
                            "resource_scopes": ["owner", "value"],
                        })),
                    )
                    .await;
                assert_eq!(status, 201, "{body}");
                let v: serde_json::Value = serde_json::from_str(&body).expect("JSON");
                v["resource_id"].as_str().expect("id").to_owned()
            }
        });
        futures::future::join_all(calls).await
    });
    drop(serve);
    let cas = t.open_cas();
    let mut stored: Vec<String> = cas
        .registrations()
        .into_iter()
        .map(|r| r.resource_id)
        .collect();
    let mut answered = answered;
    stored.sort();
    answered.sort();
    assert_eq!(stored, answered);
    let seqs: Vec<u64> = cas.rreguri_calls_after(0).iter().map(|c| c.seq).collect();
    assert_eq!(seqs, (1..=n as u64).collect::<Vec<_>>());
    assert_eq!(cas.last_rreguri_seq(), n as u64);
}
