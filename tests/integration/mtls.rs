//! Every simulated server speaks mutual TLS as in use: a client without a certificate, or with
//! one from another CA, is refused; TLS 1.3 is negotiated by default and TLS 1.2 still works.

use crate::common;

use std::sync::Arc;
use std::time::Duration;

use pdp_harness::net::pki::TestPki;
use pdp_harness::net::tls;
use rustls::pki_types::ServerName;

fn servers(env: &pdp_harness::harness::environment::Environment) -> Vec<(&'static str, String)> {
    vec![
        ("C&A", format!("{}/jwks", env.cas_server.base_url())),
        (
            "provider",
            format!("{}/jwks", common::provider(env).base_url()),
        ),
    ]
}

#[tokio::test]
async fn a_client_with_a_certificate_from_the_run_ca_is_served() {
    let env = common::environment(Default::default()).await;
    let id = common::pki(&env)
        .client_identity("test", "test-client")
        .expect("client cert");
    let client = tls::client(
        Some(&id),
        &[common::pki(&env).ca_pem()],
        Duration::from_secs(10),
    )
    .expect("client");
    for (name, url) in servers(&env) {
        let resp = client
            .get(&url)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(resp.status(), 200, "{name}");
    }
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_by_every_server() {
    let env = common::environment(Default::default()).await;
    let client =
        tls::client(None, &[common::pki(&env).ca_pem()], Duration::from_secs(10)).expect("client");
    for (name, url) in servers(&env) {
        let err = client.get(&url).send().await.expect_err(name);
        let chain = tls::error_chain(&err);
        assert!(chain.contains("CertificateRequired"), "{name}: {chain}");
    }
}

#[tokio::test]
async fn a_client_certificate_from_another_ca_is_refused_by_every_server() {
    let env = common::environment(Default::default()).await;
    let rogue = TestPki::generate("rogue").expect("rogue CA");
    let id = rogue
        .client_identity("rogue", "rogue-client")
        .expect("rogue cert");
    let client = tls::client(
        Some(&id),
        &[common::pki(&env).ca_pem()],
        Duration::from_secs(10),
    )
    .expect("client");
    for (name, url) in servers(&env) {
        let err = client.get(&url).send().await.expect_err(name);
        let chain = tls::error_chain(&err);
        assert!(chain.contains("UnknownCA"), "{name}: {chain}");
    }
}

#[tokio::test]
async fn a_server_certificate_from_another_ca_is_refused_by_the_harness_clients() {
    let env = common::environment(Default::default()).await;
    let rogue = TestPki::generate("rogue").expect("rogue CA");
    let id = common::pki(&env)
        .client_identity("test", "test-client")
        .expect("client cert");
    // Trusting only the rogue CA, the real servers' certificates cannot verify.
    let client =
        tls::client(Some(&id), &[rogue.ca_pem()], Duration::from_secs(10)).expect("client");
    for (name, url) in servers(&env) {
        let err = client.get(&url).send().await.expect_err(name);
        let chain = tls::error_chain(&err);
        assert!(
            chain.contains("UnknownIssuer") || chain.contains("invalid peer certificate"),
            "{name}: {chain}"
        );
    }
}

/// Handshake with rustls directly to see the negotiated protocol version.
async fn negotiated(
    env: &pdp_harness::harness::environment::Environment,
    versions: &[&'static rustls::SupportedProtocolVersion],
) -> Result<rustls::ProtocolVersion, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(common::pki(env).ca_der())
        .map_err(|e| e.to_string())?;
    let id = common::pki(env)
        .client_identity("test", "tls-version-probe")
        .map_err(|e| e.to_string())?;
    let cfg = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_client_auth_cert(vec![id.cert_der.clone()], id.private_key_der())
        .map_err(|e| e.to_string())?;
    let connector = tokio_rustls::TlsConnector::from(Arc::new(cfg));
    let tcp = tokio::net::TcpStream::connect(common::provider(env).addr)
        .await
        .map_err(|e| e.to_string())?;
    let name = ServerName::try_from("localhost").map_err(|e| e.to_string())?;
    let stream = connector
        .connect(name, tcp)
        .await
        .map_err(|e| e.to_string())?;
    stream
        .get_ref()
        .1
        .protocol_version()
        .ok_or_else(|| "no version".to_owned())
}

#[tokio::test]
async fn tls_1_3_is_preferred_and_tls_1_2_is_the_minimum_accepted() {
    let env = common::environment(Default::default()).await;
    let both = [&rustls::version::TLS13, &rustls::version::TLS12];
    assert_eq!(
        negotiated(&env, &both).await,
        Ok(rustls::ProtocolVersion::TLSv1_3)
    );
    assert_eq!(
        negotiated(&env, &[&rustls::version::TLS12]).await,
        Ok(rustls::ProtocolVersion::TLSv1_2)
    );
}
