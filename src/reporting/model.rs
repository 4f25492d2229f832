//! The six reporting bodies as Rust types (reporting API yaml v2.1, digest 8.2-8.3).
//!
//! A [`Record`] is one request body. Sources produce [`EndpointData`] (what there is to
//! report for an endpoint and period); [`plan`] (in `plan.rs`) turns it into records: data records where
//! there is data, the spec's null-submission variant where there is none and the endpoint has
//! one, and several records sharing one `submission_id` where the array limits (667 holders,
//! 100 periods per holder, 1400 response times, 1300 calculations per array) or the 1 MiB body
//! limit force a split. Timestamps are sent as UTC with milliseconds and `Z`, as every yaml
//! example is.

use chrono::{DateTime, NaiveTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::Endpoint;

/// Holder maps (or null-submission GUIDs) per service-availability request.
pub const MAX_HOLDERS: usize = 667;
/// Unavailability periods per holder per map.
pub const MAX_PERIODS_PER_HOLDER: usize = 100;
/// Response-time items per request.
pub const MAX_RESPONSE_TIMES: usize = 1400;
/// Calculation items per calculation array.
pub const MAX_CALCULATIONS: usize = 1300;
/// Body size limit (the MaPS stub's; the yaml defines 413 without a number).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// `int32` maximum for the counts.
pub const MAX_COUNT: u64 = i32::MAX as u64;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ModelError {
    #[error("{endpoint}: {message}")]
    Invalid { endpoint: Endpoint, message: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SubmissionReason {
    #[serde(rename = "initial submission")]
    Initial,
    #[serde(rename = "resubmission")]
    Resubmission,
    #[serde(rename = "null submission")]
    Null,
}

impl SubmissionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionReason::Initial => "initial submission",
            SubmissionReason::Resubmission => "resubmission",
            SubmissionReason::Null => "null submission",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum SubmissionStatus {
    #[serde(rename = "on time")]
    OnTime,
    #[serde(rename = "correction")]
    Correction,
    #[serde(rename = "late")]
    Late,
}

impl SubmissionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubmissionStatus::OnTime => "on time",
            SubmissionStatus::Correction => "correction",
            SubmissionStatus::Late => "late",
        }
    }
}

/// The fields every body carries (`holdernameGuid` is per payload: #1/#2 have none).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// UUID v4, fresh per record.
    pub record_id: Uuid,
    /// The batch id; `None` is sent as an explicit `null` (null submissions, lone records).
    pub submission_id: Option<Uuid>,
    pub submission_reason: SubmissionReason,
    pub submission_status: SubmissionStatus,
    pub reporting_period_start: DateTime<Utc>,
}

/// One instance of find or view service unavailability.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Outage {
    pub start_date_ts: DateTime<Utc>,
    pub end_date_ts: DateTime<Utc>,
    /// true = planned, false = unplanned.
    pub unavail_scheduled: bool,
    /// 1..255 characters of `[a-zA-Z0-9_ .-]`; see [`sanitise_reason`].
    pub unavail_reason: String,
}

/// A view response that took more than 10 seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlowResponse {
    pub req_date_ts: DateTime<Utc>,
    pub resp_date_ts: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ValueCode {
    #[serde(rename = "DBC")]
    Dbc,
    #[serde(rename = "DCC")]
    Dcc,
}

impl ValueCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ValueCode::Dbc => "DBC",
            ValueCode::Dcc => "DCC",
        }
    }
}

/// An instance where a value was not available for immediate return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Calculation {
    pub value_code: ValueCode,
    pub calculation_start_date: DateTime<Utc>,
    pub calculation_end_date: DateTime<Utc>,
}

/// `single_calculation` or `multiple_calculation` (ERI and accrued arrays).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Calculations {
    Single(Vec<Calculation>),
    Multiple {
        eri: Vec<Calculation>,
        accrued: Vec<Calculation>,
    },
}

impl Calculations {
    pub fn is_empty(&self) -> bool {
        match self {
            Calculations::Single(v) => v.is_empty(),
            Calculations::Multiple { eri, accrued } => eri.is_empty() && accrued.is_empty(),
        }
    }
}

