//! The simulated consent and authorisation service (C&A): `/token`, `/perm`, `/introspect`,
//! `/rreguri` and `/jwks`, as the MaPS OpenAPI files describe them (token v1.2, perm v1.1,
//! introspect v1.1, rreguri v1.2), with the registration state rules of the MaPS stub.
//!
//! PATs come from two assertions: the find token (the stub's model) and the provider's own,
//! signed with a key registered for its holdername (the PAT refresh route); resources are bound
//! to the holdername. All tokens are real RS256 JWTs signed with the C&A's run-time key.
//! Every call must carry a UUID `X-Request-ID`. The state is observable by the harness
//! (registrations, tickets, introspections) and every change wakes the steps waiting on it, so
//! nothing polls or sleeps.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::extract::{Path, Query, RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use regex::Regex;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tokio::sync::watch;

use crate::cda::faults::CasFaults;
use crate::cda::store::{Op, Scope, Store, StoreError};
use crate::net::jwt::{self, Expect};
use crate::net::pki::SigningKey;

pub const GRANT_JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
pub const GRANT_UMA_TICKET: &str = "urn:ietf:params:oauth:grant-type:uma-ticket";
pub const TOKEN_TYPE_PAT: &str = "pension_dashboard_pat";
pub const TOKEN_TYPE_RPT: &str = "pension_dashboard_rpt";
const TOKEN_TYPE_TICKET: &str = "pension_dashboard_ticket";
/// The claim token format; token-v1_2.yaml spells it `pension_dashboad_rqp` (sic), which is
/// accepted too.
pub const RQP_FORMAT: &str = "pension_dashboard_rqp";
const RQP_FORMAT_TYPO: &str = "pension_dashboad_rqp";

/// Lifetimes of what the C&A issues.
#[derive(Debug, Clone)]
pub struct Lifetimes {
    /// A PAT issued for a find token (the user assertion).
    pub pat: Duration,
    /// A PAT issued for a provider's own signed assertion (the PAT refresh route).
    pub refreshed_pat: Duration,
    pub rpt: Duration,
    /// 60 s: the stub's constant, marked "spec value".
    pub ticket: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            pat: Duration::from_secs(3600),
            refreshed_pat: Duration::from_secs(3600),
            rpt: Duration::from_secs(600),
            ticket: Duration::from_secs(60),
        }
    }
}

/// Who the C&A trusts, and what it calls itself.
#[derive(Debug, Clone)]
pub struct CasSettings {
    pub issuer: String,
    /// Issuer of find request tokens, accepted as PAT assertions.
    pub finder_issuer: String,
    /// Issuer of RQP claim tokens (the dashboard).
    pub dashboard_issuer: String,
    /// `[contract.find] audience`: what find tokens are addressed to (absent: this C&A's token
    /// URL), see [`crate::protocol::contract::find_audience`].
    pub find_audience: Option<String>,
    pub lifetimes: Lifetimes,
}

/// How the C&A's 401 for an expired PAT begins (the audit does not count it as a finding: the
/// provider's right answer is a fresh PAT and a retry).
pub const PAT_EXPIRED: &str = "the PAT has expired";

/// The longest lifetime (`exp - iat`) of a provider's own PAT assertion: 5 minutes.
pub const PAT_ASSERTION_MAX_LIFETIME_SECS: i64 = 300;
/// Provider PAT assertion `jti`s remembered at once (each only until its assertion expires, so
/// at most 5 minutes' worth): beyond this, new assertions are refused rather than memory grown.
const SEEN_JTI_CAP: usize = 100_000;

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

/// A registered pension identifier, as the C&A holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub resource_id: String,
    pub name: String,
    pub description: String,
    pub match_status: String,
    pub resource_scopes: Vec<String>,
    pub inbound_request_id: Option<String>,
    /// The X-Request-ID of the POST that created it.
    pub request_id: String,
    pub registered_at: DateTime<Utc>,
    /// jti of the PAT that registered it (evidence only: resources are bound to the holdername).
    pub pat_jti: String,
    /// The holdername GUID of the PAT that registered it: any live PAT of that holdername may
    /// act on it (the MaPS stub binds a resource to the one PAT that registered it instead).
    pub holder: Option<String>,
    pub deleted: Option<Deletion>,
    /// Every PATCH applied, in order.
    pub patches: Vec<String>,
}

impl Registration {
    /// The asset GUID part of `urn:pei:<holder>:<asset>`.
    pub fn asset_guid(&self) -> Option<&str> {
        pei_parts(&self.name).map(|(_, a)| a)
    }

    pub fn holder_guid(&self) -> Option<&str> {
        pei_parts(&self.name).map(|(h, _)| h)
    }
}

/// A resource id as the real C&A mints it: a UUID with an extra trailing digit (MaPS stub
/// v2.0.0: "to match real C&A behaviour"), so a provider that parses it as a UUID fails here.
pub fn mint_resource_id() -> String {
    let digit = uuid::Uuid::new_v4().as_bytes()[0] % 10;
    format!("{}{digit}", uuid::Uuid::new_v4())
}

/// Whether the PeI is exactly `urn:pei:<holdername-guid>:<asset-guid>`: 73 characters after the
/// prefix, hyphenated, no braces. MaPS's dashboard (`IdValidator.IsValidPeI`) rejects others,
/// though the rreguri yaml's pattern admits braces.
pub fn pei_is_dashboard_readable(name: &str) -> bool {
    let is_guid = |g: &str| {
        g.len() == 36
            && g.char_indices().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => c == '-',
                _ => c.is_ascii_hexdigit(),
            })
    };
    name.strip_prefix("urn:pei:")
        .filter(|rest| rest.len() == 73)
        .and_then(|rest| rest.split_once(':'))
        .is_some_and(|(h, a)| is_guid(h) && is_guid(a))
}

/// `urn:pei:<holder>:<asset>` split into its two GUIDs (braces removed).
pub fn pei_parts(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix("urn:pei:")?;
    let (h, a) = rest.split_once(':')?;
    Some((
        h.trim_matches(|c| c == '{' || c == '}'),
        a.trim_matches(|c| c == '{' || c == '}'),
    ))
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Deletion {
    pub reason: String,
    pub at: DateTime<Utc>,
}

/// A permission ticket issued at `/perm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TicketRecord {
    pub jti: String,
    pub resource_id: String,
    pub scopes: Vec<String>,
    pub expires: i64,
    pub redeemed: bool,
}

/// Every `POST /rreguri` the C&A received, including ones it deduplicated or refused.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationAttempt {
    pub name: Option<String>,
    pub inbound_request_id: Option<String>,
    pub status: u16,
    pub at: DateTime<Utc>,
    /// Why the C&A refused it, when it did (status 4xx/5xx).
    pub refusal: Option<String>,
}

/// One call the C&A received on `/rreguri` (POST, PATCH or DELETE), whatever it answered: the
/// material of the whole-run registration audit. Only short fields are kept (never a body), and
/// the log survives clear-downs so that late calls with an old PAT can be attributed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RreguriCall {
    /// Position in the C&A's life (1, 2, ...), for "judged up to" marks.
    pub seq: u64,
    pub method: String,
    pub at: DateTime<Utc>,
    /// The PeI: the POST body's name, or the name of the resource a PATCH/DELETE addressed.
    pub name: Option<String>,
    pub resource_id: Option<String>,
    pub inbound_request_id: Option<String>,
    /// jti of the bearer PAT presented, read even when the C&A refused it.
    pub pat_jti: Option<String>,
    /// The assertion that PAT was issued for, when the C&A issued it: a find token's
    /// [`assertion_key`], or `provider assertion <jti>` for a PAT from the refresh route.
    pub assertion_jti: Option<String>,
    /// Clear-downs before the PAT was issued, and before the call arrived: a call whose PAT is
    /// from an earlier clear-down epoch is late activity.
    pub pat_epoch: Option<u64>,
    pub epoch: u64,
    /// match_status (POST, PATCH) or deletion_reason (DELETE).
    pub detail: Option<String>,
    pub status: u16,
    /// Why the C&A refused it (status 4xx/5xx), in its own words.
    pub refusal: Option<String>,
}

/// What the audit log keeps across clear-downs.
#[derive(Debug, Default)]
struct AuditLog {
    epoch: u64,
    next_seq: u64,
    calls: std::collections::VecDeque<RreguriCall>,
    /// PAT jti -> (assertion key, epoch it was issued in).
    pats: HashMap<String, (String, u64)>,
    /// resource id -> PeI name, for PATCH/DELETE of resources a clear-down forgot.
    names: HashMap<String, String>,
}

