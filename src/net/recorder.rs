//! Everything the harness sees on the wire: calls it makes (finder, dashboard) and calls it
//! receives (the simulated C&A). Each exchange is redacted as it is recorded, then handed to
//! the step that was running so the evidence can show the request and response behind a verdict.

use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use chrono::Utc;
use reqwest::header::HeaderMap;

use crate::record::redact::Redactor;
use crate::record::run::{DecodedToken, Exchange, Timing};

/// Bodies larger than this are not kept whole in the evidence.
const BODY_LIMIT: usize = 16 * 1024;

/// At most this much (approximately, in text) of exchanges is held; beyond it the oldest go.
/// A whole pack's exchanges are a few MB; a long-lived `serve` answering calls between runs
/// must not grow without bound.
pub const EXCHANGE_BUDGET: usize = 16 * 1024 * 1024;

use super::attribution::{Correlations, atoms, in_scope, path_of};
pub use super::attribution::{Tag, current_scenario, in_scenario};

/// A request of the harness's in flight; dropped when it is answered (or abandoned).
struct Flight<'a> {
    recorder: &'a Recorder,
    id: u64,
}

impl Drop for Flight<'_> {
    fn drop(&mut self) {
        if let Ok(mut f) = self.recorder.in_flight.lock() {
            f.retain(|o| o.id != self.id);
        }
    }
}

/// One of the harness's own requests in flight.
#[derive(Debug)]
struct Outgoing {
    id: u64,
    method: String,
    path: String,
    /// Its `X-Request-ID`, if it has one.
    request_id: Option<String>,
    scenario: Tag,
}

/// A message's `X-Request-ID`, if it has one.
fn request_id_of(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
        .map(str::to_owned)
}

/// What an exchange costs to keep, roughly.
fn weight(e: &Exchange) -> usize {
    let headers = |h: &[(String, String)]| h.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    256 + e.url.len()
        + headers(&e.request_headers)
        + headers(&e.response_headers)
        + e.request_body.as_ref().map_or(0, String::len)
        + e.response_body.as_ref().map_or(0, String::len)
        + e.error.as_ref().map_or(0, String::len)
}

/// Exchanges in completion order, within [`EXCHANGE_BUDGET`]. Ids count every exchange ever
/// recorded (since the last clear), so an id stays valid while older exchanges are dropped.
#[derive(Debug, Default)]
struct Exchanges {
    items: std::collections::VecDeque<(SystemTime, Tag, Exchange)>,
    weight: usize,
    /// How many were dropped from the front: the id of `items[0]`.
    dropped: usize,
}

impl Exchanges {
    /// Keep `e`; its id.
    fn push(&mut self, at: SystemTime, tag: Tag, e: Exchange) -> usize {
        self.weight += weight(&e);
        self.items.push_back((at, tag, e));
        while self.weight > EXCHANGE_BUDGET && self.items.len() > 1 {
            if let Some((_, _, old)) = self.items.pop_front() {
                self.weight = self.weight.saturating_sub(weight(&old));
                self.dropped += 1;
            }
        }
        self.dropped + self.items.len() - 1
    }

    fn get(&self, id: usize) -> Option<&Exchange> {
        id.checked_sub(self.dropped)
            .and_then(|i| self.items.get(i))
            .map(|(_, _, e)| e)
    }

    /// The id of the latest exchange of `scope` that `pick` chooses.
    fn latest(&self, scope: Tag, pick: impl Fn(&Exchange) -> bool) -> Option<usize> {
        self.items
            .iter()
            .rposition(|(_, tag, e)| in_scope(*tag, scope) && pick(e))
            .map(|i| self.dropped + i)
    }
}

