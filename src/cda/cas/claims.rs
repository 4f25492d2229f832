//! The claims of the tokens the C&A issues (PATs, tickets, RPTs), and how it checks a token it
//! is handed: its own signature and type, and for a PAT, that the C&A still knows it and it is
//! live. One place, so every endpoint refuses a PAT with the same words.

use axum::http::{HeaderMap, header};
use serde::{Deserialize, Serialize};

use super::Cas;
use super::error::{CasError, OwnTokenError};
use super::state::PatRecord;
use crate::net::jwt::{self, Expect};
use crate::protocol::tokens::TokenType;

/// How the C&A's 401 for an expired PAT begins (the audit does not count it as a finding: the
/// provider's right answer is a fresh PAT and a retry).
pub const PAT_EXPIRED: &str = "the PAT has expired";

/// The key a PAT assertion is known by: its `jti`, or, when it has none (the MaPS stub's user
/// assertion has none), `sha256:` and the SHA-256 of the whole assertion. PATs, and through
/// them the registration audit, are keyed by it.
pub fn assertion_key(assertion: &str) -> String {
    use sha2::Digest;
    jwt::peek_claims(assertion)
        .and_then(|c| {
            c["jti"]
                .as_str()
                .filter(|j| !j.is_empty())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            format!(
                "sha256:{}",
                hex::encode(sha2::Sha256::digest(assertion.as_bytes()))
            )
        })
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CasClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub token_type: TokenType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Holdername GUID a PAT was issued for: the registered one for a find token, the
    /// assertion's `iss` for the provider's own assertion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<Permission>>,
    /// Party the RPT was generated for (the dashboard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azp: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Permission {
    pub resource_id: String,
    pub resource_scopes: Vec<String>,
    pub exp: i64,
}

impl Cas {
    pub(super) fn sign(&self, claims: &CasClaims) -> Result<String, CasError> {
        self.inner
            .key
            .sign(claims)
            .map_err(|e| CasError::Internal(format!("signing: {e}")))
    }

    pub(super) fn verify_own(
        &self,
        token: &str,
        token_type: TokenType,
    ) -> Result<CasClaims, OwnTokenError> {
        let claims: CasClaims = jwt::verify(
            token,
            &self.inner.own_jwks,
            &Expect {
                issuer: Some(&self.inner.settings.issuer),
                ..Expect::default()
            },
        )?;
        if claims.token_type != token_type {
            return Err(OwnTokenError::WrongType {
                found: claims.token_type,
                expected: token_type,
            });
        }
        Ok(claims)
    }

    /// Check `Authorization: Bearer <PAT>`; a 401 if it is not a live PAT we issued.
    pub(super) fn authenticate_pat(&self, headers: &HeaderMap) -> Result<PatRecord, CasError> {
        let unauthorised = |msg: &str| CasError::Unauthorised(msg.to_owned());
        let token = bearer(headers)
            .ok_or_else(|| unauthorised("a PAT is required: Authorization: Bearer <PAT>"))?;
        let forgotten = || unauthorised("the PAT is not known to the C&A (cleared down?)");
        let expired = || {
            unauthorised(&format!(
                "{PAT_EXPIRED}: obtain a fresh one (README, \"The PAT model\")"
            ))
        };
        let claims = match self.verify_own(token.trim(), TokenType::Pat) {
            Ok(c) => c,
            // Past its exp and the leeway (the signature did verify): still say whether the
            // C&A knows it, so a PAT from before a clear-down is named as such.
            Err(OwnTokenError::Token(jwt::TokenError::Expired)) => {
                let jti = jwt::peek_claims(token.trim())
                    .and_then(|c| c["jti"].as_str().map(str::to_owned))
                    .unwrap_or_default();
                return Err(if self.state().pats.contains_key(&jti) {
                    expired()
                } else {
                    forgotten()
                });
            }
            Err(e) => return Err(unauthorised(&format!("the PAT is not valid: {e}"))),
        };
        let record = self
            .state()
            .pats
            .get(&claims.jti)
            .cloned()
            .ok_or_else(forgotten)?;
        if record.expires <= jwt::now_epoch() {
            return Err(expired());
        }
        Ok(record)
    }
}

/// The bearer token of `Authorization`, if any.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}
