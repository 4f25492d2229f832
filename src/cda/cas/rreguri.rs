//! `/rreguri` (rreguri-v1_2.yaml): a provider registers the PeIs it matched (POST), reads one
//! (GET), confirms a possible match (PATCH to match-yes) and deletes one with a reason (DELETE),
//! under the MaPS stub's state rules. Every POST, PATCH and DELETE, answered or refused, goes to
//! the audit's call log, which outlives clear-downs.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use regex::Regex;
use serde::Deserialize;
use serde_json::{Value, json};

use super::claims::bearer;
use super::error::CasError;
use super::state::{
    AUDIT_CAP, AUDIT_FIELD_MAX, CasState, Deletion, K_ATTEMPT, K_CALL, K_NAME, K_POST_REQUEST_ID,
    K_REGISTRATION, META_NEXT_SEQ, PatRecord, Registration, RegistrationAttempt, RreguriCall,
    mint_resource_id, pei_parts,
};
use super::{Cas, request_id};
use crate::cda::store::{Op, Scope};
use crate::net::jwt;
use crate::protocol::match_status::{DeletionReason, MatchStatus};

pub use crate::protocol::match_status::deletion_allowed;

static PEI_NAME: std::sync::LazyLock<Option<Regex>> = std::sync::LazyLock::new(|| {
    let guid = r"\{?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\}?";
    Regex::new(&format!("^urn:pei:{guid}:{guid}$")).ok()
});

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

/// What the audit keeps of one `/rreguri` call besides its answer.
struct CallSeen<'a> {
    method: &'static str,
    headers: &'a HeaderMap,
    resource_id: Option<&'a str>,
    name: Option<String>,
    inbound_request_id: Option<String>,
    /// match_status (POST, PATCH) or deletion_reason (DELETE), as sent.
    detail: Option<String>,
}

/// The status a handler's outcome answers with, and the refusal's reason when it refused.
fn answered<T>(
    outcome: &Result<T, CasError>,
    ok: impl FnOnce(&T) -> StatusCode,
) -> (StatusCode, Option<String>) {
    match outcome {
        Ok(r) => (ok(r), None),
        Err(e) => (e.status(), Some(e.to_string())),
    }
}

/// A string field of a JSON body, whatever else the body holds (for the audit).
fn str_field(parsed: Option<&Value>, k: &str) -> Option<String> {
    parsed
        .and_then(|v| v.get(k))
        .and_then(|v| v.as_str())
        .map(str::to_owned)
}

/// A `POST /rreguri` answered: 201 with `Location` for a new PeI, 200 for one already
/// registered (the stub's idempotency on the name).
pub(super) struct Registered {
    resource_id: String,
    created: bool,
}

impl Registered {
    fn status(&self) -> StatusCode {
        if self.created {
            StatusCode::CREATED
        } else {
            StatusCode::OK
        }
    }
}

impl IntoResponse for Registered {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response =
            (status, Json(json!({ "resource_id": self.resource_id }))).into_response();
        if self.created
            && let Ok(v) = HeaderValue::from_str(&format!("/rreguri/{}", self.resource_id))
        {
            response.headers_mut().insert(header::LOCATION, v);
        }
        response
    }
}

