//! `/perm` (perm-v1_1.yaml): a provider with a live PAT for the resource's holdername asks for
//! a permission ticket, which the dashboard redeems at `/token` for an RPT.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Cas;
use super::claims::CasClaims;
use super::error::CasError;
use super::state::{K_TICKET, TicketRecord};
use crate::cda::store::{Op, Scope};
use crate::net::jwt;
use crate::protocol::tokens::TokenType;

#[derive(Debug, Deserialize)]
struct PermRequest {
    resource_id: Option<Value>,
    resource_scopes: Option<Value>,
}

pub(super) async fn perm(
    State(cas): State<Cas>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Value>), CasError> {
    let pat = cas.authenticate_pat(&headers)?;
    let Ok(req) = serde_json::from_slice::<PermRequest>(&body) else {
        return Err(CasError::BadRequest(
            "the body must be a JSON object".to_owned(),
        ));
    };
    let Some(resource_id) = req.resource_id.as_ref().and_then(|v| v.as_str()) else {
        return Err(CasError::field(
            "resource_id",
            &req.resource_id.unwrap_or_default(),
            "required",
        ));
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
        return Err(CasError::field(
            "resource_scopes",
            &req.resource_scopes.unwrap_or_default(),
            "must be exactly [\"value\", \"owner\"]",
        ));
    }
    let now = jwt::now_epoch();
    let mut state = cas.state();
    let Some(reg) = state
        .registrations
        .iter()
        .find(|r| r.resource_id == resource_id && r.deleted.is_none())
    else {
        return Err(CasError::NotFound("resource_id is not registered"));
    };
    if !pat.may_act_on(reg) {
        return Err(CasError::not_the_holder());
    }
    let s = &cas.inner.settings;
    let claims = CasClaims {
        iss: s.issuer.clone(),
        sub: resource_id.to_owned(),
        iat: now,
        exp: now + s.lifetimes.ticket.as_secs() as i64,
        jti: uuid::Uuid::new_v4().to_string(),
        token_type: TokenType::Ticket,
        scope: Some(scopes.join(" ")),
        holder: None,
        permissions: None,
        azp: None,
    };
    let ticket = cas.sign(&claims)?;
    let record = TicketRecord {
        jti: claims.jti.clone(),
        resource_id: resource_id.to_owned(),
        scopes,
        expires: claims.exp,
        redeemed: false,
    };
    cas.persist(|| Ok(vec![Op::put(Scope::Live, K_TICKET, &claims.jti, &record)?]))?;
    state.tickets.insert(claims.jti.clone(), record);
    drop(state);
    cas.changed();
    Ok((StatusCode::CREATED, Json(json!({ "ticket": ticket }))))
}
