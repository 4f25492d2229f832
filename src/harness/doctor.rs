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

use crate::harness::environment::Environment;
use crate::net::pki::TlsIdentity;
use crate::record::classify::FailureClass;

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
///
/// `limit` is the probed endpoint's own limit plus the margin; `limit_source` names it for the
/// message ("acknowledgement_ms + timeout_margin_ms").
pub async fn handshake(
    name: &str,
    url: &str,
    identity: &TlsIdentity,
    trusted: &[rustls::pki_types::CertificateDer<'static>],
    (limit, limit_source): (Duration, &str),
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
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let mut stream = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(server_name, tcp)
            .await?;
        let probe = format!("HEAD / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(probe.as_bytes()).await?;
        let mut first = [0u8; 16];
        let n = stream.read(&mut first).await?;
        if !first[..n].starts_with(b"HTTP/") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "the server closed the connection without an HTTP answer",
            ));
        }
        let (_, conn) = stream.get_ref();
        let version = conn
            .protocol_version()
            .map(|v| format!("{v:?}"))
            .unwrap_or_else(|| "unknown".to_owned());
        let server_cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| crate::net::pki::certificate_info("server", c));
        Ok::<_, std::io::Error>((version, server_cert))
    };
    match tokio::time::timeout(limit, connect).await {
        Err(_) => Check::fail(
            check_name,
            format!("no answer within {} ms ({limit_source})", limit.as_millis()),
            "check the endpoint is up and reachable (firewall, allow-list of our address)",
        )
        .environment(),
        Ok(Err(e)) => {
            let (class, hint) = handshake_failure(&e);
            Check {
                class: Some(class),
                ..Check::fail(check_name, crate::net::tls::error_chain(&e), hint)
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

/// A failed handshake probe, judged by the error's type (the rustls error inside the io error,
/// or the io error's kind), never its wording: who acts, and what to do.
fn handshake_failure(e: &std::io::Error) -> (FailureClass, &'static str) {
    use rustls::{AlertDescription, CertificateError};
    match rustls_error(e) {
        Some(rustls::Error::AlertReceived(
            AlertDescription::CertificateRequired
            | AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::AccessDenied,
        )) => (
            FailureClass::Configuration,
            "the server refused our client certificate: it must trust the CA that issued it",
        ),
        Some(rustls::Error::InvalidCertificate(
            CertificateError::UnknownIssuer | CertificateError::BadSignature,
        )) => (
            FailureClass::Configuration,
            "the server's certificate is not issued by the CA bundle given: add its CA to the bundle",
        ),
        Some(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
        )) => (
            FailureClass::Configuration,
            "the server's certificate does not name this host (SAN): use the host it was issued for",
        ),
        Some(_) => (
            FailureClass::Configuration,
            "check the certificates on both sides",
        ),
        None => match e.kind() {
            std::io::ErrorKind::ConnectionRefused => (
                FailureClass::Environment,
                "nothing listens there: check the URL and that the service is running",
            ),
            std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::BrokenPipe
            | std::io::ErrorKind::HostUnreachable
            | std::io::ErrorKind::NetworkUnreachable => (
                FailureClass::Environment,
                "the connection was cut: check the endpoint is up and reachable (firewall, allow-list of our address)",
            ),
            _ => (
                FailureClass::Configuration,
                "check the certificates on both sides",
            ),
        },
    }
}

/// The rustls error an io error carries (tokio-rustls wraps it as the io error's inner error).
fn rustls_error(e: &std::io::Error) -> Option<&rustls::Error> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = e
        .get_ref()
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    while let Some(err) = cur {
        if let Some(found) = err.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        cur = err.source();
    }
    None
}

/// Who acts on a request that got no usable answer: the same kind gets the same class in every
/// check (a refused connection is the environment's wherever it happens).
fn transport_class(e: &crate::net::recorder::SendFailure) -> FailureClass {
    match e {
        crate::net::recorder::SendFailure::NotSent(_) => FailureClass::Configuration,
        _ => FailureClass::Environment,
    }
}

/// Fetch a JWKS and check it holds usable asymmetric signing keys; also measures clock skew.
/// GET `url` within `limit`, reading at most `cap` bytes of body.
async fn fetch_capped(
    client: &reqwest::Client,
    url: &str,
    limit: Duration,
    cap: usize,
) -> Result<
    (reqwest::StatusCode, reqwest::header::HeaderMap, Vec<u8>),
    crate::net::recorder::SendFailure,
> {
    use crate::net::recorder::SendFailure;
    let fetch = async {
        let mut resp = client
            .get(url)
            .send()
            .await
            .map_err(|e| SendFailure::of_reqwest(&e, Some(limit)))?;
        let (status, headers) = (resp.status(), resp.headers().clone());
        let mut body = Vec::new();
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| SendFailure::of_reqwest(&e, Some(limit)))?
        {
            if body.len() + chunk.len() > cap {
                return Err(SendFailure::TooLarge(cap));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, headers, body))
    };
    tokio::time::timeout(limit, fetch)
        .await
        .unwrap_or(Err(SendFailure::TimedOut(limit)))
}

