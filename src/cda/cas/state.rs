//! The C&A's state: what it issued and registered, the registration audit's call log that
//! outlives clear-downs, and how both are written through to the [`Store`] and read back on a
//! restart. Kept apart from the handlers so the persistence rules live in one place.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde::{Deserialize, Serialize};

use super::claims::CasClaims;
use super::error::CasError;
use super::{Cas, CasSettings};
use crate::cda::store::{Op, Scope, Store, StoreError};
use crate::net::jwt;
use crate::net::pki::SigningKey;
use crate::protocol::match_status::MatchStatus;

/// A registered pension identifier, as the C&A holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Registration {
    pub resource_id: String,
    pub name: String,
    pub description: String,
    pub match_status: MatchStatus,
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
pub(super) struct AuditLog {
    pub(super) epoch: u64,
    pub(super) next_seq: u64,
    pub(super) calls: std::collections::VecDeque<RreguriCall>,
    /// PAT jti -> (assertion key, epoch it was issued in).
    pub(super) pats: HashMap<String, (String, u64)>,
    /// resource id -> PeI name, for PATCH/DELETE of resources a clear-down forgot.
    pub(super) names: HashMap<String, String>,
}

/// Kinds of stored rows (see [`crate::cda::store`]): live ones go at clear-down.
pub(super) const K_PAT: &str = "pat";
pub(super) const K_PAT_BY_ASSERTION: &str = "pat_by_assertion";
pub(super) const K_REGISTRATION: &str = "registration";
pub(super) const K_POST_REQUEST_ID: &str = "post_request_id";
pub(super) const K_TICKET: &str = "ticket";
pub(super) const K_RPT: &str = "rpt";
pub(super) const K_INTROSPECTION: &str = "introspection";
pub(super) const K_ATTEMPT: &str = "attempt";
/// Kept across clear-downs: the audit's call log, PAT attribution and resource names.
pub(super) const K_CALL: &str = "call";
pub(super) const K_AUDIT_PAT: &str = "audit_pat";
pub(super) const K_NAME: &str = "name";
pub(super) const META_EPOCH: &str = "epoch";
pub(super) const META_NEXT_SEQ: &str = "next_seq";

/// Calls kept for the audit; the oldest are dropped beyond this (a long `serve`).
pub(super) const AUDIT_CAP: usize = 20_000;
/// Characters kept of each field of an audited call.
pub(super) const AUDIT_FIELD_MAX: usize = 200;

/// An introspection the provider asked for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IntrospectionRecord {
    pub rpt_jti: Option<String>,
    pub at: DateTime<Utc>,
    pub active: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct PatRecord {
    pub(super) jti: String,
    pub(super) holder: Option<String>,
    /// `exp` of the PAT: the C&A judges its own tokens' expiry on its own clock, with no
    /// leeway. A record stored before this field was kept has only the token's own `exp`.
    #[serde(default = "no_expiry")]
    pub(super) expires: i64,
}

fn no_expiry() -> i64 {
    i64::MAX
}

impl PatRecord {
    /// Whether this PAT may act on `reg`: the same holdername (or, for a resource of no
    /// known holdername, the very PAT that registered it).
    pub(super) fn may_act_on(&self, reg: &Registration) -> bool {
        match (&reg.holder, &self.holder) {
            (Some(r), Some(p)) => r.eq_ignore_ascii_case(p),
            _ => reg.pat_jti == self.jti,
        }
    }
}

/// Who the C&A knows, as PDP knows the registered providers: kept across clear-downs.
#[derive(Debug, Default, Clone)]
pub(super) struct Registry {
    /// The holdername GUID (lowercase) of the provider whose find endpoint the harness drives:
    /// a PAT for a find token is issued for it. The real C&A knows the caller from its
    /// registration (its mTLS client identity); this C&A serves one target, so it is that
    /// target's registered holdername, not anything the find token says.
    pub(super) holdername: Option<String>,
    /// PAT assertion keys registered per holdername GUID (lowercase): `[provider]
    /// pat_assertion_keys`, the reference provider's own key on the embedded default.
    pub(super) pat_assertion_keys: HashMap<String, JwkSet>,
    /// `<holdername> <jti>` of provider PAT assertions already used, with their `exp`: a replay
    /// is refused until the assertion would have expired anyway, then forgotten.
    pub(super) seen_assertion_jtis: HashMap<String, i64>,
}

/// The C&A's working state. With a [`Store`], every mutation is written through to it inside
/// the same critical section (this struct's mutex, or the audit log's), before the in-memory
/// copy changes: a refused write leaves both as they were, two concurrent requests reach the
/// file in the order they changed memory, and a restart replays exactly what was answered.
/// The maps stay the working copy so the handlers keep their plain lookups. A new map is a new
/// `K_*` kind, a `put` where it changes, and a line in [`Cas::with_store`]'s load.
#[derive(Debug, Default)]
pub(super) struct CasState {
    pub(super) registry: Registry,
    pub(super) pats: HashMap<String, PatRecord>,
    pub(super) pat_by_assertion: HashMap<String, String>,
    pub(super) registrations: Vec<Registration>,
    pub(super) post_request_ids: HashSet<String>,
    pub(super) tickets: HashMap<String, TicketRecord>,
    /// RPT jti -> its `exp` (expired ones are not reloaded after a restart).
    pub(super) rpts: HashMap<String, i64>,
    pub(super) introspections: Vec<IntrospectionRecord>,
    pub(super) attempts: Vec<RegistrationAttempt>,
}

impl Cas {
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

    /// Write `ops` through to the store (none without one); a 500 naming the file if it fails,
    /// so the caller answers that and leaves its in-memory state unchanged.
    pub(super) fn persist(
        &self,
        ops: impl FnOnce() -> Result<Vec<Op>, StoreError>,
    ) -> Result<(), CasError> {
        let Some(store) = &self.inner.store else {
            return Ok(());
        };
        ops().and_then(|ops| store.apply(&ops)).map_err(|e| {
            tracing::error!("{e}");
            CasError::Internal(format!("the C&A could not save its state: {e}"))
        })
    }

    /// [`Cas::persist`] for records of what was already answered (observations): a failure is
    /// logged, the answer stands.
    pub(super) fn persist_observation(&self, ops: impl FnOnce() -> Result<Vec<Op>, StoreError>) {
        let _ = self.persist(ops);
    }
}

/// A stored row of a kind this build does not know: the schema version should have said so.
fn unknown_kind(store: &Store, table: &str, kind: &str) -> StoreError {
    StoreError::Damaged {
        path: store.path().to_owned(),
        detail: format!("{table} rows of unknown kind {kind:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cda::cas::Lifetimes;

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