/// Kinds of stored rows (see [`crate::cda::store`]): live ones go at clear-down.
const K_PAT: &str = "pat";
const K_PAT_BY_ASSERTION: &str = "pat_by_assertion";
const K_REGISTRATION: &str = "registration";
const K_POST_REQUEST_ID: &str = "post_request_id";
const K_TICKET: &str = "ticket";
const K_RPT: &str = "rpt";
const K_INTROSPECTION: &str = "introspection";
const K_ATTEMPT: &str = "attempt";
/// Kept across clear-downs: the audit's call log, PAT attribution and resource names.
const K_CALL: &str = "call";
const K_AUDIT_PAT: &str = "audit_pat";
const K_NAME: &str = "name";
const META_EPOCH: &str = "epoch";
const META_NEXT_SEQ: &str = "next_seq";

/// Calls kept for the audit; the oldest are dropped beyond this (a long `serve`).
const AUDIT_CAP: usize = 20_000;
/// Characters kept of each field of an audited call.
const AUDIT_FIELD_MAX: usize = 200;

/// An introspection the provider asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntrospectionRecord {
    pub rpt_jti: Option<String>,
    pub at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct PatRecord {
    jti: String,
    holder: Option<String>,
    /// `exp` of the PAT: the C&A judges its own tokens' expiry on its own clock, with no
    /// leeway. A record stored before this field was kept has only the token's own `exp`.
    #[serde(default = "no_expiry")]
    expires: i64,
}

fn no_expiry() -> i64 {
    i64::MAX
}

impl PatRecord {
    /// Whether this PAT may act on `reg`: the same holdername (or, for a resource of no
    /// known holdername, the very PAT that registered it).
    fn may_act_on(&self, reg: &Registration) -> bool {
        match (&reg.holder, &self.holder) {
            (Some(r), Some(p)) => r.eq_ignore_ascii_case(p),
            _ => reg.pat_jti == self.jti,
        }
    }
}

/// Who the C&A knows, as PDP knows the registered providers: kept across clear-downs.
#[derive(Debug, Default, Clone)]
struct Registry {
    /// The holdername GUID (lowercase) of the provider whose find endpoint the harness drives:
    /// a PAT for a find token is issued for it. The real C&A knows the caller from its
    /// registration (its mTLS client identity); this C&A serves one target, so it is that
    /// target's registered holdername, not anything the find token says.
    holdername: Option<String>,
    /// PAT assertion keys registered per holdername GUID (lowercase): `[provider]
    /// pat_assertion_keys`, the reference provider's own key on the embedded default.
    pat_assertion_keys: HashMap<String, JwkSet>,
    /// `<holdername> <jti>` of provider PAT assertions already used, with their `exp`: a replay
    /// is refused until the assertion would have expired anyway, then forgotten.
    seen_assertion_jtis: HashMap<String, i64>,
}

/// The C&A's working state. With a [`Store`], every mutation is written through to it inside
/// the same critical section (this struct's mutex, or the audit log's), before the in-memory
/// copy changes: a refused write leaves both as they were, two concurrent requests reach the
/// file in the order they changed memory, and a restart replays exactly what was answered.
/// The maps stay the working copy so the handlers keep their plain lookups. A new map is a new
/// `K_*` kind, a `put` where it changes, and a line in [`Cas::with_store`]'s load.
#[derive(Debug, Default)]
struct CasState {
    registry: Registry,
    pats: HashMap<String, PatRecord>,
    pat_by_assertion: HashMap<String, String>,
    registrations: Vec<Registration>,
    post_request_ids: HashSet<String>,
    tickets: HashMap<String, TicketRecord>,
    /// RPT jti -> its `exp` (expired ones are not reloaded after a restart).
    rpts: HashMap<String, i64>,
    introspections: Vec<IntrospectionRecord>,
    attempts: Vec<RegistrationAttempt>,
}

/// Claims of every token the C&A issues; `token_type` says which it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CasClaims {
    pub iss: String,
    pub sub: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub token_type: String,
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

/// The simulated C&A. Cheap to clone (an `Arc` inside).
#[derive(Clone)]
pub struct Cas {
    inner: Arc<CasInner>,
}

impl std::fmt::Debug for Cas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cas")
            .field("issuer", &self.inner.settings.issuer)
            .finish_non_exhaustive()
    }
}

struct CasInner {
    settings: CasSettings,
    key: SigningKey,
    own_jwks: JwkSet,
    /// Keys of the pension finder and the dashboard.
    trusted: JwkSet,
    /// The JWKS the C&A publishes at `/jwks`: its own key plus the finder's and dashboard's.
    published: JwkSet,
    base_url: OnceLock<String>,
    state: Mutex<CasState>,
    changes: watch::Sender<u64>,
    faults: Arc<CasFaults>,
    audit: Mutex<AuditLog>,
    /// The providers' registered view data token keys, published at `/jwk_uri` (where MaPS's
    /// dashboard looks view token keys up by `kid`). Several at once is how a provider rotates.
    view_token_keys: Mutex<JwkSet>,
    /// Where the state is written through to (`serve` and runs on a target file); `None`: in
    /// memory only (the embedded default, whose keys are new every process anyway).
    store: Option<Store>,
}

impl Cas {
    /// A C&A whose state lives in memory only.
    pub fn new(settings: CasSettings, key: SigningKey, trusted: JwkSet) -> Cas {
        Cas::build(
            settings,
            key,
            trusted,
            None,
            CasState::default(),
            AuditLog::default(),
        )
    }

    /// A C&A that carries on from the state in `store` and writes every change through to it.
    /// Expired tickets and RPTs are not reloaded (nothing can redeem or introspect them).
    pub fn with_store(
        settings: CasSettings,
        signing: SigningKey,
        trusted: JwkSet,
        store: Store,
    ) -> Result<Cas, StoreError> {
        fn decode<T: serde::de::DeserializeOwned>(
            store: &Store,
            table: &str,
            e: &crate::cda::store::Entry,
        ) -> Result<T, StoreError> {
            serde_json::from_str(&e.value).map_err(|err| store.undecodable(table, e, &err))
        }
        let snap = store.load()?;
        let now = jwt::now_epoch();
        let mut state = CasState::default();
        let mut stale = Vec::new();
        for e in &snap.live {
            let id = e.key.clone();
            match e.kind.as_str() {
                K_PAT => {
                    state.pats.insert(id, decode(&store, "live", e)?);
                }
                K_PAT_BY_ASSERTION => {
                    // Stored as its claims, never as the bearer token: signed again here (RS256
                    // is deterministic, so with the same key it is the same token).
                    let claims: CasClaims = decode(&store, "live", e)?;
                    let token = signing.sign(&claims).map_err(|err| StoreError::Damaged {
                        path: store.path().to_owned(),
                        detail: format!("signing again the PAT of assertion {id}: {err}"),
                    })?;
                    state.pat_by_assertion.insert(id, token);
                }
                K_REGISTRATION => state.registrations.push(decode(&store, "live", e)?),
                K_POST_REQUEST_ID => {
                    state.post_request_ids.insert(id);
                }
                K_TICKET => {
                    let t: TicketRecord = decode(&store, "live", e)?;
                    if t.expires > now {
                        state.tickets.insert(id, t);
                    } else {
                        stale.push(Op::delete(Scope::Live, K_TICKET, id));
                    }
                }
                K_RPT => {
                    let exp: i64 = decode(&store, "live", e)?;
                    if exp > now {
                        state.rpts.insert(id, exp);
                    } else {
                        stale.push(Op::delete(Scope::Live, K_RPT, id));
                    }
                }
                K_INTROSPECTION => state.introspections.push(decode(&store, "live", e)?),
                K_ATTEMPT => state.attempts.push(decode(&store, "live", e)?),
                other => return Err(unknown_kind(&store, "live", other)),
            }
        }
        let mut audit = AuditLog {
            epoch: snap.meta.get(META_EPOCH).map_or(0, |v| *v as u64),
            next_seq: snap.meta.get(META_NEXT_SEQ).map_or(0, |v| *v as u64),
            ..AuditLog::default()
        };
        for e in &snap.kept {
            let id = e.key.clone();
            match e.kind.as_str() {
                K_CALL => audit.calls.push_back(decode(&store, "kept", e)?),
                K_AUDIT_PAT => {
                    audit.pats.insert(id, decode(&store, "kept", e)?);
                }
                K_NAME => {
                    audit.names.insert(id, decode(&store, "kept", e)?);
                }
                other => return Err(unknown_kind(&store, "kept", other)),
            }
        }
        store.apply(&stale)?;
        Ok(Cas::build(
            settings,
            signing,
            trusted,
            Some(store),
            state,
            audit,
        ))
    }

