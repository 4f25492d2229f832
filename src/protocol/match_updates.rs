//! The match-update file: what PDP sends an organisation between stage 1 and stage 2, and what
//! the organisation applies in its own system (possible matches confirmed or rejected, matches
//! withdrawn, assets removed). The format lives here, below the harness that writes it and the
//! reference provider that applies it, so neither imports the other.
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

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "pdp-harness match updates v1";
pub const FILE_NAME: &str = "match-updates.json";

/// Where the reference provider takes a match-update file (`POST`, the file as the body; the
/// answer is one [`AppliedUpdate`] per update).
pub const MATCH_UPDATES_PATH: &str = "/test-support/match-updates";

/// What happens to a stage-1 registration in the match-update file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum UpdateAction {
    /// A possible match confirmed: PATCH to match-yes.
    Confirm,
    /// A possible match found not to be a match: DELETE with match-no.
    Reject,
    /// A possible match not confirmed in time: DELETE with match-timeout.
    Expire,
    /// An erroneous match-yes withdrawn: DELETE with match-withdrawn.
    Withdraw,
    /// The asset was removed (crystallised, transferred out): DELETE with asset-removed.
    Remove,
}

impl UpdateAction {
    /// The `deletion_reason`, or None for a confirmation.
    pub fn deletion_reason(self) -> Option<&'static str> {
        match self {
            UpdateAction::Confirm => None,
            UpdateAction::Reject => Some("match-no"),
            UpdateAction::Expire => Some("match-timeout"),
            UpdateAction::Withdraw => Some("match-withdrawn"),
            UpdateAction::Remove => Some("asset-removed"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            UpdateAction::Confirm => "confirm",
            UpdateAction::Reject => "reject",
            UpdateAction::Expire => "expire",
            UpdateAction::Withdraw => "withdraw",
            UpdateAction::Remove => "remove",
        }
    }
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
