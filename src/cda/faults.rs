//! Fault injection in the simulated C&A, driven from Gherkin ("Given the C&A answers rreguri
//! with 429 and Retry-After 2 for the next 3 calls"), so an organisation can check that its
//! solution retries, backs off, gives up when it should and refuses what it must. A fault is
//! armed per endpoint and, for `/rreguri`, per method (POST, PATCH, DELETE are separate stub
//! scenarios); it answers with a status and the stub's error body, hangs, closes the
//! connection, or rewrites the real introspection result. Every call to each endpoint is
//! timed, so scenarios can assert the retry timing and the number of calls they observed.

use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// How long a hanging fault holds a call at most: the caller normally gives up first (its
/// connection closing ends the wait), and a caller that never does is not held for ever.
pub const HANG_LIMIT: Duration = Duration::from_secs(60);

/// The largest introspection result the rewrite faults read.
const REWRITE_BODY_CAP: usize = 64 * 1024;

/// The C&A endpoints a fault can be injected on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CasEndpoint {
    Token,
    Perm,
    Introspect,
    Rreguri,
}

impl CasEndpoint {
    /// From the word used in Gherkin: token, perm, introspect, rreguri.
    pub fn parse(word: &str) -> Option<CasEndpoint> {
        match word.trim_start_matches('/') {
            "token" => Some(CasEndpoint::Token),
            "perm" => Some(CasEndpoint::Perm),
            "introspect" => Some(CasEndpoint::Introspect),
            "rreguri" => Some(CasEndpoint::Rreguri),
            _ => None,
        }
    }

    fn of_path(path: &str) -> Option<CasEndpoint> {
        CasEndpoint::parse(path.split('/').nth(1).unwrap_or_default())
    }

    pub fn name(self) -> &'static str {
        match self {
            CasEndpoint::Token => "/token",
            CasEndpoint::Perm => "/perm",
            CasEndpoint::Introspect => "/introspect",
            CasEndpoint::Rreguri => "/rreguri",
        }
    }
}

/// How an active introspection result is made negative (the stub's negative RPT scenarios):
/// the real answer is post-processed, so the C&A itself is unchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntrospectionRewrite {
    /// `token_type` is `pension_dashboard_pmt`.
    WrongTokenType,
    /// `permissions` is `[]`.
    EmptyPermissions,
    /// Every permission's scopes lack `owner`.
    NoOwnerScope,
    /// `active: true` with `exp` in the past.
    ExpInPast,
    /// A permission whose `exp` is in the past.
    PermissionExpired,
    /// `{"active": false}` (an expired RPT).
    Inactive,
}

impl IntrospectionRewrite {
    fn apply(self, mut v: Value) -> Value {
        let past = Utc::now().timestamp() - 300;
        match self {
            IntrospectionRewrite::WrongTokenType => {
                v["token_type"] = json!("pension_dashboard_pmt");
            }
            IntrospectionRewrite::EmptyPermissions => v["permissions"] = json!([]),
            IntrospectionRewrite::NoOwnerScope => {
                if let Some(perms) = v["permissions"].as_array_mut() {
                    for p in perms {
                        p["resource_scopes"] = json!(["value", "delegate"]);
                    }
                }
            }
            IntrospectionRewrite::ExpInPast => v["exp"] = json!(past),
            IntrospectionRewrite::PermissionExpired => {
                if let Some(perms) = v["permissions"].as_array_mut() {
                    for p in perms {
                        p["exp"] = json!(past);
                    }
                }
            }
            IntrospectionRewrite::Inactive => v = json!({ "active": false }),
        }
        v
    }
}

/// What an armed fault does to a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FaultAction {
    /// Answer `status` with the stub's error body (`error`, and `error_description` when the
    /// stub scenario names one) and `Retry-After` if given.
    Status {
        status: u16,
        description: Option<String>,
        retry_after_secs: Option<u64>,
    },
    /// Never answer: hold the call until the caller gives up (at most [`HANG_LIMIT`]).
    Hang,
    /// Close the connection without an answer.
    Close,
    /// Let the C&A answer, then rewrite a 200 introspection result.
    Rewrite(IntrospectionRewrite),
}

/// Answer the next `remaining` calls to `endpoint` (with `method`, or any) with `action`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub endpoint: CasEndpoint,
    /// `None`: any method.
    pub method: Option<Method>,
    pub action: FaultAction,
    pub remaining: u32,
}

