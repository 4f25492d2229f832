//! The target file (`--target FILE`): what the harness runs against and how.
//!
//! With no `[provider]` it tunes the embedded default (wire contract overrides, timing limits);
//! with `[provider]` and `[cda]` it points the harness at an organisation's own solution.
//! `pdp-harness init` writes a commented example. Unknown keys are errors that name the file
//! and line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::protocol::contract::WireContract;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("could not read target file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("target file {path} is not valid: {message}")]
    Invalid { path: PathBuf, message: String },
}

/// Timing limits the verdicts are judged against.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Find request to acknowledgement. Not public: "within a set time limit" only; 2 s is a
    /// conservative default.
    pub acknowledgement_ms: u64,
    /// Find request to each PeI registration. Regulation 23 says "immediately"; no number is
    /// public; 30 s default.
    pub registration_ms: u64,
    /// View request to response: the 10 s threshold reporting uses.
    pub view_response_ms: u64,
    /// After the expected registrations arrive, how long to keep watching for unexpected extra
    /// ones before judging "exactly".
    pub registration_settle_ms: u64,
    /// After a find that should match nothing (or a repeated find), how long to watch for
    /// registrations that must not come.
    pub no_match_watch_ms: u64,
    /// After the match updates are applied, how long to wait for each to show at the C&A.
    pub update_ms: u64,
    /// Added to a request's limit to give its timeout (find: acknowledgement_ms + this; view:
    /// view_response_ms + this): a hung endpoint costs its limit, not a library default.
    pub timeout_margin_ms: u64,
    /// Largest find or view response body read (default 1 MiB); a larger one fails the step.
    pub max_body_bytes: u64,
    /// A reporting API call to its answer. Not public (the OpenAPI states none); 30 s default.
    pub reporting_response_ms: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            acknowledgement_ms: 2_000,
            registration_ms: 30_000,
            view_response_ms: 10_000,
            registration_settle_ms: 300,
            no_match_watch_ms: 1_500,
            update_ms: 30_000,
            timeout_margin_ms: 2_000,
            max_body_bytes: 1024 * 1024,
            reporting_response_ms: 30_000,
        }
    }
}

impl Limits {
    /// The timeout of a request whose standard allows `limit_ms`: the limit plus the margin.
    pub fn timeout(&self, limit_ms: u64) -> std::time::Duration {
        std::time::Duration::from_millis(limit_ms.saturating_add(self.timeout_margin_ms))
    }

    /// Give the recorder the timeout (limit + margin) of every request the harness makes, and
    /// the body cap. Find: the acknowledgement limit. View, and what the dashboard fetches to
    /// complete a view (the RPT from /token, the view token keys): the view response limit.
    /// Reporting: `reporting_response_ms`. (The clear-down's is its own `[clear_down]
    /// timeout_secs`, set with the hook.)
    pub fn apply_to(&self, recorder: &crate::net::recorder::Recorder) {
        use crate::cda::dashboard::{PARTY_JWK_URI, PARTY_JWKS, PARTY_TOKEN, PARTY_VIEW};
        recorder.set_timeout(
            crate::cda::finder::PARTY,
            self.timeout(self.acknowledgement_ms),
        );
        for party in [PARTY_VIEW, PARTY_TOKEN, PARTY_JWKS, PARTY_JWK_URI] {
            recorder.set_timeout(party, self.timeout(self.view_response_ms));
        }
        recorder.set_timeout(
            crate::reporting::PARTY_REPORTING,
            self.timeout(self.reporting_response_ms),
        );
        recorder.set_body_cap(usize::try_from(self.max_body_bytes).unwrap_or(usize::MAX));
    }
}

/// How the provider's test data is cleared down before each stage (and on `pdp-harness clear`).
/// With neither key, the reference provider's own endpoint is called.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClearDownConfig {
    /// An HTTP call: POST to this URL over mTLS with the harness's client certificate.
    pub url: Option<String>,
    /// A command, run without a shell; exit status 0 means cleared.
    pub command: Option<Vec<String>>,
    /// How long the command may take.
    pub timeout_secs: Option<u64>,
}

