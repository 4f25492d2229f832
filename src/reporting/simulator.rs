//! The reporting API as the embedded default serves it, over mutual TLS on loopback.
//!
//! - the six `POST` endpoints, checking in the order a servlet stack would: body size by
//!   `Content-Length` (413 `CONTENT_TOO_LARGE`, 1 MiB), `Content-Type` (415
//!   `INVALID_CONTENT_TYPE`), `X-Request-ID` (400 `INVALID_X_REQUEST_ID`), the body read with
//!   the same limit (413 also for chunked bodies), JSON (400 `INVALID_REQUEST_BODY`), then the
//!   shared [`validate`](super::validate) rules (400 with every code found); every refusal
//!   waits for the body (drained past the cap), so HTTP/2 clients get it rather than a reset
//!   stream; unknown paths give
//!   404 `INVALID_URL`, other methods 405 `METHOD_NOT_ALLOWED`; every error is problem+json;
//! - `POST /configuration`: forced errors per endpoint, the same shape as the MaPS stub's
//!   (`configuration-v1_1.yaml`): `[{endpoint, status, code, count, errors:[{code}]}]`, `[]`
//!   clears; each call that passes validation gets the error and uses one `count`. One
//!   extension: an optional `retry_after` (seconds) adds a `Retry-After` header;
//! - `GET /test-support/pipeline`: what PDP's pipeline checks, per UTC day: which endpoints
//!   received schema-valid submissions that were accepted.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Endpoint;
use super::clock::Clock;
use super::model::{MAX_BODY_BYTES, ts};
use super::validate::{self, Strictness};

pub const CONFIGURATION_PATH: &str = "/configuration";
pub const PIPELINE_PATH: &str = "/test-support/pipeline";

/// A `POST /configuration` array the stub would refuse; names the entry and field.
#[derive(Debug, thiserror::Error)]
pub enum ConfigureError {
    #[error("expected at most 6 entries, got {0}")]
    TooMany(usize),
    #[error("[{entry}].endpoint: {endpoint:?} is not one of the six reporting paths")]
    Endpoint { entry: usize, endpoint: String },
    #[error("[{entry}].status: expected 100 to 599, got {status}")]
    Status { entry: usize, status: i64 },
    #[error("[{entry}].count: expected 0 or more, got {count}")]
    Count { entry: usize, count: i64 },
    #[error("[{entry}].errors: at least one {{code}} is required")]
    NoErrors { entry: usize },
}

/// One forced-error entry, as `POST /configuration` takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StubConfiguration {
    pub endpoint: String,
    pub status: i64,
    pub code: String,
    pub count: i64,
    pub errors: Vec<ErrorCode>,
    /// Extension: seconds for a `Retry-After` header on the forced answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorCode {
    pub code: String,
}

/// A request one of the six endpoints received, and what it was answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Received {
    pub at: DateTime<Utc>,
    pub endpoint: Endpoint,
    pub request_id: Option<String>,
    pub record_id: Option<String>,
    pub submission_id: Option<String>,
    pub submission_reason: Option<String>,
    pub status: u16,
    pub codes: Vec<String>,
    /// The validator's findings (field, what was expected, code), when the body was refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Passed every check (whatever the answer: a forced error may still have refused it).
    pub schema_valid: bool,
}

/// One UTC day of the pipeline check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineDay {
    pub date: NaiveDate,
    /// Accepted, schema-valid submissions per endpoint path.
    pub endpoints: BTreeMap<String, usize>,
    /// Every one of the six has at least one.
    pub complete: bool,
    pub missing: Vec<String>,
}

#[derive(Debug)]
struct Forced {
    status: u16,
    code: String,
    remaining: u32,
    errors: Vec<String>,
    retry_after: Option<u64>,
}

#[derive(Debug)]
struct Inner {
    clock: Arc<dyn Clock>,
    strict: Strictness,
    forced: Mutex<HashMap<Endpoint, Forced>>,
    received: Mutex<Vec<Received>>,
    /// `serve`: every request is also kept in this file, for `--pack reporting-received`.
    journal: Option<super::received::ReceivedJournal>,
}

/// The simulator's state; cheap to clone.
#[derive(Debug, Clone)]
pub struct ReportingSimulator {
    inner: Arc<Inner>,
}

