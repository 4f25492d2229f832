//! Key material named in a configuration file: a file path (relative to that file) or
//! `env:NAME` for an environment variable holding the PEM text. Below every layer that reads
//! keys, so the C&A, the reference provider and the reporting client read them the same way.

use std::path::Path;

use serde::Deserialize;

/// A secret given in a configuration file: a file path (relative to that file), or
/// `env:NAME` for an environment variable holding the PEM text. Never on the command line.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl Secret {
    /// The secret's text; errors name the setting and what was expected.
    pub fn read(&self, setting: &str, base: &Path) -> Result<String, String> {
        match self.0.strip_prefix("env:") {
            Some(var) => std::env::var(var).map_err(|_| {
                format!(
                    "{setting}: the environment variable {var} is not set (expected the PEM text)"
                )
            }),
            None => read_text(setting, &base.join(&self.0)),
        }
    }
}

/// Read a PEM (or other text) file a setting names.
pub fn read_text(setting: &str, path: &Path) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map_err(|e| format!("{setting}: could not read {}: {e}", path.display()))
}
