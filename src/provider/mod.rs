//! The reference provider: a small, correct pension provider with synthetic members, the
//! system under test on the embedded default and a model an organisation can read.
//!
//! - find endpoint: validates the find request token against the CDA's JWKS, answers 202 at
//!   once, matches asynchronously, obtains a PAT with the find token as assertion and registers
//!   each match at `/rreguri` with the find's `X-Request-ID` as `inbound_request_id`;
//! - PATs: on a 401 from the C&A (an expired or forgotten PAT) it obtains a fresh PAT with an
//!   assertion signed by its own registered key (the PAT refresh route) and retries once; stage
//!   2 updates use such a refreshed PAT, not the find's;
//! - view endpoint: no RPT -> `/perm` -> 401 with a ticket; with an RPT -> `/introspect` and
//!   checks (active, token type, resource, scopes, expiry) -> a signed view data token;
//! - `/jwks` (or `[contract.view] jwks_path`): the key its view data tokens are signed with,
//!   for provider-hosted mode only; by default the harness reads it from the C&A's `/jwk_uri`,
//!   where it is registered as a live provider's key is;
//! - `POST /test-support/clear-down`: forgets every registration and PAT (test state only);
//! - `POST /test-support/match-updates`: applies a match-update file at the C&A (PATCH to
//!   match-yes, or DELETE with the update's reason), as an organisation does in its own system.

pub mod embedded;
pub mod faults;
pub mod journal;
pub mod matching;
pub mod standalone;
pub mod view_data;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::cda::cas::{GRANT_JWT_BEARER, TOKEN_TYPE_RPT};
use crate::harness::testpack::{TestPack, UpdateAction};
use crate::harness::updates::{AppliedUpdate, MatchUpdate, MatchUpdateFile};
use crate::net::jwt::{self, Expect};
use crate::net::pki::SigningKey;
use crate::protocol::contract::{FindBodyMode, WireContract};
pub use faults::{Fault, Faults};
use journal::{FindJournal, PendingFind, Recovered, Registration};
use matching::MatchOutcome;

/// How long the provider waits for one C&A call: a C&A that does not answer is retried well
/// within the registration limit instead of holding the registration for the client's 30 s.
pub const CAS_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of the "retries a 404" defect: effectively for ever within a scenario, yet finite.
const NOT_FOUND_RETRIES: u32 = 30;

pub const CLEAR_DOWN_PATH: &str = "/test-support/clear-down";
/// Where the reference provider takes a match-update file (see [`crate::harness::updates`]).
pub const MATCH_UPDATES_PATH: &str = "/test-support/match-updates";

/// How the reference provider is set up.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    pub pack: Arc<TestPack>,
    pub contract: WireContract,
    /// Base URL of the C&A (token, perm, introspect, rreguri).
    pub cas_base_url: String,
    /// Where the CDA publishes the keys find request tokens are signed with.
    pub cda_jwks_url: String,
    /// mTLS client for calls to the C&A (the provider's client certificate).
    pub client: reqwest::Client,
    /// Signs view data tokens.
    pub view_key: SigningKey,
    /// Signs its own PAT assertions (the PAT refresh route); its public key is registered at
    /// the C&A for the pack's holdername. Without one, PATs come from find tokens only.
    pub pat_key: Option<SigningKey>,
    pub issuer: String,
    /// Deliberate defects (test facility only).
    pub faults: Faults,
}

#[derive(Debug, Clone)]
struct RegisteredAsset {
    resource_id: String,
    pat: String,
    outcome: MatchOutcome,
}

#[derive(Debug, Default)]
struct ProviderState {
    by_asset: HashMap<String, RegisteredAsset>,
    /// The latest PAT obtained by the refresh route, reused until the C&A refuses it.
    refreshed_pat: Option<String>,
}

#[derive(Clone)]
pub struct ReferenceProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for ReferenceProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReferenceProvider").finish_non_exhaustive()
    }
}

struct Inner {
    options: ProviderOptions,
    state: Mutex<ProviderState>,
    /// Every view request served, for the organisation's reporting data (not test state:
    /// clear-down keeps it).
    served: Mutex<Vec<crate::reporting::sources::ServedView>>,
    cda_jwks: OnceCell<JwkSet>,
    view_jwks: JwkSet,
    /// A second view token key, for the key faults (rotation, unregistered, unpublished).
    spare_key: Option<SigningKey>,
    /// View data tokens signed so far (for the rotation fault).
    signed: std::sync::atomic::AtomicUsize,
    /// A find held back (token, claims, request id) by the `RegistersOnNextFind` fault; not
    /// test state, so clear-down keeps it.
    held: Mutex<Option<HeldFind>>,
    /// Where acknowledged finds and registrations are kept across a restart (none: memory only).
    journal: Option<Arc<FindJournal>>,
    /// The background work in progress (finds being processed), stopped by [`ReferenceProvider::stop`]
    /// as a process exit would stop it.
    tasks: Mutex<Vec<tokio::task::AbortHandle>>,
}

/// A find to process: its token, its claims and its request id.
type HeldFind = (String, serde_json::Map<String, Value>, String);

fn error(status: StatusCode, msg: &str) -> Response {
    (status, Json(json!({ "error": msg }))).into_response()
}

impl ReferenceProvider {
    pub fn new(options: ProviderOptions) -> ReferenceProvider {
        ReferenceProvider::with_journal(options, None, Recovered::default())
    }