/// The nine counts of `/view-response/unavailable`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnavailableCounts {
    pub contact_count: u64,
    pub missingadmin_count: u64,
    pub temperror_count: u64,
    pub eri_unavail_ano_count: u64,
    pub eri_unavail_ppf_count: u64,
    pub eri_unavail_trn_count: u64,
    pub accrued_unavail_ano_count: u64,
    pub accrued_unavail_ppf_count: u64,
    pub accrued_unavail_trn_count: u64,
}

impl UnavailableCounts {
    /// The field names, in the yaml's order (also the CSV export's count columns).
    pub const NAMES: [&'static str; 9] = [
        "contact_count",
        "missingadmin_count",
        "temperror_count",
        "eri_unavail_ano_count",
        "eri_unavail_ppf_count",
        "eri_unavail_trn_count",
        "accrued_unavail_ano_count",
        "accrued_unavail_ppf_count",
        "accrued_unavail_trn_count",
    ];

    fn values_mut(&mut self) -> [&mut u64; 9] {
        [
            &mut self.contact_count,
            &mut self.missingadmin_count,
            &mut self.temperror_count,
            &mut self.eri_unavail_ano_count,
            &mut self.eri_unavail_ppf_count,
            &mut self.eri_unavail_trn_count,
            &mut self.accrued_unavail_ano_count,
            &mut self.accrued_unavail_ppf_count,
            &mut self.accrued_unavail_trn_count,
        ]
    }

    /// Field by field, in [`Self::NAMES`] order.
    pub fn from_values(values: [u64; 9]) -> UnavailableCounts {
        let mut c = UnavailableCounts::default();
        for (slot, v) in c.values_mut().into_iter().zip(values) {
            *slot = v;
        }
        c
    }

    /// Add `other` field by field.
    pub fn add(&mut self, other: &UnavailableCounts) {
        for (slot, (_, v)) in self.values_mut().into_iter().zip(other.fields()) {
            *slot += v;
        }
    }

    pub fn fields(&self) -> [(&'static str, u64); 9] {
        let mut copy = *self;
        let values = copy.values_mut().map(|v| *v);
        std::array::from_fn(|i| (Self::NAMES[i], values[i]))
    }
}

/// What one body carries besides the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// #1/#2 data: one map per holder (the safer reading of the yaml), periods ≤ 100 each.
    Availability(Vec<(Uuid, Vec<Outage>)>),
    /// #1/#2 null submission: the holders with nothing to report.
    AvailabilityNull(Vec<Uuid>),
    /// #3.
    RequestNumber { holder: Uuid, req_count: u64 },
    /// #4 data.
    ResponseTimes {
        holder: Uuid,
        items: Vec<SlowResponse>,
    },
    /// #5 data.
    Calculations {
        holder: Uuid,
        calculations: Calculations,
    },
    /// #6 (no null variant: zero counts are a normal submission).
    Unavailable {
        holder: Uuid,
        counts: UnavailableCounts,
    },
    /// #4/#5 null submission (`NullSubmission`): the holder and the common fields only.
    HolderNull { holder: Uuid },
}

/// One request body for one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub endpoint: Endpoint,
    pub header: Header,
    pub payload: Payload,
}

/// RFC 3339, UTC, milliseconds, `Z`: `2026-11-21T00:00:00.000Z`.
pub fn ts(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// 00:00:00.000Z of `t`'s UTC day: the period start of daily reporting.
pub fn utc_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    t.date_naive().and_time(NaiveTime::MIN).and_utc()
}

/// Make free text fit `unavail_reason` (1..255 of `[a-zA-Z0-9_ .-]`): other characters
/// become spaces, runs of spaces collapse, and an empty result reads "unspecified".
pub fn sanitise_reason(text: &str) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | ' ' | '.' | '-') {
                c
            } else {
                ' '
            }
        })
        .collect();
    let collapsed = mapped.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = collapsed.chars().take(255).collect();
    if cut.is_empty() {
        "unspecified".to_owned()
    } else {
        cut
    }
}

fn calc_items(items: &[Calculation]) -> Value {
    Value::Array(
        items
            .iter()
            .map(|c| {
                json!({
                    "value_code": c.value_code.as_str(),
                    "calculation_start_date": ts(&c.calculation_start_date),
                    "calculation_end_date": ts(&c.calculation_end_date),
                })
            })
            .collect(),
    )
}

