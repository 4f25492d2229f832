//! The simulated CDA as a service an organisation's solution points at: the C&A (token, perm,
//! introspect, rreguri) and its JWKS, on the address, certificates and signing key of the
//! target file's `[cda]` section.
//!
//! `pdp-harness serve` runs it on its own so the organisation can configure and check its test
//! environment; `pdp-harness run --target` starts the very same service (same address, same
//! certificates, same key) for the length of the run, so what was configured against `serve`
//! is what the run meets.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;

use super::cas::{Cas, CasSettings, Lifetimes};
use super::store::{Store, StoreError};
use crate::net::pem::{PemFileError, certificates, read_pem};
use crate::net::pki::{PkiError, SigningKey, TestPki, TlsIdentity, jwks_of};
use crate::net::tls::{self, RunningServer, TlsError};
use crate::protocol::contract::WireContract;
use crate::protocol::tokens::{CAS_ISSUER, DASHBOARD_ISSUER};

#[derive(Debug, thiserror::Error)]
pub enum CdaServiceError {
    /// A setting the target file's `[cda]` section gives could not be read (its secrets).
    #[error("target file: {0}")]
    Config(#[from] crate::net::secret::KeyFileError),
    #[error("target file: {0}")]
    Certificates(#[from] PemFileError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The running C&A with what its clients need to know.
#[derive(Debug)]
pub struct CdaService {
    pub cas: Cas,
    pub server: RunningServer,
    /// The C&A's base URL as the solution calls it (`as_uri`).
    pub public_url: String,
    /// The CA certificate(s) that issued the C&A's server certificate: what the solution trusts.
    pub server_ca_pem: String,
    /// Where that CA came from, for messages.
    pub server_ca_path: PathBuf,
    /// Where the CA of accepted client certificates came from, for messages.
    pub client_ca_path: PathBuf,
    /// The C&A's server certificate.
    pub identity: TlsIdentity,
    /// The key signing the CDA's tokens (its public part is at `{public_url}/jwks`).
    pub signing_key: SigningKey,
    /// A client certificate, from a CA made for this process only, that the C&A accepts besides
    /// the solution's: the harness's own dashboard uses it to redeem tickets, so the harness
    /// needs no certificate from the organisation's PKI for its internal hop.
    pub internal_client: TlsIdentity,
}

/// What the C&A service is started with: the `[cda]` section with its paths resolved and its
/// secrets read (by the harness's configuration, so `cda` depends on no layer above it).
/// Certificate files are read here, at start, so their errors name the setting.
pub struct CdaServiceSettings {
    /// Where the C&A listens.
    pub listen: SocketAddr,
    /// The C&A's base URL as the solution calls it (`as_uri`).
    pub public_url: String,
    pub server_cert: PathBuf,
    /// The server certificate's private key (PEM).
    pub server_key_pem: String,
    /// CA certificate(s) that issued `server_cert`: what the solution trusts.
    pub server_ca: PathBuf,
    /// CA certificate(s) of the accepted client certificates.
    pub client_ca: PathBuf,
    pub signing_kid: String,
    /// The key signing the CDA's tokens (PEM).
    pub signing_key_pem: String,
    /// The SQLite file the C&A's state is kept in.
    pub state_path: PathBuf,
}

/// Without the two private keys: settings may be logged, keys never.
impl std::fmt::Debug for CdaServiceSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CdaServiceSettings")
            .field("listen", &self.listen)
            .field("public_url", &self.public_url)
            .field("server_cert", &self.server_cert)
            .field("server_ca", &self.server_ca)
            .field("client_ca", &self.client_ca)
            .field("signing_kid", &self.signing_kid)
            .field("state_path", &self.state_path)
            .finish_non_exhaustive()
    }
}

/// The C&A's issuers: its own, the finder's (per the wire contract) and the dashboard's.
pub fn cas_settings(contract: &WireContract) -> CasSettings {
    CasSettings {
        issuer: CAS_ISSUER.to_owned(),
        finder_issuer: contract.find.issuer.clone(),
        dashboard_issuer: DASHBOARD_ISSUER.to_owned(),
        find_audience: contract.find.audience.clone(),
        lifetimes: Lifetimes {
            pat: std::time::Duration::from_secs(contract.pat.find_pat_lifetime_secs),
            refreshed_pat: std::time::Duration::from_secs(contract.pat.refreshed_pat_lifetime_secs),
            ..Lifetimes::default()
        },
    }
}

impl CdaService {
    /// Start the C&A from `[cda]`'s settings. `wrap` adds layers to the router (recording,
    /// console logging) before it is served.
    pub fn start(
        cda: &CdaServiceSettings,
        contract: &WireContract,
        limits: &crate::net::server::ServerLimits,
        wrap: impl FnOnce(Router) -> Router,
    ) -> Result<CdaService, CdaServiceError> {
        let identity = TlsIdentity::from_pem(
            "C&A server",
            &read_pem("cda.server_cert", &cda.server_cert)?,
            &cda.server_key_pem,
        )?;
        let server_ca_path = cda.server_ca.clone();
        let server_ca_pem = read_pem("cda.server_ca", &server_ca_path)?;
        certificates("cda.server_ca", &server_ca_path)?;
        let client_ca_path = cda.client_ca.clone();
        let mut client_roots = certificates("cda.client_ca", &client_ca_path)?;
        let signing_key = SigningKey::from_pem(&cda.signing_kid, &cda.signing_key_pem)?;
        // Before listening: a state file in use by another serve, or damaged, stops here with
        // its name, and nothing answers with a C&A that forgot what it had.
        let store = Store::open(&cda.state_path)?;

        let internal = TestPki::generate("pdp-harness internal")?;
        let internal_client =
            internal.client_identity("dashboard client", "pdp-harness-dashboard")?;
        client_roots.push(internal.ca_der());

        // One key signs every CDA token; the issuers tell finder, C&A and dashboard apart.
        let cas = Cas::with_store(
            cas_settings(contract),
            signing_key.clone(),
            jwks_of([&signing_key]),
            store,
        )?;
        let public_url = cda.public_url.trim_end_matches('/').to_owned();
        let server = tls::serve_mtls(
            wrap(cas.router()),
            cda.listen,
            &identity,
            &client_roots,
            limits,
        )?;
        cas.set_base_url(public_url.clone());
        Ok(CdaService {
            cas,
            server,
            public_url,
            server_ca_pem,
            server_ca_path,
            client_ca_path,
            identity,
            signing_key,
            internal_client,
        })
    }

