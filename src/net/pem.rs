//! PEM files a setting names (CA bundles, certificates): read and parsed with errors that name
//! the setting and the file, for every server and client that takes them from configuration.

use std::path::{Path, PathBuf};

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A PEM file a setting names that could not be used.
#[derive(Debug, thiserror::Error)]
pub enum PemFileError {
    #[error("{setting}: could not read {}: {source}", path.display())]
    Read {
        setting: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{setting}: {}: {source}", path.display())]
    Parse {
        setting: String,
        path: PathBuf,
        source: rustls::pki_types::pem::Error,
    },
    #[error("{setting}: {} holds no CERTIFICATE (expected PEM)", path.display())]
    NoCertificate { setting: String, path: PathBuf },
}

/// The text of a PEM file a setting names.
pub fn read_pem(setting: &str, path: &Path) -> Result<String, PemFileError> {
    std::fs::read_to_string(path).map_err(|source| PemFileError::Read {
        setting: setting.to_owned(),
        path: path.to_owned(),
        source,
    })
}

/// PEM certificates from a file a setting names; at least one.
pub fn certificates(
    setting: &str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, PemFileError> {
    let pem = read_pem(setting, path)?;
    parse_certificates(setting, path, &pem)
}

/// PEM certificates from `pem`, the text of the file at `path` a setting names; at least one.
pub fn parse_certificates(
    setting: &str,
    path: &Path,
    pem: &str,
) -> Result<Vec<CertificateDer<'static>>, PemFileError> {
    let list: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|source| PemFileError::Parse {
            setting: setting.to_owned(),
            path: path.to_owned(),
            source,
        })?;
    if list.is_empty() {
        return Err(PemFileError::NoCertificate {
            setting: setting.to_owned(),
            path: path.to_owned(),
        });
    }
    Ok(list)
}