/// Who answers for a JWKS check: an unreachable endpoint is the environment's; what the JWKS
/// says is its owner's (`owner`: the provider's own JWKS is the system under test).
struct JwksProbe<'a> {
    name: &'a str,
    url: &'a str,
    owner: FailureClass,
    limit: Duration,
    cap: usize,
}

/// Fetch a JWKS and check it holds usable asymmetric signing keys; also measures clock skew.
async fn jwks(client: &reqwest::Client, probe: JwksProbe<'_>) -> (Check, Option<Check>) {
    let JwksProbe {
        name,
        url,
        owner,
        limit,
        cap,
    } = probe;
    let check_name = format!("{name} JWKS ({url})");
    let owned = |check: Check| Check {
        class: Some(owner),
        ..check
    };
    let (status, headers, body) = match fetch_capped(client, url, limit, cap).await {
        Ok(r) => r,
        Err(e) => {
            let class = match e {
                crate::net::recorder::SendFailure::TooLarge(_) => owner,
                ref other => transport_class(other),
            };
            return (
                Check {
                    class: Some(class),
                    ..Check::fail(
                        check_name,
                        e.to_string(),
                        "make the JWKS reachable over mTLS from the harness",
                    )
                },
                None,
            );
        }
    };
    let skew = headers
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
    if !status.is_success() {
        return (
            owned(Check::fail(
                check_name,
                format!("answered {status}"),
                "check the JWKS URL in the target file",
            )),
            skew,
        );
    }
    let set: JwkSet = match serde_json::from_slice(&body) {
        Ok(s) => s,
        Err(e) => {
            return (
                owned(Check::fail(
                    check_name,
                    format!("not a JWKS: {e}"),
                    "serve a JSON Web Key Set",
                )),
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
        owned(Check::fail(
            check_name,
            format!(
                "{} key(s), none usable (asymmetric, with a kid)",
                set.keys.len()
            ),
            "publish the public signing key with its kid",
        ))
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
    // Each probe waits as long as the request it stands for may take: the find endpoint its
    // acknowledgement limit, the view endpoint, the C&A and the JWKS the view response limit
    // (all plus the margin).
    let limits = &env.limits;
    let find_limit = (
        limits.timeout(limits.acknowledgement_ms),
        "[limits] acknowledgement_ms + timeout_margin_ms",
    );
    let view_limit = (
        limits.timeout(limits.view_response_ms),
        "[limits] view_response_ms + timeout_margin_ms",
    );
    let cap = usize::try_from(limits.max_body_bytes).unwrap_or(usize::MAX);
    // What a view-token key set says is its owner's: the provider's own JWKS is the system
    // under test; the C&A's /jwk_uri serves the keys the target file names.
    let view_keys_owner = if provider_hosted {
        FailureClass::SystemUnderTest
    } else {
        FailureClass::Configuration
    };
    // Independent checks run together (start-up waits for them); reported in this order.
    let (cas_tls, find_tls, view_tls, (cas_check, cas_skew), (view_check, view_skew)) = futures::join!(
        // Our own C&A, at the URL the solution calls it by.
        handshake(
            "C&A",
            env.cas.base_url(),
            &env.cas_identity,
            &env.cas_trust,
            view_limit,
        ),
        handshake(
            "provider find",
            &env.finder.find_base_url,
            &env.harness_identity,
            trusted,
            find_limit,
        ),
        handshake(
            "provider view",
            &env.dashboard.view_base_url,
            &env.harness_identity,
            trusted,
            view_limit,
        ),
        jwks(
            &env.cas_client,
            JwksProbe {
                name: "C&A",
                url: &cas_jwks,
                owner: FailureClass::Harness,
                limit: view_limit.0,
                cap,
            },
        ),
        jwks(
            view_keys_client,
            JwksProbe {
                name: view_keys_name,
                url: &view_jwks,
                owner: view_keys_owner,
                limit: view_limit.0,
                cap,
            },
        ),
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
        // The hook is the test set-up's: whatever kind of failure, the environment's to fix.
        Err(e) => Check::fail(
            "clear-down",
            e.to_string(),
            "make the clear-down hook answer 2xx",
        )
        .environment(),
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
pub async fn reporting_simulator(config: &crate::harness::config::TargetConfig) -> Option<Check> {
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
