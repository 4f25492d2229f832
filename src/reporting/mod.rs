//! Reporting: the provider's daily submissions to the MaPS reporting API (yaml v2.1), as PDP's
//! reporting integration test needs them: all six endpoints, inside one UTC calendar day.
//!
//! - [`model`]: the six request bodies as Rust types, null variants only where the spec has
//!   them; [`plan`]: the records of a submission, batched beyond the array limits;
//! - [`validate`]: one validator, used by the client before sending and by the simulator on
//!   receipt, whose errors name the field and carry the spec's `INVALID_*` code;
//!   [`standards`]: the rules the standards add that the schema admits (response times);
//! - [`sources`]: where the data comes from (derived from the run, exported files, null set);
//! - [`client`]: mTLS submission with retries, backoff and problem+json parsing;
//! - [`journal`]: what was sent and what came back, so a rerun never resends by accident;
//! - [`clock`]: an injectable clock and the UTC-day guard;
//! - [`simulator`]: the reporting API on the embedded default, with forced errors and the
//!   per-UTC-day pipeline check;
//! - [`received`]: what `serve`'s simulator received from the organisation's own client,
//!   kept in a file, and the day's verdict as PDP's pipeline gives it;
//! - [`reconcile`]: what the organisation reports against what the harness observed;
//! - [`session`]: the pieces wired together for a run;
//! - [`config`]: its own sections of the target file, parsed and checked;
//! - [`setup`]: a run's session from those sections (real API or simulator).

pub mod client;
pub mod clock;
pub mod config;
pub mod journal;
pub mod model;
pub mod plan;
pub mod received;
pub mod reconcile;
pub mod session;
pub mod setup;
pub mod simulator;
pub mod sources;
pub mod standards;
pub mod validate;

use serde::{Deserialize, Serialize};

/// The six reporting endpoints (all `POST`), in the order the yaml lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Endpoint {
    ServiceAvailabilityFind,
    ServiceAvailabilityView,
    ViewResponseRequestNumber,
    ViewResponseResponseTime,
    ViewResponseCalculations,
    ViewResponseUnavailable,
}

impl Endpoint {
    pub const ALL: [Endpoint; 6] = [
        Endpoint::ServiceAvailabilityFind,
        Endpoint::ServiceAvailabilityView,
        Endpoint::ViewResponseRequestNumber,
        Endpoint::ViewResponseResponseTime,
        Endpoint::ViewResponseCalculations,
        Endpoint::ViewResponseUnavailable,
    ];

    /// The path as in the yaml, appended to the reporting base URL.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::ServiceAvailabilityFind => "/service-availability/find",
            Endpoint::ServiceAvailabilityView => "/service-availability/view",
            Endpoint::ViewResponseRequestNumber => "/view-response/request-number",
            Endpoint::ViewResponseResponseTime => "/view-response/response-time",
            Endpoint::ViewResponseCalculations => "/view-response/calculations",
            Endpoint::ViewResponseUnavailable => "/view-response/unavailable",
        }
    }

    /// The path without slashes, as used in tags (`@endpoint:...`), file names and config keys.
    pub fn slug(self) -> &'static str {
        match self {
            Endpoint::ServiceAvailabilityFind => "service-availability-find",
            Endpoint::ServiceAvailabilityView => "service-availability-view",
            Endpoint::ViewResponseRequestNumber => "view-response-request-number",
            Endpoint::ViewResponseResponseTime => "view-response-response-time",
            Endpoint::ViewResponseCalculations => "view-response-calculations",
            Endpoint::ViewResponseUnavailable => "view-response-unavailable",
        }
    }

    /// Accepts the path (`/view-response/unavailable`), the path without its leading slash,
    /// or the slug (`view-response-unavailable`).
    pub fn parse(text: &str) -> Option<Endpoint> {
        let t = text.trim();
        Endpoint::ALL
            .into_iter()
            .find(|e| t == e.path() || t == e.slug() || t == e.path().trim_start_matches('/'))
    }

    /// Whether the spec has a null-submission variant for this endpoint (digest 8.1):
    /// not for request-number (the discriminator maps no null variant) nor unavailable
    /// (the reason enum excludes it).
    pub fn allows_null_submission(self) -> bool {
        !matches!(
            self,
            Endpoint::ViewResponseRequestNumber | Endpoint::ViewResponseUnavailable
        )
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.path())
    }
}

/// The submission journal's file name (in the run directory, or beside the target file).
pub const JOURNAL_FILE: &str = "reporting-journal.jsonl";

/// What `serve`'s reporting simulator received (beside the target file by default).
pub const RECEIVED_FILE: &str = "reporting-received.jsonl";

/// The party name reporting exchanges are recorded under in the evidence.
pub const PARTY_REPORTING: &str = "provider -> reporting API";