    /// A client for the harness's own calls to the C&A (the dashboard's ticket redemption).
    pub fn internal_http_client(
        &self,
        timeout: std::time::Duration,
    ) -> Result<reqwest::Client, TlsError> {
        tls::client(
            Some(&self.internal_client),
            std::slice::from_ref(&self.server_ca_pem),
            timeout,
        )
    }

    /// What the organisation configures in its test environment, one `(what, value)` a line.
    pub fn what_to_configure(&self) -> Vec<(String, String)> {
        let u = &self.public_url;
        vec![
            ("C&A base URL (as_uri)".into(), u.clone()),
            (
                "token endpoint; aud of PAT assertions".into(),
                format!("{u}/token"),
            ),
            ("permission endpoint".into(), format!("{u}/perm")),
            ("introspection endpoint".into(), format!("{u}/introspect")),
            (
                "registration endpoint (rreguri)".into(),
                format!("{u}/rreguri"),
            ),
            ("JWKS (verify CDA tokens)".into(), format!("{u}/jwks")),
            (
                "CA to trust for the C&A's server certificate".into(),
                self.server_ca_path.display().to_string(),
            ),
            (
                "client certificates accepted from the CA(s) in".into(),
                self.client_ca_path.display().to_string(),
            ),
            ("listening on".into(), self.server.addr.to_string()),
            (
                "state kept in (registrations, PATs, ...)".into(),
                match self.cas.store_path() {
                    // What was there when it started: a restarted serve shows it carried on.
                    Some(p) => format!(
                        "{} ({} registration(s), {} clear-down(s) so far)",
                        p.display(),
                        self.cas.registrations().len(),
                        self.cas.epoch()
                    ),
                    None => "memory".to_owned(),
                },
            ),
        ]
    }

    pub fn shutdown(&self) {
        self.server.shutdown();
    }
}

/// How long the material `init` writes stays valid: long enough for a test campaign, short
/// enough that nobody mistakes it for production material.
pub const INIT_VALIDITY_DAYS: i64 = 90;

/// The PEM files `pdp-harness init` writes for the `[cda]` section and the harness's client
/// certificate: one new CA the organisation trusts for both the C&A's server certificate and
/// the find and view requests' client certificate.
#[derive(Debug)]
pub struct GeneratedCdaPki {
    /// (file name, PEM text, is a private key).
    pub files: Vec<(String, String, bool)>,
}

impl GeneratedCdaPki {
    /// `hosts`: the names the C&A's server certificate is valid for (the host of `public_url`).
    pub fn generate(hosts: &[String]) -> Result<GeneratedCdaPki, PkiError> {
        let pki = TestPki::generate_valid_for("pdp-harness CDA", INIT_VALIDITY_DAYS)?;
        let first = hosts.first().map(String::as_str).unwrap_or("localhost");
        let extra: Vec<&str> = hosts
            .iter()
            .map(String::as_str)
            .filter(|h| !matches!(*h, "localhost" | "127.0.0.1"))
            .collect();
        let server = pki.server_identity("C&A server", first, &extra)?;
        let client = pki.client_identity("CDA client", "pdp-harness-cda")?;
        let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|source| {
            PkiError::Generate {
                what: "JWT signing key".to_owned(),
                source,
            }
        })?;
        Ok(GeneratedCdaPki {
            files: vec![
                ("cda-ca.pem".into(), pki.ca_pem(), false),
                ("cda-server.pem".into(), server.cert_pem.clone(), false),
                (
                    "cda-server.key".into(),
                    server.private_key_pem().to_owned(),
                    true,
                ),
                ("harness-client.pem".into(), client.cert_pem.clone(), false),
                (
                    "harness-client.key".into(),
                    client.private_key_pem().to_owned(),
                    true,
                ),
                ("cda-signing.key".into(), signing.serialize_pem(), true),
            ],
        })
    }
}

/// axum middleware for `serve`: one console line per call (method, path, status, time), so
/// the organisation sees its solution's calls arrive. Paths and statuses only: no headers or
/// bodies, which carry tokens.
pub async fn log_to_console(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    println!(
        "{} {method} {path} -> {} ({} ms)",
        chrono::Utc::now().format("%H:%M:%SZ"),
        response.status().as_u16(),
        started.elapsed().as_millis()
    );
    response
}
