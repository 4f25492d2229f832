//! `pdp-harness doctor`: the checks that let nobody discover a configuration error halfway
//! through a run. Each check says ✔ or ✖ with a one-line fix hint; `run` performs the same
//! checks first and refuses to start on a blocking failure.
//!
//! On the embedded default the checks exercise the same things as against a real provider:
//! each endpoint resolves and accepts a TLS handshake with the client certificate (negotiated
//! version shown), certificates parse and are in date (days left), the JWKS are reachable and
//! hold usable keys, the server clock agrees with ours, and the clear-down hook answers.

use std::net::ToSocketAddrs;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use jsonwebtoken::jwk::JwkSet;
use rustls::pki_types::ServerName;

use crate::environment::Environment;
use crate::evidence::classify::FailureClass;
use crate::pki::TlsIdentity;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    /// What to do about a failure.
    pub hint: Option<String>,
    /// A blocking failure stops `run` before any scenario.
    pub blocking: bool,
    /// Who acts on a failure.
    pub class: Option<FailureClass>,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            hint: None,
            blocking: false,
            class: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            hint: Some(hint.into()),
            blocking: true,
            class: Some(FailureClass::Configuration),
        }
    }

    /// The same failure, classed as the environment's (unreachable, no answer).
    fn environment(self) -> Check {
        Check {
            class: Some(FailureClass::Environment),
            ..self
        }
    }

    /// A failure worth knowing about that does not stop a run.
    fn warn(name: impl Into<String>, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            blocking: false,
            ..Check::fail(name, detail, hint)
        }
    }

    /// One line for the console: `✔ name: detail` or `✖ name: detail` plus the hint.
    pub fn line(&self) -> String {
        let mark = if self.ok { "✔" } else { "✖" };
        let mut s = format!("{mark} {}: {}", self.name, self.detail);
        if let Some(c) = self.class.filter(|_| !self.ok) {
            s.push_str(&format!(
                "\n    class: {}; to act: {}",
                c.label(),
                c.owner()
            ));
        }
        if let Some(h) = &self.hint {
            s.push_str(&format!("\n    fix: {h}"));
        }
        s
    }
}

/// Days from now until `not_after`.
fn days_left(not_after: chrono::DateTime<Utc>) -> i64 {
    (not_after - Utc::now()).num_days()
}

/// How long the certificate was issued for, in days.
fn lifetime_days(identity: &TlsIdentity) -> i64 {
    x509_parser::parse_x509_certificate(&identity.cert_der)
        .map(|(_, c)| {
            (c.validity().not_after.timestamp() - c.validity().not_before.timestamp()) / 86_400
        })
        .unwrap_or(0)
}

fn certificate(identity: &TlsIdentity) -> Check {
    let info = &identity.info;
    let name = format!("client certificate ({})", info.subject);
    let days = days_left(info.not_after);
    if info.not_after <= Utc::now() {
        Check::fail(
            name,
            format!("expired on {}", info.not_after.format("%Y-%m-%d")),
            "issue a new client certificate and point the target file at it",
        )
    } else if days < 14 && lifetime_days(identity) > 28 {
        // Short-lived material (the embedded default's, valid two days) is not worth a warning.
        Check::warn(
            name,
            format!(
                "expires in {days} days ({})",
                info.not_after.format("%Y-%m-%d")
            ),
            "renew the client certificate before it lapses",
        )
    } else {
        Check::pass(
            name,
            format!(
                "valid until {} ({days} days left), SHA-256 {}…",
                info.not_after.format("%Y-%m-%d"),
                &info.sha256_fingerprint[..16.min(info.sha256_fingerprint.len())]
            ),
        )
    }
}

