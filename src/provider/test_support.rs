//! The test-support endpoints an organisation's own system would not expose to the CDA:
//! clear-down (forget every registration and PAT between runs) and the match-update file
//! applied at the C&A (PATCH to match-yes, or DELETE with the update's reason), as an
//! organisation applies PDP's stage-2 updates in its own system.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::matching::MatchOutcome;
use super::{Fault, ProviderState, ReferenceProvider, error};
use crate::protocol::match_updates::{AppliedUpdate, MatchUpdate, MatchUpdateFile, UpdateAction};

pub(super) async fn clear_down(State(provider): State<ReferenceProvider>) -> Response {
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

pub(super) async fn match_updates(
    State(provider): State<ReferenceProvider>,
    Json(file): Json<MatchUpdateFile>,
) -> Response {
    let mut results = Vec::with_capacity(file.updates.len());
    for u in &file.updates {
        results.push(provider.apply_update(u).await);
    }
    Json(results).into_response()
}
