//! Building a run's [`ReportingSession`] from reporting's sections of the target file: the real
//! reporting API (the organisation's PDP client certificate, the API's CA) when `[reporting]
//! base_url` is set, else the harness's reporting simulator on loopback over mutual TLS, as in
//! use. The target file's module hands over the sections as [`Sections`].

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::client::{ReportingClient, RetryPolicy, Sleeper, TokioSleeper};
use super::clock::{Clock, NearMidnight, SystemClock};
use super::config::{ReportingConfig, ReportingConfigError, ReportingSimulatorConfig};
use super::model::SubmissionStatus;
use super::received::ReceivedError;
use super::session::{ReportingSession, Settings, ViewsSource};
use super::simulator::ReportingSimulator;
use super::validate::Strictness;
use crate::net::pki::{PkiError, TestPki, TlsIdentity};
use crate::net::recorder::Recorder;
use crate::net::secret::{self, KeyFileError, Secret};
use crate::net::server::ServerLimits;
use crate::net::tls::{self, TlsError};

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("[reporting]: {0}")]
    Config(#[from] ReportingConfigError),
    #[error("[reporting]: base_url needs client_cert, client_key and ca_bundle")]
    BaseUrlNeedsCertificates,
    #[error("[reporting]: {0}")]
    File(#[source] KeyFileError),
    #[error("[reporting_simulator]: {0}")]
    SimulatorFile(#[source] KeyFileError),
    #[error("[reporting_simulator]: {0}")]
    SimulatorPem(#[source] crate::net::pem::PemFileError),
    #[error("[reporting_simulator]: {0} is not set and there is no [cda] {0} to use instead")]
    SimulatorUnset(&'static str),
    #[error("[reporting_simulator]: {0}")]
    Received(#[source] ReceivedError),
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Reporting's sections of the target file, and what it takes from around them.
#[derive(Debug, Clone)]
pub struct Sections<'a> {
    pub reporting: &'a ReportingConfig,
    pub simulator: Option<&'a ReportingSimulatorConfig>,
    /// Where relative paths start: the target file's directory.
    pub base_dir: PathBuf,
    /// `[server]`: the simulator's timeouts and connection cap.
    pub server: ServerLimits,
    /// `[cda]`'s certificates, which `[reporting_simulator]`'s default to.
    pub cda: Option<ServerCertificates<'a>>,
}

/// A server's certificate, key and the CA of the client certificates it accepts.
#[derive(Debug, Clone, Copy)]
pub struct ServerCertificates<'a> {
    pub server_cert: &'a Path,
    pub server_key: &'a Secret,
    pub client_ca: &'a Path,
}

/// The settings `[reporting]` gives (already checked when the target file was loaded).
pub fn settings(config: &Sections<'_>) -> Result<Settings, SetupError> {
    let r = config.reporting;
    let sources = r.parsed_sources()?;
    let status = match r.submission_status.as_str() {
        "late" => SubmissionStatus::Late,
        _ => SubmissionStatus::OnTime,
    };
    let base = config.base_dir.clone();
    Ok(Settings {
        sources,
        base_dir: base.clone(),
        expected: Duration::from_secs(r.expected_minutes().saturating_mul(60)),
        near_midnight: if r.base_url.is_some() {
            NearMidnight::Refuse
        } else {
            NearMidnight::Wait
        },
        status,
        journal: r.journal.as_ref().map(|p| base.join(p)),
        server: config.server,
        received_journal: config.simulator.map(|rs| rs.journal_path(&base)),
    })
}

/// Start the session for a run. `pki` issues the simulator's certificates (the embedded
/// default's own PKI, or a throwaway one); `client` is the organisation's client certificate
/// toward the simulator (the reference provider's, on the embedded default).
pub fn start(
    config: &Sections<'_>,
    recorder: Arc<Recorder>,
    holder: Uuid,
    views: Option<ViewsSource>,
    pki: Option<&TestPki>,
    client: Option<&TlsIdentity>,
) -> Result<ReportingSession, SetupError> {
    let settings = settings(config)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let timeout = Duration::from_secs(60);
    let r: &ReportingConfig = config.reporting;
    if let Some(base_url) = &r.base_url {
        let base = &config.base_dir;
        let (Some(cert), Some(key), Some(ca)) = (&r.client_cert, &r.client_key, &r.ca_bundle)
        else {
            return Err(SetupError::BaseUrlNeedsCertificates);
        };
        let read = |setting: &str, path: &Path| {
            secret::read_file(setting, &base.join(path)).map_err(SetupError::File)
        };
        let cert_pem = read("reporting.client_cert", cert)?;
        let key_pem = key
            .text("reporting.client_key", base)
            .map_err(SetupError::File)?;
        // Refuse a key that does not belong to the certificate before any call is made.
        TlsIdentity::from_pem("reporting client", &cert_pem, &key_pem)?;
        let ca_pem = read("reporting.ca_bundle", ca)?;
        let identity = format!("{cert_pem}\n{key_pem}");
        let http = tls::client_from_pem(Some(identity.as_bytes()), &[ca_pem], timeout)?;
        let client = reporting_client(http, base_url.clone(), recorder, clock);
        return Ok(ReportingSession::new(client, settings, holder, views).with_stub(r.stub));
    }
    simulated(
        settings,
        recorder,
        holder,
        views,
        Simulated {
            pki,
            client,
            clock,
            sleeper: Arc::new(TokioSleeper),
        },
    )
}

/// How a simulated session is made: tests inject a fake clock and a sleeper that records.
pub struct Simulated<'a> {
    /// Issues the simulator's server certificate; a throwaway PKI when `None`.
    pub pki: Option<&'a TestPki>,
    /// The organisation's client certificate toward the simulator; one from `pki` when `None`.
    pub client: Option<&'a TlsIdentity>,
    pub clock: Arc<dyn Clock>,
    pub sleeper: Arc<dyn Sleeper>,
}

/// A session against the harness's reporting simulator on loopback, over mutual TLS.
pub fn simulated(
    settings: Settings,
    recorder: Arc<Recorder>,
    holder: Uuid,
    views: Option<ViewsSource>,
    how: Simulated<'_>,
) -> Result<ReportingSession, SetupError> {
    let own_pki;
    let pki = match how.pki {
        Some(p) => p,
        None => {
            own_pki = TestPki::generate("pdp-harness reporting simulator")?;
            &own_pki
        }
    };
    let server_identity = pki.server_identity(
        "reporting API server",
        "reporting.cda.pdp-harness.test",
        &[],
    )?;
    let own_client;
    let client_identity = match how.client {
        Some(c) => c,
        None => {
            own_client = pki.client_identity("reporting client", "organisation-reporting")?;
            &own_client
        }
    };
    let simulator = ReportingSimulator::new(how.clock.clone(), Strictness::default());
    let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
    let server = tls::serve_mtls(
        simulator.router(),
        loopback,
        &server_identity,
        &[pki.ca_der()],
        &settings.server,
    )?;
    let http = tls::client(
        Some(client_identity),
        &[pki.ca_pem()],
        Duration::from_secs(60),
    )?;
    let mut client = reporting_client(http, server.base_url(), recorder, how.clock);
    client.sleeper = how.sleeper;
    Ok(ReportingSession::new(client, settings, holder, views)
        .with_simulator(simulator, server)
        .with_stub(true))
}

fn reporting_client(
    http: reqwest::Client,
    base_url: String,
    recorder: Arc<Recorder>,
    clock: Arc<dyn Clock>,
) -> ReportingClient {
    ReportingClient {
        http,
        base_url: base_url.trim_end_matches('/').to_owned(),
        recorder,
        retry: RetryPolicy::default(),
        sleeper: Arc::new(TokioSleeper),
        clock,
    }
}

/// `serve`'s reporting simulator, for the organisation's own reporting client.
#[derive(Debug)]
pub struct Standalone {
    pub server: crate::net::tls::RunningServer,
    pub simulator: ReportingSimulator,
    /// Where every request it receives is kept.
    pub journal: PathBuf,
    /// Where the CA of the client certificates it accepts came from.
    pub client_ca: PathBuf,
}

/// Start the reporting simulator of `[reporting_simulator]` (certificates defaulting to
/// `[cda]`'s), recording into its journal; `None` without the section.
pub fn standalone(config: &Sections<'_>) -> Result<Option<Standalone>, SetupError> {
    let Some(rs) = config.simulator else {
        return Ok(None);
    };
    let base = &config.base_dir;
    let cda = config.cda.as_ref();
    let cert = rs
        .server_cert
        .as_deref()
        .or(cda.map(|c| c.server_cert))
        .ok_or(SetupError::SimulatorUnset("server_cert"))?;
    let key = rs
        .server_key
        .as_ref()
        .or(cda.map(|c| c.server_key))
        .ok_or(SetupError::SimulatorUnset("server_key"))?;
    let client_ca = rs
        .client_ca
        .as_deref()
        .or(cda.map(|c| c.client_ca))
        .ok_or(SetupError::SimulatorUnset("client_ca"))?;
    let key_pem = key
        .text("reporting_simulator.server_key", base)
        .map_err(SetupError::SimulatorFile)?;
    let cert_pem = secret::read_file("reporting_simulator.server_cert", &base.join(cert))
        .map_err(SetupError::SimulatorFile)?;
    let identity = TlsIdentity::from_pem("reporting simulator server", &cert_pem, &key_pem)?;
    let client_ca = base.join(client_ca);
    let roots = crate::net::pem::certificates("reporting_simulator.client_ca", &client_ca)
        .map_err(SetupError::SimulatorPem)?;
    let journal = rs.journal_path(base);
    let file = super::received::ReceivedJournal::open(&journal, super::received::MAX_JOURNAL_BYTES)
        .map_err(SetupError::Received)?;
    let simulator =
        ReportingSimulator::journaled(Arc::new(SystemClock), Strictness::default(), file);
    let server = tls::serve_mtls(
        simulator.router(),
        rs.listen,
        &identity,
        &roots,
        &config.server,
    )?;
    Ok(Some(Standalone {
        server,
        simulator,
        journal,
        client_ca,
    }))
}
