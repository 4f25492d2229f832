//! Throwaway test PKI generated at run time: a root CA, server and client certificates for
//! every simulated host and party, and the JWT signing keys with their JWKS.
//!
//! Nothing here is ever written to disk or printed: private keys live in memory for the
//! length of a run. Evidence records only subjects, fingerprints and expiry dates.

use std::fmt;

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::record::run::CertificateInfo;

#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    #[error("could not generate test certificate material ({what}): {source}")]
    Generate {
        what: String,
        #[source]
        source: rcgen::Error,
    },
    #[error("{what}: {message}")]
    Pem { what: String, message: String },
    #[error("could not prepare JWT signing key {kid}: {source}")]
    SigningKey {
        kid: String,
        #[source]
        source: jsonwebtoken::errors::Error,
    },
}

/// How long generated certificates stay valid. A run takes seconds; a day leaves room for
/// `serve` sessions without making the material worth keeping.
const VALIDITY_DAYS: i64 = 2;

/// The run's certificate authority. Every simulated host and party gets its certificate here.
pub struct TestPki {
    ca: CertifiedIssuer<'static, KeyPair>,
    issued: std::sync::Mutex<Vec<CertificateInfo>>,
    validity_days: i64,
}

impl fmt::Debug for TestPki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestPki").finish_non_exhaustive()
    }
}

/// A certificate with its private key: what a TLS server presents or a client proves itself with.
pub struct TlsIdentity {
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    key_der: PrivateKeyDer<'static>,
    key_pem: String,
    pub info: CertificateInfo,
}

impl Clone for TlsIdentity {
    fn clone(&self) -> Self {
        TlsIdentity {
            cert_pem: self.cert_pem.clone(),
            cert_der: self.cert_der.clone(),
            key_der: self.key_der.clone_key(),
            key_pem: self.key_pem.clone(),
            info: self.info.clone(),
        }
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("subject", &self.info.subject)
            .field("fingerprint", &self.info.sha256_fingerprint)
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    pub fn private_key_der(&self) -> PrivateKeyDer<'static> {
        self.key_der.clone_key()
    }

    /// The private key as PEM, for handing to a tool that reads key files (tests only write it
    /// to a temporary directory; nothing in the harness stores it).
    pub fn private_key_pem(&self) -> &str {
        &self.key_pem
    }

    /// An identity from PEM text an organisation supplies: the certificate (first of the chain)
    /// and its private key (PKCS#8, PKCS#1 or SEC1).
    pub fn from_pem(role: &str, cert_pem: &str, key_pem: &str) -> Result<TlsIdentity, PkiError> {
        use rustls::pki_types::pem::PemObject;
        let pem_err = |what: &str, e: rustls::pki_types::pem::Error| PkiError::Pem {
            what: format!("{role} {what}"),
            message: e.to_string(),
        };
        let cert_der = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .next()
            .ok_or_else(|| PkiError::Pem {
                what: format!("{role} certificate"),
                message: "no CERTIFICATE block found".to_owned(),
            })?
            .map_err(|e| pem_err("certificate", e))?;
        let key_der =
            PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| pem_err("key", e))?;
        // A key from another certificate would only show as an obscure handshake failure.
        rustls::sign::CertifiedKey::from_der(
            vec![cert_der.clone()],
            key_der.clone_key(),
            &rustls::crypto::aws_lc_rs::default_provider(),
        )
        .map_err(|e| PkiError::Pem {
            what: format!("{role} key"),
            message: format!("does not belong to the {role} certificate ({e})"),
        })?;
        let info = certificate_info(role, &cert_der);
        Ok(TlsIdentity {
            cert_pem: cert_pem.to_owned(),
            cert_der,
            key_der,
            key_pem: key_pem.to_owned(),
            info,
        })
    }

    /// Certificate and key in one PEM buffer, the form reqwest's rustls identity takes.
    pub fn identity_pem(&self) -> Vec<u8> {
        format!("{}{}", self.cert_pem, self.key_pem).into_bytes()
    }
}

impl TestPki {
    pub fn generate(organisation: &str) -> Result<TestPki, PkiError> {
        TestPki::generate_valid_for(organisation, VALIDITY_DAYS)
    }

    /// A CA whose certificates (its own included) stay valid for `days`: material an
    /// organisation configures once, as `pdp-harness init` writes it.
    pub fn generate_valid_for(organisation: &str, days: i64) -> Result<TestPki, PkiError> {
        let gen_err = |what: &str| {
            let what = what.to_owned();
            move |source| PkiError::Generate { what, source }
        };
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(gen_err("CA"))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        params.distinguished_name = dn(&format!("{organisation} test root CA"));
        set_validity(&mut params, days);
        let key = KeyPair::generate().map_err(gen_err("CA key"))?;
        let ca = CertifiedIssuer::self_signed(params, key).map_err(gen_err("CA certificate"))?;
        let pki = TestPki {
            ca,
            issued: std::sync::Mutex::new(Vec::new()),
            validity_days: days,
        };
        let info = certificate_info("root CA", pki.ca.der());
        pki.remember(info);
        Ok(pki)
    }

