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
//!
//! One concept a file: [`state`] (what the C&A holds, and its store), [`claims`] (its tokens and
//! how it checks them), [`error`] (every refusal, as the stub words it), and a file per endpoint:
//! [`token`], [`perm`], [`introspect`], [`rreguri`].

mod claims;
mod error;
mod introspect;
mod perm;
mod rreguri;
mod state;
mod token;

use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use tokio::sync::watch;

pub use self::claims::{CasClaims, PAT_EXPIRED, Permission, assertion_key};
pub use self::error::{CasError, OwnTokenError, TokenErrorCode};
pub use self::rreguri::deletion_allowed;
use self::state::{AuditLog, CasState, META_EPOCH};
pub use self::state::{
    Deletion, IntrospectionRecord, Registration, RegistrationAttempt, RreguriCall, TicketRecord,
    mint_resource_id, pei_is_dashboard_readable, pei_parts,
};
pub use self::token::PAT_ASSERTION_MAX_LIFETIME_SECS;
use crate::cda::faults::CasFaults;
use crate::cda::store::{Op, Store, StoreError};
use crate::net::pki::SigningKey;
use crate::protocol::tokens::TokenType;
// Kept here for the callers that name them by the C&A; they are the protocol's.
pub use crate::protocol::tokens::{
    GRANT_JWT_BEARER, GRANT_UMA_TICKET, RQP_FORMAT, TOKEN_TYPE_PAT, TOKEN_TYPE_RPT,
};

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

    fn build(
        settings: CasSettings,
        key: SigningKey,
        trusted: JwkSet,
        store: Option<Store>,
        state: CasState,
        audit: AuditLog,
    ) -> Cas {
        let own_jwks = crate::net::pki::jwks_of([&key]);
        // The C&A's own key may also be trusted (one key signs every CDA token, find tokens
        // included): published once.
        let mut published = own_jwks.clone();
        published.keys.extend(
            trusted
                .keys
                .iter()
                .filter(|k| {
                    !own_jwks
                        .keys
                        .iter()
                        .any(|o| o.common.key_id == k.common.key_id)
                })
                .cloned(),
        );
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

    /// A registration as if a provider had just made it (no `/rreguri` call is recorded): for
    /// unit tests of what waits on registrations.
    #[cfg(test)]
    pub(crate) fn insert_registration(&self, registration: Registration) {
        self.state().registrations.push(registration);
        self.changed();
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
        let claims = self.verify_own(ticket, TokenType::Ticket).ok()?;
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

    /// The assertion a PAT (by its jti) was issued for: a find token's [`assertion_key`], or
    /// `provider assertion <jti>` for one from the refresh route.
    pub fn assertion_of_pat(&self, pat_jti: &str) -> Option<String> {
        self.audit().pats.get(pat_jti).map(|(key, _)| key.clone())
    }

    /// The sequence number of the latest `/rreguri` call (0 before any).
    pub fn last_rreguri_seq(&self) -> u64 {
        self.audit().next_seq
    }

    /// How many clear-downs the C&A has seen.
    pub fn epoch(&self) -> u64 {
        self.audit().epoch
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

    pub fn router(&self) -> Router {
        Router::new()
            .route("/token", post(token::token))
            .route("/perm", post(perm::perm))
            .route("/introspect", post(introspect::introspect))
            .route("/rreguri", post(rreguri::register))
            .route(
                "/rreguri/{resource_id}",
                get(rreguri::get_registration)
                    .patch(rreguri::patch_registration)
                    .delete(rreguri::delete_registration),
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

/// Every C&A operation requires a UUID `X-Request-ID` (declared `required`, `format: uuid`):
/// the canonical hyphenated form only, as JSON Schema's `uuid` format (and the reporting
/// simulator) take it; braces, `urn:uuid:` and bare hex are refused.
async fn require_request_id(request: Request, next: Next) -> Response {
    let ok = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .is_some_and(crate::protocol::request_id::is_uuid);
    if ok {
        return next.run(request).await;
    }
    let msg = "X-Request-ID header is required and must be a canonical hyphenated UUID";
    if request.uri().path() == "/token" {
        CasError::token(TokenErrorCode::InvalidRequest, msg)
    } else {
        CasError::BadRequest(msg.to_owned())
    }
    .into_response()
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