    /// A provider that keeps acknowledged finds and registrations in `journal`, starting from
    /// what it `recovered` there; call [`ReferenceProvider::resume`] once it is serving.
    pub fn with_journal(
        options: ProviderOptions,
        journal: Option<Arc<FindJournal>>,
        recovered: Recovered,
    ) -> ReferenceProvider {
        let view_jwks = crate::net::pki::jwks_of([&options.view_key]);
        let f = &options.faults;
        let spare_key = if f.has(Fault::RotatesViewKey) {
            SigningKey::generate("provider-view-data-2").ok()
        } else if f.has(Fault::SignsWithUnregisteredKey) || f.has(Fault::SignsWithUnpublishedKey) {
            SigningKey::generate("provider-view-data-unregistered").ok()
        } else {
            None
        };
        let provider = ReferenceProvider {
            inner: Arc::new(Inner {
                options,
                state: Mutex::new(ProviderState::default()),
                served: Mutex::new(Vec::new()),
                cda_jwks: OnceCell::new(),
                view_jwks,
                spare_key,
                signed: std::sync::atomic::AtomicUsize::new(0),
                held: Mutex::new(None),
                journal,
                tasks: Mutex::new(Vec::new()),
            }),
        };
        // The registrations made before a restart. Their PATs died with the process: a call
        // for them obtains a fresh one.
        {
            let mut state = provider.state();
            for (asset, r) in recovered.registrations {
                let outcome = if r.match_status == MatchOutcome::Yes.match_status() {
                    MatchOutcome::Yes
                } else {
                    MatchOutcome::Possible
                };
                state.by_asset.insert(
                    asset,
                    RegisteredAsset {
                        resource_id: r.resource_id,
                        pat: String::new(),
                        outcome,
                    },
                );
            }
        }
        provider
    }

    /// Finish the finds acknowledged before a restart (the journal's pending finds).
    pub fn resume(&self, pending: Vec<PendingFind>) {
        for find in pending {
            tracing::info!("find {}: resumed after a restart", find.request_id);
            self.spawn_find(find.token, find.claims, find.request_id);
        }
    }