    fn build(
        settings: CasSettings,
        key: SigningKey,
        trusted: JwkSet,
        store: Option<Store>,
        state: CasState,
        audit: AuditLog,
    ) -> Cas {
        let own_jwks = crate::net::pki::jwks_of([&key]);
        let mut published = own_jwks.clone();
        published.keys.extend(trusted.keys.iter().cloned());
        Cas {
            inner: Arc::new(CasInner {
                settings,
                key,
                own_jwks,
                trusted,
                published,
                base_url: OnceLock::new(),
                state: Mutex::new(state),
                changes: watch::Sender::new(0),
                faults: Arc::new(CasFaults::default()),
                audit: Mutex::new(audit),
                view_token_keys: Mutex::new(JwkSet { keys: Vec::new() }),
                store,
            }),
        }
    }

    /// Register a provider's view data token public keys (a key with a known `kid` replaces
    /// the old one).
    pub fn register_view_token_keys(&self, keys: &JwkSet) {
        let mut published = self
            .inner
            .view_token_keys
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for k in &keys.keys {
            published
                .keys
                .retain(|old| old.common.key_id != k.common.key_id);
            published.keys.push(k.clone());
        }
    }

    /// Register the holdername GUID of the provider the harness's finds go to: PATs for find
    /// tokens are issued for it (see [`Registry`]).
    pub fn register_holdername(&self, guid: &str) {
        self.state().registry.holdername = Some(guid.to_ascii_lowercase());
    }

    /// Register a holdername's PAT assertion public keys (a known `kid` is replaced): with
    /// them the provider signs its own jwt-bearer assertions for a fresh PAT.
    pub fn register_pat_assertion_keys(&self, holder: &str, keys: &JwkSet) {
        let mut state = self.state();
        let set = state
            .registry
            .pat_assertion_keys
            .entry(holder.to_ascii_lowercase())
            .or_insert_with(|| JwkSet { keys: Vec::new() });
        for k in &keys.keys {
            set.keys.retain(|old| old.common.key_id != k.common.key_id);
            set.keys.push(k.clone());
        }
    }

    /// What `/jwk_uri` publishes: the registered view data token keys.
    pub fn view_token_keys(&self) -> JwkSet {
        self.inner
            .view_token_keys
            .lock()
            .map(|k| k.clone())
            .unwrap_or_else(|e| e.into_inner().clone())
    }

    /// Record where the C&A is reachable (the `as_uri` a provider should send).
    pub fn set_base_url(&self, url: String) {
        let _ = self.inner.base_url.set(url);
    }

    pub fn base_url(&self) -> &str {
        self.inner.base_url.get().map(String::as_str).unwrap_or("")
    }

    pub fn jwks(&self) -> &JwkSet {
        &self.inner.published
    }

    fn state(&self) -> MutexGuard<'_, CasState> {
        // A panic while holding the lock cannot leave the maps half-updated in a way that
        // matters more than losing the whole run, so carry on with the data.
        self.inner
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn changed(&self) {
        self.inner.changes.send_modify(|v| *v += 1);
    }

    fn audit(&self) -> MutexGuard<'_, AuditLog> {
        self.inner
            .audit
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The file the state is kept in, if it is kept.
    pub fn store_path(&self) -> Option<&std::path::Path> {
        self.inner.store.as_ref().map(Store::path)
    }

    /// Write `ops` through to the store (none without one); a 500 naming the file if it fails,
    /// so the caller answers that and leaves its in-memory state unchanged.
    fn persist(&self, ops: impl FnOnce() -> Result<Vec<Op>, StoreError>) -> Result<(), Refused> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        ops().and_then(|ops| store.apply(&ops)).map_err(|e| {
            tracing::error!("{e}");
            Box::new(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("the C&A could not save its state: {e}"),
            ))
        })
    }

    /// [`Cas::persist`] for records of what was already answered (observations): a failure is
    /// logged, the answer stands.
    fn persist_observation(&self, ops: impl FnOnce() -> Result<Vec<Op>, StoreError>) {
        let _ = self.persist(ops);
    }

    /// Forget everything: PATs, registrations, tickets, RPTs, armed faults. Used by clear-down.
    /// The `/rreguri` call log is kept (a new clear-down epoch starts) for the audit. With a
    /// store the clear-down is durable: it fails, changing nothing, if the file cannot be
    /// written.
    pub fn clear(&self) -> Result<(), StoreError> {
        // Lock order: state, then audit (as issue_pat): no request sees half a clear-down.
        let mut state = self.state();
        let mut audit = self.audit();
        if let Some(store) = &self.inner.store {
            store.apply(&[
                Op::ClearLive,
                Op::Meta {
                    key: META_EPOCH,
                    value: (audit.epoch + 1) as i64,
                },
            ])?;
        }
        audit.epoch += 1;
        // Who is registered (holdername, PAT assertion keys, used assertion jtis) is not test
        // data: it survives the clear-down.
        let registry = std::mem::take(&mut state.registry);
        *state = CasState {
            registry,
            ..CasState::default()
        };
        drop(audit);
        drop(state);
        self.inner.faults.clear();
        self.changed();
        Ok(())
    }

    /// Fault injection and per-endpoint call timing (see [`crate::cda::faults`]).
    pub fn faults(&self) -> &CasFaults {
        &self.inner.faults
    }

    pub fn registrations(&self) -> Vec<Registration> {
        self.state().registrations.clone()
    }

    pub fn registration(&self, resource_id: &str) -> Option<Registration> {
        self.state()
            .registrations
            .iter()
            .find(|r| r.resource_id == resource_id)
            .cloned()
    }

    pub fn ticket(&self, ticket: &str) -> Option<TicketRecord> {
        let claims = self.verify_own(ticket, TOKEN_TYPE_TICKET).ok()?;
        self.state().tickets.get(&claims.jti).cloned()
    }

    pub fn introspections(&self) -> Vec<IntrospectionRecord> {
        self.state().introspections.clone()
    }

    pub fn registration_attempts(&self) -> Vec<RegistrationAttempt> {
        self.state().attempts.clone()
    }

    /// Every `/rreguri` call after `seq` (0: all kept), oldest first.
    pub fn rreguri_calls_after(&self, seq: u64) -> Vec<RreguriCall> {
        self.audit()
            .calls
            .iter()
            .filter(|c| c.seq > seq)
            .cloned()
            .collect()
    }

    /// The sequence number of the latest `/rreguri` call (0 before any).
    pub fn last_rreguri_seq(&self) -> u64 {
        self.audit().next_seq
    }

    /// How many clear-downs the C&A has seen.
    pub fn epoch(&self) -> u64 {
        self.audit().epoch
    }

    /// Record a `/rreguri` call for the audit and wake the waiting steps.
    #[allow(clippy::too_many_arguments)]
    async fn record_call(
        &self,
        method: &str,
        headers: &HeaderMap,
        resource_id: Option<&str>,
        name: Option<String>,
        inbound_request_id: Option<String>,
        detail: Option<String>,
        response: Response,
    ) -> (Response, Option<String>) {
        let status = response.status().as_u16();
        let (response, refusal) = if status >= 400 {
            refusal_of(response).await
        } else {
            (response, None)
        };
        let pat_jti = bearer(headers)
            .and_then(jwt::peek_claims)
            .and_then(|c| c["jti"].as_str().map(str::to_owned));
        let mut audit = self.audit();
        audit.next_seq += 1;
        let (assertion_jti, pat_epoch) = match pat_jti.as_ref().and_then(|j| audit.pats.get(j)) {
            Some((a, e)) => (Some(a.clone()), Some(*e)),
            None => (None, None),
        };
        let name = name.or_else(|| resource_id.and_then(|r| audit.names.get(r).cloned()));
        // The log outlives clear-downs: keep what the evidence needs, never a whole field a
        // provider sent (a 900 KB name stays 200 characters here).
        let short = |v: Option<String>| v.map(|v| v.chars().take(AUDIT_FIELD_MAX).collect());
        let call = RreguriCall {
            seq: audit.next_seq,
            method: method.to_owned(),
            at: Utc::now(),
            name: short(name),
            resource_id: short(resource_id.map(str::to_owned)),
            inbound_request_id: short(inbound_request_id),
            pat_jti: short(pat_jti),
            assertion_jti,
            pat_epoch,
            epoch: audit.epoch,
            detail: short(detail),
            status,
            refusal: short(refusal.clone()),
        };
        let dropped: Vec<u64> = audit
            .calls
            .iter()
            .take((audit.calls.len() + 1).saturating_sub(AUDIT_CAP))
            .map(|c| c.seq)
            .collect();
        self.persist_observation(|| {
            let mut ops = vec![
                Op::put(Scope::Kept, K_CALL, call.seq.to_string(), &call)?,
                Op::Meta {
                    key: META_NEXT_SEQ,
                    value: call.seq as i64,
                },
            ];
            ops.extend(
                dropped
                    .iter()
                    .map(|seq| Op::delete(Scope::Kept, K_CALL, seq.to_string())),
            );
            Ok(ops)
        });
        audit.calls.push_back(call);
        while audit.calls.len() > AUDIT_CAP {
            audit.calls.pop_front();
        }
        drop(audit);
        self.changed();
        (response, refusal)
    }

    /// Wait until `check` returns `Some`, re-checking on every state change; `None` on timeout.
    pub async fn wait_for<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&[Registration]) -> Option<T>,
    ) -> Option<T> {
        let mut rx = self.inner.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            rx.borrow_and_update();
            if let Some(v) = check(&self.state().registrations) {
                return Some(v);
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => continue,
                _ => return check(&self.state().registrations),
            }
        }
    }

    fn sign(&self, claims: &CasClaims) -> Result<String, Refused> {
        self.inner.key.sign(claims).map_err(|e| {
            Box::new(plain(
                StatusCode::INTERNAL_SERVER_ERROR,
                &format!("signing: {e}"),
            ))
        })
    }

    fn verify_own(&self, token: &str, token_type: &str) -> Result<CasClaims, String> {
        let claims: CasClaims = jwt::verify(
            token,
            &self.inner.own_jwks,
            &Expect {
                issuer: Some(&self.inner.settings.issuer),
                ..Expect::default()
            },
        )
        .map_err(|e| e.to_string())?;
        if claims.token_type != token_type {
            return Err(format!(
                "the token is a {}, not a {token_type}",
                claims.token_type
            ));
        }
        Ok(claims)
    }

    /// Check `Authorization: Bearer <PAT>`; a 401 response if it is not a live PAT we issued.
    fn authenticate_pat(&self, headers: &HeaderMap) -> Result<PatRecord, Refused> {
        let unauthorised = |msg: &str| {
            Box::new((StatusCode::UNAUTHORIZED, Json(json!({ "error": msg }))).into_response())
        };
        let token = bearer(headers)
            .ok_or_else(|| unauthorised("a PAT is required: Authorization: Bearer <PAT>"))?;
        let forgotten = || unauthorised("the PAT is not known to the C&A (cleared down?)");
        let expired = || {
            unauthorised(&format!(
                "{PAT_EXPIRED}: obtain a fresh one (README, \"The PAT model\")"
            ))
        };
        let claims = match self.verify_own(token.trim(), TOKEN_TYPE_PAT) {
            Ok(c) => c,
            // Past its exp and the leeway (the signature did verify): still say whether the
            // C&A knows it, so a PAT from before a clear-down is named as such.
            Err(e) if e == jwt::TokenError::Expired.to_string() => {
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

    pub fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token))
            .route("/perm", post(perm))
            .route("/introspect", post(introspect))
            .route("/rreguri", post(register))
            .route(
                "/rreguri/{resource_id}",
                get(get_registration)
                    .patch(patch_registration)
                    .delete(delete_registration),
            )
            // Faults are injected after the X-Request-ID check: a bad request is not a fault hit.
            .layer(axum::middleware::from_fn_with_state(
                self.inner.faults.clone(),
                crate::cda::faults::inject,
            ))
            .layer(axum::middleware::from_fn(require_request_id))
            .route("/jwks", get(jwks))
            .route("/jwk_uri", get(jwk_uri))
            .with_state(self.clone())
    }
}