/// Exchanges and timings are stamped when they complete (under the lock, so the stamps are in
/// order). The evidence writer runs behind the steps, so it attributes them to a step by the
/// step's start and end times rather than by "what is new since I last looked".
#[derive(Debug, Default)]
pub struct Recorder {
    exchanges: Mutex<Exchanges>,
    timings: Mutex<Vec<(SystemTime, Tag, Timing)>>,
    /// Doubts that are not failures (sources disagree), for the step that raised them.
    warnings: Mutex<Vec<(SystemTime, Tag, String)>>,
    /// What steps said about their checks, stamped like timings.
    notes: Mutex<Vec<(SystemTime, Tag, StepNote)>>,
    /// Which scenario the values seen on the wire belong to, for inbound calls.
    correlations: Mutex<Correlations>,
    /// The harness's own requests in flight: a call the simulated C&A receives that carries
    /// nothing to tell it by is the one scenario's request to that route in flight, and one
    /// that is such a request itself (its method, path and `X-Request-ID`) is the harness's
    /// own (the dashboard's), recorded as the harness sent it and not again as received.
    in_flight: Mutex<Vec<Outgoing>>,
    next_flight: std::sync::atomic::AtomicU64,
    redactor: Redactor,
    /// Per party, how long a request may take in all (its limit plus a margin).
    timeouts: Mutex<Vec<(String, std::time::Duration)>>,
    /// Largest response body read, in bytes (0: [`DEFAULT_BODY_CAP`]).
    body_cap: std::sync::atomic::AtomicUsize,
    /// While set, nothing is kept: a load test's thousands of exchanges are counted, not stored.
    paused: std::sync::atomic::AtomicBool,
}

/// Default cap on a response body the harness reads (find acknowledgements, view responses).
pub const DEFAULT_BODY_CAP: usize = 1024 * 1024;

/// Why a request the harness sent got no usable response, by kind: a step decides the failure's
/// class from the kind (a refused connection is the environment's, a hung or oversized answer
/// the peer's), never from the words.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendFailure {
    /// No connection: refused, unresolvable, or the TLS handshake failed.
    #[error("{0}")]
    Unreachable(String),
    /// The peer took the request and did not answer within its limit plus the margin.
    #[error(
        "no response arrived: timed out after {} ms (the limit plus the margin, [limits] timeout_margin_ms)",
        .0.as_millis()
    )]
    TimedOut(std::time::Duration),
    /// The peer's answer was bigger than the cap.
    #[error(
        "the response body exceeds the {0}-byte cap ([limits] max_body_bytes); reading stopped there"
    )]
    TooLarge(usize),
    /// The connection broke after it was made (reset, truncated body).
    #[error("{0}")]
    Broken(String),
    /// The harness could not make the request at all.
    #[error("{0}")]
    NotSent(String),
}

impl SendFailure {
    /// Who acts when the peer is the system under test.
    pub fn class(&self) -> crate::record::classify::FailureClass {
        use crate::record::classify::FailureClass;
        match self {
            SendFailure::Unreachable(_) => FailureClass::Environment,
            SendFailure::TimedOut(_) | SendFailure::TooLarge(_) | SendFailure::Broken(_) => {
                FailureClass::SystemUnderTest
            }
            SendFailure::NotSent(_) => FailureClass::Harness,
        }
    }

    /// A transport error from reqwest, by kind.
    pub fn of_reqwest(e: &reqwest::Error, limit: Option<std::time::Duration>) -> SendFailure {
        let text = crate::net::tls::error_chain(e);
        if e.is_timeout() {
            return match limit {
                Some(l) => SendFailure::TimedOut(l),
                None => SendFailure::Broken(text),
            };
        }
        if e.is_connect() {
            SendFailure::Unreachable(text)
        } else if e.is_builder() {
            SendFailure::NotSent(text)
        } else {
            SendFailure::Broken(text)
        }
    }
}

/// Why a request got no usable response.
#[derive(Debug)]
enum SendError {
    Transport(reqwest::Error),
    TimedOut(std::time::Duration),
    TooLarge {
        status: u16,
        headers: HeaderMap,
        cap: usize,
    },
}