    /// Stop everything in progress, as the process ending would: finds being processed are
    /// abandoned where they are (the journal still holds them).
    pub fn stop(&self) {
        let tasks = std::mem::take(
            &mut *self
                .inner
                .tasks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        for t in tasks {
            t.abort();
        }
    }

    fn journal_registration(&self, asset: &str, resource_id: &str, outcome: MatchOutcome) {
        if let Some(j) = &self.inner.journal
            && let Err(e) = j.registered(&Registration {
                asset_guid: asset.to_owned(),
                resource_id: resource_id.to_owned(),
                match_status: outcome.match_status().to_owned(),
            })
        {
            tracing::error!("{e}");
        }
    }

    /// Process a find in the background; its journal entry is marked done when that ends.
    fn spawn_find(
        &self,
        token: String,
        claims: serde_json::Map<String, Value>,
        request_id: String,
    ) {
        let worker = self.clone();
        let handle = tokio::spawn(async move {
            worker.process_find(token, claims, request_id.clone()).await;
            if let Some(j) = &worker.inner.journal
                && let Err(e) = j.done(&request_id)
            {
                tracing::error!("find {request_id}: {e}");
            }
        });
        let mut tasks = self
            .inner
            .tasks
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tasks.retain(|t| !t.is_finished());
        tasks.push(handle.abort_handle());
    }

    fn opts(&self) -> &ProviderOptions {
        &self.inner.options
    }

    fn state(&self) -> MutexGuard<'_, ProviderState> {
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn router(&self) -> Router {
        let c = &self.opts().contract;
        let find_method = axum::routing::MethodFilter::try_from(
            axum::http::Method::from_bytes(c.find.method.as_bytes())
                .unwrap_or(axum::http::Method::POST),
        )
        .unwrap_or(axum::routing::MethodFilter::POST);
        let view_method = axum::routing::MethodFilter::try_from(
            axum::http::Method::from_bytes(c.view.method.as_bytes())
                .unwrap_or(axum::http::Method::GET),
        )
        .unwrap_or(axum::routing::MethodFilter::GET);
        Router::new()
            .route(&c.find.path, on(find_method, find))
            .route(&c.view.route(), on(view_method, view))
            .route(c.view.provider_jwks_route(), get(jwks))
            .route(CLEAR_DOWN_PATH, post(clear_down))
            .route(MATCH_UPDATES_PATH, post(match_updates))
            .with_state(self.clone())
    }

    async fn cda_jwks(&self) -> Result<&JwkSet, String> {
        self.inner
            .cda_jwks
            .get_or_try_init(|| async {
                let url = &self.opts().cda_jwks_url;
                let resp = self
                    .opts()
                    .client
                    .get(url)
                    .send()
                    .await
                    .map_err(|e| format!("CDA JWKS {url} unreachable: {e}"))?;
                resp.json::<JwkSet>()
                    .await
                    .map_err(|e| format!("CDA JWKS {url} unreadable: {e}"))
            })
            .await
    }

    /// Call the C&A with a fresh X-Request-ID, retrying 429, 5xx and calls that got no
    /// complete answer (timed out at [`CAS_CALL_TIMEOUT`], connection closed) with
    /// exponential backoff that honours `Retry-After`, bounded to 5 attempts. A 4xx other
    /// than 429 is final: retrying it cannot succeed.
    async fn call_cas(
        &self,
        make: impl Fn(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Value), String> {
        let f = &self.opts().faults;
        let mut delay = Duration::from_millis(200);
        let attempts = if f.has(Fault::NoRetry) { 1 } else { 5 };
        // The defect's 404s may go on past the bound of the others.
        let most = if f.has(Fault::RetriesNotFound) {
            NOT_FOUND_RETRIES
        } else {
            attempts
        };
        let mut last_error = String::new();
        for attempt in 1..=most {
            let result = make(&self.opts().client)
                .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
                .timeout(CAS_CALL_TIMEOUT)
                .send()
                .await;
            let failure = match result {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.parse::<u64>().ok())
                        .map(Duration::from_secs);
                    if status == 404 && f.has(Fault::RetriesNotFound) && attempt < most {
                        // Deliberate defect: a 404 retried as if it were transient.
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                    let transient = status == 429 || status >= 500;
                    match resp.bytes().await {
                        Ok(_) if transient && attempt < attempts => {
                            tokio::time::sleep(retry_after.unwrap_or(delay)).await;
                            delay *= 2;
                            continue;
                        }
                        Ok(body) => {
                            let value = serde_json::from_slice(&body).unwrap_or_else(|_| {
                                Value::String(String::from_utf8_lossy(&body).into())
                            });
                            return Ok((status, value));
                        }
                        // The answer broke off: as good as none.
                        Err(e) => format!("the answer broke off: {e}"),
                    }
                }
                Err(e) => e.to_string(),
            };
            tracing::warn!(error = %failure, attempt, "C&A call failed");
            last_error = failure;
            if attempt >= attempts {
                break;
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
        Err(format!(
            "C&A call failed after {attempts} attempt(s): {last_error}"
        ))
    }

    /// Match asynchronously and register every match (the find was already acknowledged).
    async fn process_find(
        &self,
        token: String,
        claims: serde_json::Map<String, Value>,
        request_id: String,
    ) {
        let o = self.opts();
        let mut data = o.contract.find.parse_find_claims(&claims);
        if o.faults.has(Fault::StripsNamePunctuation) {
            // Deliberate defect: "cleans" the names the CDA sends; the records keep theirs.
            let strip = |name: &mut String| name.retain(|c| !matches!(c, '.' | '-' | '\''));
            data.given_name
                .iter_mut()
                .chain(data.family_name.iter_mut())
                .chain(data.previous_family_names.iter_mut())
                .for_each(strip);
        }
        let mut matches = matching::find_matches(&o.pack, &data);
        if matches.is_empty() && o.faults.has(Fault::RegistersOnNoMatch) {
            // Deliberate defect: register something anyway.
            let registered = self.state().by_asset.keys().cloned().collect::<Vec<_>>();
            if let Some(p) = o
                .pack
                .pensions
                .iter()
                .find(|p| !registered.contains(&p.asset_guid.get_ref().to_ascii_lowercase()))
            {
                matches.push((
                    p.asset_guid.get_ref().to_ascii_lowercase(),
                    MatchOutcome::Possible,
                ));
            }
        }
        if o.faults.has(Fault::ForgetsSecondPension) {
            matches.truncate(1);
        }
        if matches.is_empty() {
            tracing::info!("find {request_id}: no match");
            return;
        }
        // A PAT for the find token, or, when the find carried none (claims mode) or its token
        // has expired by now (matching took long, or the find was resumed after a restart), a
        // fresh PAT by the refresh route. A refusal of the find token is not worked around: a
        // 4xx is not retried, and a 5xx or no answer was already retried with backoff.
        let expired = jwt::peek_claims(&token)
            .and_then(|c| c["exp"].as_i64())
            .is_some_and(|exp| exp <= jwt::now_epoch());
        let found = if (token.is_empty() || expired) && self.may_refresh() {
            self.fresh_pat().await
        } else if token.is_empty() {
            Err(
                "the find carried no token (claims mode) and the provider has no PAT assertion key"
                    .to_owned(),
            )
        } else {
            self.obtain_pat(&token).await
        };
        let mut pat = match found {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("find {request_id}: could not obtain a PAT: {e}");
                return;
            }
        };
        for (asset, outcome) in matches {
            if self.state().by_asset.contains_key(&asset)
                && !o.faults.has(Fault::RegistersEveryFind)
            {
                // Already registered: a repeated find must not register twice.
                continue;
            }
            let status = match outcome {
                _ if o.faults.has(Fault::WrongMatchStatus) => match outcome {
                    MatchOutcome::Yes => MatchOutcome::Possible,
                    MatchOutcome::Possible => MatchOutcome::Yes,
                },
                MatchOutcome::Possible if o.faults.has(Fault::PossibleMatchAsYes) => {
                    MatchOutcome::Yes
                }
                other => other,
            };
            let description = if o.faults.has(Fault::WrongDescription) {
                format!("Pension {asset}")
            } else {
                o.pack.provider.scheme_name.clone()
            };
            let name = if o.faults.has(Fault::BracedPei) {
                // Deliberate defect: braces around the asset GUID (the yaml admits them).
                format!("urn:pei:{}:{{{asset}}}", o.pack.holdername_guid())
            } else {
                format!("urn:pei:{}:{asset}", o.pack.holdername_guid())
            };
            let mut body = json!({
                "name": name,
                "description": description,
                "match_status": status.match_status(),
                "resource_scopes": ["owner", "value", "delegate"],
            });
            if !o.faults.has(Fault::MissingInboundRequestId) {
                body["inbound_request_id"] = Value::String(request_id.clone());
            }
            let url = format!("{}/rreguri", o.cas_base_url);
            let authorised = !o.faults.has(Fault::RegistersWithoutPat);
            let answer = self
                .call_cas_with_pat(&pat, |c, pat| {
                    let post = c.post(&url).json(&body);
                    if authorised {
                        post.bearer_auth(pat)
                    } else {
                        post
                    }
                })
                .await;
            // A refreshed PAT serves this find's later registrations too.
            let answer = answer.map(|(s, v, used)| {
                pat = used;
                (s, v)
            });
            match answer {
                Ok((200 | 201, v)) => match v["resource_id"].as_str() {
                    // Deliberate defect: the resource id read as a UUID, which the real C&A's
                    // is not; the registration is then lost to the provider.
                    Some(id)
                        if o.faults.has(Fault::ParsesResourceIdAsUuid)
                            && uuid::Uuid::parse_str(id).is_err() =>
                    {
                        tracing::error!("resource_id {id} is not a UUID");
                    }
                    Some(id) => {
                        self.misbehave_after_registering(&url, &pat, &body, id, status)
                            .await;
                        self.state().by_asset.insert(
                            asset.clone(),
                            RegisteredAsset {
                                resource_id: id.to_owned(),
                                pat: pat.clone(),
                                outcome: status,
                            },
                        );
                        self.journal_registration(&asset, id, status);
                    }
                    None => tracing::error!("rreguri answered without resource_id: {v}"),
                },
                Ok((s, v)) => tracing::error!("rreguri refused registration of {asset}: {s} {v}"),
                Err(e) => tracing::error!("rreguri unreachable for {asset}: {e}"),
            }
        }
    }

    /// The deliberate registration defects of the audit tests (see [`Fault`]); a correct
    /// provider does nothing here.
    async fn misbehave_after_registering(
        &self,
        url: &str,
        pat: &str,
        body: &Value,
        resource_id: &str,
        status: MatchOutcome,
    ) {
        let o = self.opts();
        if o.faults.has(Fault::RegistersTwice) {
            let _ = self
                .call_cas(|c| c.post(url).bearer_auth(pat).json(body))
                .await;
        }
        let item = format!("{url}/{resource_id}");
        if o.faults.has(Fault::PatchesPossibleAtOnce) && status == MatchOutcome::Possible {
            let patch = json!({ "match_status": "match-yes" });
            let _ = self
                .call_cas(|c| c.patch(&item).bearer_auth(pat).json(&patch))
                .await;
        }
        if o.faults.has(Fault::DeletesAfterRegistering) {
            let (me, pat, item) = (self.clone(), pat.to_owned(), item.clone());
            let reason = match status {
                MatchOutcome::Yes => "match-withdrawn",
                MatchOutcome::Possible => "match-no",
            };
            tokio::spawn(async move {
                tokio::time::sleep(std::time::Duration::from_millis(600)).await;
                let _ = me
                    .call_cas(|c| {
                        c.delete(&item)
                            .query(&[("deletion_reason", reason)])
                            .bearer_auth(&pat)
                    })
                    .await;
            });
        }
        if o.faults.has(Fault::RegistersAnotherMemberLate) {
            let mine = body["name"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            let other = o
                .pack
                .pensions
                .iter()
                .map(|p| {
                    format!(
                        "urn:pei:{}:{}",
                        o.pack.holdername_guid(),
                        p.asset_guid.get_ref().to_ascii_lowercase()
                    )
                })
                .find(|n| n.to_ascii_lowercase() != mine);
            if let Some(other) = other {
                let mut late = body.clone();
                late["name"] = Value::String(other);
                late["match_status"] = Value::String("match-yes".to_owned());
                let (me, pat, url) = (self.clone(), pat.to_owned(), url.to_owned());
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
                    let _ = me
                        .call_cas(|c| c.post(&url).bearer_auth(&pat).json(&late))
                        .await;
                });
            }
        }
    }

    /// Whether it obtains fresh PATs (it has a registered assertion key and no fault says
    /// otherwise).
    fn may_refresh(&self) -> bool {
        self.opts().pat_key.is_some() && !self.opts().faults.has(Fault::NeverRefreshesPat)
    }

    /// A fresh PAT by the refresh route: a jwt-bearer assertion signed with its own key, `iss`
    /// and `sub` its holdername GUID, `aud` the C&A's token URL, two minutes' lifetime and a
    /// new `jti`. Kept for reuse (stage 2 updates) until the C&A refuses it.
    async fn fresh_pat(&self) -> Result<String, String> {
        let o = self.opts();
        let key = o
            .pat_key
            .as_ref()
            .ok_or_else(|| "no PAT assertion key is configured".to_owned())?;
        let holder = o.pack.holdername_guid();
        let now = jwt::now_epoch();
        let claims = json!({
            "iss": holder,
            "sub": holder,
            "aud": crate::protocol::contract::cas_token_url(&o.cas_base_url),
            "iat": now,
            "exp": now + 120,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let assertion = key.sign(&claims).map_err(|e| e.to_string())?;
        let pat = self.obtain_pat(&assertion).await?;
        self.state().refreshed_pat = Some(pat.clone());
        Ok(pat)
    }

    /// The PAT for work not caused by a find (stage 2 updates): the kept refreshed PAT, or a
    /// new one; `fallback` (the find's) when it does not refresh.
    async fn update_pat(&self, fallback: &str) -> String {
        if !self.may_refresh() {
            return fallback.to_owned();
        }
        if let Some(p) = self.state().refreshed_pat.clone() {
            return p;
        }
        match self.fresh_pat().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("could not obtain a fresh PAT: {e}; using the find's");
                fallback.to_owned()
            }
        }
    }

    /// Call the C&A with `pat`; on a 401 (the PAT expired, or the C&A forgot it) obtain a fresh
    /// PAT and retry once with it. The answer, and the PAT last used.
    async fn call_cas_with_pat(
        &self,
        pat: &str,
        make: impl Fn(&reqwest::Client, &str) -> reqwest::RequestBuilder,
    ) -> Result<(u16, Value, String), String> {
        let (status, v) = self.call_cas(|c| make(c, pat)).await?;
        if status != 401
            || !self.may_refresh()
            || self.opts().faults.has(Fault::RegistersWithoutPat)
        {
            return Ok((status, v, pat.to_owned()));
        }
        tracing::info!("the C&A answered 401 ({v}); obtaining a fresh PAT");
        let fresh = match self.fresh_pat().await {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("could not obtain a fresh PAT: {e}");
                return Ok((status, v, pat.to_owned()));
            }
        };
        let (status, v) = self.call_cas(|c| make(c, &fresh)).await?;
        Ok((status, v, fresh))
    }