    pub fn ca_pem(&self) -> String {
        self.ca.pem()
    }

    pub fn ca_der(&self) -> CertificateDer<'static> {
        self.ca.der().clone()
    }

    /// A server certificate valid for `localhost` and `127.0.0.1` plus any extra names.
    pub fn server_identity(
        &self,
        role: &str,
        common_name: &str,
        extra_names: &[&str],
    ) -> Result<TlsIdentity, PkiError> {
        let mut names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
        names.extend(extra_names.iter().map(|n| (*n).to_owned()));
        self.issue(
            role,
            common_name,
            names,
            ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate: what the CDA side or the provider proves itself with in mTLS.
    pub fn client_identity(&self, role: &str, common_name: &str) -> Result<TlsIdentity, PkiError> {
        self.issue(
            role,
            common_name,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
        )
    }

    /// Fingerprints and expiry dates of everything issued so far, for the evidence appendix.
    pub fn issued(&self) -> Vec<CertificateInfo> {
        self.issued.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn remember(&self, info: CertificateInfo) {
        if let Ok(mut v) = self.issued.lock() {
            v.push(info);
        }
    }

    /// A client certificate with a chosen validity window (e.g. an expired one, for tests of
    /// the doctor).
    pub fn client_identity_valid(
        &self,
        role: &str,
        common_name: &str,
        not_before: time::OffsetDateTime,
        not_after: time::OffsetDateTime,
    ) -> Result<TlsIdentity, PkiError> {
        self.issue_with(
            role,
            common_name,
            Vec::new(),
            ExtendedKeyUsagePurpose::ClientAuth,
            Some((not_before, not_after)),
        )
    }

    fn issue(
        &self,
        role: &str,
        common_name: &str,
        names: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
    ) -> Result<TlsIdentity, PkiError> {
        self.issue_with(role, common_name, names, usage, None)
    }

    fn issue_with(
        &self,
        role: &str,
        common_name: &str,
        names: Vec<String>,
        usage: ExtendedKeyUsagePurpose,
        validity: Option<(time::OffsetDateTime, time::OffsetDateTime)>,
    ) -> Result<TlsIdentity, PkiError> {
        let gen_err = |source| PkiError::Generate {
            what: format!("{role} certificate"),
            source,
        };
        let mut params = CertificateParams::new(names).map_err(gen_err)?;
        params.distinguished_name = dn(common_name);
        params.extended_key_usages = vec![usage];
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.use_authority_key_identifier_extension = true;
        set_validity(&mut params, self.validity_days);
        if let Some((from, to)) = validity {
            params.not_before = from;
            params.not_after = to;
        }
        let key = KeyPair::generate().map_err(gen_err)?;
        let cert = params.signed_by(&key, &self.ca).map_err(gen_err)?;
        let info = certificate_info(role, cert.der());
        self.remember(info.clone());
        Ok(TlsIdentity {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            key_der: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
            key_pem: key.serialize_pem(),
            info,
        })
    }
}

fn dn(common_name: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    dn.push(DnType::OrganizationName, "pdp-harness test PKI");
    dn
}

fn set_validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::minutes(5);
    params.not_after = now + time::Duration::days(days);
}

/// Subject, SHA-256 fingerprint and expiry of a DER certificate.
pub fn certificate_info(role: &str, der: &[u8]) -> CertificateInfo {
    let fingerprint = hex::encode(Sha256::digest(der));
    let (subject, not_after) = match x509_parser::parse_x509_certificate(der) {
        Ok((_, cert)) => (
            cert.subject().to_string(),
            DateTime::<Utc>::from_timestamp(cert.validity().not_after.timestamp(), 0)
                .unwrap_or_default(),
        ),
        Err(_) => ("(unparsable certificate)".to_owned(), DateTime::default()),
    };
    CertificateInfo {
        role: role.to_owned(),
        subject,
        sha256_fingerprint: fingerprint,
        not_after,
    }
}

/// An RS256 JWT signing key with its key id and public JWK.
#[derive(Clone)]
pub struct SigningKey {
    pub kid: String,
    encoding: EncodingKey,
    pub jwk: Jwk,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh RSA-2048 key for RS256, known by `kid`.
    pub fn generate(kid: &str) -> Result<SigningKey, PkiError> {
        let key = KeyPair::generate_for(&rcgen::PKCS_RSA_SHA256).map_err(|source| {
            PkiError::Generate {
                what: format!("JWT signing key {kid}"),
                source,
            }
        })?;
        SigningKey::from_pem(kid, &key.serialize_pem())
    }

    /// Fresh keys for `kids`, in order, each generated on its own thread: RSA key generation
    /// is most of the embedded default's start-up, and PDP's RS256 needs RSA keys.
    pub fn generate_all(kids: &[&str]) -> Result<Vec<SigningKey>, PkiError> {
        std::thread::scope(|s| {
            let handles: Vec<_> = kids
                .iter()
                .map(|kid| s.spawn(move || SigningKey::generate(kid)))
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect()
        })
    }

    /// A key an organisation supplies as PEM (RSA, PKCS#8 or PKCS#1), for RS256.
    pub fn from_pem(kid: &str, pem: &str) -> Result<SigningKey, PkiError> {
        let sign_err = |source| PkiError::SigningKey {
            kid: kid.to_owned(),
            source,
        };
        let encoding = EncodingKey::from_rsa_pem(pem.as_bytes()).map_err(sign_err)?;
        let mut jwk = Jwk::from_encoding_key(&encoding, Algorithm::RS256).map_err(sign_err)?;
        jwk.common.key_id = Some(kid.to_owned());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(SigningKey {
            kid: kid.to_owned(),
            encoding,
            jwk,
        })
    }

    /// Sign `claims` as a compact JWS (RS256, with this key's `kid`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        header.typ = Some("JWT".to_owned());
        jsonwebtoken::encode(&header, claims, &self.encoding)
    }

    /// Sign `claims` with extra JOSE header parameters (e.g. `crit`, which jsonwebtoken's
    /// `Header` cannot carry): for tests that prove such tokens are refused.
    pub fn sign_with_header<T: Serialize>(
        &self,
        extra: &serde_json::Map<String, serde_json::Value>,
        claims: &T,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut header = serde_json::json!({ "alg": "RS256", "typ": "JWT", "kid": self.kid });
        if let Some(h) = header.as_object_mut() {
            h.extend(extra.clone());
        }
        let message = format!(
            "{}.{}",
            b64.encode(serde_json::to_vec(&header)?),
            b64.encode(serde_json::to_vec(claims)?)
        );
        let signature =
            jsonwebtoken::crypto::sign(message.as_bytes(), &self.encoding, Algorithm::RS256)?;
        Ok(format!("{message}.{signature}"))
    }
}