/// A stored row of a kind this build does not know: the schema version should have said so.
fn unknown_kind(store: &Store, table: &str, kind: &str) -> StoreError {
    StoreError::Damaged {
        path: store.path().to_owned(),
        detail: format!("{table} rows of unknown kind {kind:?}"),
    }
}

/// A refusal from a helper, boxed because a `Response` is large.
type Refused = Box<Response>;

/// The bearer token of `Authorization`, if any.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .map(str::trim)
}

/// The reason a refusal gives (`{"error"}`, the field errors, or its text), and the response
/// rebuilt unchanged. Refusals are built here, so they are small; 64 KiB is ample.
async fn refusal_of(response: Response) -> (Response, Option<String>) {
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    let reason = match serde_json::from_slice::<serde_json::Value>(&bytes) {
        Ok(serde_json::Value::Object(o)) => o
            .get("error_description")
            .or_else(|| o.get("error"))
            .and_then(|v| v.as_str())
            .map(str::to_owned),
        Ok(serde_json::Value::Array(errors)) => Some(
            errors
                .iter()
                .map(|e| {
                    format!(
                        "{} {}",
                        e["field"].as_str().unwrap_or("body"),
                        e["reason"].as_str().unwrap_or("invalid")
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        ),
        _ => Some(String::from_utf8_lossy(&bytes).trim().to_owned()),
    }
    .filter(|r| !r.is_empty());
    (
        Response::from_parts(parts, axum::body::Body::from(bytes)),
        reason,
    )
}

fn plain(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.to_owned(),
    )
        .into_response()
}

fn token_error(code: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": code, "error_description": description })),
    )
        .into_response()
}

fn field_error(field: &str, rejected: &serde_json::Value, reason: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!([{ "field": field, "rejected_value": rejected, "reason": reason }])),
    )
        .into_response()
}

/// Every C&A operation requires a UUID `X-Request-ID` (declared `required`, `format: uuid`):
/// the canonical hyphenated form only, as JSON Schema's `uuid` format (and the reporting
/// simulator) take it; braces, `urn:uuid:` and bare hex are refused.
async fn require_request_id(request: Request, next: Next) -> Response {
    let ok = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(crate::reporting::validate::is_uuid);
    if ok {
        return next.run(request).await;
    }
    let msg = "X-Request-ID header is required and must be a canonical hyphenated UUID";
    if request.uri().path() == "/token" {
        token_error("invalid_request", msg)
    } else {
        plain(StatusCode::BAD_REQUEST, msg)
    }
}

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

async fn jwks(State(cas): State<Cas>) -> Json<JwkSet> {
    Json(cas.jwks().clone())
}

/// The CDA's `/jwk_uri`: the view data token keys registered by providers.
async fn jwk_uri(State(cas): State<Cas>) -> Json<JwkSet> {
    Json(cas.view_token_keys())
}

/// Parameters of `/token`: declared `in: query` in token-v1_2.yaml; the stub also takes a form
/// body. Both are merged here (the body wins).
async fn token(
    State(cas): State<Cas>,
    RawQuery(query): RawQuery,
    body: axum::body::Bytes,
) -> Response {
    let mut params: HashMap<String, String> = HashMap::new();
    for source in [query.unwrap_or_default().as_bytes(), &body[..]] {
        for (k, v) in url::form_urlencoded::parse(source) {
            params.insert(k.into_owned(), v.into_owned());
        }
    }
    let get = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
    match get("grant_type") {
        Some(GRANT_JWT_BEARER) => issue_pat(&cas, get("scope"), get("assertion")),
        Some(GRANT_UMA_TICKET) => issue_rpt(
            &cas,
            get("scope"),
            get("ticket"),
            get("claim_token"),
            get("claim_token_format"),
        ),
        Some(other) => token_error(
            "unsupported_grant_type",
            &format!("grant_type {other:?} is not supported"),
        ),
        None => token_error("invalid_request", "grant_type is required"),
    }
}

fn issue_pat(cas: &Cas, scope: Option<&str>, assertion: Option<&str>) -> Response {
    if scope != Some("uma_protection") {
        return token_error(
            "invalid_scope",
            "the jwt-bearer grant issues PATs for scope uma_protection only",
        );
    }
    let Some(assertion) = assertion else {
        return token_error("invalid_request", "assertion is required");
    };
    // The issuer says which kind of assertion it is: the pension finder's find token (the
    // user assertion), or the provider's own, signed with a key registered for its holdername.
    let iss = jwt::peek_claims(assertion).and_then(|c| c["iss"].as_str().map(str::to_owned));
    match iss {
        Some(iss) if iss != cas.inner.settings.finder_issuer => {
            issue_refreshed_pat(cas, assertion, &iss)
        }
        _ => issue_find_pat(cas, assertion),
    }
}

