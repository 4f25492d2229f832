//! Reporting's own sections of the target file, `[reporting]` and `[reporting_simulator]`:
//! parsed and checked here, so the target file's module embeds them without reporting
//! importing it back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::Endpoint;
use super::sources::{Source, SourceParseError};
use crate::net::secret::Secret;

/// `[reporting]` is not usable as written.
#[derive(Debug, thiserror::Error)]
pub enum ReportingConfigError {
    #[error(
        "[reporting] base_url needs client_cert, client_key and ca_bundle: the organisation's PDP client certificate and the CA of the reporting API's server certificate"
    )]
    BaseUrlNeedsCertificates,
    #[error("[reporting.sources] {key:?} is not a reporting endpoint (expected one of {})", Endpoint::ALL.map(Endpoint::slug).join(", "))]
    UnknownEndpoint { key: String },
    #[error("[reporting.sources] {key}: {source}")]
    Source {
        key: String,
        #[source]
        source: SourceParseError,
    },
    #[error(
        "[reporting] submission_status {0:?}: expected \"on time\" or \"late\" (corrections are sent as resubmissions)"
    )]
    SubmissionStatus(String),
    #[error("[reporting] expected_minutes {0}: expected 1 to 1440")]
    ExpectedMinutes(u64),
}

/// Where reporting data goes and where it comes from (`[reporting]`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportingConfig {
    /// Base URL of the reporting API (e.g. MaPS pre-production); omit to rehearse against the
    /// harness's reporting simulator.
    pub base_url: Option<String>,
    /// The organisation's client certificate (PEM) for the reporting API; with `base_url`.
    pub client_cert: Option<PathBuf>,
    pub client_key: Option<Secret>,
    /// CA certificate(s) (PEM) that issued the reporting API's server certificate.
    pub ca_bundle: Option<PathBuf>,
    /// Per endpoint (`service-availability-find`, ... or its path): `"derived"` (from what the
    /// reference provider did in the run), `"null"` or `"file:PATH"` (the organisation's export).
    pub sources: BTreeMap<String, String>,
    /// How long the six submissions may take: the UTC-day guard's budget. Unset: 15 minutes
    /// toward a real reporting API, 1 toward the harness's simulator (loopback, seconds).
    pub expected_minutes: Option<u64>,
    /// `"on time"` or `"late"`.
    pub submission_status: String,
    /// The submission journal; default: `reporting-journal.jsonl` beside the target file (real
    /// API) or in the run directory (simulator).
    pub journal: Option<PathBuf>,
    /// The reporting API takes the MaPS stub's `POST /configuration` (forced errors) and raw
    /// invalid bodies: scenarios tagged `@stub` run. Always true for the simulator.
    pub stub: bool,
}

impl Default for ReportingConfig {
    fn default() -> Self {
        ReportingConfig {
            base_url: None,
            client_cert: None,
            client_key: None,
            ca_bundle: None,
            sources: BTreeMap::new(),
            expected_minutes: None,
            submission_status: "on time".to_owned(),
            journal: None,
            stub: false,
        }
    }
}

impl ReportingConfig {
    /// `[reporting.sources]` parsed: each key an endpoint (path or slug), each value a source.
    pub fn parsed_sources(&self) -> Result<BTreeMap<Endpoint, Source>, ReportingConfigError> {
        self.sources
            .iter()
            .map(|(key, value)| {
                let endpoint = Endpoint::parse(key)
                    .ok_or_else(|| ReportingConfigError::UnknownEndpoint { key: key.clone() })?;
                let source =
                    Source::parse(value).map_err(|source| ReportingConfigError::Source {
                        key: key.clone(),
                        source,
                    })?;
                Ok((endpoint, source))
            })
            .collect()
    }

    /// Check the section; errors name the key and what was expected.
    pub fn check(&self) -> Result<(), ReportingConfigError> {
        if self.base_url.is_some()
            && (self.client_cert.is_none() || self.client_key.is_none() || self.ca_bundle.is_none())
        {
            return Err(ReportingConfigError::BaseUrlNeedsCertificates);
        }
        self.parsed_sources()?;
        if !["on time", "late"].contains(&self.submission_status.as_str()) {
            return Err(ReportingConfigError::SubmissionStatus(
                self.submission_status.clone(),
            ));
        }
        if let Some(minutes) = self.expected_minutes
            && (minutes == 0 || minutes > 24 * 60)
        {
            return Err(ReportingConfigError::ExpectedMinutes(minutes));
        }
        Ok(())
    }

    /// The UTC-day guard's budget in minutes: as set, else 15 toward a real reporting API and 1
    /// toward the simulator, whose six submissions over loopback take seconds.
    pub fn expected_minutes(&self) -> u64 {
        self.expected_minutes
            .unwrap_or(if self.base_url.is_some() { 15 } else { 1 })
    }
}

/// `pdp-harness serve` also runs the reporting simulator here, for the organisation's own
/// reporting client (`[reporting_simulator]`); `run --pack reporting-received` judges what it
/// received. Certificates default to `[cda]`'s: the harness's PKI the organisation already
/// trusts, and the organisation's client CA.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportingSimulatorConfig {
    /// Where it listens, e.g. "0.0.0.0:8444".
    pub listen: std::net::SocketAddr,
    /// Its server certificate and key (PEM); default `[cda] server_cert` / `server_key`.
    pub server_cert: Option<PathBuf>,
    pub server_key: Option<Secret>,
    /// CA certificate(s) (PEM) of the organisation's reporting client certificate; default
    /// `[cda] client_ca`.
    pub client_ca: Option<PathBuf>,
    /// What it received, one JSON line per request; default `reporting-received.jsonl` beside
    /// the target file.
    pub journal: Option<PathBuf>,
}

impl ReportingSimulatorConfig {
    /// The journal's path, relative paths resolved against `base`.
    pub fn journal_path(&self, base: &Path) -> PathBuf {
        base.join(
            self.journal
                .clone()
                .unwrap_or_else(|| PathBuf::from(super::RECEIVED_FILE)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_day_guard_budget_defaults_by_where_the_submissions_go() {
        let simulator = ReportingConfig::default();
        assert_eq!(
            simulator.expected_minutes(),
            1,
            "the simulator: seconds over loopback"
        );
        let real = ReportingConfig {
            base_url: Some("https://reporting.example".to_owned()),
            ..ReportingConfig::default()
        };
        assert_eq!(real.expected_minutes(), 15);
        let set = ReportingConfig {
            expected_minutes: Some(40),
            ..real
        };
        assert_eq!(set.expected_minutes(), 40);
        let zero = ReportingConfig {
            expected_minutes: Some(0),
            ..ReportingConfig::default()
        };
        assert!(matches!(
            zero.check(),
            Err(ReportingConfigError::ExpectedMinutes(0))
        ));
    }
}