/// What a step's check says about itself, for the evidence of that step.
#[derive(Debug, Clone, PartialEq)]
pub enum StepNote {
    /// The check judged the exchange with this id (see [`Observed::exchange`]).
    Judged(usize),
    /// What the check observed, in one line.
    Observed(String),
    /// A view data token the check verified, decoded and masked.
    ViewData(DecodedToken),
}

/// What a step said, gathered for its record.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StepNotes {
    /// The last exchange the step marked as judged.
    pub judged: Option<Exchange>,
    /// Its observations, joined with "; ".
    pub observed: Option<String>,
    pub view_data: Vec<DecodedToken>,
}

/// Items stamped within `[from, to]` that belong to `scope` ([`in_scope`]).
fn between<T: Clone>(
    items: &[(SystemTime, Tag, T)],
    scope: Tag,
    from: SystemTime,
    to: SystemTime,
) -> Vec<T> {
    let start = items.partition_point(|(at, _, _)| *at < from);
    let end = items.partition_point(|(at, _, _)| *at <= to);
    items
        .get(start..end.max(start))
        .map(|s| {
            s.iter()
                .filter(|(_, tag, _)| in_scope(*tag, scope))
                .map(|(_, _, t)| t.clone())
                .collect()
        })
        .unwrap_or_default()
}

/// A response read in full by a client, with how long it took.
#[derive(Debug, Clone)]
pub struct Observed {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
    pub elapsed_ms: f64,
    /// The id of the recorded exchange, for a step to say it judged it.
    pub exchange: Option<usize>,
}

impl Observed {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl Recorder {
    pub fn new(redactor: Redactor) -> Recorder {
        Recorder {
            redactor,
            ..Recorder::default()
        }
    }

    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    /// Requests sent as `party` give up after `timeout` (the party's limit plus a margin).
    pub fn set_timeout(&self, party: &str, timeout: std::time::Duration) {
        if let Ok(mut t) = self.timeouts.lock() {
            t.retain(|(p, _)| p != party);
            t.push((party.to_owned(), timeout));
        }
    }

    /// The timeout set for `party`'s requests, if one was.
    pub fn timeout_for(&self, party: &str) -> Option<std::time::Duration> {
        self.timeouts
            .lock()
            .ok()?
            .iter()
            .find(|(p, _)| p == party)
            .map(|(_, t)| *t)
    }