/// How stage 2's match updates reach the organisation's system when stage 1 and stage 2 run in
/// one `run` (`--pack all`): PDP emails the file; here a command applies it. Without one, a run
/// against a real target stops after stage 1 and stage 2 runs later with `--after`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct UpdatesConfig {
    /// Run without a shell, with the match-update file's path appended as its last argument
    /// and in `PDP_MATCH_UPDATES`; exit status 0 means applied.
    pub command: Option<Vec<String>>,
    /// How long the command may take (default 300 s).
    pub timeout_secs: Option<u64>,
}

/// Who is being tested, when it differs from the test pack's `[provider]`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OrganisationConfig {
    /// Shown on the evidence cover, e.g. "Acme Pensions Ltd".
    pub name: Option<String>,
    /// The organisation's holdername GUID, in place of the pack's (its PeIs carry it).
    pub holdername_guid: Option<String>,
    /// The scheme name the organisation's view data carries, in place of the pack's.
    pub scheme_name: Option<String>,
}

/// What the evidence masks beyond the built-in policy (tokens, keys, `Authorization` headers,
/// the personas' personal data).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedactionConfig {
    /// Keep personal data in the evidence (local debugging only; recorded on the cover).
    pub reveal_personal_data: bool,
    /// Further values to mask wherever they appear, e.g. internal member numbers.
    pub mask: Vec<String>,
}

pub use crate::net::secret::Secret;
use crate::net::secret::{KeyFileError, read_file};

/// The organisation's solution: where its find and view endpoints are and how to reach them.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEndpoints {
    /// Base URL of the find endpoint (the contract's find path is appended).
    pub find_url: String,
    /// Base URL of the view endpoint (the contract's view path is appended).
    pub view_url: String,
    /// The harness's client certificate (PEM) that the solution trusts.
    pub client_cert: PathBuf,
    pub client_key: Secret,
    /// CA certificate(s) (PEM) that issued the solution's server certificate.
    pub ca_bundle: PathBuf,
    /// The solution's view data token signing keys as registered with PDP (each a public key,
    /// certificate or RSA key PEM, with its `kid`). The simulated C&A publishes them at
    /// `/jwk_uri`, where the live dashboard looks view token keys up. Several at once is how a
    /// provider rotates: register the next key, then switch.
    #[serde(default)]
    pub view_token_keys: Vec<ViewTokenKey>,
    /// Or the same keys as a JWKS file.
    #[serde(default)]
    pub view_token_jwks: Option<PathBuf>,
    /// The public keys the solution signs its own PAT assertions with (the PAT refresh route,
    /// README "The PAT model"), registered for its holdername GUID. Optional: without one, a
    /// PAT can only be had for a find token.
    #[serde(default)]
    pub pat_assertion_keys: Vec<ViewTokenKey>,
    /// A command (no shell) that restarts the solution's find/view service and returns once
    /// it serves again: the no-loss-on-restart case runs only with it.
    #[serde(default)]
    pub restart: Option<Vec<String>>,
    /// How long the restart command may take (default 120 s).
    #[serde(default)]
    pub restart_timeout_secs: Option<u64>,
}

/// One registered key (`[provider] view_token_keys`, `pat_assertion_keys`): a PEM file and its
/// `kid`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ViewTokenKey {
    pub file: PathBuf,
    pub kid: String,
}

impl ProviderEndpoints {
    /// The registered PAT assertion keys as a JWKS, read from their files under `base`.
    pub fn pat_assertion_key_set(
        &self,
        base: &Path,
    ) -> Result<jsonwebtoken::jwk::JwkSet, KeySetError> {
        let mut set = jsonwebtoken::jwk::JwkSet { keys: Vec::new() };
        for k in &self.pat_assertion_keys {
            set.keys
                .push(public_jwk("provider.pat_assertion_keys", base, k)?);
        }
        Ok(set)
    }

