//! Every refusal the C&A answers, as one type (axum's error-handling pattern): a handler returns
//! `Result<_, CasError>` and the variant decides the status and the body, byte for byte the
//! shapes the MaPS stub sends (an OAuth error object at `/token`, a field-error array for a bad
//! body, `{"error"}` for a refused PAT, plain text otherwise). Its `Display` is the reason the
//! registration audit keeps.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::net::jwt;
use crate::protocol::tokens::TokenType;

/// The OAuth error codes `/token` answers with (RFC 6749 section 5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnsupportedGrantType,
}

impl TokenErrorCode {
    pub const fn as_str(self) -> &'static str {
        match self {
            TokenErrorCode::InvalidRequest => "invalid_request",
            TokenErrorCode::InvalidClient => "invalid_client",
            TokenErrorCode::InvalidGrant => "invalid_grant",
            TokenErrorCode::InvalidScope => "invalid_scope",
            TokenErrorCode::UnsupportedGrantType => "unsupported_grant_type",
        }
    }
}

/// A refusal by the C&A.
#[derive(Debug, thiserror::Error)]
pub enum CasError {
    /// 400 `{"error": code, "error_description": ...}`: `/token`'s refusals.
    #[error("{description}")]
    Token {
        code: TokenErrorCode,
        description: String,
    },
    /// 400 `[{"field", "rejected_value", "reason"}]`: a body field the OpenAPI file refuses.
    #[error("{field} {reason}")]
    Field {
        field: &'static str,
        rejected: Value,
        reason: &'static str,
    },
    /// 401 `{"error": ...}`: no live PAT, or a PAT of another holdername.
    #[error("{0}")]
    Unauthorised(String),
    /// 400, plain text.
    #[error("{0}")]
    BadRequest(String),
    /// 404, plain text.
    #[error("{0}")]
    NotFound(&'static str),
    /// 409, plain text.
    #[error("{0}")]
    Conflict(&'static str),
    /// 500, plain text: the C&A could not sign or save (its own failure, not the caller's).
    #[error("{0}")]
    Internal(String),
}

impl CasError {
    pub fn token(code: TokenErrorCode, description: impl Into<String>) -> CasError {
        CasError::Token {
            code,
            description: description.into(),
        }
    }

    pub fn field(field: &'static str, rejected: &Value, reason: &'static str) -> CasError {
        CasError::Field {
            field,
            rejected: rejected.clone(),
            reason,
        }
    }

    /// The 401 for a PAT of another holdername than the resource's.
    pub fn not_the_holder() -> CasError {
        CasError::Unauthorised(
            "the PAT does not identify the user for the resource: it was issued for another holdername GUID"
                .to_owned(),
        )
    }

    pub fn status(&self) -> StatusCode {
        match self {
            CasError::Token { .. } | CasError::Field { .. } | CasError::BadRequest(_) => {
                StatusCode::BAD_REQUEST
            }
            CasError::Unauthorised(_) => StatusCode::UNAUTHORIZED,
            CasError::NotFound(_) => StatusCode::NOT_FOUND,
            CasError::Conflict(_) => StatusCode::CONFLICT,
            CasError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for CasError {
    fn into_response(self) -> Response {
        let status = self.status();
        match self {
            CasError::Token { code, description } => (
                status,
                Json(json!({ "error": code.as_str(), "error_description": description })),
            )
                .into_response(),
            CasError::Field {
                field,
                rejected,
                reason,
            } => (
                status,
                Json(json!([{ "field": field, "rejected_value": rejected, "reason": reason }])),
            )
                .into_response(),
            CasError::Unauthorised(msg) => (status, Json(json!({ "error": msg }))).into_response(),
            CasError::BadRequest(msg) | CasError::Internal(msg) => plain(status, msg),
            CasError::NotFound(msg) | CasError::Conflict(msg) => plain(status, msg.to_owned()),
        }
    }
}

fn plain(status: StatusCode, msg: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg,
    )
        .into_response()
}

/// Why one of the C&A's own tokens was not accepted.
#[derive(Debug, thiserror::Error)]
pub enum OwnTokenError {
    #[error(transparent)]
    Token(#[from] jwt::TokenError),
    #[error("the token is a {found}, not a {expected}")]
    WrongType {
        found: TokenType,
        expected: TokenType,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn parts(r: Response) -> (StatusCode, Option<String>, Vec<u8>) {
        let status = r.status();
        let ct = r
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = axum::body::to_bytes(r.into_body(), 64 * 1024)
            .await
            .unwrap_or_default();
        (status, ct, body.to_vec())
    }

    /// Every variant answers exactly what the handlers built by hand before `CasError`
    /// (status, content type, body bytes), and its `Display` is the reason the audit read
    /// back from that body.
    #[tokio::test]
    async fn each_refusal_is_byte_for_byte_the_hand_built_response() {
        let text = |status: StatusCode, msg: &str| {
            (
                status,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                msg.to_owned(),
            )
                .into_response()
        };
        let cases: Vec<(CasError, Response, &str)> = vec![
            (
                CasError::token(TokenErrorCode::InvalidGrant, "assertion rejected: x"),
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!({ "error": "invalid_grant", "error_description": "assertion rejected: x" })),
                )
                    .into_response(),
                "assertion rejected: x",
            ),
            (
                CasError::field("name", &json!(7), "must be urn:pei:<holderGuid>:<assetGuid>"),
                (
                    StatusCode::BAD_REQUEST,
                    Json(json!([{ "field": "name", "rejected_value": 7, "reason": "must be urn:pei:<holderGuid>:<assetGuid>" }])),
                )
                    .into_response(),
                "name must be urn:pei:<holderGuid>:<assetGuid>",
            ),
            (
                CasError::not_the_holder(),
                (
                    StatusCode::UNAUTHORIZED,
                    Json(json!({ "error": "the PAT does not identify the user for the resource: it was issued for another holdername GUID" })),
                )
                    .into_response(),
                "the PAT does not identify the user for the resource: it was issued for another holdername GUID",
            ),
            (
                CasError::BadRequest("deletion_reason is required".to_owned()),
                text(StatusCode::BAD_REQUEST, "deletion_reason is required"),
                "deletion_reason is required",
            ),
            (
                CasError::NotFound("resource_id is not registered"),
                text(StatusCode::NOT_FOUND, "resource_id is not registered"),
                "resource_id is not registered",
            ),
            (
                CasError::Conflict("X-Request-ID was already used for a registration"),
                text(
                    StatusCode::CONFLICT,
                    "X-Request-ID was already used for a registration",
                ),
                "X-Request-ID was already used for a registration",
            ),
            (
                CasError::Internal("signing: k".to_owned()),
                text(StatusCode::INTERNAL_SERVER_ERROR, "signing: k"),
                "signing: k",
            ),
        ];
        for (error, before, reason) in cases {
            assert_eq!(error.to_string(), reason);
            let (now, before) = (parts(error.into_response()).await, parts(before).await);
            assert_eq!(now, before, "{reason}");
        }
    }
}