    /// The largest response body read; a larger one fails the request at bounded memory.
    pub fn set_body_cap(&self, bytes: usize) {
        self.body_cap
            .store(bytes, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn body_cap(&self) -> usize {
        match self.body_cap.load(std::sync::atomic::Ordering::Relaxed) {
            0 => DEFAULT_BODY_CAP,
            n => n,
        }
    }

    /// Exchanges of `scope` (`None`: every scenario's) completed within `[from, to]`.
    pub fn exchanges_between(&self, scope: Tag, from: SystemTime, to: SystemTime) -> Vec<Exchange> {
        self.exchanges
            .lock()
            .map(|mut v| between(v.items.make_contiguous(), scope, from, to))
            .unwrap_or_default()
    }

    /// Timings of `scope` measured within `[from, to]`.
    pub fn timings_between(&self, scope: Tag, from: SystemTime, to: SystemTime) -> Vec<Timing> {
        self.timings
            .lock()
            .map(|v| between(&v, scope, from, to))
            .unwrap_or_default()
    }

    /// Warnings of `scope` raised within `[from, to]`.
    pub fn warnings_between(&self, scope: Tag, from: SystemTime, to: SystemTime) -> Vec<String> {
        self.warnings
            .lock()
            .map(|v| between(&v, scope, from, to))
            .unwrap_or_default()
    }

    /// A doubt about what the provider sent that is not a failure (e.g. the public sources
    /// disagree); the evidence lists it with the step that raised it.
    pub fn push_warning(&self, text: String) {
        if let Ok(mut w) = self.warnings.lock() {
            w.push((SystemTime::now(), current_scenario(), text));
        }
    }

    /// Mark the exchange a check judged (by id); the evidence of a failed step shows it.
    pub fn judged(&self, exchange: Option<usize>) {
        if let Some(id) = exchange {
            self.note(StepNote::Judged(id));
        }
    }

    /// Mark the latest recorded exchange that `pick` chooses as the one a check judged.
    pub fn judged_latest(&self, pick: impl Fn(&Exchange) -> bool) {
        let scope = current_scenario();
        let id = self
            .exchanges
            .lock()
            .ok()
            .and_then(|v| v.latest(scope, pick));
        self.judged(id);
    }

    /// What a passing check observed, in one line (masked like everything recorded).
    pub fn observed(&self, line: impl AsRef<str>) {
        self.note(StepNote::Observed(self.redactor.text(line.as_ref())));
    }

    /// A verified view data token's claims, masked, for the evidence.
    pub fn view_data(&self, pei: &str, claims: &serde_json::Value) {
        let text = serde_json::to_string_pretty(claims).unwrap_or_default();
        self.note(StepNote::ViewData(DecodedToken {
            pei: pei.to_owned(),
            claims: self.redactor.text(&text),
        }));
    }

    fn note(&self, note: StepNote) {
        if let Ok(mut n) = self.notes.lock() {
            n.push((SystemTime::now(), current_scenario(), note));
        }
    }

    /// What the steps of `scope` said within `[from, to]`.
    pub fn notes_between(&self, scope: Tag, from: SystemTime, to: SystemTime) -> StepNotes {
        let notes = self
            .notes
            .lock()
            .map(|v| between(&v, scope, from, to))
            .unwrap_or_default();
        let mut out = StepNotes::default();
        let mut observed = Vec::new();
        for n in notes {
            match n {
                StepNote::Judged(id) => {
                    out.judged = self.exchanges.lock().ok().and_then(|v| v.get(id).cloned());
                }
                StepNote::Observed(line) => observed.push(line),
                StepNote::ViewData(t) => out.view_data.push(t),
            }
        }
        if !observed.is_empty() {
            out.observed = Some(observed.join("; "));
        }
        out
    }

    /// Forget everything recorded: a long-lived `serve` starts each run afresh.
    pub fn clear(&self) {
        if let Ok(mut e) = self.exchanges.lock() {
            *e = Exchanges::default();
        }
        if let Ok(mut n) = self.notes.lock() {
            n.clear();
        }
        if let Ok(mut t) = self.timings.lock() {
            t.clear();
        }
        if let Ok(mut w) = self.warnings.lock() {
            w.clear();
        }
        if let Ok(mut c) = self.correlations.lock() {
            *c = Correlations::default();
        }
    }

    /// Stop (or resume) keeping exchanges and timings.
    pub fn pause(&self, paused: bool) {
        self.paused
            .store(paused, std::sync::atomic::Ordering::Relaxed);
    }

    fn is_paused(&self) -> bool {
        self.paused.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn push_timing(&self, timing: Timing) {
        if self.is_paused() {
            return;
        }
        if let Ok(mut t) = self.timings.lock() {
            t.push((SystemTime::now(), current_scenario(), timing));
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        party: &str,
        method: &str,
        url: &str,
        req_headers: &HeaderMap,
        req_body: &[u8],
        status: Option<u16>,
        resp_headers: &HeaderMap,
        resp_body: &[u8],
        duration_ms: f64,
        error: Option<String>,
        tag: Tag,
    ) -> Option<usize> {
        if self.is_paused() {
            return None;
        }
        let r = &self.redactor;
        let headers = |h: &HeaderMap| {
            h.iter()
                .map(|(k, v)| {
                    let v = v.to_str().unwrap_or("(binary)");
                    (k.as_str().to_owned(), r.header(k.as_str(), v))
                })
                .collect()
        };
        let body = |b: &[u8]| {
            if b.is_empty() {
                None
            } else {
                let cut = &b[..b.len().min(BODY_LIMIT)];
                let mut s = r.text(&String::from_utf8_lossy(cut));
                if b.len() > BODY_LIMIT {
                    s.push_str(&format!(" ... ({} more bytes)", b.len() - BODY_LIMIT));
                }
                Some(s)
            }
        };
        let exchange = Exchange {
            party: party.to_owned(),
            at: Utc::now(),
            method: method.to_owned(),
            url: r.text(url),
            request_headers: headers(req_headers),
            request_body: body(req_body),
            status,
            response_headers: headers(resp_headers),
            response_body: body(resp_body),
            duration_ms,
            error: error.map(|e| r.text(&e)),
        };
        let mut v = self.exchanges.lock().ok()?;
        Some(v.push(SystemTime::now(), tag, exchange))
    }

    /// Remember the values of a message as scenario `tag`'s (nothing when untagged or paused).
    fn learn(&self, tag: Tag, url: &str, headers: &HeaderMap, body: &[u8]) {
        let Some(scenario) = tag else { return };
        if self.is_paused() {
            return;
        }
        let found = atoms(url, headers, body);
        if let Ok(mut c) = self.correlations.lock() {
            c.learn(scenario, found);
        }
    }

    /// The scenario an inbound call belongs to, by the values it carries, else by the one
    /// scenario whose request to the same route is in flight.
    fn attribute(&self, url: &str, headers: &HeaderMap, body: &[u8]) -> Tag {
        if self.is_paused() {
            return None;
        }
        let found = atoms(url, headers, body);
        if let Some(tag) = self.correlations.lock().ok()?.lookup(&found) {
            return Some(tag);
        }
        let path = path_of(url);
        let flights = self.in_flight.lock().ok()?;
        let mut owners = flights
            .iter()
            .filter(|o| o.path == path && o.scenario.is_some())
            .map(|o| o.scenario);
        let first = owners.next()?;
        owners.all(|s| s == first).then_some(first).flatten()
    }

    /// Whether a call a simulated server received is one of the harness's own requests in
    /// flight: the same method and path, and the same `X-Request-ID` (a call without one is
    /// never taken for the harness's).
    fn is_own_request(&self, method: &str, url: &str, headers: &HeaderMap) -> bool {
        let Some(request_id) = request_id_of(headers) else {
            return false;
        };
        let path = path_of(url);
        self.in_flight.lock().is_ok_and(|flights| {
            flights.iter().any(|o| {
                o.method == method
                    && o.path == path
                    && o.request_id.as_deref() == Some(request_id.as_str())
            })
        })
    }

    /// Note a request of the harness in flight until the guard is dropped.
    fn fly(&self, tag: Tag, method: &str, url: &str, headers: &HeaderMap) -> Option<Flight<'_>> {
        let id = self
            .next_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.in_flight.lock().ok()?.push(Outgoing {
            id,
            method: method.to_owned(),
            path: path_of(url),
            request_id: request_id_of(headers),
            scenario: tag,
        });
        Some(Flight { recorder: self, id })
    }

    /// Send a request as `party`, read the whole response and record both.
    pub async fn send(
        &self,
        party: &str,
        client: &reqwest::Client,
        request: reqwest::Request,
    ) -> Result<Observed, SendFailure> {
        let method = request.method().to_string();
        let url = request.url().to_string();
        let req_headers = request.headers().clone();
        let req_body = request
            .body()
            .and_then(|b| b.as_bytes())
            .map(<[u8]>::to_vec)
            .unwrap_or_default();
        let tag = current_scenario();
        // Learnt before the request goes: the provider may call the C&A before it answers.
        self.learn(tag, &url, &req_headers, &req_body);
        let _flight = self.fly(tag, &method, &url, &req_headers);
        let start = Instant::now();
        let cap = self.body_cap();
        // Read incrementally and stop at the cap: a huge body costs `cap` bytes, not its size.
        let exchange = async {
            let mut resp = client
                .execute(request)
                .await
                .map_err(SendError::Transport)?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            let mut body = Vec::new();
            while let Some(chunk) = resp.chunk().await.map_err(SendError::Transport)? {
                if body.len() + chunk.len() > cap {
                    return Err(SendError::TooLarge {
                        status,
                        headers,
                        cap,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok((status, headers, Bytes::from(body)))
        };
        let limit = self.timeout_for(party);
        let result = match limit {
            Some(limit) => tokio::time::timeout(limit, exchange)
                .await
                .unwrap_or(Err(SendError::TimedOut(limit))),
            None => exchange.await,
        };
        let elapsed_ms = start.elapsed().as_secs_f64() * 1000.0;
        match result {
            Ok((status, headers, body)) => {
                self.learn(tag, &url, &headers, &body);
                let exchange = self.push(
                    party,
                    &method,
                    &url,
                    &req_headers,
                    &req_body,
                    Some(status),
                    &headers,
                    &body,
                    elapsed_ms,
                    None,
                    tag,
                );
                Ok(Observed {
                    status,
                    headers,
                    body,
                    elapsed_ms,
                    exchange,
                })
            }
            Err(e) => {
                let (status, headers, failure) = match e {
                    SendError::Transport(e) => {
                        (None, HeaderMap::new(), SendFailure::of_reqwest(&e, limit))
                    }
                    SendError::TimedOut(limit) => {
                        (None, HeaderMap::new(), SendFailure::TimedOut(limit))
                    }
                    SendError::TooLarge {
                        status,
                        headers,
                        cap,
                    } => (Some(status), headers, SendFailure::TooLarge(cap)),
                };
                let _ = self.push(
                    party,
                    &method,
                    &url,
                    &req_headers,
                    &req_body,
                    status,
                    &headers,
                    &[],
                    elapsed_ms,
                    Some(failure.to_string()),
                    tag,
                );
                Err(failure)
            }
        }
    }
}

/// The party name an inbound-recording middleware writes, e.g. "provider -> C&A".
#[derive(Debug, Clone)]
pub struct InboundParty {
    pub recorder: Arc<Recorder>,
    pub party: &'static str,
}

/// axum middleware recording every request a simulated server receives, with its response.
pub async fn record_inbound(
    State(who): State<InboundParty>,
    request: Request,
    next: Next,
) -> Response {
    let start = Instant::now();
    let (parts, body) = request.into_parts();
    let method = parts.method.to_string();
    let url = parts.uri.to_string();
    let req_headers = parts.headers.clone();
    let Ok(req_body) = axum::body::to_bytes(body, 1024 * 1024).await else {
        return Response::builder()
            .status(axum::http::StatusCode::PAYLOAD_TOO_LARGE)
            .body(Body::from("request body larger than 1 MiB"))
            .unwrap_or_default();
    };
    // The harness's own call (the dashboard's `/token`, say) is in the evidence as it sent it.
    if who.recorder.is_own_request(&method, &url, &req_headers) {
        return next
            .run(Request::from_parts(parts, Body::from(req_body)))
            .await;
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(req_body.clone())))
        .await;
    let (resp_parts, resp_body) = response.into_parts();
    let resp_bytes = axum::body::to_bytes(resp_body, 4 * 1024 * 1024)
        .await
        .unwrap_or_default();
    // A call to a simulator belongs to the scenario whose values it carries; what it
    // answers (a PAT, a resource id, a ticket) belongs to that scenario too.
    let tag = who.recorder.attribute(&url, &req_headers, &req_body);
    who.recorder
        .learn(tag, &url, &resp_parts.headers, &resp_bytes);
    let _ = who.recorder.push(
        who.party,
        &method,
        &url,
        &req_headers,
        &req_body,
        Some(resp_parts.status.as_u16()),
        &resp_parts.headers,
        &resp_bytes,
        start.elapsed().as_secs_f64() * 1000.0,
        None,
        tag,
    );
    Response::from_parts(resp_parts, Body::from(resp_bytes))
}
