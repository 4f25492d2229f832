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
    #[error(
        "the token header marks {0:?} critical (crit), extensions this verifier does not understand, so it must be rejected (RFC 7515 section 4.1.11)"
    )]
    UnknownCritical(Vec<String>),
    #[error("the token was issued in the future (iat {iat}, now {now}, leeway {leeway} s)")]
    IssuedInFuture { iat: i64, now: i64, leeway: i64 },
}

/// Clock-skew leeway for `exp`, `nbf` and `iat`, in seconds.
pub const LEEWAY_SECS: i64 = 5;

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
    validation.leeway = LEEWAY_SECS as u64;
    validation.validate_nbf = true;
    validation.set_required_spec_claims(&["exp"]);
    match expect.issuer {
        Some(iss) => validation.set_issuer(&[iss]),
        None => validation.iss = None,
    }
    match expect.audience {
        Some(aud) => validation.set_audience(&[aud]),
        None => validation.validate_aud = false,
    }
    let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(
        token,
        &key,
        &validation,
    )
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
    })?;
    // RFC 7515: a `crit` header names extensions the recipient must understand; we understand
    // none, so any is a refusal (jsonwebtoken's Header does not even read the parameter).
    // Checked after the signature, so a forged token is named as forged.
    if let Some(crit) = raw_header(token).and_then(|h| h.get("crit").cloned()) {
        let names = match &crit {
            serde_json::Value::Array(a) => a
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect(),
            other => vec![other.to_string()],
        };
        return Err(TokenError::UnknownCritical(names));
    }
    check_claims(&claims, expect.required, now_epoch())?;
    serde_json::from_value(serde_json::Value::Object(claims))
        .map_err(|e| TokenError::Claims(e.to_string()))
}

/// What jsonwebtoken leaves to us: every claim in `required` present (it enforces only exp,
/// nbf, aud, iss and sub, silently ignoring the rest), and `nbf`/`iat` not in the future
/// beyond the leeway (it does not look at `iat`, nor at a non-numeric `nbf`).
fn check_claims(
    claims: &serde_json::Map<String, serde_json::Value>,
    required: &[&str],
    now: i64,
) -> Result<(), TokenError> {
    for name in required {
        match claims.get(*name) {
            None | Some(serde_json::Value::Null) => {
                return Err(TokenError::MissingClaim((*name).to_owned()));
            }
            Some(serde_json::Value::String(v)) if v.is_empty() => {
                return Err(TokenError::MissingClaim((*name).to_owned()));
            }
            Some(_) => {}
        }
    }
    let numeric = |name: &str| -> Result<Option<i64>, TokenError> {
        match claims.get(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .or_else(|| v.as_f64().map(|f| f as i64))
                .map(Some)
                .ok_or_else(|| TokenError::Claims(format!("{name} is not a NumericDate: {v}"))),
        }
    };
    if numeric("nbf")?.is_some_and(|nbf| nbf > now + LEEWAY_SECS) {
        return Err(TokenError::NotYetValid);
    }
    if let Some(iat) = numeric("iat")?
        && iat > now + LEEWAY_SECS
    {
        return Err(TokenError::IssuedInFuture {
            iat,
            now,
            leeway: LEEWAY_SECS,
        });
    }
    Ok(())
}

/// The JOSE header as JSON (to read parameters jsonwebtoken's `Header` drops, like `crit`).
fn raw_header(token: &str) -> Option<serde_json::Map<String, serde_json::Value>> {
    use base64::Engine;
    let header = token.split('.').next()?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(header.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn claims(extra: Value) -> Value {
        let now = now_epoch();
        let mut c = json!({ "iss": "me", "exp": now + 60, "iat": now, "jti": "j-1" });
        if let (Some(c), Value::Object(e)) = (c.as_object_mut(), extra) {
            c.extend(e);
        }
        c
    }

    fn key_set() -> (crate::net::pki::SigningKey, JwkSet) {
        let k = crate::net::pki::SigningKey::generate("k1").expect("key");
        let set = crate::net::pki::jwks_of([&k]);
        (k, set)
    }

    #[test]
    fn required_claims_beyond_the_registered_ones_are_enforced() {
        let (k, set) = key_set();
        let mut no_jti = claims(json!({}));
        if let Some(c) = no_jti.as_object_mut() {
            c.remove("jti");
        }
        let token = k.sign(&no_jti).expect("signed");
        let got = verify::<Value>(
            &token,
            &set,
            &Expect {
                required: &["jti", "iat"],
                ..Expect::default()
            },
        );
        assert_eq!(got, Err(TokenError::MissingClaim("jti".to_owned())));
        let mut no_iat = claims(json!({}));
        if let Some(c) = no_iat.as_object_mut() {
            c.remove("iat");
        }
        let token = k.sign(&no_iat).expect("signed");
        let got = verify::<Value>(
            &token,
            &set,
            &Expect {
                required: &["iat"],
                ..Expect::default()
            },
        );
        assert_eq!(got, Err(TokenError::MissingClaim("iat".to_owned())));
    }

    #[test]
    fn nbf_and_iat_in_the_future_and_crit_headers_are_refused() {
        let (k, set) = key_set();
        let now = now_epoch();
        let expect = Expect::default();
        let nbf = k
            .sign(&claims(json!({ "nbf": now + 3600 })))
            .expect("signed");
        assert_eq!(
            verify::<Value>(&nbf, &set, &expect),
            Err(TokenError::NotYetValid)
        );
        let iat = k
            .sign(&claims(json!({ "iat": now + 86_400 })))
            .expect("signed");
        assert!(matches!(
            verify::<Value>(&iat, &set, &expect),
            Err(TokenError::IssuedInFuture { .. })
        ));
        // Within the clock-skew leeway both are fine.
        let skew = k
            .sign(&claims(json!({ "nbf": now + 2, "iat": now + 2 })))
            .expect("signed");
        assert!(verify::<Value>(&skew, &set, &expect).is_ok());
        let mut extra = serde_json::Map::new();
        extra.insert("crit".into(), json!(["exp-ext"]));
        extra.insert("exp-ext".into(), json!(1));
        let crit = k
            .sign_with_header(&extra, &claims(json!({})))
            .expect("signed");
        let err = verify::<Value>(&crit, &set, &expect).expect_err("refused");
        assert_eq!(err, TokenError::UnknownCritical(vec!["exp-ext".to_owned()]));
        assert!(err.to_string().contains("critical (crit)"), "{err}");
        // The same header without crit verifies: the refusal is the crit, not the signing.
        extra.remove("crit");
        let plain = k
            .sign_with_header(&extra, &claims(json!({})))
            .expect("signed");
        assert!(verify::<Value>(&plain, &set, &expect).is_ok());
    }
}