    /// Keep `pat` as `asset`'s PAT when a call had to refresh it.
    fn keep_pat(&self, asset: &RegisteredAsset, pat: String) {
        if pat != asset.pat
            && let Some(a) = self
                .state()
                .by_asset
                .values_mut()
                .find(|a| a.resource_id == asset.resource_id)
        {
            a.pat = pat;
        }
    }

    async fn obtain_pat(&self, assertion: &str) -> Result<String, String> {
        self.request_pat(assertion).await.map_err(|(_, e)| e)
    }

    /// `/token` with `assertion`; a refusal with the C&A's status (`None`: not answered).
    async fn request_pat(&self, assertion: &str) -> Result<String, (Option<u16>, String)> {
        let url = format!("{}/token", self.opts().cas_base_url);
        let (status, v) = self
            .call_cas(|c| {
                c.post(&url).form(&[
                    ("grant_type", GRANT_JWT_BEARER),
                    ("scope", "uma_protection"),
                    ("assertion", assertion),
                ])
            })
            .await
            .map_err(|e| (None, e))?;
        if status != 200 {
            return Err((Some(status), format!("/token answered {status}: {v}")));
        }
        v["access_token"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| {
                (
                    Some(status),
                    "no access_token in /token response".to_owned(),
                )
            })
    }

