//! Key material named in a configuration file: a file path (relative to that file) or
//! `env:NAME` for an environment variable holding the PEM text. Below every layer that reads
//! keys, so the C&A, the reference provider and the reporting client read them the same way.
//! Errors are typed ([`KeyFileError`]) and name the setting.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A setting's key material could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    #[error("{setting}: could not read {}: {source}", .path.display())]
    Read {
        setting: String,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{setting}: the environment variable {var} is not set (expected the PEM text)")]
    NoVariable { setting: String, var: String },
}

/// A secret given in a configuration file: a file path (relative to that file), or `env:NAME`
/// for an environment variable holding the PEM text. Never on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret's text; errors name the setting and what was expected.
    pub fn text(&self, setting: &str, base: &Path) -> Result<String, KeyFileError> {
        match self.0.strip_prefix("env:") {
            Some(var) => std::env::var(var).map_err(|_| KeyFileError::NoVariable {
                setting: setting.to_owned(),
                var: var.to_owned(),
            }),
            None => read_file(setting, &base.join(&self.0)),
        }
    }
}

/// Read a PEM (or other text) file a setting names.
pub fn read_file(setting: &str, path: &Path) -> Result<String, KeyFileError> {
    std::fs::read_to_string(path).map_err(|source| KeyFileError::Read {
        setting: setting.to_owned(),
        path: path.to_owned(),
        source,
    })
}