/// A PAT for a find token: for the registered holdername, one per assertion (the stub's UAT
/// -> PAT model), keyed by [`assertion_key`] since the token need carry no `jti`.
fn issue_find_pat(cas: &Cas, assertion: &str) -> Response {
    let s = &cas.inner.settings;
    let Some(holder) = cas.state().registry.holdername.clone() else {
        return token_error(
            "invalid_grant",
            "no holdername GUID is registered with this C&A, so it cannot tell whose PAT this would be",
        );
    };
    let audience = crate::protocol::contract::find_audience(
        s.find_audience.as_deref(),
        cas.base_url(),
        &holder,
    );
    let verified = jwt::verify::<serde_json::Value>(
        assertion,
        &cas.inner.trusted,
        &Expect {
            issuer: Some(&s.finder_issuer),
            audience: Some(&audience),
            ..Expect::default()
        },
    );
    let claims = match verified {
        Ok(c) => c,
        Err(jwt::TokenError::WrongAudience(_)) => {
            let aud = jwt::peek_claims(assertion)
                .map(|c| c["aud"].to_string())
                .unwrap_or_default();
            return token_error(
                "invalid_grant",
                &format!(
                    "assertion rejected: the find token is addressed to {aud}, not to {audience:?}: this C&A issues a PAT only for a find token addressed to it, for holdername {holder} (a find token addressed to another holder is refused)"
                ),
            );
        }
        Err(e) => return token_error("invalid_grant", &format!("assertion rejected: {e}")),
    };
    let key = assertion_key(assertion);
    let mut state = cas.state();
    if let Some(existing) = state.pat_by_assertion.get(&key) {
        return Json(json!({ "access_token": existing, "token_type": TOKEN_TYPE_PAT }))
            .into_response();
    }
    let sub = claims["sub"].as_str().unwrap_or("provider").to_owned();
    let lifetime = s.lifetimes.pat;
    let token = match mint_pat(
        cas,
        &mut state,
        sub,
        holder,
        lifetime,
        Assertion::FindToken(key),
    ) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    drop(state);
    Json(json!({ "access_token": token.0, "token_type": TOKEN_TYPE_PAT })).into_response()
}

/// Sign a PAT for `holder` and remember it; (token, jti).
fn mint_pat(
    cas: &Cas,
    state: &mut CasState,
    sub: String,
    holder: String,
    lifetime: Duration,
    assertion: Assertion,
) -> Result<(String, String), Refused> {
    let now = jwt::now_epoch();
    let pat = CasClaims {
        iss: cas.inner.settings.issuer.clone(),
        sub,
        iat: now,
        exp: now + lifetime.as_secs() as i64,
        jti: uuid::Uuid::new_v4().to_string(),
        token_type: TOKEN_TYPE_PAT.to_owned(),
        scope: Some("uma_protection".to_owned()),
        holder: Some(holder.clone()),
        permissions: None,
        azp: None,
    };
    let token = cas.sign(&pat)?;
    let record = PatRecord {
        jti: pat.jti.clone(),
        holder: Some(holder),
        expires: pat.exp,
    };
    let (key, by_find_token) = match assertion {
        Assertion::FindToken(key) => (key, true),
        Assertion::Provider(jti) => (format!("provider assertion {jti}"), false),
    };
    // Lock order state, then audit (as clear): the epoch cannot move under this PAT.
    let mut audit = cas.audit();
    let attribution = (key.clone(), audit.epoch);
    cas.persist(|| {
        let mut ops = vec![Op::put(Scope::Live, K_PAT, &pat.jti, &record)?];
        if by_find_token {
            ops.push(Op::put(Scope::Live, K_PAT_BY_ASSERTION, &key, &pat)?);
        }
        ops.push(Op::put(Scope::Kept, K_AUDIT_PAT, &pat.jti, &attribution)?);
        Ok(ops)
    })?;
    audit.pats.insert(pat.jti.clone(), attribution);
    drop(audit);
    state.pats.insert(pat.jti.clone(), record);
    if by_find_token {
        state.pat_by_assertion.insert(key, token.clone());
    }
    Ok((token, pat.jti))
}

/// What a PAT is issued for: a find token (by its [`assertion_key`]) or the provider's own
/// assertion (by its `jti`).
enum Assertion {
    FindToken(String),
    Provider(String),
}

fn invalid_client(description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "invalid_client", "error_description": description })),
    )
        .into_response()
}

/// The PAT refresh route: a jwt-bearer assertion the provider signs itself, with a key
/// registered for its holdername (`iss` and `sub` = the holdername GUID, `aud` = this C&A's
/// token URL, `exp - iat` at most 5 minutes, a `jti` never used before). Every refusal names
/// the check that failed.
fn issue_refreshed_pat(cas: &Cas, assertion: &str, iss: &str) -> Response {
    let s = &cas.inner.settings;
    let holder = iss.to_ascii_lowercase();
    let Some(keys) = cas
        .state()
        .registry
        .pat_assertion_keys
        .get(&holder)
        .cloned()
    else {
        return invalid_client(&format!(
            "assertion rejected: iss {iss:?} is neither the pension finder ({:?}) nor a holdername GUID with PAT assertion keys registered at this C&A ([provider] pat_assertion_keys)",
            s.finder_issuer
        ));
    };
    let audience = crate::protocol::contract::cas_token_url(cas.base_url());
    let claims: serde_json::Value = match jwt::verify(
        assertion,
        &keys,
        &Expect {
            issuer: Some(iss),
            audience: Some(&audience),
            required: &["sub", "iat", "jti"],
        },
    ) {
        Ok(c) => c,
        Err(e @ (jwt::TokenError::UnknownKey(_) | jwt::TokenError::MissingKid)) => {
            return invalid_client(&format!(
                "assertion rejected: {e}: it is not a PAT assertion key registered for holdername {holder}"
            ));
        }
        Err(jwt::TokenError::WrongAudience(_)) => {
            return token_error(
                "invalid_grant",
                &format!("assertion rejected: aud must be this C&A's token URL {audience:?}"),
            );
        }
        Err(e) => return token_error("invalid_grant", &format!("assertion rejected: {e}")),
    };
    if claims["sub"].as_str() != Some(iss) {
        return token_error(
            "invalid_grant",
            &format!(
                "assertion rejected: sub {} must be the holdername GUID, as iss {iss:?} is",
                claims["sub"]
            ),
        );
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return token_error(
            "invalid_grant",
            "assertion rejected: iat and exp must be NumericDates (integers)",
        );
    };
    if exp - iat > PAT_ASSERTION_MAX_LIFETIME_SECS {
        return token_error(
            "invalid_grant",
            &format!(
                "assertion rejected: its lifetime (exp - iat) is {} s; at most {PAT_ASSERTION_MAX_LIFETIME_SECS} s (5 minutes) is accepted",
                exp - iat
            ),
        );
    }
    let jti = claims["jti"].as_str().unwrap_or_default();
    let now = jwt::now_epoch();
    let mut state = cas.state();
    let seen = &mut state.registry.seen_assertion_jtis;
    seen.retain(|_, until| *until + jwt::LEEWAY_SECS >= now);
    let seen_key = format!("{holder} {jti}");
    if seen.contains_key(&seen_key) {
        return token_error(
            "invalid_grant",
            &format!(
                "assertion rejected: jti {jti:?} was already used: each assertion is good for one PAT"
            ),
        );
    }
    if seen.len() >= SEEN_JTI_CAP {
        return token_error(
            "invalid_grant",
            "assertion rejected: too many PAT assertions in the last 5 minutes",
        );
    }
    seen.insert(seen_key, exp);
    let lifetime = s.lifetimes.refreshed_pat;
    let token = match mint_pat(
        cas,
        &mut state,
        holder.clone(),
        holder,
        lifetime,
        Assertion::Provider(jti.to_owned()),
    ) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    drop(state);
    Json(json!({ "access_token": token.0, "token_type": TOKEN_TYPE_PAT })).into_response()
}

