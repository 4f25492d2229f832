//! The reporting simulator's body cap answers every client, HTTP/2 and HTTP/1.1 alike, with a
//! `413` problem+json response: not a reset HTTP/2 stream (curl: "Stream error in the HTTP/2
//! framing layer") or a connection closed under a client still sending ("Broken pipe").

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use pdp_harness::net::pki::{TestPki, TlsIdentity};
use pdp_harness::net::recorder::Recorder;
use pdp_harness::record::redact::Redactor;
use pdp_harness::reporting::Endpoint;
use pdp_harness::reporting::client::RecordingSleeper;
use pdp_harness::reporting::clock::SystemClock;
use pdp_harness::reporting::model::MAX_BODY_BYTES;
use pdp_harness::reporting::session::{ReportingSession, Settings};
use pdp_harness::reporting::setup::{Simulated, simulated};
use serde_json::Value;

fn simulator(pki: &TestPki, client: &TlsIdentity) -> ReportingSession {
    simulated(
        Settings::default(),
        Arc::new(Recorder::new(Redactor::new(Vec::new(), false))),
        uuid::Uuid::new_v4(),
        None,
        Simulated {
            pki: Some(pki),
            client: Some(client),
            clock: Arc::new(SystemClock),
            sleeper: Arc::new(RecordingSleeper::default()),
        },
    )
    .expect("the simulator starts")
}

/// An mTLS client speaking only HTTP/2 (ALPN `h2`) or only HTTP/1.1.
fn client(pki: &TestPki, identity: &TlsIdentity, http2: bool) -> reqwest::Client {
    let builder = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(pki.ca_pem().as_bytes()).expect("ca")])
        .identity(reqwest::Identity::from_pem(&identity.identity_pem()).expect("identity"))
        .timeout(Duration::from_secs(30));
    let builder = if http2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    builder.build().expect("client")
}

async fn assert_problem_413(resp: reqwest::Response, what: &str) {
    assert_eq!(resp.status().as_u16(), 413, "{what}");
    assert_eq!(
        resp.headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/problem+json"),
        "{what}"
    );
    let body: Value = resp.json().await.expect("a problem+json body");
    assert_eq!(body["status"], 413, "{what}");
    assert_eq!(body["errors"][0]["code"], "CONTENT_TOO_LARGE", "{what}");
}

/// A body three times the cap: sent whole with its `Content-Length`, or streamed without one
/// (chunked over HTTP/1.1), so the cap is found only by reading.
fn over_cap_body(streamed: bool) -> reqwest::Body {
    if !streamed {
        return reqwest::Body::from(vec![b' '; MAX_BODY_BYTES * 3]);
    }
    let chunk = bytes::Bytes::from(vec![b' '; 64 * 1024]);
    let frames = (0..(MAX_BODY_BYTES * 3) / chunk.len())
        .map(move |_| Ok::<_, std::io::Error>(hyper::body::Frame::data(chunk.clone())));
    reqwest::Body::wrap(http_body_util::StreamBody::new(futures::stream::iter(
        frames,
    )))
}

#[tokio::test]
async fn an_over_cap_body_gets_a_problem_json_413_over_http2_and_http1() {
    let pki = TestPki::generate("body cap test").expect("pki");
    let identity = pki
        .client_identity("reporting client", "organisation-reporting")
        .expect("client identity");
    let session = simulator(&pki, &identity);
    let url = session.client.url(Endpoint::ViewResponseRequestNumber);
    for (http2, version) in [
        (true, reqwest::Version::HTTP_2),
        (false, reqwest::Version::HTTP_11),
    ] {
        for streamed in [false, true] {
            let what = format!("{version:?}, streamed {streamed}");
            let resp = client(&pki, &identity, http2)
                .post(&url)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .header("content-type", "application/json")
                .body(over_cap_body(streamed))
                .send()
                .await
                .unwrap_or_else(|e| panic!("{what}: the 413 reaches the client, not {e:?}"));
            assert_eq!(resp.version(), version);
            assert_problem_413(resp, &what).await;
        }
    }
    session.shutdown();
}

/// curl, as an organisation tries the simulator by hand: over HTTP/2 with a declared length,
/// and over HTTP/1.1 chunked (no length, so the cap is only found by reading).
#[tokio::test]
#[cfg_attr(
    curl_absent,
    ignore = "curl is not installed here (CI installs it; see .ci/run)"
)]
async fn curl_sees_the_413_over_http2_and_chunked_http1() {
    let pki = TestPki::generate("body cap test").expect("pki");
    let identity = pki
        .client_identity("reporting client", "organisation-reporting")
        .expect("client identity");
    let session = simulator(&pki, &identity);
    let url = session.client.url(Endpoint::ViewResponseRequestNumber);
    let dir = tempfile::tempdir().expect("temp dir");
    let file = |name: &str, content: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        path
    };
    let ca = file("ca.pem", pki.ca_pem().as_bytes());
    let cert = file("client.pem", &identity.identity_pem());
    let body = file("body.json", &vec![b' '; MAX_BODY_BYTES * 3]);
    let curl = |args: &[&str], ca: &Path, cert: &Path, body: &Path, target: &str| {
        let mut cmd = tokio::process::Command::new("curl");
        cmd.args(["-sS", "--max-time", "30", "--cacert"])
            .arg(ca)
            .arg("--cert")
            .arg(cert)
            .args(["-H", "content-type: application/json", "-H"])
            .arg(format!("X-Request-ID: {}", uuid::Uuid::new_v4()))
            .args(args)
            .arg("--data-binary")
            .arg(format!("@{}", body.display()))
            .args([
                "-o",
                "-",
                "-w",
                "\n%{http_code} %{http_version} %{content_type}",
            ])
            .arg(target)
            .kill_on_drop(true);
        cmd
    };
    for (args, http) in [
        (&["--http2"][..], "2"),
        (
            &["--http1.1", "-H", "Transfer-Encoding: chunked"][..],
            "1.1",
        ),
    ] {
        let out = curl(args, &ca, &cert, &body, &url)
            .output()
            .await
            .expect("curl is installed");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{args:?}: {}\n{stdout}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (problem, last) = stdout.rsplit_once('\n').expect("the -w line");
        assert_eq!(
            last,
            format!("413 {http} application/problem+json"),
            "{args:?}"
        );
        let problem: Value = serde_json::from_str(problem).expect("problem+json");
        assert_eq!(problem["errors"][0]["code"], "CONTENT_TOO_LARGE");
    }
    // Other refusals wait for the body too: a POST to an unknown path over HTTP/2 gets its 404.
    let unknown = url.replace("/view-response/request-number", "/view-response/nothing");
    let out = curl(&["--http2"], &ca, &cert, &body, &unknown)
        .output()
        .await
        .expect("curl is installed");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.ends_with("404 2 application/problem+json"),
        "{stdout}"
    );
    session.shutdown();
}