impl FaultRule {
    /// A status fault on every method of `endpoint`.
    pub fn status(
        endpoint: CasEndpoint,
        status: u16,
        retry_after_secs: Option<u64>,
        remaining: u32,
    ) -> FaultRule {
        FaultRule {
            endpoint,
            method: None,
            action: FaultAction::Status {
                status,
                description: None,
                retry_after_secs,
            },
            remaining,
        }
    }
}

/// One call the C&A received on a fault-injectable endpoint.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub endpoint: CasEndpoint,
    pub method: Method,
    pub at: DateTime<Utc>,
    pub instant: tokio::time::Instant,
    /// The status answered; 0 when the fault gave no answer (hang, closed connection).
    pub status: u16,
    pub injected: bool,
}

#[derive(Debug, Default)]
pub struct CasFaults {
    rules: Mutex<Vec<FaultRule>>,
    calls: Mutex<Vec<CallRecord>>,
}

impl CasFaults {
    /// Arm `rule`, replacing any rule for the same endpoint and method.
    pub fn inject(&self, rule: FaultRule) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.retain(|r| r.endpoint != rule.endpoint || r.method != rule.method);
            rules.push(rule);
        }
    }

    pub fn clear(&self) {
        if let Ok(mut r) = self.rules.lock() {
            r.clear();
        }
        if let Ok(mut c) = self.calls.lock() {
            c.clear();
        }
    }

    pub fn calls(&self, endpoint: CasEndpoint) -> Vec<CallRecord> {
        self.calls
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|r| r.endpoint == endpoint)
                    .cloned()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every call recorded since the last clear, all endpoints.
    pub fn call_count(&self) -> usize {
        self.calls.lock().map(|c| c.len()).unwrap_or_default()
    }

    /// The fault to answer a call to `endpoint` with `method` with, if one is armed (and
    /// count it down). A rule for the method wins over one for any method.
    fn take(&self, endpoint: CasEndpoint, method: &Method) -> Option<FaultRule> {
        let mut rules = self.rules.lock().ok()?;
        let index = rules
            .iter()
            .position(|r| {
                r.endpoint == endpoint && r.method.as_ref() == Some(method) && r.remaining > 0
            })
            .or_else(|| {
                rules
                    .iter()
                    .position(|r| r.endpoint == endpoint && r.method.is_none() && r.remaining > 0)
            })?;
        let rule = &mut rules[index];
        rule.remaining -= 1;
        Some(rule.clone())
    }

    fn record(&self, endpoint: CasEndpoint, method: &Method, status: u16, injected: bool) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(CallRecord {
                endpoint,
                method: method.clone(),
                at: Utc::now(),
                instant: tokio::time::Instant::now(),
                status,
                injected,
            });
        }
    }
}

/// Gaps between consecutive calls, for retry timing checks.
pub fn gaps(calls: &[CallRecord]) -> Vec<Duration> {
    calls
        .windows(2)
        .map(|w| w[1].instant.saturating_duration_since(w[0].instant))
        .collect()
}

/// The stub's error body for `status` on `endpoint`: OAuth's `error` code on `/token`
/// (RFC 6749 section 5.2), the status's reason elsewhere; `description` is the stub
/// scenario's wording (e.g. "user removed"), or the OAuth code itself when it is one.
fn stub_body(endpoint: CasEndpoint, status: StatusCode, description: Option<&str>) -> Value {
    const OAUTH_CODES: [&str; 4] = [
        "invalid_request",
        "invalid_grant",
        "unauthorized_client",
        "invalid_client",
    ];
    let oauth = description
        .map(|d| d.replace("unauthorised", "unauthorized"))
        .filter(|d| OAUTH_CODES.contains(&d.as_str()));
    let error = match (endpoint, status.as_u16(), oauth) {
        (_, _, Some(code)) => code,
        (CasEndpoint::Token, 400, None) => "invalid_request".to_owned(),
        (CasEndpoint::Token, 401, None) => "invalid_token".to_owned(),
        (_, _, None) => status
            .canonical_reason()
            .unwrap_or("injected fault")
            .to_owned(),
    };
    match description {
        Some(d) => json!({ "error": error, "error_description": d }),
        None => json!({ "error": error }),
    }
}