    /// Ask the C&A for a permission ticket and build the 401 challenge.
    async fn challenge(&self, asset: &RegisteredAsset) -> Response {
        let o = self.opts();
        let url = format!("{}/perm", o.cas_base_url);
        let other = if o.faults.has(Fault::TicketForAnotherResource) {
            // Deliberate defect: a ticket for another registered resource, if there is one.
            self.state()
                .by_asset
                .values()
                .find(|a| a.resource_id != asset.resource_id)
                .map(|a| (a.resource_id.clone(), a.pat.clone()))
        } else {
            None
        };
        let (resource_id, pat) =
            other.unwrap_or_else(|| (asset.resource_id.clone(), asset.pat.clone()));
        let body = json!({
            "resource_id": resource_id,
            "resource_scopes": o.contract.view.perm_scopes,
        });
        let answer = self
            .call_cas_with_pat(&pat, |c, pat| c.post(&url).bearer_auth(pat).json(&body))
            .await
            .map(|(s, v, used)| {
                // A refreshed PAT is the viewed asset's only when its own PAT was used.
                if resource_id == asset.resource_id {
                    self.keep_pat(asset, used);
                }
                (s, v)
            });
        match answer {
            Ok((201, v)) => match v["ticket"].as_str() {
                Some(ticket) => {
                    let as_uri = if o.faults.has(Fault::WrongAsUri) {
                        // Deliberate defect: an authorisation server that is not the C&A.
                        "https://127.0.0.1:9"
                    } else {
                        o.cas_base_url.as_str()
                    };
                    let mut value = o.contract.view.challenge_header(as_uri, ticket);
                    if o.faults.has(Fault::ChallengeWithSpacedEquals) {
                        // Deliberate defect: spaces around `=`, legal for some parsers only.
                        value = value.replace("=\"", " = \"");
                    }
                    (
                        StatusCode::UNAUTHORIZED,
                        [(header::WWW_AUTHENTICATE, value)],
                        Json(json!({ "error": "an RPT is required" })),
                    )
                        .into_response()
                }
                None => error(StatusCode::BAD_GATEWAY, "the C&A issued no ticket"),
            },
            Ok((s, v)) => error(
                StatusCode::BAD_GATEWAY,
                &format!("the C&A refused a permission ticket: {s} {v}"),
            ),
            Err(e) => error(
                StatusCode::BAD_GATEWAY,
                &format!("the C&A is unreachable: {e}"),
            ),
        }
    }

