//! What a load test sent and saw, as the run record keeps it (`pdp-harness load`'s figures).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One measure's distribution, in milliseconds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    /// "acknowledgement", "service", "registration" or "view".
    pub measure: String,
    /// What it is measured from and to.
    pub definition: String,
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// What a load test sent and saw: the figures of its evidence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoadSummary {
    pub find_url: String,
    pub requested_rate: f64,
    /// Finds sent per second over the sending window.
    pub achieved_rate: f64,
    pub duration_secs: f64,
    pub match_share: f64,
    pub max_in_flight: usize,
    pub timeout_ms: u64,
    pub finds_planned: u64,
    pub finds_sent: u64,
    pub matching_finds: u64,
    /// Answered with 202.
    pub acknowledged: u64,
    /// Answered otherwise, or not at all for another reason than the timeout.
    pub errors: u64,
    /// Each kind of error with its count, e.g. "status 500" or "connection".
    pub error_kinds: BTreeMap<String, u64>,
    pub timeouts: u64,
    pub registrations_expected: u64,
    pub registrations_observed: u64,
    /// Expected but not seen within the registration timeout.
    pub registrations_missing: u64,
    /// Seen for a find that should have registered nothing (or that pension again).
    pub registrations_unexpected: u64,
    #[serde(default)]
    pub views_ok: u64,
    #[serde(default)]
    pub view_errors: u64,
    pub latencies: Vec<LatencySummary>,
}

impl LoadSummary {
    /// Every find answered with 202 in time, every expected registration seen, nothing
    /// unexpected, every view served.
    pub fn passed(&self) -> bool {
        self.finds_sent == self.finds_planned
            && self.acknowledged == self.finds_sent
            && self.registrations_missing == 0
            && self.registrations_unexpected == 0
            && self.view_errors == 0
    }

    pub fn latency(&self, measure: &str) -> Option<&LatencySummary> {
        self.latencies.iter().find(|l| l.measure == measure)
    }
}