    /// The registered view token keys as a JWKS, read from their files under `base`.
    pub fn view_token_key_set(
        &self,
        base: &Path,
    ) -> Result<jsonwebtoken::jwk::JwkSet, KeySetError> {
        let mut set = jsonwebtoken::jwk::JwkSet { keys: Vec::new() };
        if let Some(file) = &self.view_token_jwks {
            let text = read_file("provider.view_token_jwks", &base.join(file))?;
            let jwks: jsonwebtoken::jwk::JwkSet =
                serde_json::from_str(&text).map_err(|source| KeySetError::NotAJwks {
                    file: file.clone(),
                    source,
                })?;
            if let Some(k) = jwks.keys.iter().find(|k| k.common.key_id.is_none()) {
                return Err(KeySetError::NoKid {
                    algorithm: format!("{:?}", k.common.key_algorithm),
                });
            }
            set.keys.extend(jwks.keys);
        }
        for k in &self.view_token_keys {
            set.keys
                .push(public_jwk("provider.view_token_keys", base, k)?);
        }
        Ok(set)
    }
}

/// A registered key set of the target file (`[provider]`) that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error(transparent)]
    Read(#[from] KeyFileError),
    #[error("{setting} ({}): {source}", file.display())]
    Key {
        setting: &'static str,
        file: PathBuf,
        #[source]
        source: crate::net::pki::PkiError,
    },
    #[error("provider.view_token_jwks: {} is not a JWKS: {source}", file.display())]
    NotAJwks {
        file: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("provider.view_token_jwks: every key needs a kid (one has none: {algorithm})")]
    NoKid { algorithm: String },
}

/// One registered RSA key file as its public JWK.
fn public_jwk(
    setting: &'static str,
    base: &Path,
    key: &ViewTokenKey,
) -> Result<jsonwebtoken::jwk::Jwk, KeySetError> {
    let pem = read_file(setting, &base.join(&key.file))?;
    crate::net::pki::rsa_public_jwk(&key.kid, &pem).map_err(|source| KeySetError::Key {
        setting,
        file: key.file.clone(),
        source,
    })
}

/// The harness's simulated CDA (C&A, JWKS) as the organisation's solution reaches it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CdaConfig {
    /// Where the C&A listens, e.g. "0.0.0.0:8443".
    pub listen: std::net::SocketAddr,
    /// The C&A's base URL as the solution calls it (also the `as_uri` it must send).
    pub public_url: String,
    pub server_cert: PathBuf,
    pub server_key: Secret,
    /// CA certificate(s) (PEM) that issued `server_cert`: what the solution trusts for the C&A.
    pub server_ca: PathBuf,
    /// CA certificate(s) (PEM) that issued the solution's client certificate.
    pub client_ca: PathBuf,
    /// RSA key (PEM) signing find request tokens, PATs, tickets, RPTs and RQP tokens; its
    /// public part is served at `{public_url}/jwks`.
    pub signing_key: Secret,
    #[serde(default = "default_kid")]
    pub signing_kid: String,
    /// The SQLite file the C&A keeps its state in (registrations, PATs, tickets, the audit's
    /// log), so `serve` can restart and stage 2 run the next day; relative to the target file.
    /// Default: [`DEFAULT_CDA_STATE_FILE`].
    #[serde(default)]
    pub state_file: Option<PathBuf>,
}

/// Where the C&A's state is kept unless `[cda] state_file` says otherwise, beside the target file.
pub const DEFAULT_CDA_STATE_FILE: &str = ".pdp-harness/cda.sqlite";

impl CdaConfig {
    /// What the C&A service starts with: paths resolved against `base` (the target file's
    /// directory), the two private keys read.
    pub fn service_settings(
        &self,
        base: &Path,
    ) -> Result<crate::cda::service::CdaServiceSettings, crate::cda::service::CdaServiceError> {
        Ok(crate::cda::service::CdaServiceSettings {
            listen: self.listen,
            public_url: self.public_url.clone(),
            server_key_pem: self.server_key.text("cda.server_key", base)?,
            server_cert: base.join(&self.server_cert),
            server_ca: base.join(&self.server_ca),
            client_ca: base.join(&self.client_ca),
            signing_kid: self.signing_kid.clone(),
            signing_key_pem: self.signing_key.text("cda.signing_key", base)?,
            state_path: self.state_path(base),
        })
    }

