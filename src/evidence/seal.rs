//! Sealing an evidence bundle, and checking a sealed one (`pdp-harness verify <dir>`).
//!
//! The PDF prints the manifest's digest, so the manifest cannot hold the PDF's digest without a
//! cycle. Hence two files:
//! - `manifest.json`: the SHA-256 of every file in the run directory but the PDF, the manifest
//!   and the seal: the run log, `run.json`, `junit.xml`, `cucumber.json`, and `inputs/` (the
//!   SHA-256 of the feature files and test pack the run used, and its configuration without
//!   secrets);
//! - `seal.json`: the SHA-256 of `manifest.json` (the digest the PDF prints) and of
//!   `evidence.pdf`.
//!
//! `verify` recomputes everything and names each file that changed, went missing or appeared.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::EvidenceError;

pub const MANIFEST: &str = "manifest.json";
pub const SEAL: &str = "seal.json";
/// Copies of what the run used, inside the run directory.
pub const INPUTS: &str = "inputs";
const MANIFEST_FORMAT: &str = "pdp-harness evidence manifest v1";
pub use crate::record::run::FileDigest;

const SEAL_FORMAT: &str = "pdp-harness evidence seal v1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub format: String,
    pub run_id: String,
    pub files: Vec<FileDigest>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub format: String,
    pub run_id: String,
    pub manifest_sha256: String,
    /// None when no PDF was rendered.
    pub evidence_pdf_sha256: Option<String>,
    /// `report.html`, which prints the manifest's digest like the PDF (absent from older seals,
    /// whose manifest covers the HTML instead).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report_html_sha256: Option<String>,
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

fn read(path: &Path) -> Result<Vec<u8>, EvidenceError> {
    std::fs::read(path).map_err(|source| EvidenceError::Read {
        path: path.to_owned(),
        source,
    })
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), EvidenceError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| EvidenceError::Write {
            path: parent.to_owned(),
            source,
        })?;
    }
    std::fs::write(path, bytes).map_err(|source| EvidenceError::Write {
        path: path.to_owned(),
        source,
    })
}

/// The inputs' digests, inside the bundle (and so covered by the manifest).
pub const INPUTS_USED: &str = "inputs/used.json";

