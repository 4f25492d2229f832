//! The doctor's checks catch what would otherwise fail a run half-way: a client certificate
//! the server does not trust, a server certificate we do not trust, an endpoint that does not
//! answer; and pass on the embedded default.

use crate::common;

use pdp_harness::harness::doctor::{self, handshake};
use pdp_harness::net::pki::TestPki;
use pdp_harness::record::classify::FailureClass;

/// The probes' limit here: the find acknowledgement limit plus the margin, as `examine` uses.
const LIMIT: (std::time::Duration, &str) = (
    std::time::Duration::from_millis(4_000),
    "[limits] acknowledgement_ms + timeout_margin_ms",
);

#[tokio::test]
async fn every_check_passes_on_the_embedded_default() {
    let env = common::environment(Default::default()).await;
    let checks = doctor::examine(&env).await;
    assert!(doctor::blocking(&checks).is_empty(), "{checks:#?}");
    let tls = checks
        .iter()
        .find(|c| c.name.starts_with("provider find TLS"))
        .expect("checked");
    assert!(tls.detail.contains("TLSv1_3"), "{}", tls.detail);
    assert!(checks.iter().any(|c| c.name == "clear-down" && c.ok));
}

#[tokio::test]
async fn wrong_ca_and_unreachable_endpoints_are_named_with_a_fix() {
    let env = common::environment(Default::default()).await;
    let rogue = TestPki::generate("rogue").expect("rogue CA");
    let url = common::provider(&env).base_url();

    // Our client certificate from a CA the server does not trust.
    let stranger = rogue.client_identity("rogue", "stranger").expect("cert");
    let c = handshake(
        "provider",
        &url,
        &stranger,
        &[common::pki(&env).ca_der()],
        LIMIT,
    )
    .await;
    assert!(!c.ok && c.blocking, "{c:?}");
    assert!(
        c.hint
            .as_deref()
            .is_some_and(|h| h.contains("refused our client certificate")),
        "{c:?}"
    );

    // The server's certificate from a CA we were not told to trust.
    let c = handshake(
        "provider",
        &url,
        &env.harness_identity,
        &[rogue.ca_der()],
        LIMIT,
    )
    .await;
    assert!(!c.ok, "{c:?}");
    assert!(
        c.hint
            .as_deref()
            .is_some_and(|h| h.contains("not issued by the CA bundle")),
        "{c:?}"
    );
    assert_eq!(c.class, Some(FailureClass::Configuration), "{c:?}");

    // Nothing listening.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = closed.local_addr().expect("addr").port();
    drop(closed);
    let c = handshake(
        "provider",
        &format!("https://localhost:{port}"),
        &env.harness_identity,
        &[common::pki(&env).ca_der()],
        LIMIT,
    )
    .await;
    assert!(!c.ok, "{c:?}");
    assert!(c.line().contains("✖"), "{}", c.line());
    // Judged by the error's type: nothing listening is the environment's.
    assert_eq!(c.class, Some(FailureClass::Environment), "{c:?}");
    assert!(
        c.hint
            .as_deref()
            .is_some_and(|h| h.contains("nothing listens there")),
        "{c:?}"
    );
}