    /// Introspect `rpt` and check it grants `owner` on `asset`'s resource now.
    async fn rpt_grants(&self, asset: &RegisteredAsset, rpt: &str) -> Result<(), String> {
        let url = format!("{}/introspect", self.opts().cas_base_url);
        let (status, v, used) = self
            .call_cas_with_pat(&asset.pat, |c, pat| {
                c.post(&url).bearer_auth(pat).form(&[("token", rpt)])
            })
            .await?;
        self.keep_pat(asset, used);
        if status != 200 {
            return Err(format!("introspection answered {status}"));
        }
        if self.opts().faults.has(Fault::IgnoresIntrospectionResult) {
            // Deliberate defect: any answer from /introspect taken as a grant.
            return Ok(());
        }
        let now = jwt::now_epoch();
        if v["active"] != Value::Bool(true) {
            return Err("the RPT is not active".to_owned());
        }
        if v["token_type"].as_str() != Some(TOKEN_TYPE_RPT) {
            return Err("the token is not an RPT".to_owned());
        }
        if v["exp"].as_i64().is_some_and(|exp| exp <= now) {
            return Err("the RPT has expired".to_owned());
        }
        let granted = v["permissions"].as_array().is_some_and(|perms| {
            perms.iter().any(|p| {
                p["resource_id"].as_str() == Some(asset.resource_id.as_str())
                    && p["resource_scopes"]
                        .as_array()
                        .is_some_and(|s| s.iter().any(|s| s == "owner"))
                    && p["exp"].as_i64().is_none_or(|exp| exp > now)
            })
        });
        if granted {
            Ok(())
        } else {
            Err("the RPT grants no owner permission on this resource".to_owned())
        }
    }

    fn view_token(&self, asset_guid: &str, asset: &RegisteredAsset) -> Result<String, String> {
        let o = self.opts();
        let pack = &o.pack;
        let served_asset = if o.faults.has(Fault::ViewDataForWrongPei) {
            pack.pensions
                .iter()
                .map(|p| p.asset_guid.get_ref().to_ascii_lowercase())
                .find(|a| a != asset_guid)
                .unwrap_or_else(|| asset_guid.to_owned())
        } else {
            asset_guid.to_owned()
        };
        let pension = pack
            .pension(&served_asset)
            .ok_or_else(|| format!("asset {served_asset} is not in the test pack"))?;
        let arrangements = match asset.outcome {
            MatchOutcome::Yes => view_data::arrangements(pack, pension, &o.faults),
            MatchOutcome::Possible => {
                view_data::possible_match_arrangements(pack, pension, &o.faults)
            }
        };
        let now = jwt::now_epoch();
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), json!(o.issuer));
        claims.insert("sub".into(), json!(asset.resource_id));
        claims.insert("aud".into(), json!("pensions-dashboards"));
        claims.insert("iat".into(), json!(now));
        claims.insert("exp".into(), json!(now + 60));
        claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        claims.insert(
            o.contract.view.view_data_claim.clone(),
            view_data::view_data(arrangements),
        );
        let n = self
            .inner
            .signed
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let key = match &self.inner.spare_key {
            // Deliberate key faults: sign with the spare key (from the third token on, when
            // rotating: the new key is published after the second).
            Some(spare) if !o.faults.has(Fault::RotatesViewKey) || n >= 2 => spare,
            _ => &o.view_key,
        };
        key.sign(&claims).map_err(|e| e.to_string())
    }

    /// What the provider publishes at its own JWKS path (provider-hosted mode only).
    fn published_view_jwks(&self) -> JwkSet {
        let mut jwks = self.inner.view_jwks.clone();
        let f = &self.opts().faults;
        let rotated = self.inner.signed.load(std::sync::atomic::Ordering::SeqCst) >= 2;
        if let Some(spare) = &self.inner.spare_key
            && (f.has(Fault::SignsWithUnregisteredKey) || (f.has(Fault::RotatesViewKey) && rotated))
        {
            jwks.keys.push(spare.jwk.clone());
        }
        jwks
    }
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The request id header when it is a canonical hyphenated UUID (either case), as the specs'
/// `format: uuid` says; `Uuid::parse_str` alone would also take braced, `urn:uuid:` and bare-hex
/// forms, which the CDA never sends.
fn valid_request_id(headers: &HeaderMap, name: &str) -> Option<String> {
    header_str(headers, name)
        .filter(|v| crate::reporting::validate::is_uuid(v))
        .map(str::to_owned)
}