impl Record {
    /// The JSON body exactly as sent: every required key present, `submission_id: null`
    /// explicit, no other keys.
    pub fn to_json(&self) -> Value {
        let h = &self.header;
        let mut m = Map::new();
        m.insert("record_id".into(), json!(h.record_id.to_string()));
        m.insert(
            "submission_id".into(),
            h.submission_id
                .map_or(Value::Null, |s| Value::String(s.to_string())),
        );
        m.insert(
            "submission_reason".into(),
            json!(h.submission_reason.as_str()),
        );
        m.insert(
            "submission_status".into(),
            json!(h.submission_status.as_str()),
        );
        m.insert(
            "reporting_period_start".into(),
            json!(ts(&h.reporting_period_start)),
        );
        let holder = |m: &mut Map<String, Value>, g: &Uuid| {
            m.insert("holdernameGuid".into(), json!(g.to_string()));
        };
        match &self.payload {
            Payload::Availability(maps) => {
                let items: Vec<Value> = maps
                    .iter()
                    .map(|(g, outages)| {
                        let periods: Vec<Value> = outages
                            .iter()
                            .map(|o| {
                                json!({
                                    "start_date_ts": ts(&o.start_date_ts),
                                    "end_date_ts": ts(&o.end_date_ts),
                                    "unavail_scheduled": o.unavail_scheduled,
                                    "unavail_reason": o.unavail_reason,
                                })
                            })
                            .collect();
                        let mut map = Map::new();
                        map.insert(g.to_string(), Value::Array(periods));
                        Value::Object(map)
                    })
                    .collect();
                m.insert("items".into(), Value::Array(items));
            }
            Payload::AvailabilityNull(holders) => {
                m.insert(
                    "items".into(),
                    Value::Array(holders.iter().map(|g| json!(g.to_string())).collect()),
                );
            }
            Payload::RequestNumber {
                holder: g,
                req_count,
            } => {
                holder(&mut m, g);
                m.insert("req_count".into(), json!(req_count));
            }
            Payload::ResponseTimes { holder: g, items } => {
                holder(&mut m, g);
                let items: Vec<Value> = items
                    .iter()
                    .map(|s| {
                        json!({
                            "req_date_ts": ts(&s.req_date_ts),
                            "resp_date_ts": ts(&s.resp_date_ts),
                        })
                    })
                    .collect();
                m.insert("items".into(), Value::Array(items));
            }
            Payload::Calculations {
                holder: g,
                calculations,
            } => {
                holder(&mut m, g);
                match calculations {
                    Calculations::Single(items) => {
                        m.insert("calculation_type".into(), json!("single"));
                        m.insert(
                            "single_calculation".into(),
                            json!({ "items": calc_items(items) }),
                        );
                    }
                    Calculations::Multiple { eri, accrued } => {
                        m.insert("calculation_type".into(), json!("multiple"));
                        m.insert(
                            "multiple_calculation".into(),
                            json!({
                                "eriCalculationData": { "items": calc_items(eri) },
                                "accruedCalculationData": { "items": calc_items(accrued) },
                            }),
                        );
                    }
                }
            }
            Payload::Unavailable { holder: g, counts } => {
                holder(&mut m, g);
                for (k, v) in counts.fields() {
                    m.insert(k.into(), json!(v));
                }
            }
            Payload::HolderNull { holder: g } => holder(&mut m, g),
        }
        Value::Object(m)
    }

