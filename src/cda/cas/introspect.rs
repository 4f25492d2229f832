//! `/introspect` (introspect-v1_1.yaml): a provider with a live PAT asks whether an RPT the
//! dashboard presented is active, and for which of its resources. Every call is recorded for
//! the steps that check the provider introspected before answering a view.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use serde_json::{Value, json};

use super::Cas;
use super::claims::{CasClaims, Permission};
use super::error::CasError;
use super::state::{IntrospectionRecord, K_INTROSPECTION};
use crate::cda::store::{Op, Scope};
use crate::net::jwt::{self, Expect};
use crate::protocol::tokens::TokenType;

pub(super) async fn introspect(
    State(cas): State<Cas>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Result<Json<Value>, CasError> {
    let pat = cas.authenticate_pat(&headers)?;
    let token = url::form_urlencoded::parse(&body)
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned());
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Err(CasError::BadRequest(
            "form parameter token (the RPT) is required".to_owned(),
        ));
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
            return Ok(Json(json!({ "active": false })));
        }
        Err(e) => {
            return Err(CasError::BadRequest(format!(
                "the token is not an RPT of this C&A: {e}"
            )));
        }
    };
    let known = cas.state().rpts.contains_key(&claims.jti);
    if claims.token_type != TokenType::Rpt || !known {
        return Err(CasError::NotFound("the RPT is not known to the C&A"));
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
        return Err(CasError::Unauthorised(
            "the PAT does not allow access to the account referenced by the RPT".to_owned(),
        ));
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
        return Ok(Json(json!({ "active": false })));
    }
    Ok(Json(json!({
        "active": active,
        "token_type": TokenType::Rpt,
        "exp": claims.exp,
        "iss": claims.azp.unwrap_or_else(|| cas.inner.settings.dashboard_issuer.clone()),
        "permissions": permissions,
    })))
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
