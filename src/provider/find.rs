//! The find endpoint: validate the find request token against the CDA's keys, keep the find
//! and answer 202 at once, then match in the background and register each match at the C&A's
//! `/rreguri` (with the deliberate registration defects of the audit tests). One concept:
//! what a provider owes the CDA for a find.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jsonwebtoken::jwk::JwkSet;
use serde_json::{Value, json};

use super::cas_client::CasCallError;
use super::journal::PendingFind;
use super::matching::{self, MatchOutcome};
use super::{Fault, ReferenceProvider, RegisteredAsset, error, header_str, valid_request_id};
use crate::net::jwt::{self, Expect};
use crate::protocol::contract::FindBodyMode;

/// The CDA's key set could not be fetched.
#[derive(Debug, thiserror::Error)]
pub enum JwksError {
    #[error("CDA JWKS {url} unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("CDA JWKS {url} unreadable: {source}")]
    Unreadable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
}

pub(super) async fn find(
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
    let without_id = lenient
        || (o.faults.has(Fault::AcceptsFindWithoutRequestId)
            && !headers.contains_key(c.request_id_header.as_str()));
    let request_id = valid_request_id(&headers, &c.request_id_header)
        .or_else(|| without_id.then(|| uuid::Uuid::new_v4().to_string()));
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
                Err(e) => return error(StatusCode::SERVICE_UNAVAILABLE, &e.to_string()),
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
        let results: Vec<Value> = matching::find_matches(o.pack.as_ref(), &data)
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
    /// The keys find request tokens are signed with, fetched once.
    async fn cda_jwks(&self) -> Result<&JwkSet, JwksError> {
        self.inner
            .cda_jwks
            .get_or_try_init(|| async {
                let url = &self.opts().cda_jwks_url;
                let resp = self.opts().client.get(url).send().await.map_err(|source| {
                    JwksError::Unreachable {
                        url: url.clone(),
                        source,
                    }
                })?;
                resp.json::<JwkSet>()
                    .await
                    .map_err(|source| JwksError::Unreadable {
                        url: url.clone(),
                        source,
                    })
            })
            .await
    }

    /// Match asynchronously and register every match (the find was already acknowledged).
    pub(super) async fn process_find(
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
        let mut matches = matching::find_matches(o.pack.as_ref(), &data);
        if matches.is_empty() && o.faults.has(Fault::RegistersOnNoMatch) {
            // Deliberate defect: register something anyway.
            let registered = self.state().by_asset.keys().cloned().collect::<Vec<_>>();
            if let Some(p) = o
                .pack
                .pensions()
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
            Err(CasCallError::NoFindToken)
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
                o.pack.provider().scheme_name.clone()
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
                .pensions()
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
}
