//! The view endpoint: no RPT -> a permission ticket from `/perm` and a 401 challenge; with an
//! RPT -> `/introspect` and its checks -> a signed view data token. Also what it publishes at
//! its own JWKS path, and the record of each view served that the organisation's reporting is
//! derived from. One concept: what a provider owes a dashboard for a view.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use super::cas_client::{CasCallError, TOKEN_TYPE_RPT};
use super::matching::MatchOutcome;
use super::{
    Fault, ReferenceProvider, RegisteredAsset, error, header_str, valid_request_id, view_data,
};
use crate::net::jwt;
use crate::protocol::served_views::{ServedView, flags_of};

/// Why an RPT does not grant the view.
#[derive(Debug, thiserror::Error)]
pub enum RptRefusal {
    #[error(transparent)]
    Cas(#[from] CasCallError),
    #[error("introspection answered {0}")]
    Introspection(u16),
    #[error("the RPT is not active")]
    Inactive,
    #[error("the token is not an RPT")]
    NotAnRpt,
    #[error("the RPT has expired")]
    Expired,
    #[error("the RPT grants no owner permission on this resource")]
    NoOwnerPermission,
}

/// Why no view data token could be made.
#[derive(Debug, thiserror::Error)]
pub enum ViewTokenError {
    #[error("asset {0} is not in the test pack")]
    NotInPack(String),
    #[error("{0}")]
    Sign(#[source] jsonwebtoken::errors::Error),
}

pub(super) async fn view(
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
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

pub(super) async fn jwks(State(provider): State<ReferenceProvider>) -> Response {
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

impl ReferenceProvider {
    /// The view requests served so far: what the organisation's reporting is derived from.
    pub fn served_views(&self) -> Vec<ServedView> {
        self.inner
            .served
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Carry the view requests an earlier instance served over a restart.
    pub fn adopt_served_views(&self, earlier: Vec<ServedView>) {
        if let Ok(mut served) = self.inner.served.lock() {
            let mine = std::mem::replace(&mut *served, earlier);
            served.extend(mine);
        }
    }

    /// Log a served view request; for a 200, what its view data carried.
    fn note_view(&self, asset_guid: &str, received_at: DateTime<Utc>, status: u16) {
        let o = self.opts();
        let flags = if status == 200 {
            let outcome = self.state().by_asset.get(asset_guid).map(|a| a.outcome);
            match (o.pack.pension(asset_guid), outcome) {
                (Some(pension), Some(MatchOutcome::Yes)) => flags_of(&view_data::view_data(
                    view_data::arrangements(o.pack.as_ref(), pension, &o.faults),
                )),
                (Some(pension), Some(MatchOutcome::Possible)) => flags_of(&view_data::view_data(
                    view_data::possible_match_arrangements(o.pack.as_ref(), pension, &o.faults),
                )),
                _ => Default::default(),
            }
        } else {
            Default::default()
        };
        if let Ok(mut v) = self.inner.served.lock() {
            v.push(ServedView {
                received_at,
                responded_at: Utc::now(),
                status,
                asset_guid: asset_guid.to_owned(),
                flags,
            });
        }
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
    async fn rpt_grants(&self, asset: &RegisteredAsset, rpt: &str) -> Result<(), RptRefusal> {
        let url = format!("{}/introspect", self.opts().cas_base_url);
        let (status, v, used) = self
            .call_cas_with_pat(&asset.pat, |c, pat| {
                c.post(&url).bearer_auth(pat).form(&[("token", rpt)])
            })
            .await?;
        self.keep_pat(asset, used);
        if status != 200 {
            return Err(RptRefusal::Introspection(status));
        }
        if self.opts().faults.has(Fault::IgnoresIntrospectionResult) {
            // Deliberate defect: any answer from /introspect taken as a grant.
            return Ok(());
        }
        let now = jwt::now_epoch();
        if v["active"] != Value::Bool(true) {
            return Err(RptRefusal::Inactive);
        }
        if v["token_type"].as_str() != Some(TOKEN_TYPE_RPT) {
            return Err(RptRefusal::NotAnRpt);
        }
        if v["exp"].as_i64().is_some_and(|exp| exp <= now) {
            return Err(RptRefusal::Expired);
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
            Err(RptRefusal::NoOwnerPermission)
        }
    }

    fn view_token(
        &self,
        asset_guid: &str,
        asset: &RegisteredAsset,
    ) -> Result<String, ViewTokenError> {
        let o = self.opts();
        let pack = &o.pack;
        let served_asset = if o.faults.has(Fault::ViewDataForWrongPei) {
            pack.pensions()
                .iter()
                .map(|p| p.asset_guid.get_ref().to_ascii_lowercase())
                .find(|a| a != asset_guid)
                .unwrap_or_else(|| asset_guid.to_owned())
        } else {
            asset_guid.to_owned()
        };
        let pension = pack
            .pension(&served_asset)
            .ok_or(ViewTokenError::NotInPack(served_asset.clone()))?;
        let arrangements = match asset.outcome {
            MatchOutcome::Yes => view_data::arrangements(pack.as_ref(), pension, &o.faults),
            MatchOutcome::Possible => {
                view_data::possible_match_arrangements(pack.as_ref(), pension, &o.faults)
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
        key.sign(&claims).map_err(ViewTokenError::Sign)
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
