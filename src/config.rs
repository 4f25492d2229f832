//! The target file (`--target FILE`): what the harness runs against and how.
//!
//! Today it carries the wire contract overrides and the timing limits; pointing at an
//! organisation's own find/view/clear-down endpoints with its certificates comes with the
//! "real targets" work. Unknown keys are errors that name the file and line.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::contract::WireContract;

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
        }
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

/// The whole target file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TargetConfig {
    pub limits: Limits,
    pub contract: WireContract,
    pub clear_down: ClearDownConfig,
    /// Where the file came from (not a key in the file).
    #[serde(skip)]
    pub path: Option<PathBuf>,
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
        Ok(cfg)
    }

    /// The configuration as `key = value` lines for the evidence appendix.
    pub fn summary(&self) -> Vec<(String, String)> {
        let l = &self.limits;
        let c = &self.contract;
        vec![
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
                "clear_down".into(),
                match (&self.clear_down.url, &self.clear_down.command) {
                    (Some(url), _) => format!("POST {url}"),
                    (_, Some(cmd)) => {
                        format!("command {}", cmd.first().map(String::as_str).unwrap_or(""))
                    }
                    _ => "the reference provider's clear-down endpoint".to_owned(),
                },
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
        ]
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
}