    /// The state file, resolved against the target file's directory.
    pub fn state_path(&self, base: &Path) -> PathBuf {
        base.join(
            self.state_file
                .as_deref()
                .unwrap_or(Path::new(DEFAULT_CDA_STATE_FILE)),
        )
    }
}

fn default_kid() -> String {
    "pdp-harness-cda-1".to_owned()
}

pub use crate::reporting::config::{ReportingConfig, ReportingSimulatorConfig};

/// The whole target file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetConfig {
    pub limits: Limits,
    pub contract: WireContract,
    pub clear_down: ClearDownConfig,
    /// How stage 2's match updates are applied within one run (`[updates] command`).
    pub updates: UpdatesConfig,
    pub organisation: OrganisationConfig,
    pub redaction: RedactionConfig,
    /// The organisation's solution; omit for the embedded default.
    pub provider: Option<ProviderEndpoints>,
    /// Required with `[provider]`: the simulated CDA the solution calls.
    pub cda: Option<CdaConfig>,
    /// Reporting API and data sources; omit to rehearse against the simulator.
    pub reporting: ReportingConfig,
    /// `serve` runs the reporting simulator for the organisation's own reporting client.
    pub reporting_simulator: Option<ReportingSimulatorConfig>,
    /// `pdp-harness load`: the organisation's confirmation for a find endpoint not on loopback.
    pub load: LoadConfig,
    /// Timeouts and connection cap of every server the harness runs.
    pub server: crate::net::server::ServerLimits,
    /// Where the file came from (not a key in the file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
    /// The file has a `[reporting]` section (against a real target, reporting runs only then).
    #[serde(skip)]
    pub reporting_section: bool,
}

