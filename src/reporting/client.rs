//! Submitting one body to the reporting API over mutual TLS.
//!
//! Each attempt carries a fresh `X-Request-ID` (the header is "a unique correlation id"); the
//! body and its `record_id` never change between attempts. 202 must carry the closed
//! `{message, datetimestamp}`; errors are read as problem+json (or plain JSON, as the stub may
//! answer) and shown with their codes. 429 is retried with exponential backoff with jitter,
//! never sooner than `Retry-After`; 500/502/503/504 and refused connections are retried up to
//! a smaller bound; other 4xx are never retried. A request that may have reached the API but
//! got no answer (timeout, connection lost) is not retried: it is reported as in doubt, so
//! nothing is sent twice by accident. Sleeping goes through a [`Sleeper`], so tests assert the
//! delays without waiting.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::clock::Clock;
use super::{Endpoint, PARTY_REPORTING};
use crate::net::recorder::Recorder;
use crate::net::recorder::SendFailure;

/// Waits between attempts; injectable so backoff is tested without waiting.
pub trait Sleeper: Send + Sync + fmt::Debug {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct TokioSleeper;

impl Sleeper for TokioSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// Records the delays asked for and returns at once (tests).
#[derive(Debug, Default, Clone)]
pub struct RecordingSleeper {
    pub delays: Arc<Mutex<Vec<Duration>>>,
}

impl RecordingSleeper {
    pub fn delays(&self) -> Vec<Duration> {
        self.delays.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, d: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        if let Ok(mut v) = self.delays.lock() {
            v.push(d);
        }
        Box::pin(async {})
    }
}

/// How often and how patiently to retry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all while the API answers 429.
    pub max_attempts_429: u32,
    /// Attempts in all while the API answers 5xx or refuses the connection.
    pub max_attempts_5xx: u32,
    /// First backoff; doubled per retry, then jittered to 50-100 %.
    pub base: Duration,
    /// Upper bound of one backoff.
    pub cap: Duration,
    /// Upper bound of one `Retry-After` wait.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts_429: 6,
            max_attempts_5xx: 3,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

impl RetryPolicy {
    /// The backoff before retry number `retry` (1-based) before jitter: `base` doubled per
    /// retry, at most `cap`.
    pub fn nominal(&self, retry: u32) -> Duration {
        self.base
            .saturating_mul(2u32.saturating_pow(retry.saturating_sub(1)))
            .min(self.cap)
    }

    /// The jittered exponential backoff before retry number `retry` (1-based).
    pub fn backoff(&self, retry: u32) -> Duration {
        let factor: f64 = rand::random_range(0.5..=1.0);
        self.nominal(retry).mul_f64(factor)
    }

    /// The least [`RetryPolicy::backoff`] can be (jitter's 50 %): no retry number `retry`
    /// may come sooner.
    pub fn least_backoff(&self, retry: u32) -> Duration {
        self.nominal(retry) / 2
    }
}

/// An error answer, as problem+json: status, title, type and the codes of `errors[]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    pub status: u16,
    pub title: Option<String>,
    pub problem_type: Option<String>,
    pub codes: Vec<String>,
    /// The body when it was not a problem document.
    pub raw: Option<String>,
}

impl Problem {
    pub fn parse(status: u16, body: &[u8]) -> Problem {
        match serde_json::from_slice::<Value>(body) {
            Ok(v) if v.is_object() => Problem {
                status,
                title: v["title"].as_str().map(str::to_owned),
                problem_type: v["type"].as_str().map(str::to_owned),
                codes: v["errors"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|e| e["code"].as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default(),
                raw: None,
            },
            _ => Problem {
                status,
                title: None,
                problem_type: None,
                codes: Vec::new(),
                raw: Some(String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()),
            },
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP {}", self.status)?;
        if let Some(t) = &self.title {
            write!(f, " {t}")?;
        }
        if !self.codes.is_empty() {
            write!(f, " [{}]", self.codes.join(", "))?;
        }
        if let Some(r) = &self.raw {
            write!(f, ": {r}")?;
        }
        Ok(())
    }
}

/// One HTTP attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    pub request_id: String,
    pub at: DateTime<Utc>,
    pub status: Option<u16>,
    /// How long the client waited before this attempt.
    pub waited_ms: u64,
    /// The `Retry-After` the previous answer asked for, in seconds.
    pub retry_after_secs: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Accepted {
        message: String,
        datetimestamp: String,
        /// Set when the 202 body did not match the spec's `DefaultResponse`.
        warning: Option<String>,
    },
    Refused {
        problem: Problem,
    },
    Failed {
        reason: String,
        /// True when the request may have reached the API (no answer came).
        in_doubt: bool,
    },
}

impl Outcome {
    pub fn is_accepted(&self) -> bool {
        matches!(self, Outcome::Accepted { .. })
    }

