//! The reference provider as a separate service, configured only through a file, as an
//! organisation's solution would be: `pdp-harness reference-provider --config provider.toml`.
//! It sits above the provider (harness level): it reads the key files and the test pack and
//! builds the provider's settings, so the provider itself reads no configuration.
//!
//! ```toml
//! listen = "127.0.0.1:9443"
//! server_cert = "provider-server.pem"     # paths are relative to this file
//! server_key = "provider-server.key"      # or "env:NAME" for a variable holding the PEM
//! client_ca = "cda-ca.pem"                # CA of the client certificates it accepts (the CDA's)
//! cda_url = "https://localhost:8443"      # the C&A it registers with
//! cda_ca = "cda-ca.pem"                   # CA of the C&A's server certificate
//! client_cert = "provider-client.pem"     # its client certificate for calling the C&A
//! client_key = "provider-client.key"
//! view_signing_key = "view-signing.key"   # RSA PEM signing view data tokens
//! pat_assertion_key = "pat-signing.key"   # optional: RSA PEM signing its own PAT assertions
//! pat_assertion_kid = "pat-1"             #   (registered at the C&A: [provider] pat_assertion_keys)
//! pack = "testpacks/integration/pack.toml"
//! journal = "provider-journal.jsonl"      # acknowledged finds and registrations (the default)
//! [contract]                              # as in the harness's target file
//! ```

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::harness::testpack::{PackError, TestPack};
use crate::net::pki::{PkiError, SigningKey, TlsIdentity};
use crate::net::secret::{self, KeyFileError, Secret};
use crate::net::tls::{self, RunningServer, TlsError};
use crate::protocol::contract::WireContract;
use crate::provider::journal::{FindJournal, JournalError};
use crate::provider::{Faults, PROVIDER_ISSUER, ProviderOptions, ReferenceProvider};

/// The reference provider service could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    #[error(transparent)]
    Pem(#[from] crate::net::pem::PemFileError),
    #[error("{}: {source}", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },
    #[error(transparent)]
    Pki(#[from] PkiError),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error(transparent)]
    Journal(#[from] JournalError),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StandaloneConfig {
    pub listen: SocketAddr,
    pub server_cert: PathBuf,
    pub server_key: Secret,
    pub client_ca: PathBuf,
    pub cda_url: String,
    pub cda_ca: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: Secret,
    pub view_signing_key: Secret,
    #[serde(default = "default_view_kid")]
    pub view_signing_kid: String,
    /// Signs its own PAT assertions (the PAT refresh route); without it PATs come from find
    /// tokens only.
    #[serde(default)]
    pub pat_assertion_key: Option<Secret>,
    #[serde(default = "default_pat_kid")]
    pub pat_assertion_kid: String,
    pub pack: PathBuf,
    #[serde(default)]
    pub contract: WireContract,
    /// Timeouts and connection cap (the same `[server]` keys as the target file).
    #[serde(default)]
    pub server: crate::net::server::ServerLimits,
    /// Where acknowledged finds and registrations are kept, so a restart loses neither
    /// (relative to this file; default `provider-journal.jsonl` beside it).
    #[serde(default = "default_journal")]
    pub journal: PathBuf,
}

fn default_journal() -> PathBuf {
    PathBuf::from("provider-journal.jsonl")
}

fn default_pat_kid() -> String {
    "reference-provider-pat-1".to_owned()
}

fn default_view_kid() -> String {
    "reference-provider-view-1".to_owned()
}

/// Start the reference provider from its configuration file.
pub async fn start(path: &Path) -> Result<RunningServer, ServiceError> {
    let text = secret::read_file("reference provider configuration", path)?;
    let config: StandaloneConfig = toml::from_str(&text).map_err(|source| ServiceError::Parse {
        path: path.to_owned(),
        source,
    })?;
    let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let file = |setting: &str, p: &Path| secret::read_file(setting, &base.join(p));
    let server = TlsIdentity::from_pem(
        "provider server",
        &file("server_cert", &config.server_cert)?,
        &config.server_key.text("server_key", &base)?,
    )?;
    let client_ca = crate::net::pem::certificates("client_ca", &base.join(&config.client_ca))?;
    let client = TlsIdentity::from_pem(
        "provider client",
        &file("client_cert", &config.client_cert)?,
        &config.client_key.text("client_key", &base)?,
    )?;
    let http = tls::client(
        Some(&client),
        &[file("cda_ca", &config.cda_ca)?],
        Duration::from_secs(30),
    )?;
    let view_key = SigningKey::from_pem(
        &config.view_signing_kid,
        &config.view_signing_key.text("view_signing_key", &base)?,
    )?;
    let pat_key = match &config.pat_assertion_key {
        Some(secret) => Some(SigningKey::from_pem(
            &config.pat_assertion_kid,
            &secret.text("pat_assertion_key", &base)?,
        )?),
        None => None,
    };
    let pack = TestPack::load(&base.join(&config.pack))?;
    let cda_url = config.cda_url.trim_end_matches('/').to_owned();
    // Written and flushed to the disk before each 202: it survives the machine, not only the
    // process.
    let (journal, recovered) = FindJournal::open(&base.join(&config.journal), true)?;
    let pending = recovered.pending.clone();
    let provider = ReferenceProvider::with_journal(
        ProviderOptions {
            pack: Arc::new(pack),
            contract: config.contract.clone(),
            cda_jwks_url: format!("{cda_url}/jwks"),
            cas_base_url: cda_url,
            client: http,
            view_key,
            pat_key,
            issuer: PROVIDER_ISSUER.to_owned(),
            faults: Faults::none(),
        },
        Some(Arc::new(journal)),
        recovered,
    );
    let running = tls::serve_mtls(
        provider.router(),
        config.listen,
        &server,
        &client_ca,
        &config.server,
    )?;
    if !pending.is_empty() {
        tracing::info!(
            "{} acknowledged find(s) resumed from the journal",
            pending.len()
        );
    }
    provider.resume(pending);
    Ok(running)
}
