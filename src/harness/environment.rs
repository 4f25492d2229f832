//! The embedded default: a throwaway PKI, the simulated CDA (C&A server, pension finder,
//! dashboard) and the reference provider, all on loopback over mutual TLS.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::cda::cas::Cas;
use crate::cda::dashboard::Dashboard;
use crate::cda::finder::PensionFinder;
use crate::cda::service::CdaService;
use crate::harness::config::{Limits, TargetConfig};
use crate::harness::testpack::TestPack;
use crate::harness::updates::{AppliedUpdate, MatchUpdateFile};
use crate::net::pki::{PkiError, SigningKey, TestPki, jwks_of};
use crate::net::recorder::{InboundParty, Recorder};
use crate::net::tls::{self, RunningServer, TlsError};
use crate::protocol::contract::WireContract;
use crate::provider::embedded::EmbeddedProvider;
use crate::provider::{CLEAR_DOWN_PATH, Faults, ProviderOptions};
use crate::record::redact::Redactor;
use crate::record::run::{CertificateInfo, TargetInfo};
use crate::reporting::session::{ReportingSession, ViewsSource};

mod hooks;

pub(crate) use hooks::Group;
pub use hooks::{
    ApplyNowError, ClearDown, ClearDownError, ClearError, Cleared, Hook, HookError, RestartError,
    clear_down_configured, clear_down_once, kill_clear_down_commands, run_clear_down_command,
    run_hook_command,
};
use hooks::{clear_down_hook, clear_down_timeout};

/// The embedded default's CDA signing key: find tokens and the C&A's tokens.
pub const CDA_KID: &str = "cda-signing-1";
/// The embedded reference provider's signing key: view data tokens and PAT assertions.
pub const PROVIDER_KID: &str = "provider-signing-1";
pub const DASHBOARD_KID: &str = "dashboard-rqp-1";
pub use crate::protocol::tokens::{CAS_ISSUER, DASHBOARD_ISSUER};
pub use crate::provider::PROVIDER_ISSUER;
pub const PARTY_PROVIDER_TO_CAS: &str = "provider -> C&A";
pub const PARTY_CLEAR_DOWN: &str = "harness -> provider clear-down";