fn issue_rpt(
    cas: &Cas,
    scope: Option<&str>,
    ticket: Option<&str>,
    claim_token: Option<&str>,
    claim_token_format: Option<&str>,
) -> Response {
    if scope != Some("owner") {
        return token_error(
            "invalid_scope",
            "the uma-ticket grant issues RPTs for scope owner",
        );
    }
    let Some(ticket) = ticket else {
        return token_error("invalid_request", "ticket is required");
    };
    let Some(claim_token) = claim_token else {
        return token_error("invalid_request", "claim_token is required");
    };
    if !matches!(claim_token_format, Some(RQP_FORMAT | RQP_FORMAT_TYPO)) {
        return token_error(
            "invalid_request",
            "claim_token_format must be pension_dashboard_rqp",
        );
    }
    let s = &cas.inner.settings;
    let rqp: serde_json::Value = match jwt::verify(
        claim_token,
        &cas.inner.trusted,
        &Expect {
            issuer: Some(&s.dashboard_issuer),
            ..Expect::default()
        },
    ) {
        Ok(c) => c,
        Err(e) => return token_error("invalid_grant", &format!("claim token rejected: {e}")),
    };
    let ticket_claims = match cas.verify_own(ticket, TOKEN_TYPE_TICKET) {
        Ok(c) => c,
        Err(e) => return token_error("invalid_grant", &format!("ticket rejected: {e}")),
    };
    let now = jwt::now_epoch();
    let mut state = cas.state();
    let Some(record) = state.tickets.get_mut(&ticket_claims.jti) else {
        return token_error("invalid_grant", "ticket was not issued by this C&A");
    };
    if record.redeemed {
        return token_error("invalid_grant", "ticket has already been redeemed");
    }
    let mut redeemed = record.clone();
    redeemed.redeemed = true;
    if let Err(r) = cas.persist(|| {
        Ok(vec![Op::put(
            Scope::Live,
            K_TICKET,
            &ticket_claims.jti,
            &redeemed,
        )?])
    }) {
        return *r;
    }
    record.redeemed = true;
    let resource_id = record.resource_id.clone();
    // A deleted PeI ends access to it: its outstanding tickets no longer redeem.
    let live = state
        .registrations
        .iter()
        .any(|r| r.resource_id == resource_id && r.deleted.is_none());
    if !live {
        return token_error(
            "invalid_grant",
            "the PeI this ticket was issued for has been deleted",
        );
    }
    let Some(record) = state.tickets.get(&ticket_claims.jti) else {
        return token_error("invalid_grant", "ticket was not issued by this C&A");
    };
    let exp = now + s.lifetimes.rpt.as_secs() as i64;
    let rpt = CasClaims {
        iss: s.issuer.clone(),
        sub: rqp["sub"].as_str().unwrap_or("dashboard-user").to_owned(),
        iat: now,
        exp,
        jti: uuid::Uuid::new_v4().to_string(),
        token_type: TOKEN_TYPE_RPT.to_owned(),
        scope: Some("owner".to_owned()),
        holder: None,
        permissions: Some(vec![Permission {
            resource_id: record.resource_id.clone(),
            resource_scopes: record.scopes.clone(),
            exp,
        }]),
        azp: Some(s.dashboard_issuer.clone()),
    };
    let token = match cas.sign(&rpt) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    if let Err(r) = cas.persist(|| Ok(vec![Op::put(Scope::Live, K_RPT, &rpt.jti, &exp)?])) {
        return *r;
    }
    state.rpts.insert(rpt.jti.clone(), exp);
    drop(state);
    cas.changed();
    Json(json!({ "access_token": token, "token_type": TOKEN_TYPE_RPT })).into_response()
}

#[derive(Debug, Deserialize)]
struct PermRequest {
    resource_id: Option<serde_json::Value>,
    resource_scopes: Option<serde_json::Value>,
}

async fn perm(State(cas): State<Cas>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let pat = match cas.authenticate_pat(&headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Ok(req) = serde_json::from_slice::<PermRequest>(&body) else {
        return plain(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let Some(resource_id) = req.resource_id.as_ref().and_then(|v| v.as_str()) else {
        return field_error(
            "resource_id",
            &req.resource_id.unwrap_or_default(),
            "required",
        );
    };
    let scopes: Vec<String> = req
        .resource_scopes
        .as_ref()
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut sorted = scopes.clone();
    sorted.sort();
    if sorted != ["owner", "value"] {
        return field_error(
            "resource_scopes",
            &req.resource_scopes.unwrap_or_default(),
            "must be exactly [\"value\", \"owner\"]",
        );
    }
    let now = jwt::now_epoch();
    let mut state = cas.state();
    let Some(reg) = state
        .registrations
        .iter()
        .find(|r| r.resource_id == resource_id && r.deleted.is_none())
    else {
        return plain(StatusCode::NOT_FOUND, "resource_id is not registered");
    };
    if !pat.may_act_on(reg) {
        return not_the_holder();
    }
    let s = &cas.inner.settings;
    let claims = CasClaims {
        iss: s.issuer.clone(),
        sub: resource_id.to_owned(),
        iat: now,
        exp: now + s.lifetimes.ticket.as_secs() as i64,
        jti: uuid::Uuid::new_v4().to_string(),
        token_type: TOKEN_TYPE_TICKET.to_owned(),
        scope: Some(scopes.join(" ")),
        holder: None,
        permissions: None,
        azp: None,
    };
    let ticket = match cas.sign(&claims) {
        Ok(t) => t,
        Err(r) => return *r,
    };
    let record = TicketRecord {
        jti: claims.jti.clone(),
        resource_id: resource_id.to_owned(),
        scopes,
        expires: claims.exp,
        redeemed: false,
    };
    if let Err(r) = cas.persist(|| Ok(vec![Op::put(Scope::Live, K_TICKET, &claims.jti, &record)?]))
    {
        return *r;
    }
    state.tickets.insert(claims.jti.clone(), record);
    drop(state);
    cas.changed();
    (StatusCode::CREATED, Json(json!({ "ticket": ticket }))).into_response()
}

async fn introspect(
    State(cas): State<Cas>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let pat = match cas.authenticate_pat(&headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "form parameter token (the RPT) is required",
        );
    };
    // Verify the signature but judge expiry ourselves: an expired RPT is `active: false`.
    let mut expect = Expect {
        issuer: Some(&cas.inner.settings.issuer),
        ..Expect::default()
    };
    expect.required = &[];
    let claims: CasClaims = match jwt::verify::<CasClaims>(&token, &cas.inner.own_jwks, &expect) {
        Ok(c) => c,
        Err(jwt::TokenError::Expired) => {
            record_introspection(&cas, None, false);
            return Json(json!({ "active": false })).into_response();
        }
        Err(e) => {
            return plain(
                StatusCode::BAD_REQUEST,
                &format!("the token is not an RPT of this C&A: {e}"),
            );
        }
    };
    let known = cas.state().rpts.contains_key(&claims.jti);
    if claims.token_type != TOKEN_TYPE_RPT || !known {
        return plain(StatusCode::NOT_FOUND, "the RPT is not known to the C&A");
    }
    let permissions = claims.permissions.clone().unwrap_or_default();
    let owns_one = {
        let state = cas.state();
        permissions.iter().any(|p| {
            state
                .registrations
                .iter()
                .any(|r| r.resource_id == p.resource_id && pat.may_act_on(r))
        })
    };
    if !owns_one {
        record_introspection(&cas, Some(claims.jti.clone()), false);
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({ "error": "the PAT does not allow access to the account referenced by the RPT" })),
        )
            .into_response();
    }
    // A deleted PeI ends access to it: its permission is no longer reported.
    let permissions: Vec<Permission> = {
        let state = cas.state();
        permissions
            .into_iter()
            .filter(|p| {
                state
                    .registrations
                    .iter()
                    .any(|r| r.resource_id == p.resource_id && r.deleted.is_none())
            })
            .collect()
    };
    let now = jwt::now_epoch();
    let active = claims.exp > now && !permissions.is_empty();
    record_introspection(&cas, Some(claims.jti.clone()), active);
    if !active {
        return Json(json!({ "active": false })).into_response();
    }
    Json(json!({
        "active": active,
        "token_type": TOKEN_TYPE_RPT,
        "exp": claims.exp,
        "iss": claims.azp.unwrap_or_else(|| cas.inner.settings.dashboard_issuer.clone()),
        "permissions": permissions,
    }))
    .into_response()
}

fn record_introspection(cas: &Cas, rpt_jti: Option<String>, active: bool) {
    let record = IntrospectionRecord {
        rpt_jti,
        at: Utc::now(),
        active,
    };
    let mut state = cas.state();
    let key = state.introspections.len().to_string();
    cas.persist_observation(|| Ok(vec![Op::put(Scope::Live, K_INTROSPECTION, key, &record)?]));
    state.introspections.push(record);
    drop(state);
    cas.changed();
}

static PEI_NAME: std::sync::LazyLock<Option<Regex>> = std::sync::LazyLock::new(|| {
    let guid = r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?";
    Regex::new(&format!("^urn:pei:{guid}:{guid}$")).ok()
});

const MATCH_STATUSES: [&str; 2] = ["match-yes", "match-possible"];

/// Characters of a registration attempt's name and request id kept for the evidence (a valid
/// PeI is 91; longer values are refused anyway).
const ATTEMPT_FIELD_LIMIT: usize = 256;