    /// The serialised body.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.to_json()).unwrap_or_default()
    }

    pub fn is_null_submission(&self) -> bool {
        self.header.submission_reason == SubmissionReason::Null
    }

    /// The holdernameGuids this record reports on.
    pub fn holders(&self) -> Vec<Uuid> {
        match &self.payload {
            Payload::Availability(maps) => maps.iter().map(|(g, _)| *g).collect(),
            Payload::AvailabilityNull(h) => h.clone(),
            Payload::RequestNumber { holder, .. }
            | Payload::ResponseTimes { holder, .. }
            | Payload::Calculations { holder, .. }
            | Payload::Unavailable { holder, .. }
            | Payload::HolderNull { holder } => vec![*holder],
        }
    }

    /// A short description for consoles and the evidence, e.g. "3 holders, 5 periods".
    pub fn summary(&self) -> String {
        match &self.payload {
            Payload::Availability(maps) => format!(
                "{} holder(s), {} unavailability period(s)",
                maps.len(),
                maps.iter().map(|(_, o)| o.len()).sum::<usize>()
            ),
            Payload::AvailabilityNull(h) => format!("null submission for {} holder(s)", h.len()),
            Payload::RequestNumber { req_count, .. } => format!("req_count {req_count}"),
            Payload::ResponseTimes { items, .. } => {
                format!("{} response(s) over 10 s", items.len())
            }
            Payload::Calculations { calculations, .. } => match calculations {
                Calculations::Single(v) => format!("single, {} calculation(s)", v.len()),
                Calculations::Multiple { eri, accrued } => format!(
                    "multiple, {} ERI and {} accrued calculation(s)",
                    eri.len(),
                    accrued.len()
                ),
            },
            Payload::Unavailable { counts, .. } => {
                let total: u64 = counts.fields().iter().map(|(_, v)| v).sum();
                format!("unavailable counts, total {total}")
            }
            Payload::HolderNull { .. } => "null submission".to_owned(),
        }
    }
}

/// What there is to report for one endpoint and period, per holder, before batching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EndpointData {
    /// #1 or #2: each holder with its unavailability periods (none = nothing to report).
    Availability(Vec<(Uuid, Vec<Outage>)>),
    /// #3: view requests received per holder.
    RequestNumber(Vec<(Uuid, u64)>),
    /// #4: responses over 10 s per holder.
    ResponseTimes(Vec<(Uuid, Vec<SlowResponse>)>),
    /// #5: calculations per holder.
    Calculations(Vec<(Uuid, Calculations)>),
    /// #6: counts per holder.
    Unavailable(Vec<(Uuid, UnavailableCounts)>),
}

impl EndpointData {
    /// "Nothing to report" for `holders`: what a null/zero submission set is made of.
    pub fn nothing(endpoint: Endpoint, holders: &[Uuid]) -> EndpointData {
        match endpoint {
            Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
                EndpointData::Availability(holders.iter().map(|g| (*g, Vec::new())).collect())
            }
            Endpoint::ViewResponseRequestNumber => {
                EndpointData::RequestNumber(holders.iter().map(|g| (*g, 0)).collect())
            }
            Endpoint::ViewResponseResponseTime => {
                EndpointData::ResponseTimes(holders.iter().map(|g| (*g, Vec::new())).collect())
            }
            Endpoint::ViewResponseCalculations => EndpointData::Calculations(
                holders
                    .iter()
                    .map(|g| (*g, Calculations::Single(Vec::new())))
                    .collect(),
            ),
            Endpoint::ViewResponseUnavailable => EndpointData::Unavailable(
                holders
                    .iter()
                    .map(|g| (*g, UnavailableCounts::default()))
                    .collect(),
            ),
        }
    }

    pub(super) fn fits(&self, endpoint: Endpoint) -> bool {
        matches!(
            (self, endpoint),
            (
                EndpointData::Availability(_),
                Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView
            ) | (
                EndpointData::RequestNumber(_),
                Endpoint::ViewResponseRequestNumber
            ) | (
                EndpointData::ResponseTimes(_),
                Endpoint::ViewResponseResponseTime
            ) | (
                EndpointData::Calculations(_),
                Endpoint::ViewResponseCalculations
            ) | (
                EndpointData::Unavailable(_),
                Endpoint::ViewResponseUnavailable
            )
        )
    }
}

pub use super::plan::{PlanOptions, null_submission, plan};

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn timestamps_are_utc_with_millis() {
        assert_eq!(
            ts(&t("2026-11-21T02:00:00+01:00")),
            "2026-11-21T01:00:00.000Z"
        );
        assert_eq!(
            utc_midnight(t("2026-11-21T23:59:59.999Z")),
            t("2026-11-21T00:00:00Z")
        );
    }

    #[test]
    fn reasons_are_sanitised() {
        assert_eq!(
            sanitise_reason("DB upgrade (phase #2): 10/11"),
            "DB upgrade phase 2 10 11"
        );
        assert_eq!(sanitise_reason("())"), "unspecified");
        assert_eq!(sanitise_reason(&"x".repeat(300)).len(), 255);
    }
}