/// Past the cap, up to this much more is read and thrown away before answering.
const DRAIN_LIMIT: usize = 8 * MAX_BODY_BYTES;

/// The request body when it is within [`MAX_BODY_BYTES`]; `None` when it is larger or broke
/// off (the body timeout). A body over the cap is still read to its end (up to
/// [`DRAIN_LIMIT`]) and discarded: answering while the client is still sending reaches
/// HTTP/2 clients as a reset stream (curl: "Stream error in the HTTP/2 framing layer") and
/// HTTP/1.1 ones as a connection closed under them ("Broken pipe"), never as the 413.
async fn read_body(body: Body, declared: Option<usize>) -> Option<bytes::Bytes> {
    use http_body_util::BodyExt as _;
    if declared.is_some_and(|n| n > DRAIN_LIMIT) {
        return None;
    }
    let mut body = body;
    let mut kept = Vec::new();
    let mut seen = 0usize;
    while let Some(frame) = body.frame().await {
        let data = frame.ok()?.into_data().unwrap_or_default();
        seen = seen.saturating_add(data.len());
        if seen > DRAIN_LIMIT {
            return None;
        }
        if seen <= MAX_BODY_BYTES {
            kept.extend_from_slice(&data);
        }
    }
    (seen <= MAX_BODY_BYTES).then(|| bytes::Bytes::from(kept))
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `TOO_MANY_REQUESTS` -> "Too Many Requests", as the stub titles forced errors.
fn words(code: &str) -> String {
    code.split('_')
        .filter(|w| !w.is_empty())
        .map(|w| {
            let lower = w.to_ascii_lowercase();
            let mut c = lower.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl ReportingSimulator {
    pub fn new(clock: Arc<dyn Clock>, strict: Strictness) -> ReportingSimulator {
        Self::build(clock, strict, None)
    }

    /// As [`new`](Self::new), also keeping every request in `journal` (`serve`). Only the
    /// file is kept, not a copy in memory: `serve` may run for weeks.
    pub fn journaled(
        clock: Arc<dyn Clock>,
        strict: Strictness,
        journal: super::received::ReceivedJournal,
    ) -> ReportingSimulator {
        Self::build(clock, strict, Some(journal))
    }

    fn build(
        clock: Arc<dyn Clock>,
        strict: Strictness,
        journal: Option<super::received::ReceivedJournal>,
    ) -> ReportingSimulator {
        ReportingSimulator {
            inner: Arc::new(Inner {
                clock,
                strict,
                forced: Mutex::new(HashMap::new()),
                received: Mutex::new(Vec::new()),
                journal,
            }),
        }
    }

    fn problem(&self, status: StatusCode, slug: &str, title: &str, codes: &[String]) -> Response {
        let body = json!({
            "type": format!("https://example.com/probs/{slug}"),
            "title": title,
            "status": status.as_u16(),
            "datetimestamp": ts(&self.inner.clock.now()),
            "errors": codes.iter().map(|c| json!({ "code": c })).collect::<Vec<_>>(),
        });
        (
            status,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    }

    pub fn router(&self) -> Router {
        let mut router = Router::new();
        for endpoint in Endpoint::ALL {
            router =
                router.route(
                    endpoint.path(),
                    post(
                        move |State(sim): State<ReportingSimulator>,
                              headers: HeaderMap,
                              body: Body| async move {
                            sim.submit(endpoint, headers, body).await
                        },
                    ),
                );
        }
        router
            .route(CONFIGURATION_PATH, post(configure))
            .route(PIPELINE_PATH, get(pipeline))
            .method_not_allowed_fallback(
                |State(sim): State<ReportingSimulator>, body: Body| async move {
                    let _ = read_body(body, None).await;
                    sim.problem(
                        StatusCode::METHOD_NOT_ALLOWED,
                        "method-not-allowed",
                        "Method Not Allowed",
                        &["METHOD_NOT_ALLOWED".to_owned()],
                    )
                },
            )
            .fallback(
                |State(sim): State<ReportingSimulator>, body: Body| async move {
                    let _ = read_body(body, None).await;
                    sim.problem(
                        StatusCode::NOT_FOUND,
                        "not-found",
                        "Not Found",
                        &["INVALID_URL".to_owned()],
                    )
                },
            )
            .with_state(self.clone())
    }

    fn note(&self, r: Received) {
        match &self.inner.journal {
            Some(journal) => {
                if let Err(e) = journal.append(&r) {
                    tracing::warn!("{e}");
                    eprintln!("pdp-harness: {e}");
                }
            }
            None => lock(&self.inner.received).push(r),
        }
    }

    async fn submit(&self, endpoint: Endpoint, headers: HeaderMap, body: Body) -> Response {
        let at = self.inner.clock.now();
        let request_id = headers
            .get("x-request-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let mut seen = Received {
            at,
            endpoint,
            request_id: request_id.clone(),
            record_id: None,
            submission_id: None,
            submission_reason: None,
            status: 0,
            codes: Vec::new(),
            problems: Vec::new(),
            schema_valid: false,
        };
        let refuse = |seen: &mut Received,
                      status: StatusCode,
                      slug: &str,
                      title: &str,
                      codes: Vec<String>| {
            seen.status = status.as_u16();
            seen.codes = codes.clone();
            self.note(seen.clone());
            self.problem(status, slug, title, &codes)
        };
        let declared = headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        // The body is read (or drained) before any refusal, so the answer reaches the client.
        let read = read_body(body, declared).await;
        if declared.is_some_and(|n| n > MAX_BODY_BYTES) {
            return refuse(
                &mut seen,
                StatusCode::PAYLOAD_TOO_LARGE,
                "content-too-large",
                "Content Too Large",
                vec!["CONTENT_TOO_LARGE".into()],
            );
        }
        let json_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json_type {
            return refuse(
                &mut seen,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported Media Type",
                vec!["INVALID_CONTENT_TYPE".into()],
            );
        }
        if !request_id.as_deref().is_some_and(validate::is_uuid) {
            return refuse(
                &mut seen,
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad Request",
                vec!["INVALID_X_REQUEST_ID".into()],
            );
        }
        let Some(bytes) = read else {
            return refuse(
                &mut seen,
                StatusCode::PAYLOAD_TOO_LARGE,
                "content-too-large",
                "Content Too Large",
                vec!["CONTENT_TOO_LARGE".into()],
            );
        };
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            return refuse(
                &mut seen,
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad Request",
                vec!["INVALID_REQUEST_BODY".into()],
            );
        };
        let text = |k: &str| value.get(k).and_then(Value::as_str).map(str::to_owned);
        seen.record_id = text("record_id");
        seen.submission_id = text("submission_id");
        seen.submission_reason = text("submission_reason");
        let errors = validate::check(endpoint, &value, self.inner.strict);
        if !errors.is_empty() {
            seen.problems = errors.iter().map(ToString::to_string).collect();
            let mut codes: Vec<String> = Vec::new();
            for e in errors {
                if !codes.contains(&e.code) {
                    codes.push(e.code);
                }
            }
            return refuse(
                &mut seen,
                StatusCode::BAD_REQUEST,
                "bad-request",
                "Bad Request",
                codes,
            );
        }
        seen.schema_valid = true;
        // A forced error applies to requests that pass validation, and uses one count.
        let forced = {
            let mut map = lock(&self.inner.forced);
            let hit = map.get_mut(&endpoint).map(|f| {
                f.remaining = f.remaining.saturating_sub(1);
                (
                    f.status,
                    f.code.clone(),
                    f.errors.clone(),
                    f.retry_after,
                    f.remaining,
                )
            });
            if let Some((.., 0)) = hit {
                map.remove(&endpoint);
            }
            hit
        };
        if let Some((status, code, errors, retry_after, _)) = forced {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            seen.status = status.as_u16();
            seen.codes = errors.clone();
            self.note(seen);
            let body = json!({
                "type": format!("https://example.com/errors/{code}"),
                "title": words(&code),
                "status": status.as_u16(),
                "datetimestamp": ts(&self.inner.clock.now()),
                "errors": errors.iter().map(|c| json!({ "code": c })).collect::<Vec<_>>(),
            });
            let mut resp = (
                status,
                [(header::CONTENT_TYPE, "application/problem+json")],
                body.to_string(),
            )
                .into_response();
            if let Some(secs) = retry_after
                && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
            {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
            return resp;
        }
        seen.status = 202;
        self.note(seen);
        (
            StatusCode::ACCEPTED,
            Json(json!({ "message": "ACCEPTED", "datetimestamp": ts(&at) })),
        )
            .into_response()
    }

    /// Apply a configuration array (see the module comment); errors name the entry and field.
    pub fn configure(&self, entries: &[StubConfiguration]) -> Result<(), ConfigureError> {
        if entries.len() > 6 {
            return Err(ConfigureError::TooMany(entries.len()));
        }
        let mut parsed = Vec::new();
        for (i, c) in entries.iter().enumerate() {
            let endpoint = Endpoint::ALL
                .into_iter()
                .find(|e| e.path() == c.endpoint)
                .ok_or_else(|| ConfigureError::Endpoint {
                    entry: i,
                    endpoint: c.endpoint.clone(),
                })?;
            let status = u16::try_from(c.status)
                .ok()
                .filter(|s| (100..=599).contains(s))
                .ok_or(ConfigureError::Status {
                    entry: i,
                    status: c.status,
                })?;
            let count = u32::try_from(c.count).map_err(|_| ConfigureError::Count {
                entry: i,
                count: c.count,
            })?;
            if c.errors.is_empty() {
                return Err(ConfigureError::NoErrors { entry: i });
            }
            parsed.push((
                endpoint,
                Forced {
                    status,
                    code: c.code.clone(),
                    remaining: count,
                    errors: c.errors.iter().map(|e| e.code.clone()).collect(),
                    retry_after: c.retry_after,
                },
            ));
        }
        let mut map = lock(&self.inner.forced);
        if entries.is_empty() {
            map.clear();
        }
        for (endpoint, f) in parsed {
            if f.remaining == 0 {
                map.remove(&endpoint);
            } else {
                map.insert(endpoint, f);
            }
        }
        Ok(())
    }

    /// Every request the six endpoints received (read back from the journal when there is one).
    pub fn received(&self) -> Vec<Received> {
        match &self.inner.journal {
            Some(j) => super::received::load(j.path()).unwrap_or_else(|e| {
                tracing::warn!("{e}");
                Vec::new()
            }),
            None => lock(&self.inner.received).clone(),
        }
    }

    /// Forget what was received and every forced error.
    pub fn clear(&self) {
        lock(&self.inner.received).clear();
        lock(&self.inner.forced).clear();
    }

    /// What PDP's pipeline checks: per UTC day, accepted schema-valid submissions per endpoint.
    pub fn pipeline(&self) -> Vec<PipelineDay> {
        let mut days: BTreeMap<NaiveDate, BTreeMap<String, usize>> = BTreeMap::new();
        for r in self
            .received()
            .iter()
            .filter(|r| r.schema_valid && r.status == 202)
        {
            *days
                .entry(r.at.date_naive())
                .or_default()
                .entry(r.endpoint.path().to_owned())
                .or_default() += 1;
        }
        days.into_iter()
            .map(|(date, endpoints)| {
                let missing: Vec<String> = Endpoint::ALL
                    .iter()
                    .filter(|e| !endpoints.contains_key(e.path()))
                    .map(|e| e.path().to_owned())
                    .collect();
                PipelineDay {
                    date,
                    complete: missing.is_empty(),
                    endpoints,
                    missing,
                }
            })
            .collect()
    }
}

async fn configure(State(sim): State<ReportingSimulator>, body: axum::body::Bytes) -> Response {
    let bad = |msg: String| {
        let mut r = sim.problem(
            StatusCode::BAD_REQUEST,
            "bad-request",
            "Bad Request",
            &["INVALID_REQUEST_BODY".to_owned()],
        );
        if let Ok(v) = header::HeaderValue::from_str(&msg.replace(['\r', '\n'], " ")) {
            r.headers_mut().insert("x-problem-detail", v);
        }
        r
    };
    match serde_json::from_slice::<Vec<StubConfiguration>>(&body) {
        Ok(entries) => match sim.configure(&entries) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err(e) => bad(e.to_string()),
        },
        Err(e) => bad(e.to_string()),
    }
}

async fn pipeline(State(sim): State<ReportingSimulator>) -> Json<Value> {
    Json(json!({ "days": sim.pipeline() }))
}