/// The public JWK of an RSA key given as PEM: a `PUBLIC KEY`, a `CERTIFICATE`, or a private key
/// (only its public part is kept). How a provider's registered view token key is read.
pub fn rsa_public_jwk(kid: &str, pem: &str) -> Result<Jwk, PkiError> {
    use base64::Engine as _;
    use jsonwebtoken::jwk::{
        AlgorithmParameters, CommonParameters, KeyAlgorithm, RSAKeyParameters, RSAKeyType,
    };
    use x509_parser::prelude::FromDer as _;
    let fail = |message: String| PkiError::Pem {
        what: format!("view token key {kid}"),
        message,
    };
    if pem.contains("PRIVATE KEY") {
        return Ok(SigningKey::from_pem(kid, pem)?.jwk);
    }
    let (_, block) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
        .map_err(|e| fail(format!("not PEM: {e}")))?;
    let rsa_parts = |spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>| match spki.parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(k)) => {
            let strip = |b: &[u8]| {
                let start = b.iter().position(|x| *x != 0).unwrap_or(b.len());
                b[start..].to_vec()
            };
            Ok((strip(k.modulus), strip(k.exponent)))
        }
        _ => Err(fail("not an RSA public key (RS256 needs RSA)".to_owned())),
    };
    let (n, e) = match block.label.as_str() {
        "PUBLIC KEY" => {
            let (_, spki) = x509_parser::x509::SubjectPublicKeyInfo::from_der(&block.contents)
                .map_err(|e| fail(format!("not a public key: {e}")))?;
            rsa_parts(&spki)?
        }
        "CERTIFICATE" => {
            let (_, cert) = x509_parser::certificate::X509Certificate::from_der(&block.contents)
                .map_err(|e| fail(format!("not a certificate: {e}")))?;
            rsa_parts(cert.public_key())?
        }
        other => {
            return Err(fail(format!(
                "expected PUBLIC KEY or CERTIFICATE, found {other}"
            )));
        }
    };
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    Ok(Jwk {
        common: CommonParameters {
            public_key_use: Some(PublicKeyUse::Signature),
            key_algorithm: Some(KeyAlgorithm::RS256),
            key_id: Some(kid.to_owned()),
            ..CommonParameters::default()
        },
        algorithm: AlgorithmParameters::RSA(RSAKeyParameters {
            key_type: RSAKeyType::RSA,
            n: b64.encode(n),
            e: b64.encode(e),
        }),
    })
}

/// A JWKS document of the given keys' public parts.
pub fn jwks_of<'a>(keys: impl IntoIterator<Item = &'a SigningKey>) -> JwkSet {
    JwkSet {
        keys: keys.into_iter().map(|k| k.jwk.clone()).collect(),
    }
}