async fn find(
    State(provider): State<ReferenceProvider>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let o = provider.opts();
    if o.faults.has(Fault::FindHangs) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    let c = &o.contract.find;
    let lenient = o.faults.has(Fault::AcceptsForgedFindTokens);
    let request_id = valid_request_id(&headers, &c.request_id_header)
        .or_else(|| lenient.then(|| uuid::Uuid::new_v4().to_string()));
    let Some(request_id) = request_id else {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "{} header is required and must be a canonical hyphenated UUID",
                c.request_id_header
            ),
        );
    };
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => return error(StatusCode::BAD_REQUEST, "the body must be JSON"),
    };
    let token = match c.body_mode {
        FindBodyMode::Token => body[&c.token_field].as_str().map(str::to_owned),
        FindBodyMode::Bearer => header_str(&headers, "authorization")
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::to_owned),
        FindBodyMode::Claims => None,
    };
    let (token, claims) = match (c.body_mode, token) {
        (FindBodyMode::Claims, _) => match body.as_object() {
            Some(m) => (String::new(), m.clone()),
            None => return error(StatusCode::BAD_REQUEST, "the body must be a JSON object"),
        },
        (_, None) => {
            return error(
                StatusCode::BAD_REQUEST,
                &format!("the find request token ({}) is missing", c.token_field),
            );
        }
        (_, Some(token)) if lenient => match jwt::peek_claims(&token) {
            Some(Value::Object(claims)) => (token, claims),
            _ => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "the find request token is not a JWT",
                );
            }
        },
        (_, Some(token)) => {
            let jwks = match provider.cda_jwks().await {
                Ok(j) => j,
                Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e),
            };
            // Addressed to the C&A's token service by default ([contract.find] audience).
            let audience = c.expected_audience(&o.cas_base_url, o.pack.holdername_guid());
            match jwt::verify::<serde_json::Map<String, Value>>(
                &token,
                jwks,
                &Expect {
                    issuer: Some(&c.issuer),
                    audience: Some(&audience),
                    required: &["iat"],
                },
            ) {
                Ok(claims) => (token, claims),
                Err(e) => {
                    return error(
                        StatusCode::UNAUTHORIZED,
                        &format!("find request token rejected: {e}"),
                    );
                }
            }
        }
    };
    // A 202 is a promise to register the find's matches: keep it before making it.
    if let Some(j) = &provider.inner.journal
        && !o.faults.has(Fault::LosesAcknowledgedFinds)
        && let Err(e) = j.acknowledged(&PendingFind {
            request_id: request_id.clone(),
            token: token.clone(),
            claims: claims.clone(),
        })
    {
        tracing::error!("find {request_id}: {e}");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the find could not be recorded; try again later",
        );
    }
    if o.faults.has(Fault::Find202WithResults) {
        let data = o.contract.find.parse_find_claims(&claims);
        let results: Vec<Value> = matching::find_matches(&o.pack, &data)
            .into_iter()
            .map(|(asset, outcome)| {
                json!({
                    "pei": format!("urn:pei:{}:{asset}", o.pack.holdername_guid()),
                    "match_status": outcome.match_status(),
                })
            })
            .collect();
        provider.spawn_find(token, claims, request_id);
        return (StatusCode::ACCEPTED, Json(json!({ "matches": results }))).into_response();
    }
    if o.faults.has(Fault::SlowFind) {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let process = if o.faults.has(Fault::RegistersOnNextFind) {
        // Deliberate defect: this find's matches wait for the next find; the previous one's
        // are registered now.
        provider
            .inner
            .held
            .lock()
            .ok()
            .and_then(|mut held| held.replace((token, claims, request_id)))
    } else {
        Some((token, claims, request_id))
    };
    if let Some((token, claims, request_id)) = process {
        provider.spawn_find(token, claims, request_id);
    }
    if o.faults.has(Fault::FindAnswers200) {
        return (StatusCode::OK, Json(json!({ "status": "received" }))).into_response();
    }
    StatusCode::ACCEPTED.into_response()
}

impl ReferenceProvider {
    /// The view requests served so far: what the organisation's reporting is derived from.
    pub fn served_views(&self) -> Vec<crate::reporting::sources::ServedView> {
        self.inner
            .served
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Carry the view requests an earlier instance served over a restart.
    pub fn adopt_served_views(&self, earlier: Vec<crate::reporting::sources::ServedView>) {
        if let Ok(mut served) = self.inner.served.lock() {
            let mine = std::mem::replace(&mut *served, earlier);
            served.extend(mine);
        }
    }

    /// Log a served view request; for a 200, what its view data carried.
    fn note_view(&self, asset_guid: &str, received_at: chrono::DateTime<chrono::Utc>, status: u16) {
        let o = self.opts();
        let flags = if status == 200 {
            let outcome = self.state().by_asset.get(asset_guid).map(|a| a.outcome);
            match (o.pack.pension(asset_guid), outcome) {
                (Some(pension), Some(MatchOutcome::Yes)) => crate::reporting::sources::flags_of(
                    &view_data::view_data(view_data::arrangements(&o.pack, pension, &o.faults)),
                ),
                (Some(pension), Some(MatchOutcome::Possible)) => {
                    crate::reporting::sources::flags_of(&view_data::view_data(
                        view_data::possible_match_arrangements(&o.pack, pension, &o.faults),
                    ))
                }
                _ => Default::default(),
            }
        } else {
            Default::default()
        };
        if let Ok(mut v) = self.inner.served.lock() {
            v.push(crate::reporting::sources::ServedView {
                received_at,
                responded_at: chrono::Utc::now(),
                status,
                asset_guid: asset_guid.to_owned(),
                flags,
            });
        }
    }
}

async fn view(
    State(provider): State<ReferenceProvider>,
    Path(asset_guid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let received_at = chrono::Utc::now();
    let asset = asset_guid.to_ascii_lowercase();
    let response = serve_view(
        State(provider.clone()),
        Path(asset_guid),
        RawQuery(query),
        headers,
    )
    .await;
    provider.note_view(&asset, received_at, response.status().as_u16());
    response
}

async fn serve_view(
    State(provider): State<ReferenceProvider>,
    Path(asset_guid): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let o = provider.opts();
    let c = &o.contract.view;
    if valid_request_id(&headers, &c.request_id_header).is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            &format!(
                "{} header is required and must be a canonical hyphenated UUID",
                c.request_id_header
            ),
        );
    }
    let scope = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "scope")
        .map(|(_, v)| v.into_owned());
    if scope.as_deref().is_some_and(|s| s != "owner") {
        return error(StatusCode::BAD_REQUEST, "scope must be owner");
    }
    if uuid::Uuid::parse_str(&asset_guid).is_err() {
        return error(StatusCode::BAD_REQUEST, "the asset GUID is not a GUID");
    }
    let asset_guid = asset_guid.to_ascii_lowercase();
    let Some(asset) = provider.state().by_asset.get(&asset_guid).cloned() else {
        return error(
            StatusCode::NOT_FOUND,
            "no registered pension with this asset GUID",
        );
    };
    if o.faults.has(Fault::RejectsEmptyBearer)
        && header_str(&headers, "authorization").is_some_and(|v| v.trim() == "Bearer")
    {
        // Deliberate defect: an empty bearer credential treated as a malformed request.
        return error(StatusCode::BAD_REQUEST, "malformed Authorization header");
    }
    let bearer = header_str(&headers, "authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|v| !v.is_empty());
    let Some(rpt) = bearer else {
        return provider.challenge(&asset).await;
    };
    if !o.faults.has(Fault::AcceptsAnyBearer)
        && let Err(reason) = provider.rpt_grants(&asset, rpt).await
    {
        tracing::info!("view of {asset_guid} refused: {reason}");
        return provider.challenge(&asset).await;
    }
    match provider.view_token(&asset_guid, &asset) {
        Ok(token) => {
            let mut body = serde_json::Map::new();
            body.insert(c.token_field.clone(), Value::String(token));
            let text = Value::Object(body).to_string();
            if o.faults.has(Fault::ViewAsTextPlain) {
                return ([(header::CONTENT_TYPE, "text/plain")], text).into_response();
            }
            if o.faults.has(Fault::HugeViewBody) {
                let padding = " ".repeat(4 * 1024 * 1024);
                return (
                    [(header::CONTENT_TYPE, "application/json")],
                    format!("{padding}{text}"),
                )
                    .into_response();
            }
            if o.faults.has(Fault::ViewTruncatedJson) {
                let cut = text[..text.len() / 2].to_owned();
                return ([(header::CONTENT_TYPE, "application/json")], cut).into_response();
            }
            ([(header::CONTENT_TYPE, "application/json")], text).into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e),
    }
}