/// axum middleware: answer with an armed fault, or pass on and time the call.
pub async fn inject(
    State(faults): State<std::sync::Arc<CasFaults>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(endpoint) = CasEndpoint::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    let method = request.method().clone();
    let Some(rule) = faults.take(endpoint, &method) else {
        let response = next.run(request).await;
        faults.record(endpoint, &method, response.status().as_u16(), false);
        return response;
    };
    match rule.action {
        FaultAction::Status {
            status,
            description,
            retry_after_secs,
        } => {
            faults.record(endpoint, &method, status, true);
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
            let body = stub_body(endpoint, status, description.as_deref());
            let mut response = (status, Json(body)).into_response();
            if let Some(secs) = retry_after_secs
                && let Ok(v) = HeaderValue::from_str(&secs.to_string())
            {
                response.headers_mut().insert(header::RETRY_AFTER, v);
            }
            response
        }
        FaultAction::Hang => {
            faults.record(endpoint, &method, 0, true);
            // Dropped, with this future, when the caller closes its connection.
            tokio::time::sleep(HANG_LIMIT).await;
            (
                StatusCode::GATEWAY_TIMEOUT,
                Json(json!({ "error": "Gateway Timeout" })),
            )
                .into_response()
        }
        FaultAction::Close => {
            faults.record(endpoint, &method, 0, true);
            match request
                .extensions()
                .get::<crate::net::server::CloseConnection>()
            {
                Some(connection) => {
                    connection.close();
                    // Dropped with the connection; bounded if it somehow is not.
                    tokio::time::sleep(HANG_LIMIT).await;
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
                // Served outside pdp-harness's accept loop: the nearest thing, no answer.
                None => {
                    tokio::time::sleep(HANG_LIMIT).await;
                    StatusCode::SERVICE_UNAVAILABLE.into_response()
                }
            }
        }
        FaultAction::Rewrite(rewrite) => {
            let response = next.run(request).await;
            let status = response.status();
            if status != StatusCode::OK {
                faults.record(endpoint, &method, status.as_u16(), false);
                return response;
            }
            let (mut parts, body) = response.into_parts();
            let rewritten = match axum::body::to_bytes(body, REWRITE_BODY_CAP).await {
                Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                    Ok(v) => rewrite.apply(v),
                    Err(_) => json!({ "active": false }),
                },
                Err(_) => json!({ "active": false }),
            };
            faults.record(endpoint, &method, status.as_u16(), true);
            parts.headers.remove(header::CONTENT_LENGTH);
            let mut out = Json(rewritten).into_response();
            *out.status_mut() = status;
            for (name, value) in parts.headers.iter() {
                if name != header::CONTENT_TYPE {
                    out.headers_mut().insert(name.clone(), value.clone());
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_method_rule_wins_over_an_any_method_rule_and_counts_down() {
        let faults = CasFaults::default();
        faults.inject(FaultRule::status(CasEndpoint::Rreguri, 503, None, 5));
        faults.inject(FaultRule {
            endpoint: CasEndpoint::Rreguri,
            method: Some(Method::DELETE),
            action: FaultAction::Hang,
            remaining: 1,
        });
        let first = faults.take(CasEndpoint::Rreguri, &Method::DELETE);
        assert_eq!(first.map(|r| r.action), Some(FaultAction::Hang));
        // The DELETE rule is used up: the any-method rule answers the next DELETE.
        let second = faults.take(CasEndpoint::Rreguri, &Method::DELETE);
        assert!(matches!(
            second.map(|r| r.action),
            Some(FaultAction::Status { status: 503, .. })
        ));
        assert!(faults.take(CasEndpoint::Perm, &Method::POST).is_none());
    }

    #[test]
    fn the_stub_body_names_the_oauth_code_on_token() {
        let body = stub_body(
            CasEndpoint::Token,
            StatusCode::BAD_REQUEST,
            Some("unauthorised_client"),
        );
        assert_eq!(body["error"], "unauthorized_client");
        let body = stub_body(
            CasEndpoint::Rreguri,
            StatusCode::NOT_FOUND,
            Some("user removed"),
        );
        assert_eq!(body["error"], "Not Found");
        assert_eq!(body["error_description"], "user removed");
    }

    #[test]
    fn each_rewrite_makes_an_active_result_negative() {
        let active = json!({
            "active": true, "token_type": "pension_dashboard_rpt", "exp": Utc::now().timestamp() + 300,
            "permissions": [{ "resource_id": "r", "resource_scopes": ["owner"] }],
        });
        let r = IntrospectionRewrite::NoOwnerScope.apply(active.clone());
        assert_eq!(
            r["permissions"][0]["resource_scopes"],
            json!(["value", "delegate"])
        );
        let r = IntrospectionRewrite::PermissionExpired.apply(active.clone());
        assert!(r["permissions"][0]["exp"].as_i64() < Some(Utc::now().timestamp()));
        let r = IntrospectionRewrite::Inactive.apply(active);
        assert_eq!(r, json!({ "active": false }));
    }
}