pub(super) async fn register(
    State(cas): State<Cas>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Registered, CasError> {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    let field = |k: &str| str_field(parsed.as_ref(), k);
    // Only what the evidence needs is kept of an attempt: a refused 900 KB name is cut to
    // the head that identifies it, so refused calls cannot grow the C&A's memory.
    let (name, inbound_request_id) = (
        field("name").map(|n| keep_head(n, ATTEMPT_FIELD_LIMIT)),
        field("inbound_request_id").map(|n| keep_head(n, ATTEMPT_FIELD_LIMIT)),
    );
    let outcome = register_inner(&cas, &headers, &body);
    let (status, refusal) = answered(&outcome, Registered::status);
    cas.record_call(
        CallSeen {
            method: "POST",
            headers: &headers,
            resource_id: None,
            name: name.clone(),
            inbound_request_id: inbound_request_id.clone(),
            detail: field("match_status"),
        },
        status,
        refusal.clone(),
    );
    let attempt = RegistrationAttempt {
        name,
        inbound_request_id,
        status: status.as_u16(),
        at: Utc::now(),
        refusal,
    };
    let mut state = cas.state();
    let key = state.attempts.len().to_string();
    cas.persist_observation(|| Ok(vec![Op::put(Scope::Live, K_ATTEMPT, key, &attempt)?]));
    state.attempts.push(attempt);
    drop(state);
    cas.changed();
    outcome
}

/// The refusal of a body that is not JSON.
fn not_json() -> CasError {
    CasError::BadRequest("the body must be a JSON object".to_owned())
}

fn register_inner(cas: &Cas, headers: &HeaderMap, body: &[u8]) -> Result<Registered, CasError> {
    let pat = cas.authenticate_pat(headers)?;
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(not_json());
    };
    let field = |k: &str| body.get(k).cloned().unwrap_or(Value::Null);
    let name = field("name");
    let Some(name_str) = name
        .as_str()
        .filter(|n| PEI_NAME.as_ref().is_some_and(|re| re.is_match(n)))
    else {
        return Err(CasError::field(
            "name",
            &name,
            "must be urn:pei:<holderGuid>:<assetGuid>",
        ));
    };
    if let (Some(holder), Some((name_holder, _))) = (&pat.holder, pei_parts(name_str))
        && !holder.eq_ignore_ascii_case(name_holder)
    {
        return Err(CasError::field(
            "name",
            &name,
            "the holder GUID is not the holdername GUID the PAT was issued for",
        ));
    }
    let description = field("description");
    let Some(description_str) = description.as_str().filter(|d| !d.is_empty()) else {
        return Err(CasError::field(
            "description",
            &description,
            "required, at least 1 character",
        ));
    };
    let status = field("match_status");
    let Some(match_status) = status.as_str().and_then(MatchStatus::from_wire) else {
        return Err(CasError::field(
            "match_status",
            &status,
            "must be match-yes or match-possible",
        ));
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
        return Err(CasError::field(
            "resource_scopes",
            &scopes,
            "must be a non-empty array of owner, value, delegate",
        ));
    };
    // Absent is allowed; an explicit null is not: rreguri-v1_2.yaml types it a string.
    let inbound_request_id = match body.get("inbound_request_id") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => {
            return Err(CasError::field(
                "inbound_request_id",
                other,
                "must be a string",
            ));
        }
    };
    let request_id = request_id(headers);
    let mut state = cas.state();
    if let Some(existing) = state
        .registrations
        .iter()
        .find(|r| r.name.eq_ignore_ascii_case(name_str) && r.deleted.is_none())
    {
        return Ok(Registered {
            resource_id: existing.resource_id.clone(),
            created: false,
        });
    }
    if state.post_request_ids.contains(&request_id) {
        return Err(CasError::Conflict(
            "X-Request-ID was already used for a registration",
        ));
    }
    let resource_id = mint_resource_id();
    let registration = Registration {
        resource_id: resource_id.clone(),
        name: name_str.to_owned(),
        description: description_str.to_owned(),
        match_status,
        resource_scopes: scope_list,
        inbound_request_id,
        request_id: request_id.clone(),
        registered_at: Utc::now(),
        pat_jti: pat.jti,
        holder: pat.holder,
        deleted: None,
        patches: Vec::new(),
    };
    cas.persist(|| {
        Ok(vec![
            Op::put(Scope::Live, K_REGISTRATION, &resource_id, &registration)?,
            Op::put(Scope::Live, K_POST_REQUEST_ID, &request_id, &true)?,
            Op::put(Scope::Kept, K_NAME, &resource_id, &name_str)?,
        ])
    })?;
    state.post_request_ids.insert(request_id);
    state.registrations.push(registration);
    // Lock order state, then audit.
    cas.audit()
        .names
        .insert(resource_id.clone(), name_str.to_owned());
    drop(state);
    cas.changed();
    Ok(Registered {
        resource_id,
        created: true,
    })
}

/// Find a live registration owned by this PAT, or the stub's 404/401.
fn owned<'a>(
    state: &'a mut CasState,
    resource_id: &str,
    pat: &PatRecord,
) -> Result<&'a mut Registration, CasError> {
    let reg = state
        .registrations
        .iter_mut()
        .find(|r| r.resource_id == resource_id && r.deleted.is_none())
        .ok_or(CasError::NotFound("resource_id is not registered"))?;
    if !pat.may_act_on(reg) {
        return Err(CasError::not_the_holder());
    }
    Ok(reg)
}

