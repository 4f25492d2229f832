//! Reconciliation: what the organisation reports (request count, responses over 10 s,
//! unavailable counts) against what the harness observed in the same window: the view
//! requests its dashboard made and their durations on the wire, and what each successful view
//! response carries according to the test pack (which the view steps verify). A difference is
//! a finding in the evidence: either the organisation's reporting miscounts, or it reports
//! traffic the harness did not send.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Endpoint;
use super::model::{EndpointData, UnavailableCounts};
use super::sources::{ViewFlags, counts_of};
use crate::record::run::{Exchange, ReconciliationFinding};

/// What the harness saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    pub view_requests: u64,
    pub slow_responses: u64,
    pub unavailable: UnavailableCounts,
}

/// One compared measure (the evidence's type: what is logged is what was compared).
pub type Finding = ReconciliationFinding;

impl ReconciliationFinding {
    pub fn describe(&self) -> String {
        if self.agrees {
            format!(
                "{}: reported {} = observed {}",
                self.measure, self.reported, self.observed
            )
        } else {
            format!(
                "{}: reported {} but the harness observed {} (difference {:+})",
                self.measure,
                self.reported,
                self.observed,
                self.reported as i128 - self.observed as i128
            )
        }
    }
}

/// The harness's observation from its recorded view exchanges in `[from, to]` (by completion
/// time), with `flags_for(asset_guid)` telling what a 200 response for that asset carries.
pub fn observe(
    exchanges: &[Exchange],
    view_party: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    flags_for: impl Fn(&str) -> Option<ViewFlags>,
) -> Observed {
    let mut o = Observed::default();
    let mut flags = Vec::new();
    for e in exchanges
        .iter()
        .filter(|e| e.party == view_party && e.at >= from && e.at <= to && e.status.is_some())
    {
        o.view_requests += 1;
        if e.duration_ms > 10_000.0 {
            o.slow_responses += 1;
        }
        if e.status == Some(200)
            && let Some(asset) = asset_of(&e.url)
            && let Some(f) = flags_for(&asset)
        {
            flags.push(f);
        }
    }
    o.unavailable = counts_of(flags.iter());
    o
}

/// The asset GUID in a view URL: the last UUID-shaped path segment.
fn asset_of(url: &str) -> Option<String> {
    let path = url.split('?').next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| super::validate::is_uuid(s))
        .map(str::to_ascii_lowercase)
}

/// Compare the data reported for `holder` with the observation.
pub fn reconcile(
    reported: &[(Endpoint, EndpointData)],
    holder: Uuid,
    observed: &Observed,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut push = |measure: &str, reported: u64, observed: u64| {
        out.push(Finding {
            measure: measure.to_owned(),
            reported,
            observed,
            agrees: reported == observed,
        });
    };
    for (endpoint, data) in reported {
        match (endpoint, data) {
            (Endpoint::ViewResponseRequestNumber, EndpointData::RequestNumber(list)) => {
                let n = list
                    .iter()
                    .filter(|(g, _)| *g == holder)
                    .map(|(_, n)| n)
                    .sum();
                push(
                    "view requests received (req_count)",
                    n,
                    observed.view_requests,
                );
            }
            (Endpoint::ViewResponseResponseTime, EndpointData::ResponseTimes(list)) => {
                let n = list
                    .iter()
                    .filter(|(g, _)| *g == holder)
                    .map(|(_, v)| v.len() as u64)
                    .sum();
                push("view responses over 10 s", n, observed.slow_responses);
            }
            (Endpoint::ViewResponseUnavailable, EndpointData::Unavailable(list)) => {
                let mut sum = UnavailableCounts::default();
                for (_, c) in list.iter().filter(|(g, _)| *g == holder) {
                    sum.add(c);
                }
                for ((name, r), (_, o)) in
                    sum.fields().into_iter().zip(observed.unavailable.fields())
                {
                    push(name, r, o);
                }
            }
            _ => {}
        }
    }
    out
}
