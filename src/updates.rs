//! The match-update file: what PDP sends an organisation between stage 1 and stage 2, and what
//! the organisation applies in its own system (possible matches confirmed or rejected, matches
//! withdrawn, assets removed). The harness writes it at the end of stage 1 from the test pack's
//! planned updates and the registrations it saw; `pdp-harness apply-updates` applies it to a
//! reference provider.
//!
//! Format (JSON, `match-updates.json` in the run directory):
//! ```json
//! { "format": "pdp-harness match updates v1", "run_id": "...", "holdername_guid": "...",
//!   "generated_at": "2026-11-23T00:00:00Z",
//!   "updates": [ { "update_id": "U-01", "case": "S1-06", "pei": "urn:pei:<holder>:<asset>",
//!                  "asset_guid": "...", "resource_id": "...", "current_match_status": "match-possible",
//!                  "action": "confirm", "new_match_status": "match-yes", "deletion_reason": null } ] }
//! ```
//! `action` is `confirm` (PATCH to match-yes), or a deletion: `reject` (match-no), `expire`
//! (match-timeout), `withdraw` (match-withdrawn), `remove` (asset-removed).

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cda::cas::{Registration, deletion_allowed};
use crate::testpack::{TestPack, UpdateAction};

pub const FORMAT: &str = "pdp-harness match updates v1";
pub const FILE_NAME: &str = "match-updates.json";

#[derive(Debug, thiserror::Error)]
pub enum UpdatesError {
    #[error("could not read the match-update file {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("could not write the match-update file {path}: {source}")]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path} is not a match-update file: {message}")]
    Invalid { path: PathBuf, message: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchUpdate {
    pub update_id: String,
    pub case: String,
    pub pei: String,
    pub asset_guid: String,
    pub resource_id: String,
    pub current_match_status: String,
    pub action: UpdateAction,
    pub new_match_status: Option<String>,
    pub deletion_reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MatchUpdateFile {
    pub format: String,
    pub run_id: String,
    pub holdername_guid: String,
    pub generated_at: DateTime<Utc>,
    pub updates: Vec<MatchUpdate>,
}

/// The result of applying one update, as the reference provider reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedUpdate {
    pub update_id: String,
    pub applied: bool,
    pub detail: String,
}

impl MatchUpdateFile {
    /// Build the file from the pack's planned updates and the live registrations. Updates
    /// whose registration stage 1 did not leave are returned separately (and left out), so
    /// the others still run and stage 2 names the missing ones.
    pub fn plan(
        pack: &TestPack,
        registrations: &[Registration],
        run_id: &str,
    ) -> (MatchUpdateFile, Vec<String>) {
        let mut updates = Vec::new();
        let mut missing = Vec::new();
        for planned in &pack.updates {
            let asset = planned.asset.get_ref().to_ascii_lowercase();
            let Some(reg) = registrations.iter().find(|r| {
                r.deleted.is_none()
                    && r.asset_guid()
                        .is_some_and(|a| a.eq_ignore_ascii_case(&asset))
            }) else {
                missing.push(format!(
                    "update {} left out: stage 1 left no live registration of asset {asset} (case {})",
                    planned.id.get_ref(),
                    planned.case.get_ref()
                ));
                continue;
            };
            updates.push(MatchUpdate {
                update_id: planned.id.get_ref().clone(),
                case: planned.case.get_ref().clone(),
                pei: reg.name.clone(),
                asset_guid: asset,
                resource_id: reg.resource_id.clone(),
                current_match_status: reg.match_status.clone(),
                action: planned.action,
                new_match_status: (planned.action == UpdateAction::Confirm)
                    .then(|| "match-yes".to_owned()),
                deletion_reason: planned.action.deletion_reason().map(str::to_owned),
            });
        }
        let file = MatchUpdateFile {
            format: FORMAT.to_owned(),
            run_id: run_id.to_owned(),
            holdername_guid: pack.holdername_guid().to_owned(),
            generated_at: Utc::now(),
            updates,
        };
        (file, missing)
    }

    /// Read and check a file: format, actions consistent with reasons and the state rules.
    pub fn load(path: &Path) -> Result<MatchUpdateFile, UpdatesError> {
        let bytes = std::fs::read(path).map_err(|source| UpdatesError::Read {
            path: path.to_owned(),
            source,
        })?;
        let invalid = |message: String| UpdatesError::Invalid {
            path: path.to_owned(),
            message,
        };
        let file: MatchUpdateFile =
            serde_json::from_slice(&bytes).map_err(|e| invalid(e.to_string()))?;
        if file.format != FORMAT {
            return Err(invalid(format!(
                "format is {:?}, expected {FORMAT:?}",
                file.format
            )));
        }
        for u in &file.updates {
            if u.deletion_reason.as_deref() != u.action.deletion_reason() {
                return Err(invalid(format!(
                    "update {}: action {} goes with deletion_reason {:?}, not {:?}",
                    u.update_id,
                    u.action.as_str(),
                    u.action.deletion_reason(),
                    u.deletion_reason
                )));
            }
            if let Some(reason) = &u.deletion_reason
                && deletion_allowed(reason, &u.current_match_status) != Some(true)
            {
                return Err(invalid(format!(
                    "update {}: deletion_reason {reason} is not allowed for a PeI with match_status {}",
                    u.update_id, u.current_match_status
                )));
            }
        }
        Ok(file)
    }

    pub fn save(&self, path: &Path) -> Result<(), UpdatesError> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| UpdatesError::Write {
            path: path.to_owned(),
            source: std::io::Error::other(e),
        })?;
        std::fs::write(path, json).map_err(|source| UpdatesError::Write {
            path: path.to_owned(),
            source,
        })
    }

    pub fn update(&self, id: &str) -> Option<&MatchUpdate> {
        self.updates.iter().find(|u| u.update_id == id)
    }
}

/// Send the file to a reference provider's match-update endpoint and return its results.
pub async fn apply(
    client: &reqwest::Client,
    provider_base_url: &str,
    file: &MatchUpdateFile,
) -> Result<Vec<AppliedUpdate>, String> {
    let url = format!(
        "{}{}",
        provider_base_url.trim_end_matches('/'),
        crate::provider::MATCH_UPDATES_PATH
    );
    let resp = client
        .post(&url)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .json(file)
        .send()
        .await
        .map_err(|e| format!("{url}: {}", crate::tls::error_chain(&e)))?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body)
        ));
    }
    serde_json::from_slice(&body).map_err(|e| format!("{url} answered an unreadable body: {e}"))
}