#[derive(Debug, thiserror::Error)]
pub enum EnvError {
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(
        "target file: [provider] and [cda] are both needed to run against an organisation's solution"
    )]
    NeedsProviderAndCda,
    #[error("target file: {0}")]
    KeyFile(#[from] crate::net::secret::KeyFileError),
    #[error("target file: {0}")]
    Pem(#[from] crate::net::pem::PemFileError),
    #[error("target file: {0}")]
    KeySet(#[from] crate::harness::config::KeySetError),
    #[error("the embedded reference provider: {0}")]
    EmbeddedProvider(#[from] crate::provider::embedded::EmbeddedProviderError),
    /// Key generation gave back a different number of keys than it was asked for.
    #[error("expected two generated signing keys, got {0}")]
    SigningKeys(usize),
    #[error(transparent)]
    Cda(#[from] crate::cda::service::CdaServiceError),
    #[error(transparent)]
    Reporting(#[from] crate::reporting::setup::SetupError),
    #[error(transparent)]
    ViewDataSchema(#[from] crate::protocol::rules::SchemaError),
}

/// Why the environment a command is played against did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("could not prepare the run against the organisation's endpoints")]
    External(#[source] EnvError),
    #[error("could not start the embedded default")]
    Embedded(#[source] EnvError),
}

/// The embedded default's RS256 signing keys, one a party as PDP's PKI issues them: the
/// CDA's (find tokens and the C&A's tokens, as `serve` signs them) and the reference
/// provider's (view data and PAT assertions). They are most of start-up, so they are
/// generated on their own threads from the moment they are asked for: the command line asks
/// first, before it loads the pack and reads the feature files.
#[derive(Debug)]
pub struct EmbeddedKeys(std::thread::JoinHandle<Result<Vec<SigningKey>, PkiError>>);

impl EmbeddedKeys {
    pub fn start() -> EmbeddedKeys {
        EmbeddedKeys(std::thread::spawn(|| {
            SigningKey::generate_all(&[CDA_KID, PROVIDER_KID])
        }))
    }

    /// The CDA's key and the provider's, once generated.
    fn wait(self) -> Result<[SigningKey; 2], EnvError> {
        let keys = self
            .0
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        <[SigningKey; 2]>::try_from(keys).map_err(|keys| EnvError::SigningKeys(keys.len()))
    }
}

/// What the embedded default prepares while its RS256 keys are generated in the background.
struct Prepared {
    pki: TestPki,
    cas_identity: crate::net::pki::TlsIdentity,
    provider_client_id: crate::net::pki::TlsIdentity,
    provider_identity: crate::net::pki::TlsIdentity,
    harness_id: crate::net::pki::TlsIdentity,
    dashboard_key: SigningKey,
    view_schema: crate::protocol::rules::ViewDataSchema,
}

/// Everything a run talks to, and the clients it talks with.
#[derive(Debug)]
pub struct Environment {
    /// The run-time PKI (embedded default only; a real target brings its own material).
    pub pki: Option<TestPki>,
    pub recorder: Arc<Recorder>,
    pub cas: Cas,
    pub cas_server: RunningServer,
    /// False when the C&A belongs to a longer-lived `serve`: [`Environment::shutdown`] then
    /// leaves it running.
    owns_cas_server: bool,
    /// The reference provider's server as first started (embedded default only); a restart
    /// serves on the same address.
    pub provider_server: Option<RunningServer>,
    /// The in-process reference provider, restartable (embedded default only).
    pub embedded_provider: Option<Arc<EmbeddedProvider>>,
    /// How the provider is restarted for the no-loss-on-restart case, if it can be.
    restart: Restart,
    /// The target file's `[updates] command` and its time limit: how an organisation applies
    /// a match-update file (`None` on the embedded default, which the harness applies itself).
    update_command: Option<(Vec<String>, Duration)>,
    /// CA certificates the harness trusts for the provider's server certificate.
    pub provider_trust: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// CA certificates to check the C&A's own server certificate with.
    pub cas_trust: Vec<rustls::pki_types::CertificateDer<'static>>,
    /// The client certificate the harness's own calls to its C&A present.
    pub cas_identity: crate::net::pki::TlsIdentity,
    /// The client the harness's own calls to its C&A use (doctor, dashboard).
    pub cas_client: reqwest::Client,
    /// "embedded default ..." or "organisation's endpoints".
    pub label: String,
    /// Who is tested, for the evidence cover.
    pub organisation: String,
    pub finder: PensionFinder,
    pub dashboard: Dashboard,
    pub pack: Arc<TestPack>,
    pub limits: Limits,
    pub contract: WireContract,
    /// The view data schema in force (`[contract] view_data_schema`, else the built-in one).
    pub view_schema: Arc<crate::protocol::rules::ViewDataSchema>,
    /// The match-update file applied between stage 1 and stage 2, once it has been.
    pub match_updates: std::sync::Mutex<Option<MatchUpdateFile>>,
    /// The CDA side's client certificate (finder, dashboard, clear-down).
    pub harness_identity: crate::net::pki::TlsIdentity,
    /// The organisation's reporting: to the real reporting API or the harness's simulator.
    pub reporting: Arc<ReportingSession>,
    /// The target file has a `[reporting]` section (a real target's reporting runs only then).
    pub reporting_section: bool,
    /// Client used for clear-down calls (the harness's certificate).
    harness_client: reqwest::Client,
    clear_down: ClearDown,
}

/// How the provider under test is restarted (`[provider] restart`; the embedded default
/// restarts its in-process reference provider).
#[derive(Debug, Clone)]
pub enum Restart {
    Embedded,
    Command {
        argv: Vec<String>,
        timeout: Duration,
    },
    /// The target file names no restart command.
    NotConfigured,
}

impl Environment {
    /// Start the embedded default: C&A and reference provider on free loopback ports.
    pub async fn embedded(
        pack: Arc<TestPack>,
        config: &TargetConfig,
        faults: Faults,
        redactor: Redactor,
    ) -> Result<Environment, EnvError> {
        Environment::embedded_with_keys(pack, config, faults, redactor, EmbeddedKeys::start()).await
    }

    /// [`Environment::embedded`] with its signing keys already under way.
    pub async fn embedded_with_keys(
        pack: Arc<TestPack>,
        config: &TargetConfig,
        faults: Faults,
        redactor: Redactor,
        keys: EmbeddedKeys,
    ) -> Result<Environment, EnvError> {
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let began = std::time::Instant::now();
        // While the signing keys are generated, everything that needs none is prepared: the
        // (ECDSA P-256) PKI and its certificates, the dashboard's ES256 key (its claim token
        // is read by the harness's own C&A only) and the view data schema.
        let prepared = (|| -> Result<_, EnvError> {
            let pki = TestPki::generate("pdp-harness")?;
            Ok(Prepared {
                cas_identity: pki.server_identity("C&A server", "cas.cda.pdp-harness.test", &[])?,
                provider_client_id: pki.client_identity("provider client", "reference-provider")?,
                provider_identity: pki.server_identity(
                    "provider server",
                    "provider.pdp-harness.test",
                    &[],
                )?,
                harness_id: pki.client_identity("CDA client", "pdp-harness-cda")?,
                dashboard_key: SigningKey::generate_es256(DASHBOARD_KID)?,
                view_schema: crate::protocol::rules::ViewDataSchema::configured(
                    config.contract.view_data_schema.as_deref(),
                    &config.base_dir(),
                )?,
                pki,
            })
        })();
        let keys = keys.wait();
        let Prepared {
            pki,
            cas_identity,
            provider_client_id,
            provider_identity,
            harness_id,
            dashboard_key,
            view_schema,
        } = prepared?;
        let [cda_key, provider_key] = keys?;
        let ca = vec![pki.ca_der()];
        let ca_pem = vec![pki.ca_pem()];
        tracing::debug!(
            ms = began.elapsed().as_millis(),
            "embedded default: keys generated"
        );

        let recorder = Arc::new(Recorder::new(redactor));
        config.limits.apply_to(&recorder);
        recorder.set_timeout(PARTY_CLEAR_DOWN, clear_down_timeout(config));
        let contract = config.contract.clone();

        // The C&A signs with the CDA's key and trusts it (find tokens as grant assertions)
        // and the dashboard's (its claim token).
        let cas = Cas::new(
            crate::cda::service::cas_settings(&contract),
            cda_key.clone(),
            jwks_of([&cda_key, &dashboard_key]),
        );
        let cas_app = cas.router().layer(axum::middleware::from_fn_with_state(
            InboundParty {
                recorder: recorder.clone(),
                party: PARTY_PROVIDER_TO_CAS,
            },
            crate::net::recorder::record_inbound,
        ));
        let cas_server = tls::serve_mtls(cas_app, loopback, &cas_identity, &ca, &config.server)?;
        cas.set_base_url(cas_server.base_url());
        // On the embedded default the reference provider's view token key, its holdername and
        // its PAT assertion key are registered, as PDP registers a live provider's.
        cas.register_view_token_keys(&jwks_of([&provider_key]));
        cas.register_holdername(pack.holdername_guid());
        cas.register_pat_assertion_keys(pack.holdername_guid(), &jwks_of([&provider_key]));

        // The reference provider: its own server certificate and its own client certificate
        // for calling the C&A.
        let provider_client =
            tls::client(Some(&provider_client_id), &ca_pem, Duration::from_secs(30))?;
        let provider_options = ProviderOptions {
            pack: pack.clone(),
            contract: contract.clone(),
            cas_base_url: cas_server.base_url(),
            cda_jwks_url: format!("{}/jwks", cas_server.base_url()),
            client: provider_client,
            view_key: provider_key.clone(),
            pat_key: Some(provider_key),
            issuer: PROVIDER_ISSUER.to_owned(),
            faults,
        };
        let embedded = Arc::new(EmbeddedProvider::start(
            provider_options,
            loopback,
            provider_identity,
            ca.clone(),
            config.server,
        )?);
        // The organisation reports with its own client certificate; on the embedded default its
        // data is derived from what the reference provider served.
        let served = embedded.clone();
        let views: ViewsSource = Arc::new(move || served.provider().served_views());
        let reporting = crate::reporting::setup::start(
            &config.reporting_sections(),
            recorder.clone(),
            holder_guid(&pack),
            Some(views),
            Some(&pki),
            Some(&provider_client_id),
        )?;
        let provider_server = embedded.first_server();

        // The CDA side's client certificate, used by the finder, the dashboard and clear-down.
        let harness_client = tls::client(Some(&harness_id), &ca_pem, Duration::from_secs(60))?;
        let finder = PensionFinder {
            client: harness_client.clone(),
            key: cda_key,
            contract: contract.find.clone(),
            recorder: recorder.clone(),
            find_base_url: provider_server.base_url(),
            holdername_guid: pack.holdername_guid().to_owned(),
            audience: contract
                .find
                .expected_audience(&cas_server.base_url(), pack.holdername_guid()),
        };
        let dashboard = Dashboard::new(
            harness_client.clone(),
            dashboard_key,
            DASHBOARD_ISSUER.to_owned(),
            contract.view.clone(),
            recorder.clone(),
            provider_server.base_url(),
        )
        .with_cda_jwk_uri(format!("{}/jwk_uri", cas_server.base_url()));
        let clear_down = clear_down_hook(
            config,
            format!("{}{CLEAR_DOWN_PATH}", provider_server.base_url()),
        );
        let trust = pki.ca_der();
        tracing::debug!(
            ms = began.elapsed().as_millis(),
            "embedded default: started"
        );
        Ok(Environment {
            pki: Some(pki),
            recorder,
            cas,
            cas_server,
            owns_cas_server: true,
            provider_server: Some(provider_server),
            embedded_provider: Some(embedded),
            restart: Restart::Embedded,
            update_command: None,
            provider_trust: vec![trust.clone()],
            cas_trust: vec![trust],
            cas_identity: harness_id.clone(),
            cas_client: harness_client.clone(),
            label: "embedded default (reference provider on loopback, mTLS)".to_owned(),
            organisation: organisation_name(config, &pack),
            finder,
            dashboard,
            pack,
            limits: config.limits.clone(),
            view_schema: Arc::new(view_schema),
            contract,
            match_updates: std::sync::Mutex::new(None),
            reporting_section: config.reporting_section,
            harness_identity: harness_id,
            reporting: Arc::new(reporting),
            harness_client,
            clear_down,
        })
    }

    /// Judge view data by the data standards: the schema in force, then the cross-field
    /// rules. Returns the failures; warnings (sources disagree) are recorded for the evidence,
    /// or returned as failures under `[contract] strict = true`.
    pub fn judge_view_data(&self, view_data: &serde_json::Value) -> Vec<String> {
        let mut failures: Vec<String> = self
            .view_schema
            .check(view_data)
            .iter()
            .chain(crate::protocol::rules::cross_field(view_data).iter())
            .map(ToString::to_string)
            .collect();
        for w in crate::protocol::rules::source_conflicts(view_data) {
            if self.contract.strict {
                failures.push(format!("{w} ([contract] strict = true)"));
            } else {
                self.recorder.push_warning(format!("data standards: {w}"));
            }
        }
        failures
    }

    /// The match-update file stage 2 checks (issued by stage 1 of this run or of the
    /// `--after` run).
    pub fn set_match_updates(&self, file: MatchUpdateFile) {
        if let Ok(mut slot) = self.match_updates.lock() {
            *slot = Some(file);
        }
    }

    /// Apply a match-update file to the embedded reference provider, as the organisation would
    /// in its own system, and remember it for the stage 2 checks. Never sent to an
    /// organisation's endpoint: there the organisation applies it (`[updates] command`).
    pub async fn apply_match_updates(
        &self,
        file: MatchUpdateFile,
    ) -> Result<Vec<AppliedUpdate>, ApplyNowError> {
        // The file is issued whether or not we can apply it: stage 2 checks its updates.
        self.set_match_updates(file.clone());
        let Some(provider) = &self.provider_server else {
            return Err(ApplyNowError::NotEmbedded);
        };
        Ok(
            crate::harness::updates::apply(&self.harness_client, &provider.base_url(), &file)
                .await?,
        )
    }

    /// Whether a scenario can have match updates applied while it watches (the error
    /// catalogue's PATCH and DELETE cases): the embedded default, or an `[updates] command`.
    pub fn can_apply_updates(&self) -> bool {
        self.is_embedded() || self.update_command.is_some()
    }

    /// Apply `file` now, within a scenario: to the embedded reference provider, or through the
    /// target file's `[updates] command` (the file written to a temporary path for it, removed
    /// after). Remembered for the stage 2 checks either way. What was done, for the evidence;
    /// an error when the file could not be handed over at all.
    pub async fn apply_match_updates_now(
        &self,
        file: MatchUpdateFile,
    ) -> Result<String, ApplyNowError> {
        if self.is_embedded() {
            let results = self.apply_match_updates(file).await?;
            return Ok(results
                .iter()
                .map(|r| {
                    format!(
                        "update {} {}: {}",
                        r.update_id,
                        if r.applied { "applied" } else { "NOT applied" },
                        r.detail
                    )
                })
                .collect::<Vec<_>>()
                .join("; "));
        }
        let Some((argv, timeout)) = &self.update_command else {
            return Err(ApplyNowError::NoCommand);
        };
        self.set_match_updates(file.clone());
        let path = std::env::temp_dir().join(format!(
            "pdp-harness-match-updates-{}.json",
            uuid::Uuid::new_v4()
        ));
        file.save(&path)?;
        let out = crate::harness::updates::run_command(argv, &path, *timeout).await;
        // Best effort: the file holds test PeIs only.
        let _ = std::fs::remove_file(&path);
        let mask = |t: &str| self.recorder.redactor().mask(t.trim());
        let text = format!("[updates] command {}: {}", mask(&out.command), out.status);
        if out.success {
            Ok(text)
        } else {
            let stderr: String = mask(&out.stderr).chars().take(500).collect();
            Err(ApplyNowError::CommandFailed { text, stderr })
        }
    }

    /// The reference provider runs inside this process (the embedded default): the harness
    /// applies the match updates itself.
    pub fn is_embedded(&self) -> bool {
        self.provider_server.is_some()
    }

    pub fn applied_match_updates(&self) -> Option<MatchUpdateFile> {
        self.match_updates.lock().ok().and_then(|s| s.clone())
    }

    /// The client the CDA side calls the provider with.
    pub fn harness_client(&self) -> &reqwest::Client {
        &self.harness_client
    }

    /// Where or how the provider is cleared down, for messages.
    pub fn clear_down_hook(&self) -> String {
        self.clear_down.describe()
    }

    /// How the provider is restarted, or that it cannot be.
    pub fn restart(&self) -> &Restart {
        &self.restart
    }

    /// Restart the provider under test: the embedded default's in-process reference provider,
    /// or the target file's `[provider] restart` command (which returns once the provider is
    /// serving again).
    pub async fn restart_provider(&self) -> Result<String, RestartError> {
        match (&self.restart, &self.embedded_provider) {
            (Restart::Embedded, Some(p)) => {
                let resumed = p.restart().await?;
                Ok(format!(
                    "the reference provider restarted; {resumed} acknowledged find(s) resumed from its journal"
                ))
            }
            (Restart::Command { argv, timeout }, _) => {
                run_hook_command(Hook::Restart, argv, *timeout).await?;
                Ok(format!("the restart command {} succeeded", argv.join(" ")))
            }
            _ => Err(RestartError::NotPossible),
        }
    }

    /// How long a clear-down may take: the command's timeout, or the HTTP call's.
    pub fn clear_down_limit(&self) -> Duration {
        match &self.clear_down {
            hooks::ClearDown::Command { timeout, .. } => *timeout,
            hooks::ClearDown::Http(_) => self
                .recorder
                .timeout_for(PARTY_CLEAR_DOWN)
                .unwrap_or(Duration::from_secs(120)),
        }
    }

    /// Clear the simulator's state and the provider's test data.
    pub async fn clear_down(&self) -> Result<(), ClearDownError> {
        self.cas.clear()?;
        if let Ok(mut slot) = self.match_updates.lock() {
            *slot = None;
        }
        self.clear_down
            .run(&self.recorder, &self.harness_client)
            .await
            .map(|_| ())
    }

    pub fn target_info(&self, target_file: Option<String>) -> TargetInfo {
        TargetInfo {
            environment: self.label.clone(),
            organisation: self.organisation.clone(),
            holdername_guid: self.pack.holdername_guid().to_owned(),
            find_url: self.finder.url(),
            view_url: self.dashboard.view_url("{assetGuid}"),
            target_file,
            reporting_simulated: Some(self.reporting.simulator.is_some()),
        }
    }

    pub fn certificates(&self) -> Vec<CertificateInfo> {
        match &self.pki {
            Some(pki) => pki.issued(),
            None => vec![self.harness_identity.info.clone()],
        }
    }

    pub fn shutdown(&self) {
        self.reporting.shutdown();
        if self.owns_cas_server {
            self.cas_server.shutdown();
        }
        if let Some(p) = &self.provider_server {
            p.shutdown();
        }
        if let Some(p) = &self.embedded_provider {
            p.shutdown();
        }
    }

    /// The organisation's solution when the target file names one (`[provider]`), else the
    /// embedded default without faults: what `run` and `doctor` are played against.
    /// `keys`: the embedded default's signing keys if already under way (they are started
    /// here otherwise).
    pub async fn for_target(
        pack: Arc<TestPack>,
        config: &TargetConfig,
        redactor: Redactor,
        keys: Option<EmbeddedKeys>,
    ) -> Result<Environment, StartError> {
        if config.provider.is_some() {
            Environment::external(pack, config, redactor)
                .await
                .map_err(StartError::External)
        } else {
            let keys = keys.unwrap_or_else(EmbeddedKeys::start);
            Environment::embedded_with_keys(pack, config, Faults::none(), redactor, keys)
                .await
                .map_err(StartError::Embedded)
        }
    }

    /// Run against an organisation's solution: the C&A listens where the target file says,
    /// with the organisation's certificates and signing key; the finder and dashboard call the
    /// solution's find and view endpoints with the harness's client certificate.
    pub async fn external(
        pack: Arc<TestPack>,
        config: &TargetConfig,
        redactor: Redactor,
    ) -> Result<Environment, EnvError> {
        let Some(cda) = &config.cda else {
            return Err(EnvError::NeedsProviderAndCda);
        };
        let recorder = Arc::new(Recorder::new(redactor));
        config.limits.apply_to(&recorder);
        recorder.set_timeout(PARTY_CLEAR_DOWN, clear_down_timeout(config));
        let inbound = InboundParty {
            recorder: recorder.clone(),
            party: PARTY_PROVIDER_TO_CAS,
        };
        let service = CdaService::start(
            &cda.service_settings(&config.base_dir())?,
            &config.contract,
            &config.server,
            |router| {
                router.layer(axum::middleware::from_fn_with_state(
                    inbound,
                    crate::net::recorder::record_inbound,
                ))
            },
        )?;
        let mut env = Environment::with_service(pack, config, recorder, &service)?;
        env.owns_cas_server = true;
        Ok(env)
    }

    /// Against an organisation's solution with a C&A already running (`serve`), whose inbound
    /// calls `recorder` records.
    pub fn with_service(
        pack: Arc<TestPack>,
        config: &TargetConfig,
        recorder: Arc<Recorder>,
        service: &CdaService,
    ) -> Result<Environment, EnvError> {
        // `serve` hands in its service's recorder: every request gets its limit here too.
        config.limits.apply_to(&recorder);
        recorder.set_timeout(PARTY_CLEAR_DOWN, clear_down_timeout(config));
        let Some(target) = &config.provider else {
            return Err(EnvError::NeedsProviderAndCda);
        };
        let base = config.base_dir();
        let client_key = target.client_key.text("provider.client_key", &base)?;
        let harness_id = crate::net::pki::TlsIdentity::from_pem(
            "CDA client",
            &crate::net::pem::read_pem("provider.client_cert", &base.join(&target.client_cert))?,
            &client_key,
        )?;
        let provider_ca_path = base.join(&target.ca_bundle);
        let provider_ca_pem = crate::net::pem::read_pem("provider.ca_bundle", &provider_ca_path)?;
        let provider_trust = crate::net::pem::parse_certificates(
            "provider.ca_bundle",
            &provider_ca_path,
            &provider_ca_pem,
        )?;
        let contract = config.contract.clone();
        let key = service.signing_key.clone();
        let cas_trust = crate::net::pem::parse_certificates(
            "cda.server_ca",
            &service.server_ca_path,
            &service.server_ca_pem,
        )?;
        let cas_client = service.internal_http_client(Duration::from_secs(60))?;

        let harness_client = tls::client(
            Some(&harness_id),
            &[provider_ca_pem],
            Duration::from_secs(60),
        )?;
        let finder = PensionFinder {
            client: harness_client.clone(),
            key: key.clone(),
            contract: contract.find.clone(),
            recorder: recorder.clone(),
            find_base_url: target.find_url.trim_end_matches('/').to_owned(),
            holdername_guid: pack.holdername_guid().to_owned(),
            audience: contract
                .find
                .expected_audience(service.cas.base_url(), pack.holdername_guid()),
        };
        let dashboard = Dashboard::new(
            harness_client.clone(),
            key,
            DASHBOARD_ISSUER.to_owned(),
            contract.view.clone(),
            recorder.clone(),
            target.view_url.trim_end_matches('/').to_owned(),
        )
        .with_cas_client(cas_client.clone())
        .with_cda_jwk_uri(format!("{}/jwk_uri", service.cas.base_url()));
        // The solution's registered view token keys, published at the C&A's /jwk_uri.
        service
            .cas
            .register_view_token_keys(&target.view_token_key_set(&base)?);
        // The solution's holdername and its PAT assertion keys, as PDP registers them.
        service.cas.register_holdername(pack.holdername_guid());
        service.cas.register_pat_assertion_keys(
            pack.holdername_guid(),
            &target.pat_assertion_key_set(&base)?,
        );
        let clear_down = clear_down_hook(config, String::new());
        // Without [reporting] base_url the simulator stands in for the reporting API.
        let reporting = crate::reporting::setup::start(
            &config.reporting_sections(),
            recorder.clone(),
            holder_guid(&pack),
            None,
            None,
            None,
        )?;
        Ok(Environment {
            pki: None,
            recorder,
            cas: service.cas.clone(),
            cas_server: service.server.clone(),
            owns_cas_server: false,
            provider_server: None,
            embedded_provider: None,
            restart: match &target.restart {
                Some(argv) => Restart::Command {
                    argv: argv.clone(),
                    timeout: Duration::from_secs(target.restart_timeout_secs.unwrap_or(120)),
                },
                None => Restart::NotConfigured,
            },
            update_command: config.updates.command.clone().map(|argv| {
                (
                    argv,
                    Duration::from_secs(config.updates.timeout_secs.unwrap_or(300)),
                )
            }),
            provider_trust,
            cas_trust,
            cas_identity: service.internal_client.clone(),
            cas_client,
            label: "organisation's endpoints".to_owned(),
            organisation: organisation_name(config, &pack),
            finder,
            dashboard,
            pack,
            limits: config.limits.clone(),
            view_schema: Arc::new(crate::protocol::rules::ViewDataSchema::configured(
                contract.view_data_schema.as_deref(),
                &config.base_dir(),
            )?),
            contract,
            match_updates: std::sync::Mutex::new(None),
            reporting_section: config.reporting_section,
            harness_identity: harness_id,
            reporting: Arc::new(reporting),
            harness_client,
            clear_down,
        })
    }
}

/// The holdernameGuid reported for: the test pack's (or `[organisation]`'s), a nil GUID if the
/// pack's is not one (the pack check reports that separately).
fn holder_guid(pack: &TestPack) -> uuid::Uuid {
    uuid::Uuid::parse_str(pack.holdername_guid()).unwrap_or_default()
}

/// The target file's `[organisation] name`, else the test pack's administrator.
fn organisation_name(config: &TargetConfig, pack: &TestPack) -> String {
    config
        .organisation
        .name
        .clone()
        .unwrap_or_else(|| pack.provider.administrator_name.clone())
}