/// Record what the run used: the SHA-256 of the feature files and the test pack (digests, not
/// copies: the pack holds the personas' personal data), and the configuration, which holds
/// no secret (settings and paths only), as `inputs/configuration.txt`.
pub fn write_inputs(
    run_dir: &Path,
    features: &[PathBuf],
    pack: &Path,
    configuration: &[(String, String)],
) -> Result<Vec<FileDigest>, EvidenceError> {
    let mut used = Vec::new();
    for f in features
        .iter()
        .map(PathBuf::as_path)
        .chain(Some(pack).filter(|p| !p.as_os_str().is_empty()))
    {
        let bytes = read(f)?;
        used.push(FileDigest {
            path: f.display().to_string(),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
        });
    }
    let path = run_dir.join(INPUTS_USED);
    let json = serde_json::to_vec_pretty(&used).map_err(|e| EvidenceError::Render {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write(&path, &json)?;
    let mut text = String::from("# The configuration the run used; secrets are never written.\n");
    for (k, v) in configuration {
        text.push_str(&format!("{k} = {v}\n"));
    }
    write(
        &run_dir.join(INPUTS).join("configuration.txt"),
        text.as_bytes(),
    )?;
    Ok(used)
}

/// Files the manifest does not cover: itself, the seal, the PDF and the HTML (covered by the
/// seal), signatures, and half-written files.
fn outside_manifest(rel: &str) -> bool {
    rel == MANIFEST
        || rel == SEAL
        || rel == super::EVIDENCE_PDF
        || rel == super::REPORT_HTML
        || rel.ends_with(".sig")
        || rel.ends_with(".partial")
}

/// Every file under `dir`, as sorted relative `/`-separated paths.
fn files_under(dir: &Path) -> Result<Vec<String>, EvidenceError> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        let entries = std::fs::read_dir(&d).map_err(|source| EvidenceError::Read {
            path: d.clone(),
            source,
        })?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                let rel: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(rel.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The manifest of the run directory as it is now.
pub fn build_manifest(run_dir: &Path, run_id: &str) -> Result<Manifest, EvidenceError> {
    let mut files = Vec::new();
    for rel in files_under(run_dir)? {
        if outside_manifest(&rel) {
            continue;
        }
        let bytes = read(&run_dir.join(&rel))?;
        files.push(FileDigest {
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            path: rel,
        });
    }
    Ok(Manifest {
        format: MANIFEST_FORMAT.to_owned(),
        run_id: run_id.to_owned(),
        files,
    })
}

/// Write `manifest.json`; returns its SHA-256 (the digest the PDF prints).
pub fn write_manifest(run_dir: &Path, run_id: &str) -> Result<String, EvidenceError> {
    let manifest = build_manifest(run_dir, run_id)?;
    let path = run_dir.join(MANIFEST);
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| EvidenceError::Render {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write(&path, &bytes)?;
    Ok(sha256_hex(&bytes))
}

/// Write `seal.json` over the manifest, the PDF and the HTML as they are now.
pub fn write_seal(run_dir: &Path, run_id: &str) -> Result<Seal, EvidenceError> {
    let manifest = read(&run_dir.join(MANIFEST))?;
    let digest_of = |name: &str| -> Result<Option<String>, EvidenceError> {
        let path = run_dir.join(name);
        Ok(if path.is_file() {
            Some(sha256_hex(&read(&path)?))
        } else {
            None
        })
    };
    let seal = Seal {
        format: SEAL_FORMAT.to_owned(),
        run_id: run_id.to_owned(),
        manifest_sha256: sha256_hex(&manifest),
        evidence_pdf_sha256: digest_of(super::EVIDENCE_PDF)?,
        report_html_sha256: digest_of(super::REPORT_HTML)?,
    };
    let path = run_dir.join(SEAL);
    let bytes = serde_json::to_vec_pretty(&seal).map_err(|e| EvidenceError::Render {
        path: path.clone(),
        message: e.to_string(),
    })?;
    write(&path, &bytes)?;
    Ok(seal)
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verification {
    /// Files whose digest matched.
    pub intact: usize,
    /// Each difference, in words: "run.json changed (SHA-256 … expected …)".
    pub problems: Vec<String>,
    /// Inputs (feature files, test pack) that differ now from what the run used: not a change
    /// to the evidence, but worth knowing before a re-run.
    pub notes: Vec<String>,
    pub manifest_sha256: Option<String>,
}

impl Verification {
    pub fn is_intact(&self) -> bool {
        self.problems.is_empty()
    }
}

fn parse<T: for<'de> Deserialize<'de>>(path: &Path, bytes: &[u8]) -> Result<T, EvidenceError> {
    serde_json::from_slice(bytes).map_err(|source| EvidenceError::Unreadable {
        path: path.to_owned(),
        source,
    })
}

/// Check a sealed bundle: the seal against the manifest and the PDF, the manifest against
/// every file. Problems are listed, not raised: a tampered bundle is a finding.
pub fn verify(dir: &Path) -> Result<Verification, EvidenceError> {
    let mut v = Verification::default();
    let seal_path = dir.join(SEAL);
    let manifest_path = dir.join(MANIFEST);
    let manifest_bytes = match std::fs::read(&manifest_path) {
        Ok(b) => b,
        Err(_) => {
            v.problems.push(format!(
                "{MANIFEST} is missing: {} is not a sealed bundle (or the manifest was removed)",
                dir.display()
            ));
            return Ok(v);
        }
    };
    let manifest_sha = sha256_hex(&manifest_bytes);
    v.manifest_sha256 = Some(manifest_sha.clone());
    match std::fs::read(&seal_path) {
        Err(_) => v.problems.push(format!("{SEAL} is missing")),
        Ok(bytes) => match parse::<Seal>(&seal_path, &bytes) {
            Err(e) => v.problems.push(e.to_string()),
            Ok(seal) => {
                if seal.manifest_sha256 != manifest_sha {
                    v.problems.push(format!(
                        "{MANIFEST} changed: its SHA-256 is {manifest_sha}, the seal (and the PDF) say {}",
                        seal.manifest_sha256
                    ));
                }
                for (name, sealed) in [
                    (super::EVIDENCE_PDF, &seal.evidence_pdf_sha256),
                    (super::REPORT_HTML, &seal.report_html_sha256),
                ] {
                    // An older seal left the HTML to the manifest.
                    if name == super::REPORT_HTML && sealed.is_none() {
                        continue;
                    }
                    match (sealed, std::fs::read(dir.join(name))) {
                        (Some(expected), Ok(bytes)) => {
                            let actual = sha256_hex(&bytes);
                            if &actual == expected {
                                v.intact += 1;
                            } else {
                                v.problems.push(format!(
                                    "{name} changed: SHA-256 {actual}, sealed {expected}"
                                ));
                            }
                        }
                        (Some(_), Err(_)) => v.problems.push(format!("{name} is missing")),
                        (None, Ok(_)) => v.problems.push(format!(
                            "{name} is not covered by the seal (added after sealing)"
                        )),
                        (None, Err(_)) => {}
                    }
                }
            }
        },
    }
    let manifest: Manifest = match parse(&manifest_path, &manifest_bytes) {
        Ok(m) => m,
        Err(e) => {
            v.problems.push(e.to_string());
            return Ok(v);
        }
    };
    for f in &manifest.files {
        match std::fs::read(dir.join(&f.path)) {
            Err(_) => v.problems.push(format!("{} is missing", f.path)),
            Ok(bytes) => {
                let actual = sha256_hex(&bytes);
                if actual == f.sha256 {
                    v.intact += 1;
                } else {
                    v.problems.push(format!(
                        "{} changed: SHA-256 {actual} ({} bytes), sealed {} ({} bytes)",
                        f.path,
                        bytes.len(),
                        f.sha256,
                        f.bytes
                    ));
                }
            }
        }
    }
    for rel in files_under(dir)? {
        if !outside_manifest(&rel) && !manifest.files.iter().any(|f| f.path == rel) {
            v.problems.push(format!(
                "{rel} is not in the manifest (added after sealing)"
            ));
        }
    }
    if let Ok(bytes) = std::fs::read(dir.join(INPUTS_USED))
        && let Ok(used) = serde_json::from_slice::<Vec<FileDigest>>(&bytes)
    {
        v.notes.extend(changed_inputs(&used));
    }
    Ok(v)
}

/// Each input (feature file, test pack) that differs now from what a run used, in words.
pub fn changed_inputs(used: &[FileDigest]) -> Vec<String> {
    used.iter()
        .filter_map(|input| match std::fs::read(&input.path) {
            Ok(now) if sha256_hex(&now) != input.sha256 => Some(format!(
                "{} has changed since the run (the run used SHA-256 {}, it is {} now)",
                input.path,
                input.sha256,
                sha256_hex(&now)
            )),
            Ok(_) => None,
            Err(_) => Some(format!(
                "{} is not here to compare (the run used SHA-256 {})",
                input.path, input.sha256
            )),
        })
        .collect()
}

/// A jsonwebtoken PEM loader, tried in turn for each kind of key.
type LoadKey<K> = fn(&[u8]) -> jsonwebtoken::errors::Result<K>;

/// The organisation's detached signature over the seal (`seal.json.sig`, a compact JWS).
pub const SIGNATURE: &str = "seal.json.sig";

#[derive(Debug, Serialize, Deserialize)]
struct SealClaims {
    run_id: String,
    /// SHA-256 of `seal.json`, which pins the manifest and the PDF.
    seal_sha256: String,
}

/// Sign the seal with an organisation's private key (PEM: Ed25519, ECDSA P-256 or RSA);
/// returns the algorithm used. The key is read, used and dropped: never written anywhere.
pub fn sign(run_dir: &Path, key_pem: &str) -> Result<&'static str, EvidenceError> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
    let seal_path = run_dir.join(SEAL);
    let seal_bytes = read(&seal_path)?;
    let seal: Seal = parse(&seal_path, &seal_bytes)?;
    let claims = SealClaims {
        run_id: seal.run_id,
        seal_sha256: sha256_hex(&seal_bytes),
    };
    let pem = key_pem.as_bytes();
    let candidates: [(Algorithm, &str, LoadKey<EncodingKey>); 3] = [
        (Algorithm::EdDSA, "EdDSA", EncodingKey::from_ed_pem),
        (Algorithm::ES256, "ES256", EncodingKey::from_ec_pem),
        (Algorithm::RS256, "RS256", EncodingKey::from_rsa_pem),
    ];
    for (alg, name, load) in candidates {
        if let Ok(key) = load(pem)
            && let Ok(jws) = encode(&Header::new(alg), &claims, &key)
        {
            write(&run_dir.join(SIGNATURE), jws.as_bytes())?;
            return Ok(name);
        }
    }
    Err(EvidenceError::Render {
        path: run_dir.join(SIGNATURE),
        message: "the signing key is not a PEM private key of a supported kind (Ed25519, ECDSA P-256 or RSA)".to_owned(),
    })
}

/// Why a bundle's signature does not hold; each is a finding of `verify --public-key`.
#[derive(Debug, thiserror::Error)]
pub enum SignatureError {
    #[error("{SIGNATURE} is missing: the bundle was not signed")]
    Unsigned,
    #[error("{SEAL} is missing")]
    NoSeal,
    #[error("{SIGNATURE} signs another seal: {SEAL} changed after signing")]
    AnotherSeal,
    #[error("{SIGNATURE} does not verify with this public key ({0})")]
    DoesNotVerify(#[source] jsonwebtoken::errors::Error),
    #[error("the public key is not a PEM public key of a supported kind")]
    UnsupportedKey,
}

/// Check `seal.json.sig` against a public key (PEM); `Err` names what is wrong.
pub fn check_signature(dir: &Path, public_pem: &str) -> Result<&'static str, SignatureError> {
    use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
    let jws = std::fs::read_to_string(dir.join(SIGNATURE)).map_err(|_| SignatureError::Unsigned)?;
    let seal = std::fs::read(dir.join(SEAL)).map_err(|_| SignatureError::NoSeal)?;
    let pem = public_pem.as_bytes();
    let candidates: [(Algorithm, &str, LoadKey<DecodingKey>); 3] = [
        (Algorithm::EdDSA, "EdDSA", DecodingKey::from_ed_pem),
        (Algorithm::ES256, "ES256", DecodingKey::from_ec_pem),
        (Algorithm::RS256, "RS256", DecodingKey::from_rsa_pem),
    ];
    let mut last = SignatureError::UnsupportedKey;
    for (alg, name, load) in candidates {
        let Ok(key) = load(pem) else { continue };
        let mut validation = Validation::new(alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        match decode::<SealClaims>(jws.trim(), &key, &validation) {
            Ok(data) if data.claims.seal_sha256 == sha256_hex(&seal) => return Ok(name),
            Ok(_) => return Err(SignatureError::AnotherSeal),
            Err(e) => last = SignatureError::DoesNotVerify(e),
        }
    }
    Err(last)
}