impl TargetConfig {
    pub fn load(path: &Path) -> Result<TargetConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        let mut cfg: TargetConfig = toml::from_str(&text).map_err(|e| ConfigError::Invalid {
            path: path.to_owned(),
            message: describe_toml_error(&text, &e),
        })?;
        cfg.path = Some(path.to_owned());
        cfg.reporting_section =
            toml::from_str::<toml::Table>(&text).is_ok_and(|table| table.contains_key("reporting"));
        let invalid = |message: &str| ConfigError::Invalid {
            path: path.to_owned(),
            message: message.to_owned(),
        };
        match (&cfg.clear_down.url, &cfg.clear_down.command) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "[clear_down] takes url or command, not both: say how the provider clears its test data",
                ));
            }
            (_, Some(cmd)) if cmd.is_empty() => {
                return Err(invalid(
                    "[clear_down] command is empty: give the program and its arguments, e.g. [\"/opt/bin/clear\", \"--all\"]",
                ));
            }
            _ => {}
        }
        if cfg.updates.command.as_ref().is_some_and(Vec::is_empty) {
            return Err(invalid(
                "[updates] command is empty: give the program and its arguments, e.g. [\"/opt/bin/apply-updates\"] (the match-update file's path is appended)",
            ));
        }
        if let Some(guid) = &cfg.organisation.holdername_guid
            && uuid::Uuid::parse_str(guid).is_err()
        {
            return Err(invalid(&format!(
                "[organisation] holdername_guid {guid:?} is not a GUID (expected e.g. 6f1c0f2e-8c5a-4d0e-9a43-2b7d9e0c1a55)"
            )));
        }
        cfg.reporting.check().map_err(|e| invalid(&e.to_string()))?;
        if let Some(rs) = &cfg.reporting_simulator
            && cfg.cda.is_none()
            && (rs.server_cert.is_none() || rs.server_key.is_none() || rs.client_ca.is_none())
        {
            return Err(invalid(
                "[reporting_simulator] needs server_cert, server_key and client_ca, or a [cda] section whose certificates it uses",
            ));
        }
        if cfg.provider.is_some() {
            if cfg.cda.is_none() {
                return Err(invalid(
                    "[provider] needs [cda]: where the harness's C&A listens, its public URL, certificates and signing key",
                ));
            }
            let provider_hosted =
                cfg.contract.view.jwks_url.is_some() || cfg.contract.view.jwks_path.is_some();
            if let Some(p) = &cfg.provider
                && p.view_token_keys.is_empty()
                && p.view_token_jwks.is_none()
                && !provider_hosted
            {
                return Err(invalid(
                    "[provider] view_token_keys is not set: register your view data token signing key(s), e.g. view_token_keys = [{ file = \"keys/view-1.pem\", kid = \"view-1\" }] (or view_token_jwks = \"FILE\"); the harness's C&A publishes them at /jwk_uri, where the live dashboard verifies view data tokens. To verify against a JWKS your solution hosts instead, set [contract.view] jwks_url or jwks_path",
                ));
            }
            if cfg.clear_down.url.is_none() && cfg.clear_down.command.is_none() {
                return Err(invalid(
                    "[provider] needs [clear_down] url or command: how the solution's test data is cleared down between stages",
                ));
            }
        }
        Ok(cfg)
    }

    /// The target file when one is given, else the embedded default's configuration (no
    /// file): what every command taking `--target FILE` starts from.
    pub fn load_or_default(path: Option<&Path>) -> Result<TargetConfig, ConfigError> {
        match path {
            Some(path) => TargetConfig::load(path),
            None => Ok(TargetConfig::default()),
        }
    }

    /// The configuration as `key = value` lines for the evidence appendix.
    /// The directory relative paths in the file are resolved against.
    /// Reporting's sections and what it takes from around them (base directory, `[server]`,
    /// `[cda]`'s certificates for the reporting simulator's defaults).
    pub fn reporting_sections(&self) -> crate::reporting::setup::Sections<'_> {
        crate::reporting::setup::Sections {
            reporting: &self.reporting,
            simulator: self.reporting_simulator.as_ref(),
            base_dir: self.base_dir(),
            server: self.server,
            cda: self
                .cda
                .as_ref()
                .map(|c| crate::reporting::setup::ServerCertificates {
                    server_cert: &c.server_cert,
                    server_key: &c.server_key,
                    client_ca: &c.client_ca,
                }),
        }
    }

    pub fn base_dir(&self) -> PathBuf {
        self.path
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf)
            .unwrap_or_default()
    }

    pub fn summary(&self) -> Vec<(String, String)> {
        let l = &self.limits;
        let c = &self.contract;
        let mut out = Vec::new();
        let o = &self.organisation;
        for (key, value) in [
            ("organisation.name", &o.name),
            ("organisation.holdername_guid", &o.holdername_guid),
            ("organisation.scheme_name", &o.scheme_name),
        ] {
            if let Some(v) = value {
                out.push((key.into(), v.clone()));
            }
        }
        if let Some(p) = &self.provider {
            out.push(("provider.find_url".into(), p.find_url.clone()));
            out.push(("provider.view_url".into(), p.view_url.clone()));
            out.push((
                "provider.client_cert".into(),
                p.client_cert.display().to_string(),
            ));
            out.push((
                "provider.ca_bundle".into(),
                p.ca_bundle.display().to_string(),
            ));
        }
        if let Some(cda) = &self.cda {
            out.push(("cda.listen".into(), cda.listen.to_string()));
            out.push(("cda.public_url".into(), cda.public_url.clone()));
            out.push((
                "cda.server_cert".into(),
                cda.server_cert.display().to_string(),
            ));
            out.push(("cda.server_ca".into(), cda.server_ca.display().to_string()));
            out.push(("cda.client_ca".into(), cda.client_ca.display().to_string()));
            out.push(("cda.signing_kid".into(), cda.signing_kid.clone()));
        }
        if let Some(host) = &self.load.confirm_host {
            out.push(("load.confirm_host".into(), host.clone()));
        }
        let r = &self.reporting;
        out.push((
            "reporting.base_url".into(),
            r.base_url
                .clone()
                .unwrap_or_else(|| "the harness's reporting simulator".to_owned()),
        ));
        if let Some(cert) = &r.client_cert {
            out.push(("reporting.client_cert".into(), cert.display().to_string()));
        }
        for (key, value) in &r.sources {
            out.push((format!("reporting.sources.{key}"), value.clone()));
        }
        out.push((
            "reporting.expected_minutes".into(),
            r.expected_minutes().to_string(),
        ));
        if let Some(rs) = &self.reporting_simulator {
            out.push(("reporting_simulator.listen".into(), rs.listen.to_string()));
            out.push((
                "reporting_simulator.journal".into(),
                rs.journal_path(&self.base_dir()).display().to_string(),
            ));
        }
        out.extend(vec![
            (
                "limits.acknowledgement_ms".into(),
                l.acknowledgement_ms.to_string(),
            ),
            (
                "limits.registration_ms".into(),
                l.registration_ms.to_string(),
            ),
            (
                "limits.view_response_ms".into(),
                l.view_response_ms.to_string(),
            ),
            (
                "limits.registration_settle_ms".into(),
                l.registration_settle_ms.to_string(),
            ),
            (
                "limits.no_match_watch_ms".into(),
                l.no_match_watch_ms.to_string(),
            ),
            ("limits.update_ms".into(), l.update_ms.to_string()),
            (
                "limits.timeout_margin_ms".into(),
                l.timeout_margin_ms.to_string(),
            ),
            ("limits.max_body_bytes".into(), l.max_body_bytes.to_string()),
            (
                "limits.reporting_response_ms".into(),
                l.reporting_response_ms.to_string(),
            ),
            (
                "clear_down".into(),
                match (&self.clear_down.url, &self.clear_down.command) {
                    (Some(url), _) => format!("POST {url}"),
                    (_, Some(cmd)) => {
                        format!("command {}", cmd.first().map(String::as_str).unwrap_or(""))
                    }
                    _ => "the reference provider's clear-down endpoint".to_owned(),
                },
            ),
            (
                "redaction".into(),
                format!(
                    "personal data {}; {} further value(s) masked",
                    if self.redaction.reveal_personal_data {
                        "REVEALED"
                    } else {
                        "masked"
                    },
                    self.redaction.mask.len()
                ),
            ),
            ("contract.name".into(), c.name.clone()),
            (
                "contract.find".into(),
                format!(
                    "{} {} ({:?} mode, field {})",
                    c.find.method, c.find.path, c.find.body_mode, c.find.token_field
                ),
            ),
            (
                "contract.view".into(),
                format!(
                    "{} {}?{}",
                    c.view.method, c.view.path_template, c.view.query
                ),
            ),
            (
                "contract.view.challenge".into(),
                format!(
                    "{} realm, {}, {}",
                    if c.view.challenge.scheme.is_empty() {
                        "(no scheme)"
                    } else {
                        &c.view.challenge.scheme
                    },
                    c.view.challenge.as_uri_param,
                    c.view.challenge.ticket_param
                ),
            ),
        ]);
        if let Some(cmd) = &self.updates.command {
            out.push((
                "updates".into(),
                format!(
                    "command {} (stage 2's match updates applied within the run)",
                    cmd.first().map(String::as_str).unwrap_or("")
                ),
            ));
        }
        out
    }
}