    pub fn http_status(&self) -> Option<u16> {
        match self {
            Outcome::Accepted { .. } => Some(202),
            Outcome::Refused { problem } => Some(problem.status),
            Outcome::Failed { .. } => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Outcome::Accepted {
                message,
                datetimestamp,
                warning,
            } => format!(
                "202 {message} at {datetimestamp}{}",
                warning
                    .as_ref()
                    .map(|w| format!(" (response not as specified: {w})"))
                    .unwrap_or_default()
            ),
            Outcome::Refused { problem } => format!("refused: {problem}"),
            Outcome::Failed { reason, in_doubt } => format!(
                "{}: {reason}",
                if *in_doubt {
                    "no answer (in doubt)"
                } else {
                    "not delivered"
                }
            ),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendResult {
    pub attempts: Vec<Attempt>,
    pub outcome: Outcome,
}

/// Parse `Retry-After`: delay-seconds or an HTTP-date.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    DateTime::parse_from_rfc2822(v)
        .ok()
        .map(|t| (t.with_timezone(&Utc) - now).to_std().unwrap_or_default())
}

/// A request for [`ReportingClient::send_raw`].
#[derive(Debug, Clone)]
pub struct RawRequest<'a> {
    pub method: reqwest::Method,
    /// Appended to the base URL, e.g. `/view-response/unavailable`.
    pub path: &'a str,
    pub request_id: Option<&'a str>,
    pub content_type: Option<&'a str>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct ReportingClient {
    pub http: reqwest::Client,
    pub base_url: String,
    pub recorder: Arc<Recorder>,
    pub retry: RetryPolicy,
    pub sleeper: Arc<dyn Sleeper>,
    pub clock: Arc<dyn Clock>,
}

impl ReportingClient {
    pub fn url(&self, endpoint: Endpoint) -> String {
        format!("{}{}", self.base_url.trim_end_matches('/'), endpoint.path())
    }

    /// One request exactly as given, never retried: the transport cases of the reporting
    /// scripts (wrong method, path, content type or `X-Request-ID`, an oversized body) that
    /// [`post`](Self::post) would never send. Recorded like any other exchange; returns the
    /// answer's status and problem, or why there was none.
    pub async fn send_raw(&self, raw: RawRequest<'_>) -> Result<Problem, SendFailure> {
        let url = format!("{}{}", self.base_url.trim_end_matches('/'), raw.path);
        let mut request = self.http.request(raw.method.clone(), &url).header(
            reqwest::header::ACCEPT,
            "application/json, application/problem+json",
        );
        if let Some(id) = raw.request_id {
            request = request.header("X-Request-ID", id);
        }
        if let Some(ct) = raw.content_type {
            request = request.header(reqwest::header::CONTENT_TYPE, ct);
        }
        let request = request.body(raw.body).build().map_err(|e| {
            SendFailure::NotSent(format!("{url}: the request could not be built: {e}"))
        })?;
        let obs = self
            .recorder
            .send(PARTY_REPORTING, &self.http, request)
            .await?;
        Ok(Problem::parse(obs.status, &obs.body))
    }

