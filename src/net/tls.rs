//! Mutual TLS for every server and client: TLS 1.2 minimum, 1.3 preferred, client
//! certificates required and checked against the trusted CA, exactly as in use.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use rustls::server::WebPkiClientVerifier;

use crate::net::pki::TlsIdentity;
use crate::net::server::ServerLimits;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("the trusted CA certificate could not be used: {0}")]
    TrustAnchor(String),
    #[error("the TLS server configuration could not be built: {0}")]
    ServerConfig(String),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("the HTTPS client could not be built: {0}")]
    Client(String),
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A rustls server config that presents `identity` and requires a client certificate
/// issued by one of `client_cas`.
pub fn server_config(
    identity: &TlsIdentity,
    client_cas: &[CertificateDer<'static>],
) -> Result<rustls::ServerConfig, TlsError> {
    let mut roots = RootCertStore::empty();
    for ca in client_cas {
        roots
            .add(ca.clone())
            .map_err(|e| TlsError::TrustAnchor(e.to_string()))?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| TlsError::ServerConfig(e.to_string()))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::ServerConfig(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der.clone()], identity.private_key_der())
        .map_err(|e| TlsError::ServerConfig(e.to_string()))?;
    cfg.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(cfg)
}

pub use crate::net::server::RunningServer;

/// Serve `app` over mutual TLS on `bind` (port 0 picks a free port), within `limits`.
pub fn serve_mtls(
    app: Router,
    bind: SocketAddr,
    identity: &TlsIdentity,
    client_cas: &[CertificateDer<'static>],
    limits: &ServerLimits,
) -> Result<RunningServer, TlsError> {
    let cfg = server_config(identity, client_cas)?;
    let bind_err = |source| TlsError::Bind {
        addr: bind.to_string(),
        source,
    };
    let listener = std::net::TcpListener::bind(bind).map_err(bind_err)?;
    listener.set_nonblocking(true).map_err(bind_err)?;
    let listener = tokio::net::TcpListener::from_std(listener).map_err(bind_err)?;
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    crate::net::server::serve(listener, app, Some(acceptor), *limits).map_err(bind_err)
}

/// An HTTPS client that proves itself with `identity` (if any) and trusts only `trusted_cas`.
pub fn client(
    identity: Option<&TlsIdentity>,
    trusted_cas: &[String],
    timeout: std::time::Duration,
) -> Result<reqwest::Client, TlsError> {
    client_from_pem(
        identity.map(TlsIdentity::identity_pem).as_deref(),
        trusted_cas,
        timeout,
    )
}

/// As [`client`], from PEM text: `identity_pem` is the certificate followed by its key.
pub fn client_from_pem(
    identity_pem: Option<&[u8]>,
    trusted_cas: &[String],
    timeout: std::time::Duration,
) -> Result<reqwest::Client, TlsError> {
    let mut certs = Vec::new();
    for pem in trusted_cas {
        certs.push(
            reqwest::Certificate::from_pem(pem.as_bytes())
                .map_err(|e| TlsError::TrustAnchor(e.to_string()))?,
        );
    }
    let mut builder = reqwest::Client::builder()
        .tls_certs_only(certs)
        .tls_version_min(reqwest::tls::Version::TLS_1_2)
        .timeout(timeout)
        .connect_timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(pem) = identity_pem {
        builder = builder.identity(
            reqwest::Identity::from_pem(pem).map_err(|e| TlsError::Client(e.to_string()))?,
        );
    }
    builder.build().map_err(|e| TlsError::Client(e.to_string()))
}

/// The chain of an error as one line: TLS alerts sit deep in reqwest's source chain.
pub fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}
