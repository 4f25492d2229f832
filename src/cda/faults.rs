//! Fault injection in the simulated C&A, driven from Gherkin ("Given the C&A answers rreguri
//! with 429 and Retry-After 2 for the next 3 calls"), so an organisation can check that its
//! solution retries, backs off and recovers. Every call to each endpoint is timed, so scenarios
//! can assert the retry timing they observed.

use std::sync::Mutex;
use std::time::Duration;

use axum::Json;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use serde_json::json;

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

/// Answer the next `remaining` calls to `endpoint` with `status` (and `Retry-After`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FaultRule {
    pub endpoint: CasEndpoint,
    pub status: u16,
    pub retry_after_secs: Option<u64>,
    pub remaining: u32,
}

/// One call the C&A received on a fault-injectable endpoint.
#[derive(Debug, Clone)]
pub struct CallRecord {
    pub endpoint: CasEndpoint,
    pub at: DateTime<Utc>,
    pub instant: tokio::time::Instant,
    pub status: u16,
    pub injected: bool,
}

#[derive(Debug, Default)]
pub struct CasFaults {
    rules: Mutex<Vec<FaultRule>>,
    calls: Mutex<Vec<CallRecord>>,
}

impl CasFaults {
    pub fn inject(&self, rule: FaultRule) {
        if let Ok(mut rules) = self.rules.lock() {
            rules.retain(|r| r.endpoint != rule.endpoint);
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

    /// The fault to answer a call to `endpoint` with, if one is armed (and count it down).
    fn take(&self, endpoint: CasEndpoint) -> Option<FaultRule> {
        let mut rules = self.rules.lock().ok()?;
        let rule = rules
            .iter_mut()
            .find(|r| r.endpoint == endpoint && r.remaining > 0)?;
        rule.remaining -= 1;
        Some(rule.clone())
    }

    fn record(&self, endpoint: CasEndpoint, status: u16, injected: bool) {
        if let Ok(mut c) = self.calls.lock() {
            c.push(CallRecord {
                endpoint,
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

/// axum middleware: answer with an armed fault, or pass on and time the call.
pub async fn inject(
    State(faults): State<std::sync::Arc<CasFaults>>,
    request: Request,
    next: Next,
) -> Response {
    let Some(endpoint) = CasEndpoint::of_path(request.uri().path()) else {
        return next.run(request).await;
    };
    if let Some(rule) = faults.take(endpoint) {
        faults.record(endpoint, rule.status, true);
        let status = StatusCode::from_u16(rule.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let body = if endpoint == CasEndpoint::Token && status == StatusCode::BAD_REQUEST {
            Json(json!({ "error": "invalid_request" })).into_response()
        } else {
            Json(json!({ "error": status.canonical_reason().unwrap_or("injected fault") }))
                .into_response()
        };
        let mut response = (status, body).into_response();
        if let Some(secs) = rule.retry_after_secs
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return response;
    }
    let response = next.run(request).await;
    faults.record(endpoint, response.status().as_u16(), false);
    response
}