/// A TOML error with the file's line and column spelled out.
fn describe_toml_error(text: &str, e: &toml::de::Error) -> String {
    match e.span().map(|s| s.start) {
        Some(start) => {
            let before = &text[..start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let col = before
                .rsplit('\n')
                .next()
                .map(|l| l.chars().count() + 1)
                .unwrap_or(1);
            format!("line {line}, column {col}: {}", e.message())
        }
        None => e.message().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reporting_simulator_without_cda_needs_its_own_certificates() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("target.toml");
        std::fs::write(
            &path,
            "[reporting_simulator]\nlisten = \"127.0.0.1:8444\"\n",
        )
        .expect("write");
        let err = TargetConfig::load(&path).expect_err("no certificates");
        assert!(
            err.to_string()
                .contains("[reporting_simulator] needs server_cert, server_key and client_ca"),
            "{err}"
        );
        std::fs::write(
            &path,
            "[reporting_simulator]\nlisten = \"127.0.0.1:8444\"\nserver_cert = \"s.pem\"\nserver_key = \"s.key\"\nclient_ca = \"ca.pem\"\n",
        )
        .expect("write");
        let cfg = TargetConfig::load(&path).expect("valid");
        let rs = cfg.reporting_simulator.as_ref().expect("section");
        assert_eq!(
            rs.journal_path(&cfg.base_dir()),
            dir.path().join("reporting-received.jsonl")
        );
    }

    #[test]
    fn unknown_keys_name_the_line() {
        let dir = std::env::temp_dir().join(format!("pdp-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("target.toml");
        std::fs::write(
            &path,
            "[limits]\nacknowledgement_ms = 500\n\n[contract.find]\npaht = \"/x\"\n",
        )
        .expect("write");
        let err = TargetConfig::load(&path).expect_err("unknown key");
        let msg = err.to_string();
        assert!(msg.contains("target.toml"), "{msg}");
        assert!(msg.contains("line 5"), "{msg}");
        assert!(msg.contains("paht"), "{msg}");
        std::fs::write(
            &path,
            "[limits]\nacknowledgement_ms = 500\n[contract.find]\npath = \"/pdp/find\"\n",
        )
        .expect("write");
        let cfg = TargetConfig::load(&path).expect("valid");
        assert_eq!(cfg.limits.acknowledgement_ms, 500);
        assert_eq!(cfg.limits.registration_ms, 30_000);
        assert_eq!(cfg.contract.find.path, "/pdp/find");
        assert_eq!(cfg.contract.find.token_field, "find_request_token");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn organisation_and_cda_settings_are_checked_with_their_names() {
        let dir = std::env::temp_dir().join(format!("pdp-cfg-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("target.toml");
        std::fs::write(&path, "[organisation]\nholdername_guid = \"acme\"\n").expect("write");
        let msg = TargetConfig::load(&path).expect_err("bad GUID").to_string();
        assert!(
            msg.contains("holdername_guid \"acme\" is not a GUID"),
            "{msg}"
        );
        std::fs::write(
            &path,
            "[provider]\nfind_url = \"https://f\"\nview_url = \"https://v\"\nclient_cert = \"c.pem\"\nclient_key = \"env:K\"\nca_bundle = \"ca.pem\"\n",
        )
        .expect("write");
        let msg = TargetConfig::load(&path).expect_err("no [cda]").to_string();
        assert!(msg.contains("[provider] needs [cda]"), "{msg}");
        // A real target with no view token key registered: the setting is named.
        let provider = "[provider]\nfind_url = \"https://f\"\nview_url = \"https://v\"\nclient_cert = \"c.pem\"\nclient_key = \"env:K\"\nca_bundle = \"ca.pem\"\n";
        let cda = "[cda]\nlisten = \"127.0.0.1:1\"\npublic_url = \"https://c\"\nserver_cert = \"s.pem\"\nserver_key = \"env:S\"\nserver_ca = \"ca.pem\"\nclient_ca = \"ca.pem\"\nsigning_key = \"env:J\"\n[clear_down]\nurl = \"https://v/clear\"\n";
        std::fs::write(&path, format!("{provider}{cda}")).expect("write");
        let msg = TargetConfig::load(&path)
            .expect_err("no view token key")
            .to_string();
        assert!(
            msg.contains("[provider] view_token_keys is not set"),
            "{msg}"
        );
        let registered = provider.replace(
            "ca_bundle = \"ca.pem\"\n",
            "ca_bundle = \"ca.pem\"\nview_token_keys = [{ file = \"v.pem\", kid = \"view-1\" }]\n",
        );
        std::fs::write(&path, format!("{registered}{cda}")).expect("write");
        assert!(TargetConfig::load(&path).is_ok());
        std::fs::write(
            &path,
            format!("{provider}{cda}[contract.view]\njwks_path = \"/jwks\"\n"),
        )
        .expect("write");
        assert!(TargetConfig::load(&path).is_ok(), "provider-hosted mode");
        std::fs::write(&path, "[cda]\nlisten = \"127.0.0.1:1\"\n").expect("write");
        let msg = TargetConfig::load(&path)
            .expect_err("incomplete [cda]")
            .to_string();
        assert!(
            msg.contains("line 1") && msg.contains("public_url"),
            "{msg}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// The target file's `[load]` section.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LoadConfig {
    /// The find endpoint's host name, written out by the organisation: its confirmation that
    /// this endpoint may be load-tested. Not needed for loopback.
    pub confirm_host: Option<String>,
}