pub(super) async fn get_registration(
    State(cas): State<Cas>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<Value>, CasError> {
    let pat = cas.authenticate_pat(&headers)?;
    let mut state = cas.state();
    let r = owned(&mut state, &resource_id, &pat)?;
    Ok(Json(json!({
        "resource_id": r.resource_id,
        "name": r.name,
        "description": r.description,
        "match_status": r.match_status,
        "resource_scopes": r.resource_scopes,
    })))
}

pub(super) async fn patch_registration(
    State(cas): State<Cas>,
    Path(resource_id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, CasError> {
    let parsed = serde_json::from_slice::<Value>(&body).ok();
    let field = |k: &str| str_field(parsed.as_ref(), k);
    let outcome = patch_inner(&cas, &resource_id, &headers, &body);
    let (status, refusal) = answered(&outcome, |_| StatusCode::OK);
    cas.record_call(
        CallSeen {
            method: "PATCH",
            headers: &headers,
            resource_id: Some(&resource_id),
            name: None,
            inbound_request_id: field("inbound_request_id"),
            detail: field("match_status"),
        },
        status,
        refusal,
    );
    outcome
}

fn patch_inner(
    cas: &Cas,
    resource_id: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Json<Value>, CasError> {
    let pat = cas.authenticate_pat(headers)?;
    let Ok(body) = serde_json::from_slice::<Value>(body) else {
        return Err(not_json());
    };
    let status = body.get("match_status").cloned().unwrap_or(Value::Null);
    if status.as_str().and_then(MatchStatus::from_wire) != Some(MatchStatus::Yes) {
        return Err(CasError::field(
            "match_status",
            &status,
            "only match-yes may be PATCHed; delete a PeI that is not a match",
        ));
    }
    let mut state = cas.state();
    let r = owned(&mut state, resource_id, &pat)?;
    let mut patched = r.clone();
    patched.match_status = MatchStatus::Yes;
    patched.patches.push(MatchStatus::Yes.wire().to_owned());
    if let Some(id) = body.get("inbound_request_id").and_then(|v| v.as_str()) {
        patched.inbound_request_id = Some(id.to_owned());
    }
    cas.persist(|| {
        Ok(vec![Op::put(
            Scope::Live,
            K_REGISTRATION,
            &patched.resource_id,
            &patched,
        )?])
    })?;
    *r = patched;
    let answer = Json(json!({ "resource_id": r.resource_id }));
    drop(state);
    cas.changed();
    Ok(answer)
}

#[derive(Debug, Deserialize)]
pub(super) struct DeleteQuery {
    deletion_reason: Option<String>,
}

pub(super) async fn delete_registration(
    State(cas): State<Cas>,
    Path(resource_id): Path<String>,
    Query(query): Query<DeleteQuery>,
    headers: HeaderMap,
) -> Result<StatusCode, CasError> {
    let reason = query.deletion_reason.clone();
    let outcome = delete_inner(&cas, &resource_id, query, &headers);
    let (status, refusal) = answered(&outcome, |s| *s);
    cas.record_call(
        CallSeen {
            method: "DELETE",
            headers: &headers,
            resource_id: Some(&resource_id),
            name: None,
            inbound_request_id: None,
            detail: reason,
        },
        status,
        refusal,
    );
    outcome
}

fn delete_inner(
    cas: &Cas,
    resource_id: &str,
    query: DeleteQuery,
    headers: &HeaderMap,
) -> Result<StatusCode, CasError> {
    let pat = cas.authenticate_pat(headers)?;
    let Some(reason) = query.deletion_reason else {
        return Err(CasError::BadRequest(
            "deletion_reason is required".to_owned(),
        ));
    };
    let mut state = cas.state();
    let reg = owned(&mut state, resource_id, &pat)?;
    let Some(known) = DeletionReason::from_wire(&reason) else {
        return Err(CasError::BadRequest(
            "deletion_reason must be match-no, match-timeout, match-withdrawn or asset-removed"
                .to_owned(),
        ));
    };
    if !known.may_remove(reg.match_status) {
        return Err(CasError::BadRequest(format!(
            "deletion_reason {reason} is not allowed for a PeI with match_status {}",
            reg.match_status
        )));
    }
    let mut deleted = reg.clone();
    deleted.deleted = Some(Deletion {
        reason,
        at: Utc::now(),
    });
    cas.persist(|| {
        Ok(vec![Op::put(
            Scope::Live,
            K_REGISTRATION,
            &deleted.resource_id,
            &deleted,
        )?])
    })?;
    *reg = deleted;
    drop(state);
    cas.changed();
    Ok(StatusCode::NO_CONTENT)
}

impl Cas {
    /// Record a `/rreguri` call for the audit and wake the waiting steps.
    fn record_call(&self, call: CallSeen<'_>, status: StatusCode, refusal: Option<String>) {
        let CallSeen {
            method,
            headers,
            resource_id,
            name,
            inbound_request_id,
            detail,
        } = call;
        let status = status.as_u16();
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
            refusal: short(refusal),
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
    }
}