async fn jwks(State(provider): State<ReferenceProvider>) -> Response {
    let faults = &provider.opts().faults;
    if faults.has(Fault::JwksHangs) {
        tokio::time::sleep(Duration::from_secs(120)).await;
    }
    if faults.has(Fault::GarbageJwks) {
        // Deliberate defect: a 200 whose body is no key set.
        return (StatusCode::OK, "<html>keys moved</html>").into_response();
    }
    Json(provider.published_view_jwks()).into_response()
}

async fn clear_down(State(provider): State<ReferenceProvider>) -> Response {
    *provider.state() = ProviderState::default();
    if let Some(j) = &provider.inner.journal
        && let Err(e) = j.clear()
    {
        return error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string());
    }
    StatusCode::NO_CONTENT.into_response()
}

impl ReferenceProvider {
    /// Apply one update at the C&A and to the provider's own state.
    async fn apply_update(&self, u: &MatchUpdate) -> AppliedUpdate {
        let o = self.opts();
        let asset_guid = u.asset_guid.to_ascii_lowercase();
        let done = |applied: bool, detail: String| AppliedUpdate {
            update_id: u.update_id.clone(),
            applied,
            detail,
        };
        let Some(asset) = self.state().by_asset.get(&asset_guid).cloned() else {
            return done(
                false,
                format!("asset {asset_guid} is not registered by this provider"),
            );
        };
        let url = format!("{}/rreguri/{}", o.cas_base_url, asset.resource_id);
        // Updates come later than the find (the next day, in PDP's stage 2): they go with a
        // refreshed PAT, not the find's.
        let pat = self.update_pat(&asset.pat).await;
        let result = match u.action {
            UpdateAction::Confirm => {
                let body = json!({ "match_status": "match-yes" });
                self.call_cas_with_pat(&pat, |c, pat| c.patch(&url).bearer_auth(pat).json(&body))
                    .await
            }
            action => {
                let mut reason = action.deletion_reason().unwrap_or("match-no");
                if o.faults.has(Fault::WrongDeletionReason) && action == UpdateAction::Reject {
                    reason = "asset-removed";
                }
                self.call_cas_with_pat(&pat, |c, pat| {
                    c.delete(&url)
                        .query(&[("deletion_reason", reason)])
                        .bearer_auth(pat)
                })
                .await
            }
        };
        let result = result.map(|(s, v, used)| {
            self.keep_pat(&asset, used);
            (s, v)
        });
        match result {
            Ok((status, _)) if (200..300).contains(&status) => {
                let confirmed = u.action == UpdateAction::Confirm;
                {
                    let mut state = self.state();
                    if confirmed {
                        if let Some(a) = state.by_asset.get_mut(&asset_guid) {
                            a.outcome = MatchOutcome::Yes;
                        }
                    } else {
                        state.by_asset.remove(&asset_guid);
                    }
                }
                if confirmed {
                    self.journal_registration(&asset_guid, &asset.resource_id, MatchOutcome::Yes);
                } else if let Some(j) = &self.inner.journal
                    && let Err(e) = j.unregistered(&asset_guid)
                {
                    tracing::error!("{e}");
                }
                done(true, format!("{} answered {status}", url))
            }
            Ok((status, body)) => done(false, format!("{url} answered {status}: {body}")),
            Err(e) => done(false, format!("{url} unreachable: {e}")),
        }
    }
}

async fn match_updates(
    State(provider): State<ReferenceProvider>,
    Json(file): Json<MatchUpdateFile>,
) -> Response {
    let mut results = Vec::with_capacity(file.updates.len());
    for u in &file.updates {
        results.push(provider.apply_update(u).await);
    }
    Json(results).into_response()
}