/// Resolve, connect and handshake with the client certificate, then send one request so a
/// refused client certificate shows (in TLS 1.3 the server judges it after the handshake);
/// report the negotiated version and the server certificate's expiry.
pub async fn handshake(
    name: &str,
    url: &str,
    identity: &TlsIdentity,
    trusted: &[rustls::pki_types::CertificateDer<'static>],
) -> Check {
    let check_name = format!("{name} TLS ({url})");
    let parsed = match url::Url::parse(url) {
        Ok(u) => u,
        Err(e) => {
            return Check::fail(
                check_name,
                format!("not a URL: {e}"),
                "correct the URL in the target file",
            );
        }
    };
    let host = parsed.host_str().unwrap_or_default().to_owned();
    let port = parsed.port_or_known_default().unwrap_or(443);
    let addr = match (host.as_str(), port)
        .to_socket_addrs()
        .map(|mut a| a.next())
    {
        Ok(Some(a)) => a,
        _ => {
            return Check::fail(
                check_name,
                format!("{host} does not resolve"),
                "check the host name and DNS from this machine",
            )
            .environment();
        }
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    for ca in trusted {
        let _ = roots.add(ca.clone());
    }
    let config = match rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())
        .and_then(|b| {
            b.with_root_certificates(roots)
                .with_client_auth_cert(vec![identity.cert_der.clone()], identity.private_key_der())
                .map_err(|e| e.to_string())
        }) {
        Ok(c) => c,
        Err(e) => {
            return Check::fail(
                check_name,
                format!("the client certificate and key do not go together: {e}"),
                "give the key that belongs to the client certificate",
            );
        }
    };
    let Ok(server_name) = ServerName::try_from(host.clone()) else {
        return Check::fail(
            check_name,
            format!("{host} is not a valid server name"),
            "correct the URL",
        );
    };
    let connect = async {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let tcp = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await
            .map_err(|e| e.to_string())?;
        let probe = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(probe.as_bytes())
            .await
            .map_err(|e| e.to_string())?;
        let mut first = [0u8; 16];
        let n = stream.read(&mut first).await.map_err(|e| e.to_string())?;
        if !first[..n].starts_with(b"HTTP/") {
            return Err("the server closed the connection without an HTTP answer".to_owned());
        }
        let (_, conn) = stream.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "unknown".to_owned());
        let server_cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| crate::pki::certificate_info("server", c));
        Ok::<_, String>((version, server_cert))
    };
    match tokio::time::timeout(Duration::from_secs(10), connect).await {
        Err(_) => Check::fail(
            check_name,
            "no answer within 10 s",
            "check the endpoint is up and reachable (firewall, allow-list of our address)",
        )
        .environment(),
        Ok(Err(e)) => {
            let hint = if e.contains("CertificateRequired")
                || e.contains("UnknownCA")
                || e.contains("BadCertificate")
            {
                "the server refused our client certificate: it must trust the CA that issued it"
            } else if e.contains("UnknownIssuer") || e.contains("invalid peer certificate") {
                "the server's certificate is not issued by the CA bundle given: add its CA to the bundle"
            } else if e.contains("NotValidForName") {
                "the server's certificate does not name this host (SAN): use the host it was issued for"
            } else if e.contains("refused") {
                "nothing listens there: check the URL and that the service is running"
            } else {
                "check the certificates on both sides"
            };
            let unreachable = e.contains("refused") || e.contains("reset") || e.contains("closed");
            let check = Check::fail(check_name, e, hint);
            if unreachable {
                check.environment()
            } else {
                check
            }
        }
        Ok(Ok((version, cert))) => {
            let expiry = cert
                .map(|c| {
                    format!(
                        ", server certificate valid {} more days",
                        days_left(c.not_after)
                    )
                })
                .unwrap_or_default();
            Check::pass(
                check_name,
                format!("handshake with client certificate, {version}{expiry}"),
            )
        }
    }
}