/// The first `limit` characters of `s`, with how much was cut.
fn keep_head(s: String, limit: usize) -> String {
    match s.char_indices().nth(limit) {
        Some((cut, _)) => format!("{}... ({} more bytes)", &s[..cut], s.len() - cut),
        None => s,
    }
}
const RESOURCE_SCOPES: [&str; 3] = ["owner", "value", "delegate"];

async fn register(State(cas): State<Cas>, headers: HeaderMap, body: axum::body::Bytes) -> Response {
    let parsed = serde_json::from_slice::<serde_json::Value>(&body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    // Only what the evidence needs is kept of an attempt: a refused 900 KB name is cut to
    // the head that identifies it, so refused calls cannot grow the C&A's memory.
    let (name, inbound_request_id) = (
        field("name").map(|n| keep_head(n, ATTEMPT_FIELD_LIMIT)),
        field("inbound_request_id").map(|n| keep_head(n, ATTEMPT_FIELD_LIMIT)),
    );
    let response = register_inner(&cas, &headers, &body);
    let (response, refusal) = cas
        .record_call(
            "POST",
            &headers,
            None,
            name.clone(),
            inbound_request_id.clone(),
            field("match_status"),
            response,
        )
        .await;
    let attempt = RegistrationAttempt {
        name,
        inbound_request_id,
        status: response.status().as_u16(),
        at: Utc::now(),
        refusal,
    };
    let mut state = cas.state();
    let key = state.attempts.len().to_string();
    cas.persist_observation(|| Ok(vec![Op::put(Scope::Live, K_ATTEMPT, key, &attempt)?]));
    state.attempts.push(attempt);
    drop(state);
    cas.changed();
    response
}

fn register_inner(cas: &Cas, headers: &HeaderMap, body: &[u8]) -> Response {
    let pat = match cas.authenticate_pat(headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(body) else {
        return plain(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let field = |k: &str| body.get(k).cloned().unwrap_or(serde_json::Value::Null);
    let name = field("name");
    let Some(name_str) = name
        .as_str()
        .filter(|n| PEI_NAME.as_ref().is_some_and(|re| re.is_match(n)))
    else {
        return field_error("name", &name, "must be urn:pei:<holderGuid>:<assetGuid>");
    };
    if let (Some(holder), Some((name_holder, _))) = (&pat.holder, pei_parts(name_str))
        && !holder.eq_ignore_ascii_case(name_holder)
    {
        return field_error(
            "name",
            &name,
            "the holder GUID is not the holdername GUID the PAT was issued for",
        );
    }
    let description = field("description");
    let Some(description_str) = description.as_str().filter(|d| !d.is_empty()) else {
        return field_error(
            "description",
            &description,
            "required, at least 1 character",
        );
    };
    let status = field("match_status");
    let Some(status_str) = status.as_str().filter(|s| MATCH_STATUSES.contains(s)) else {
        return field_error(
            "match_status",
            &status,
            "must be match-yes or match-possible",
        );
    };
    let scopes = field("resource_scopes");
    let scope_list: Option<Vec<String>> = scopes.as_array().and_then(|a| {
        a.iter()
            .map(|s| {
                s.as_str()
                    .filter(|s| RESOURCE_SCOPES.contains(s))
                    .map(str::to_owned)
            })
            .collect()
    });
    let Some(scope_list) = scope_list.filter(|l| !l.is_empty()) else {
        return field_error(
            "resource_scopes",
            &scopes,
            "must be a non-empty array of owner, value, delegate",
        );
    };
    // Absent is allowed; an explicit null is not: rreguri-v1_2.yaml types it a string.
    let inbound_request_id = match body.get("inbound_request_id") {
        None => None,
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(other) => return field_error("inbound_request_id", other, "must be a string"),
    };
    let request_id = request_id(headers);
    let mut state = cas.state();
    if let Some(existing) = state
        .registrations
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name_str) && r.deleted.is_none())
    {
        return (
            StatusCode::OK,
            Json(json!({ "resource_id": existing.resource_id })),
        )
            .into_response();
    }
    if state.post_request_ids.contains(&request_id) {
        return plain(
            StatusCode::CONFLICT,
            "X-Request-ID was already used for a registration",
        );
    }
    let resource_id = mint_resource_id();
    let registration = Registration {
        resource_id: resource_id.clone(),
        name: name_str.to_owned(),
        description: description_str.to_owned(),
        match_status: status_str.to_owned(),
        resource_scopes: scope_list,
        inbound_request_id,
        request_id: request_id.clone(),
        registered_at: Utc::now(),
        pat_jti: pat.jti,
        holder: pat.holder,
        deleted: None,
        patches: Vec::new(),
    };
    if let Err(r) = cas.persist(|| {
        Ok(vec![
            Op::put(Scope::Live, K_REGISTRATION, &resource_id, &registration)?,
            Op::put(Scope::Live, K_POST_REQUEST_ID, &request_id, &true)?,
            Op::put(Scope::Kept, K_NAME, &resource_id, &name_str)?,
        ])
    }) {
        return *r;
    }
    state.post_request_ids.insert(request_id);
    state.registrations.push(registration);
    // Lock order state, then audit.
    cas.audit()
        .names
        .insert(resource_id.clone(), name_str.to_owned());
    drop(state);
    cas.changed();
    let location = format!("/rreguri/{resource_id}");
    let mut response = (
        StatusCode::CREATED,
        Json(json!({ "resource_id": resource_id })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// The 401 for a PAT of another holdername than the resource's.
fn not_the_holder() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({ "error": "the PAT does not identify the user for the resource: it was issued for another holdername GUID" })),
    )
        .into_response()
}

/// Find a live registration owned by this PAT, or the stub's 404/401.
fn owned<'a>(
    state: &'a mut CasState,
    resource_id: &str,
    pat: &PatRecord,
) -> Result<&'a mut Registration, Refused> {
    let reg = state
        .registrations
        .iter_mut()
        .find(|r| r.resource_id == resource_id && r.deleted.is_none())
        .ok_or_else(|| {
            Box::new(plain(
                StatusCode::NOT_FOUND,
                "resource_id is not registered",
            ))
        })?;
    if !pat.may_act_on(reg) {
        return Err(Box::new(not_the_holder()));
    }
    Ok(reg)
}

