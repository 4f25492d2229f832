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
//!
//! Files: `find` (the find endpoint and registration), `view` (the view endpoint, its JWKS and
//! the views served), `cas_client` (C&A calls, retries and PATs), `test_support`, `members`
//! (its member data, as an interface the test pack implements), `matching`, `view_data`,
//! `journal`, `embedded`, `faults`; this file holds its state and wiring. It depends on
//! `protocol` and the network layer only: the harness builds its [`ProviderOptions`].

mod cas_client;
pub mod embedded;
pub mod faults;
mod find;
pub mod journal;
pub mod matching;
pub mod members;
mod test_support;
mod view;
pub mod view_data;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, on, post};
use axum::{Json, Router};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

use crate::net::pki::SigningKey;
use crate::protocol::contract::WireContract;
use crate::protocol::served_views::ServedView;
pub use cas_client::{CasCallError, NoAnswer};
pub use faults::{Fault, Faults};
pub use find::JwksError;
use journal::{FindJournal, PendingFind, Recovered, Registration};
use matching::MatchOutcome;
use members::MemberRecords;
pub use view::{RptRefusal, ViewTokenError};

/// The issuer of its view data tokens.
pub const PROVIDER_ISSUER: &str = "pdp-harness-reference-provider";

/// How long the provider waits for one C&A call: a C&A that does not answer is retried well
/// within the registration limit instead of holding the registration for the client's 30 s.
pub const CAS_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Attempts of the "retries a 404" defect: effectively for ever within a scenario, yet finite.
const NOT_FOUND_RETRIES: u32 = 30;

pub const CLEAR_DOWN_PATH: &str = "/test-support/clear-down";
pub use crate::protocol::match_updates::MATCH_UPDATES_PATH;

/// How the reference provider is set up.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// Its member records and their pensions (the harness gives it the test pack's).
    pub pack: Arc<dyn MemberRecords>,
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
    served: Mutex<Vec<ServedView>>,
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
            .route(&c.find.path, on(find_method, find::find))
            .route(&c.view.route(), on(view_method, view::view))
            .route(c.view.provider_jwks_route(), get(view::jwks))
            .route(CLEAR_DOWN_PATH, post(test_support::clear_down))
            .route(MATCH_UPDATES_PATH, post(test_support::match_updates))
            .with_state(self.clone())
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
        .filter(|v| crate::protocol::request_id::is_uuid(v))
        .map(str::to_owned)
}