/// Fetch a JWKS and check it holds usable asymmetric signing keys; also measures clock skew.
async fn jwks(name: &str, client: &reqwest::Client, url: &str) -> (Check, Option<Check>) {
    let check_name = format!("{name} JWKS ({url})");
    let resp = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => {
            return (
                Check::fail(
                    check_name,
                    crate::tls::error_chain(&e),
                    "make the JWKS reachable over mTLS from the harness",
                ),
                None,
            );
        }
    };
    let skew = resp
        .headers()
        .get(reqwest::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|d| chrono::DateTime::parse_from_rfc2822(d).ok())
        .map(|server| {
            let skew = (server.with_timezone(&Utc) - Utc::now()).num_seconds();
            let detail = format!("server Date is {skew:+} s from ours");
            if skew.abs() > 30 {
                Check::warn(
                    format!("{name} clock"),
                    detail,
                    "synchronise clocks (NTP): token lifetimes are 60 s",
                )
            } else {
                Check::pass(format!("{name} clock"), detail)
            }
        });
    let status = resp.status();
    let body = resp.bytes().await.unwrap_or_default();
    if !status.is_success() {
        return (
            Check::fail(
                check_name,
                format!("answered {status}"),
                "check the JWKS URL in the target file",
            ),
            skew,
        );
    }
    let set: JwkSet = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return (
                Check::fail(
                    check_name,
                    format!("not a JWKS: {e}"),
                    "serve a JSON Web Key Set",
                ),
                skew,
            );
        }
    };
    let usable = set
        .keys
        .iter()
        .filter(|k| {
            !matches!(
                k.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
            ) && k.common.key_id.is_some()
                && jsonwebtoken::DecodingKey::from_jwk(k).is_ok()
        })
        .count();
    let check = if usable == 0 {
        Check::fail(
            check_name,
            format!(
                "{} key(s), none usable (asymmetric, with a kid)",
                set.keys.len()
            ),
            "publish the public signing key with its kid",
        )
    } else {
        Check::pass(check_name, format!("{usable} usable signing key(s)"))
    };
    (check, skew)
}

/// Every check against the environment, in order.
pub async fn examine(env: &Environment) -> Vec<Check> {
    examine_with(env, true).await
}

/// As [`examine`]; with `clear_down` false the clear-down hook is not used (a stage 2 run
/// after an earlier stage 1 checks the data stage 1 left: clearing it would lose it).
pub async fn examine_with(env: &Environment, clear_down: bool) -> Vec<Check> {
    let mut checks = vec![certificate(&env.harness_identity)];
    let trusted = &env.provider_trust;
    let client = env.harness_client();
    let cas_jwks = format!("{}/jwks", env.cas.base_url());
    let (view_jwks, provider_hosted) = env.dashboard.view_keys_source();
    let (view_keys_name, view_keys_client) = if provider_hosted {
        ("provider view-token", client)
    } else {
        ("view-token keys at /jwk_uri", &env.cas_client)
    };
    // Independent checks run together (start-up waits for them); reported in this order.
    let (cas_tls, find_tls, view_tls, (cas_check, cas_skew), (view_check, view_skew)) = futures::join!(
        // Our own C&A, at the URL the solution calls it by.
        handshake("C&A", env.cas.base_url(), &env.cas_identity, &env.cas_trust),
        handshake(
            "provider find",
            &env.finder.find_base_url,
            &env.harness_identity,
            trusted,
        ),
        handshake(
            "provider view",
            &env.dashboard.view_base_url,
            &env.harness_identity,
            trusted,
        ),
        jwks("C&A", &env.cas_client, &cas_jwks),
        jwks(view_keys_name, view_keys_client, &view_jwks),
    );
    checks.extend([cas_tls, find_tls, view_tls, cas_check]);
    checks.extend(cas_skew);
    checks.push(view_check);
    checks.extend(view_skew);
    checks.push(reporting_sources(env));
    if !clear_down {
        checks.push(Check::pass(
            "clear-down",
            format!(
                "{} not called: this stage 2 run checks the data an earlier stage 1 left",
                env.clear_down_hook()
            ),
        ));
        return checks;
    }
    // The doctor proves the hook by using it: say so, since it empties the test data.
    checks.push(match env.clear_down().await {
        Ok(()) => Check::pass(
            "clear-down",
            format!(
                "{} answered: the provider's test data was cleared (as before every stage)",
                env.clear_down_hook()
            ),
        ),
        Err(e) => Check::fail("clear-down", e, "make the clear-down hook answer 2xx").environment(),
    });
    checks
}