    /// POST `body` to `endpoint`, retrying as the module comment says.
    pub async fn post(&self, endpoint: Endpoint, body: &[u8]) -> SendResult {
        let url = self.url(endpoint);
        let mut attempts: Vec<Attempt> = Vec::new();
        let mut waited = Duration::ZERO;
        let mut retry_after_secs = None;
        let (mut n429, mut n5xx) = (0u32, 0u32);
        loop {
            if !waited.is_zero() {
                self.sleeper.sleep(waited).await;
            }
            let request_id = uuid::Uuid::new_v4().to_string();
            let mut attempt = Attempt {
                request_id: request_id.clone(),
                at: self.clock.now(),
                status: None,
                waited_ms: u64::try_from(waited.as_millis()).unwrap_or(u64::MAX),
                retry_after_secs,
                error: None,
            };
            let request = self
                .http
                .post(&url)
                .header("X-Request-ID", &request_id)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .header(
                    reqwest::header::ACCEPT,
                    "application/json, application/problem+json",
                )
                .body(body.to_vec())
                .build();
            let request = match request {
                Ok(r) => r,
                Err(e) => {
                    attempt.error = Some(e.to_string());
                    attempts.push(attempt);
                    return SendResult {
                        attempts,
                        outcome: Outcome::Failed {
                            reason: format!("{url}: the request could not be built: {e}"),
                            in_doubt: false,
                        },
                    };
                }
            };
            let observed = self
                .recorder
                .send(PARTY_REPORTING, &self.http, request)
                .await;
            match observed {
                Err(e) => {
                    attempt.error = Some(e.to_string());
                    attempts.push(attempt);
                    // Only a failed connection proves nothing was sent.
                    let not_sent = matches!(e, crate::net::recorder::SendFailure::Unreachable(_));
                    n5xx += 1;
                    if not_sent && n5xx < self.retry.max_attempts_5xx {
                        waited = self.retry.backoff(n5xx);
                        retry_after_secs = None;
                        continue;
                    }
                    return SendResult {
                        attempts,
                        outcome: Outcome::Failed {
                            reason: format!("{url}: {e}"),
                            in_doubt: !not_sent,
                        },
                    };
                }
                Ok(obs) => {
                    attempt.status = Some(obs.status);
                    attempts.push(attempt);
                    let retry_after = obs
                        .header("retry-after")
                        .and_then(|v| parse_retry_after(v, self.clock.now()));
                    match obs.status {
                        202 => {
                            let (message, datetimestamp, warning) =
                                match serde_json::from_slice::<Value>(&obs.body)
                                    .map_err(|e| format!("not JSON: {e}"))
                                    .and_then(|v| {
                                        super::validate::check_accepted(&v)
                                            .map_err(|e| e.to_string())
                                    }) {
                                    Ok((m, d)) => (m, d, None),
                                    Err(w) => (String::new(), String::new(), Some(w)),
                                };
                            return SendResult {
                                attempts,
                                outcome: Outcome::Accepted {
                                    message,
                                    datetimestamp,
                                    warning,
                                },
                            };
                        }
                        429 => {
                            n429 += 1;
                            if n429 >= self.retry.max_attempts_429 {
                                return SendResult {
                                    attempts,
                                    outcome: Outcome::Failed {
                                        reason: format!(
                                            "{url}: still 429 Too Many Requests after {n429} attempts ({})",
                                            Problem::parse(429, &obs.body)
                                        ),
                                        in_doubt: false,
                                    },
                                };
                            }
                            let backoff = self.retry.backoff(n429);
                            let ra = retry_after.map(|d| d.min(self.retry.max_retry_after));
                            retry_after_secs = retry_after.map(|d| d.as_secs());
                            waited = ra.map_or(backoff, |r| r.max(backoff));
                        }
                        500 | 502 | 503 | 504 => {
                            n5xx += 1;
                            if n5xx >= self.retry.max_attempts_5xx {
                                return SendResult {
                                    attempts,
                                    outcome: Outcome::Failed {
                                        reason: format!(
                                            "{url}: {} after {n5xx} attempts",
                                            Problem::parse(obs.status, &obs.body)
                                        ),
                                        in_doubt: false,
                                    },
                                };
                            }
                            let backoff = self.retry.backoff(n5xx);
                            retry_after_secs = retry_after.map(|d| d.as_secs());
                            waited = retry_after
                                .map(|d| d.min(self.retry.max_retry_after))
                                .map_or(backoff, |r| r.max(backoff));
                        }
                        status => {
                            return SendResult {
                                attempts,
                                outcome: Outcome::Refused {
                                    problem: Problem::parse(status, &obs.body),
                                },
                            };
                        }
                    }
                }
            }
        }
    }
}