async fn get_registration(
    State(cas): State<Cas>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
) -> Response {
    let pat = match cas.authenticate_pat(&headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let mut state = cas.state();
    match owned(&mut state, &resource_id, &pat) {
        Ok(r) => Json(json!({
            "resource_id": r.resource_id,
            "name": r.name,
            "description": r.description,
            "match_status": r.match_status,
            "resource_scopes": r.resource_scopes,
        }))
        .into_response(),
        Err(resp) => *resp,
    }
}

async fn patch_registration(
    State(cas): State<Cas>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let parsed = serde_json::from_slice::<serde_json::Value>(&body).ok();
    let field = |k: &str| {
        parsed
            .as_ref()
            .and_then(|v| v.get(k))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let response = patch_inner(&cas, &resource_id, &headers, &body);
    cas.record_call(
        "PATCH",
        &headers,
        Some(&resource_id),
        None,
        field("inbound_request_id"),
        field("match_status"),
        response,
    )
    .await
    .0
}

fn patch_inner(cas: &Cas, resource_id: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let pat = match cas.authenticate_pat(headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(body) else {
        return plain(StatusCode::BAD_REQUEST, "the body must be a JSON object");
    };
    let status = body
        .get("match_status")
        .cloned()
        .unwrap_or(serde_json::Value::Null);
    if status.as_str() != Some("match-yes") {
        return field_error(
            "match_status",
            &status,
            "only match-yes may be PATCHed; delete a PeI that is not a match",
        );
    }
    let mut state = cas.state();
    let result = match owned(&mut state, resource_id, &pat) {
        Ok(r) => {
            let mut patched = r.clone();
            patched.match_status = "match-yes".to_owned();
            patched.patches.push("match-yes".to_owned());
            if let Some(id) = body.get("inbound_request_id").and_then(|v| v.as_str()) {
                patched.inbound_request_id = Some(id.to_owned());
            }
            if let Err(resp) = cas.persist(|| {
                Ok(vec![Op::put(
                    Scope::Live,
                    K_REGISTRATION,
                    &patched.resource_id,
                    &patched,
                )?])
            }) {
                return *resp;
            }
            *r = patched;
            Json(json!({ "resource_id": r.resource_id })).into_response()
        }
        Err(resp) => return *resp,
    };
    drop(state);
    cas.changed();
    result
}

#[derive(Debug, Deserialize)]
struct DeleteQuery {
    deletion_reason: Option<String>,
}

/// Which stored match status each deletion reason may remove (MaPS stub v2.0 rules).
pub fn deletion_allowed(reason: &str, match_status: &str) -> Option<bool> {
    let allowed: &[&str] = match reason {
        "match-no" | "match-timeout" => &["match-possible"],
        "match-withdrawn" => &["match-yes"],
        "asset-removed" => &["match-yes", "match-possible"],
        _ => return None,
    };
    Some(allowed.contains(&match_status))
}

async fn delete_registration(
    State(cas): State<Cas>,
    Path(resource_id): Path<String>,
    Query(query): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Response {
    let reason = query.deletion_reason.clone();
    let response = delete_inner(&cas, &resource_id, query, &headers);
    cas.record_call(
        "DELETE",
        &headers,
        Some(&resource_id),
        None,
        None,
        reason,
        response,
    )
    .await
    .0
}

fn delete_inner(cas: &Cas, resource_id: &str, query: DeleteQuery, headers: &HeaderMap) -> Response {
    let pat = match cas.authenticate_pat(headers) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    let Some(reason) = query.deletion_reason else {
        return plain(StatusCode::BAD_REQUEST, "deletion_reason is required");
    };
    let mut state = cas.state();
    let reg = match owned(&mut state, resource_id, &pat) {
        Ok(r) => r,
        Err(resp) => return *resp,
    };
    match deletion_allowed(&reason, &reg.match_status) {
        None => {
            return plain(
                StatusCode::BAD_REQUEST,
                "deletion_reason must be match-no, match-timeout, match-withdrawn or asset-removed",
            );
        }
        Some(false) => {
            return plain(
                StatusCode::BAD_REQUEST,
                &format!(
                    "deletion_reason {reason} is not allowed for a PeI with match_status {}",
                    reg.match_status
                ),
            );
        }
        Some(true) => {}
    }
    let mut deleted = reg.clone();
    deleted.deleted = Some(Deletion {
        reason,
        at: Utc::now(),
    });
    if let Err(r) = cas.persist(|| {
        Ok(vec![Op::put(
            Scope::Live,
            K_REGISTRATION,
            &deleted.resource_id,
            &deleted,
        )?])
    }) {
        return *r;
    }
    *reg = deleted;
    drop(state);
    cas.changed();
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The memory of used PAT assertion `jti`s is bounded: an entry is forgotten once its
    /// assertion would have expired anyway (so at most 5 minutes' worth is kept), while a live
    /// one still refuses its replay.
    #[test]
    fn used_assertion_jtis_are_forgotten_once_their_assertion_expired() {
        let keys = SigningKey::generate_all(&["cas", "pat"]).expect("keys");
        let (cas_key, pat_key) = (&keys[0], &keys[1]);
        let cas = Cas::new(
            crate::cda::service::cas_settings(&crate::protocol::contract::WireContract::default()),
            cas_key.clone(),
            crate::net::pki::jwks_of([cas_key]),
        );
        cas.set_base_url("https://cas.test".to_owned());
        let holder = "6f1c0f2e-8c5a-4d0e-9a43-2b7d9e0c1a55";
        cas.register_pat_assertion_keys(holder, &crate::net::pki::jwks_of([pat_key]));
        let now = jwt::now_epoch();
        cas.state()
            .registry
            .seen_assertion_jtis
            .insert(format!("{holder} long-expired"), now - 600);
        let assertion = |jti: &str| {
            pat_key
                .sign(&json!({
                    "iss": holder, "sub": holder, "aud": "https://cas.test/token",
                    "iat": now, "exp": now + 60, "jti": jti,
                }))
                .expect("signed")
        };
        let first = issue_refreshed_pat(&cas, &assertion("j-1"), holder);
        assert_eq!(first.status(), StatusCode::OK);
        let seen: Vec<String> = cas
            .state()
            .registry
            .seen_assertion_jtis
            .keys()
            .cloned()
            .collect();
        assert_eq!(seen, vec![format!("{holder} j-1")]);
        let replay = issue_refreshed_pat(&cas, &assertion("j-1"), holder);
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
        // A clear-down keeps the registry: the replay is still refused after it.
        cas.clear().expect("cleared");
        let replay = issue_refreshed_pat(&cas, &assertion("j-1"), holder);
        assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    }

    /// A PAT past its `exp` and the clock leeway is "expired" when the C&A knows it (the
    /// provider's cue to refresh, which the audit does not count), and "not known" after a
    /// clear-down (late activity).
    #[tokio::test]
    async fn a_long_expired_pat_is_named_expired_unless_a_clear_down_forgot_it() {
        let key = SigningKey::generate("cas").expect("key");
        let cas = Cas::new(
            crate::cda::service::cas_settings(&crate::protocol::contract::WireContract::default()),
            key.clone(),
            crate::net::pki::jwks_of([&key]),
        );
        let (_, jti) = {
            let mut state = cas.state();
            mint_pat(
                &cas,
                &mut state,
                "p".to_owned(),
                "h".to_owned(),
                Duration::ZERO,
                Assertion::FindToken("a".to_owned()),
            )
            .expect("minted")
        };
        let now = jwt::now_epoch();
        let old = cas
            .sign(&CasClaims {
                iss: cas.inner.settings.issuer.clone(),
                sub: "p".to_owned(),
                iat: now - 120,
                exp: now - 60,
                jti,
                token_type: TOKEN_TYPE_PAT.to_owned(),
                scope: None,
                holder: Some("h".to_owned()),
                permissions: None,
                azp: None,
            })
            .expect("signed");
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {old}")).expect("header"),
        );
        let reason = |refused: Refused| async move {
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
            refusal_of(*refused).await.1.unwrap_or_default()
        };
        let err = cas.authenticate_pat(&headers).expect_err("expired");
        let why = reason(err).await;
        assert!(why.starts_with(PAT_EXPIRED), "{why}");
        cas.clear().expect("cleared");
        let err = cas.authenticate_pat(&headers).expect_err("forgotten");
        let why = reason(err).await;
        assert!(why.contains("not known to the C&A"), "{why}");
    }

    fn settings() -> CasSettings {
        CasSettings {
            issuer: "cas".to_owned(),
            finder_issuer: "finder".to_owned(),
            dashboard_issuer: "dashboard".to_owned(),
            find_audience: None,
            lifetimes: Lifetimes::default(),
        }
    }

    /// Expired tickets and RPTs are not carried over a restart (nothing could redeem or
    /// introspect them), live ones are; a row of a kind this build does not know is refused.
    #[test]
    fn a_reload_drops_expired_tickets_and_rpts_and_refuses_unknown_rows() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("cda.sqlite");
        let key = SigningKey::generate("k").expect("key");
        let now = jwt::now_epoch();
        let ticket = |jti: &str, expires: i64| TicketRecord {
            jti: jti.to_owned(),
            resource_id: "r".to_owned(),
            scopes: vec!["owner".to_owned()],
            expires,
            redeemed: false,
        };
        {
            let store = Store::open(&path).expect("new file");
            store
                .apply(&[
                    Op::put(Scope::Live, K_TICKET, "old", &ticket("old", now - 1)).expect("e"),
                    Op::put(Scope::Live, K_TICKET, "new", &ticket("new", now + 60)).expect("e"),
                    Op::put(Scope::Live, K_RPT, "old", &(now - 1)).expect("e"),
                    Op::put(Scope::Live, K_RPT, "new", &(now + 60)).expect("e"),
                ])
                .expect("write");
            let cas =
                Cas::with_store(settings(), key.clone(), jwks_set(&key), store).expect("loads");
            let state = cas.state();
            assert_eq!(state.tickets.keys().collect::<Vec<_>>(), ["new"]);
            assert_eq!(state.rpts.keys().collect::<Vec<_>>(), ["new"]);
        }
        let store = Store::open(&path).expect("reopened");
        let kept: Vec<String> = store
            .load()
            .expect("load")
            .live
            .into_iter()
            .map(|e| format!("{}/{}", e.kind, e.key))
            .collect();
        assert_eq!(kept, ["ticket/new", "rpt/new"], "the expired rows are gone");
        store
            .apply(&[Op::put(Scope::Live, "from_the_future", "x", &1).expect("e")])
            .expect("write");
        let err = Cas::with_store(settings(), key.clone(), jwks_set(&key), store)
            .expect_err("an unknown kind is refused");
        assert!(err.to_string().contains("from_the_future"), "{err}");
        assert!(err.to_string().contains("cda.sqlite"), "{err}");
    }

    fn jwks_set(key: &SigningKey) -> JwkSet {
        crate::net::pki::jwks_of([key])
    }
}