/// The reporting data sources: each export file reads and parses; `derived` only where the
/// embedded reference provider serves the views it counts. Not blocking: only the reporting
/// stage needs them, and the run refuses that stage itself.
fn reporting_sources(env: &Environment) -> Check {
    use crate::reporting::Endpoint;
    use crate::reporting::sources::{Source, load_file};
    const NAME: &str = "reporting data sources";
    let settings = &env.reporting.settings;
    let real_target = env.provider_server.is_none();
    if real_target && !env.reporting_section {
        return Check::pass(
            NAME,
            "no [reporting] section: --pack all leaves the reporting stage out",
        );
    }
    let mut derived = Vec::new();
    let mut problems = Vec::new();
    let mut files = 0;
    for endpoint in Endpoint::ALL {
        match settings.sources.get(&endpoint).cloned().unwrap_or_default() {
            Source::Derived if real_target => derived.push(endpoint.slug()),
            Source::File(path) => {
                files += 1;
                if let Err(e) = load_file(endpoint, &settings.base_dir.join(&path)) {
                    problems.push(e.to_string());
                }
            }
            Source::Derived | Source::Null => {}
        }
    }
    if !problems.is_empty() {
        return Check::warn(
            NAME,
            problems.join("; "),
            "fix the export named (formats: README, \"The reporting pack\"); the reporting stage would fail on it",
        );
    }
    if !derived.is_empty() {
        return Check::warn(
            NAME,
            format!(
                "{} \"derived\" (the default): only the embedded reference provider can derive them",
                derived.join(", ")
            ),
            "set [reporting.sources] for each to \"file:PATH\" (your export) or \"null\"; until then the reporting pack refuses to run against your solution",
        );
    }
    Check::pass(
        NAME,
        if real_target {
            format!("{files} export file(s) read and valid; the rest null")
        } else {
            "derived from what the reference provider serves, or as configured".to_owned()
        },
    )
}

/// The blocking failures, if any.
pub fn blocking(checks: &[Check]) -> Vec<&Check> {
    checks.iter().filter(|c| !c.ok && c.blocking).collect()
}

/// `[reporting_simulator]`: where `serve` runs the reporting API for the organisation's own
/// reporting client, whether it is listening now, and what its journal holds. Not blocking:
/// only `--pack reporting-received` reads the journal, and `serve` may not be running yet.
pub async fn reporting_simulator(config: &crate::config::TargetConfig) -> Option<Check> {
    const NAME: &str = "reporting simulator (serve)";
    let rs = config.reporting_simulator.as_ref()?;
    let journal = rs.journal_path(&config.base_dir());
    let recorded = match crate::reporting::received::load(&journal) {
        Ok(all) => format!("{} request(s) recorded in {}", all.len(), journal.display()),
        Err(_) => format!("nothing recorded yet in {}", journal.display()),
    };
    // A wildcard listen address is reached on loopback from here.
    let mut addr = rs.listen;
    if addr.ip().is_unspecified() {
        addr.set_ip(std::net::Ipv4Addr::LOCALHOST.into());
    }
    let connect = tokio::time::timeout(
        std::time::Duration::from_secs(2),
        tokio::net::TcpStream::connect(addr),
    )
    .await;
    Some(match connect {
        Ok(Ok(_)) => Check::pass(
            NAME,
            format!(
                "listening at {} (configured {}); {recorded}",
                addr, rs.listen
            ),
        ),
        _ => Check::warn(
            NAME,
            format!("nothing listening at {} now; {recorded}", rs.listen),
            format!(
                "start `pdp-harness serve --target {}` and point your reporting client at {}",
                config
                    .path
                    .as_ref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_else(|| "FILE".to_owned()),
                rs.listen
            ),
        )
        .environment(),
    })
}
