//! Verifying JWTs against a JWKS, with errors that say exactly what was wrong.
//!
//! Every token in the flows (find request token, PAT, permission ticket, RQP, RPT, view data
//! token) is a JWS; each party verifies the ones it receives here.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::de::DeserializeOwned;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token is not a well-formed JWS: {0}")]
    Malformed(String),
    #[error("the token header names no key id (kid)")]
    MissingKid,
    #[error("the token is signed with key id {0:?}, which is not in the trusted JWKS")]
    UnknownKey(String),
    #[error("the token's algorithm {header:?} does not match its key's algorithm {key:?}")]
    AlgorithmMismatch { header: String, key: String },
    #[error("the trusted key {0:?} is not an asymmetric signing key")]
    UnusableKey(String),
    #[error("the token's signature does not verify")]
    BadSignature,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not yet valid")]
    NotYetValid,
    #[error("the token's issuer is not the expected {0:?}")]
    WrongIssuer(String),
    #[error("the token's audience is not the expected {0:?}")]
    WrongAudience(String),
    #[error("the token lacks the required claim {0:?}")]
    MissingClaim(String),
    #[error("the token's claims are not as expected: {0}")]
    Claims(String),
}

/// What a verifier expects of a token beyond its signature.
#[derive(Debug, Clone, Default)]
pub struct Expect<'a> {
    pub issuer: Option<&'a str>,
    pub audience: Option<&'a str>,
    /// Claims that must be present (`exp` is always required).
    pub required: &'a [&'a str],
}

/// Verify `token` against `jwks` and decode its claims.
///
/// The algorithm is taken from the trusted key, never from the token header, and symmetric
/// (`oct`) keys are refused so a JWKS from outside cannot downgrade verification to HMAC.
pub fn verify<T: DeserializeOwned>(
    token: &str,
    jwks: &JwkSet,
    expect: &Expect<'_>,
) -> Result<T, TokenError> {
    let header =
        jsonwebtoken::decode_header(token).map_err(|e| TokenError::Malformed(e.to_string()))?;
    let kid = header.kid.clone().ok_or(TokenError::MissingKid)?;
    let jwk = jwks
        .find(&kid)
        .ok_or_else(|| TokenError::UnknownKey(kid.clone()))?;
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return Err(TokenError::UnusableKey(kid));
    }
    let alg = jwk
        .common
        .key_algorithm
        .and_then(|a| Algorithm::try_from(a).ok())
        .unwrap_or(Algorithm::RS256);
    if header.alg != alg {
        return Err(TokenError::AlgorithmMismatch {
            header: format!("{:?}", header.alg),
            key: format!("{alg:?}"),
        });
    }
    let key = DecodingKey::from_jwk(jwk).map_err(|_| TokenError::UnusableKey(kid.clone()))?;
    let mut validation = Validation::new(alg);
    validation.leeway = 5;
    let mut required = vec!["exp"];
    required.extend_from_slice(expect.required);
    validation.set_required_spec_claims(&required);
    match expect.issuer {
        Some(iss) => validation.set_issuer(&[iss]),
        None => validation.iss = None,
    }
    match expect.audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    jsonwebtoken::decode::<T>(token, &key, &validation)
        .map(|data| data.claims)
        .map_err(|e| match e.kind() {
            ErrorKind::InvalidSignature => TokenError::BadSignature,
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidIssuer => {
                TokenError::WrongIssuer(expect.issuer.unwrap_or_default().to_owned())
            }
            ErrorKind::InvalidAudience => {
                TokenError::WrongAudience(expect.audience.unwrap_or_default().to_owned())
            }
            ErrorKind::MissingRequiredClaim(c) => TokenError::MissingClaim(c.clone()),
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                TokenError::Malformed(e.to_string())
            }
            ErrorKind::Json(_) => TokenError::Claims(e.to_string()),
            _ => TokenError::Malformed(e.to_string()),
        })
}

/// The claims of a JWS without verifying it: for evidence and diagnostics only.
pub fn peek_claims(token: &str) -> Option<serde_json::Value> {
    use base64::Engine;
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

pub fn now_epoch() -> i64 {
    chrono::Utc::now().timestamp()
}
