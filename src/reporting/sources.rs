//! Where reporting data comes from, per endpoint:
//!
//! - `derived`: from what the reference provider did in the run (its log of the view requests
//!   it served: when each came and went, and what the view data carried), so the embedded
//!   default submits real, consistent data;
//! - `file:PATH`: a JSON or CSV file the organisation's systems export (formats below and in
//!   the README), for real use;
//! - `null`: nothing to report: the null submission where the spec has one, zero counts where
//!   it has none; a minimal valid set for connectivity checks.
//!
//! File formats (one file per endpoint; a holder listed with nothing is reported as such):
//!
//! | endpoint | JSON (object keyed by holdernameGuid) | CSV columns (header row required) |
//! |---|---|---|
//! | service-availability-find / -view | `{"<guid>": [{start_date_ts, end_date_ts, unavail_scheduled, unavail_reason}]}` | `holdernameGuid,start_date_ts,end_date_ts,unavail_scheduled,unavail_reason` |
//! | view-response-request-number | `{"<guid>": 42}` | `holdernameGuid,req_count` |
//! | view-response-response-time | `{"<guid>": [{req_date_ts, resp_date_ts}]}` | `holdernameGuid,req_date_ts,resp_date_ts` |
//! | view-response-calculations | `{"<guid>": {"calculation_type": "single", "items": [..]}}` or `{"calculation_type": "multiple", "eri": [..], "accrued": [..]}` | `holdernameGuid,calculation_type,array,value_code,calculation_start_date,calculation_end_date` (`array` = `eri` or `accrued`) |
//! | view-response-unavailable | `{"<guid>": {contact_count, …, accrued_unavail_trn_count}}` | `holdernameGuid,contact_count,…,accrued_unavail_trn_count` |
//!
//! In CSV, a row with only `holdernameGuid` filled lists a holder with nothing to report.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::Endpoint;
use super::model::{
    Calculation, Calculations, EndpointData, Outage, SlowResponse, UnavailableCounts, ValueCode,
    sanitise_reason,
};

/// The data source of one endpoint, as the target file's `[reporting.sources]` names it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Source {
    #[default]
    Derived,
    Null,
    File(PathBuf),
}

impl Source {
    pub fn parse(text: &str) -> Result<Source, SourceParseError> {
        match text.trim() {
            "derived" => Ok(Source::Derived),
            "null" => Ok(Source::Null),
            t => match t.strip_prefix("file:") {
                Some(p) if !p.trim().is_empty() => Ok(Source::File(PathBuf::from(p.trim()))),
                _ => Err(SourceParseError(t.to_owned())),
            },
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Source::Derived => "derived".to_owned(),
            Source::Null => "null".to_owned(),
            Source::File(p) => format!("file:{}", p.display()),
        }
    }
}

impl<'de> Deserialize<'de> for Source {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Source::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A data source that is none of the three forms.
#[derive(Debug, thiserror::Error)]
#[error("expected \"derived\", \"null\" or \"file:PATH\", got {0:?}")]
pub struct SourceParseError(pub String);

#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("{path}: could not read the {endpoint} data file: {source}")]
    Read {
        path: PathBuf,
        endpoint: Endpoint,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: {endpoint} data: {message}")]
    Invalid {
        path: PathBuf,
        endpoint: Endpoint,
        message: String,
    },
    #[error("{endpoint}: {message}")]
    Derived { endpoint: Endpoint, message: String },
}

pub use crate::protocol::served_views::{ServedView, ViewFlags, flags_of};

/// Over 10 seconds: "exceeds 10 seconds" (exactly 10.000 s does not).
pub fn is_slow(received: DateTime<Utc>, responded: DateTime<Utc>) -> bool {
    (responded - received) > chrono::Duration::seconds(10)
}

/// The counts of `/view-response/unavailable` from a set of flags.
pub fn counts_of<'a>(flags: impl IntoIterator<Item = &'a ViewFlags>) -> UnavailableCounts {
    let mut c = UnavailableCounts::default();
    for f in flags {
        c.contact_count += f.contact;
        c.missingadmin_count += f.missing_admin;
        c.temperror_count += f.temp_error;
        for code in &f.eri_unavailable {
            match code.as_str() {
                "ANO" => c.eri_unavail_ano_count += 1,
                "PPF" => c.eri_unavail_ppf_count += 1,
                "TRN" => c.eri_unavail_trn_count += 1,
                _ => {}
            }
        }
        for code in &f.accrued_unavailable {
            match code.as_str() {
                "ANO" => c.accrued_unavail_ano_count += 1,
                "PPF" => c.accrued_unavail_ppf_count += 1,
                "TRN" => c.accrued_unavail_trn_count += 1,
                _ => {}
            }
        }
    }
    c
}

/// Derive one endpoint's data from the views the provider served in the window, for
/// `holder`. The reference provider was never unavailable, so #1/#2 have nothing to report;
/// a calculation is pending from the view that returned DBC/DCC until `now` (when the report
/// is made), because the reference provider never completes one.
pub fn derive(
    endpoint: Endpoint,
    holder: Uuid,
    views: &[ServedView],
    now: DateTime<Utc>,
) -> EndpointData {
    match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
            EndpointData::Availability(vec![(holder, Vec::new())])
        }
        Endpoint::ViewResponseRequestNumber => {
            EndpointData::RequestNumber(vec![(holder, views.len() as u64)])
        }
        Endpoint::ViewResponseResponseTime => EndpointData::ResponseTimes(vec![(
            holder,
            views
                .iter()
                .filter(|v| is_slow(v.received_at, v.responded_at))
                .map(|v| SlowResponse {
                    req_date_ts: v.received_at,
                    resp_date_ts: v.responded_at,
                })
                .collect(),
        )]),
        Endpoint::ViewResponseCalculations => {
            let pending = |codes: &[String], at: DateTime<Utc>| -> Vec<Calculation> {
                codes
                    .iter()
                    .filter_map(|c| match c.as_str() {
                        "DBC" => Some(ValueCode::Dbc),
                        "DCC" => Some(ValueCode::Dcc),
                        _ => None,
                    })
                    .map(|value_code| Calculation {
                        value_code,
                        calculation_start_date: at,
                        calculation_end_date: now.max(at),
                    })
                    .collect()
            };
            let ok = views.iter().filter(|v| v.status == 200);
            let mut eri = Vec::new();
            let mut accrued = Vec::new();
            for v in ok {
                eri.extend(pending(&v.flags.eri_unavailable, v.received_at));
                accrued.extend(pending(&v.flags.accrued_unavailable, v.received_at));
            }
            let calcs = if accrued.is_empty() {
                Calculations::Single(eri)
            } else {
                Calculations::Multiple { eri, accrued }
            };
            EndpointData::Calculations(vec![(holder, calcs)])
        }
        Endpoint::ViewResponseUnavailable => EndpointData::Unavailable(vec![(
            holder,
            counts_of(views.iter().filter(|v| v.status == 200).map(|v| &v.flags)),
        )]),
    }
}

fn invalid(path: &Path, endpoint: Endpoint, message: impl Into<String>) -> SourceError {
    SourceError::Invalid {
        path: path.to_owned(),
        endpoint,
        message: message.into(),
    }
}

fn holder_key(path: &Path, endpoint: Endpoint, where_: &str, s: &str) -> Result<Uuid, SourceError> {
    if super::validate::is_uuid(s.trim()) {
        Uuid::try_parse(s.trim()).map_err(|e| invalid(path, endpoint, format!("{where_}: {e}")))
    } else {
        Err(invalid(
            path,
            endpoint,
            format!("{where_}: holdernameGuid {s:?} is not a UUID"),
        ))
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutageIn {
    start_date_ts: DateTime<Utc>,
    end_date_ts: DateTime<Utc>,
    unavail_scheduled: bool,
    unavail_reason: String,
}

#[derive(Deserialize)]
#[serde(
    tag = "calculation_type",
    rename_all = "lowercase",
    deny_unknown_fields
)]
enum CalcIn {
    Single {
        items: Vec<Calculation>,
    },
    Multiple {
        #[serde(default)]
        eri: Vec<Calculation>,
        #[serde(default)]
        accrued: Vec<Calculation>,
    },
}

/// Read an endpoint's data from a JSON or CSV export (by extension).
pub fn load_file(endpoint: Endpoint, path: &Path) -> Result<EndpointData, SourceError> {
    let text = std::fs::read_to_string(path).map_err(|source| SourceError::Read {
        path: path.to_owned(),
        endpoint,
        source,
    })?;
    let is_csv = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("csv"));
    if is_csv {
        load_csv(endpoint, path, &text)
    } else {
        load_json(endpoint, path, &text)
    }
}

fn load_json(endpoint: Endpoint, path: &Path, text: &str) -> Result<EndpointData, SourceError> {
    let root: serde_json::Map<String, Value> = serde_json::from_str(text).map_err(|e| {
        invalid(
            path,
            endpoint,
            format!("expected a JSON object keyed by holdernameGuid: {e}"),
        )
    })?;
    if root.is_empty() {
        return Err(invalid(path, endpoint, "no holdernameGuid in the file"));
    }
    let field = |holder: &str, v: &Value| -> String { format!("{holder} ({})", short(v)) };
    let mut out_a = Vec::new();
    let mut out_n = Vec::new();
    let mut out_r = Vec::new();
    let mut out_c = Vec::new();
    let mut out_u = Vec::new();
    for (key, v) in &root {
        let g = holder_key(path, endpoint, key, key)?;
        let bad = |e: serde_json::Error| invalid(path, endpoint, format!("{}: {e}", field(key, v)));
        match endpoint {
            Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
                let list: Vec<OutageIn> = serde_json::from_value(v.clone()).map_err(bad)?;
                out_a.push((
                    g,
                    list.into_iter()
                        .map(|o| Outage {
                            start_date_ts: o.start_date_ts,
                            end_date_ts: o.end_date_ts,
                            unavail_scheduled: o.unavail_scheduled,
                            unavail_reason: sanitise_reason(&o.unavail_reason),
                        })
                        .collect(),
                ));
            }
            Endpoint::ViewResponseRequestNumber => {
                let n: u64 = serde_json::from_value(v.clone()).map_err(bad)?;
                out_n.push((g, n));
            }
            Endpoint::ViewResponseResponseTime => {
                let list: Vec<SlowResponse> = serde_json::from_value(v.clone()).map_err(bad)?;
                out_r.push((g, list));
            }
            Endpoint::ViewResponseCalculations => {
                let c: CalcIn = serde_json::from_value(v.clone()).map_err(bad)?;
                out_c.push((
                    g,
                    match c {
                        CalcIn::Single { items } => Calculations::Single(items),
                        CalcIn::Multiple { eri, accrued } => {
                            Calculations::Multiple { eri, accrued }
                        }
                    },
                ));
            }
            Endpoint::ViewResponseUnavailable => {
                let c: UnavailableCounts = serde_json::from_value(v.clone()).map_err(bad)?;
                out_u.push((g, c));
            }
        }
    }
    Ok(assemble(endpoint, out_a, out_n, out_r, out_c, out_u))
}

fn assemble(
    endpoint: Endpoint,
    a: Vec<(Uuid, Vec<Outage>)>,
    n: Vec<(Uuid, u64)>,
    r: Vec<(Uuid, Vec<SlowResponse>)>,
    c: Vec<(Uuid, Calculations)>,
    u: Vec<(Uuid, UnavailableCounts)>,
) -> EndpointData {
    match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
            EndpointData::Availability(a)
        }
        Endpoint::ViewResponseRequestNumber => EndpointData::RequestNumber(n),
        Endpoint::ViewResponseResponseTime => EndpointData::ResponseTimes(r),
        Endpoint::ViewResponseCalculations => EndpointData::Calculations(c),
        Endpoint::ViewResponseUnavailable => EndpointData::Unavailable(u),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 50 {
        format!("{}…", s.chars().take(50).collect::<String>())
    } else {
        s
    }
}

fn columns_of(endpoint: Endpoint) -> Vec<&'static str> {
    match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => vec![
            "holdernameGuid",
            "start_date_ts",
            "end_date_ts",
            "unavail_scheduled",
            "unavail_reason",
        ],
        Endpoint::ViewResponseRequestNumber => vec!["holdernameGuid", "req_count"],
        Endpoint::ViewResponseResponseTime => vec!["holdernameGuid", "req_date_ts", "resp_date_ts"],
        Endpoint::ViewResponseCalculations => vec![
            "holdernameGuid",
            "calculation_type",
            "array",
            "value_code",
            "calculation_start_date",
            "calculation_end_date",
        ],
        Endpoint::ViewResponseUnavailable => {
            let mut v = vec!["holdernameGuid"];
            v.extend(UnavailableCounts::NAMES);
            v
        }
    }
}

fn load_csv(endpoint: Endpoint, path: &Path, text: &str) -> Result<EndpointData, SourceError> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| invalid(path, endpoint, format!("header row: {e}")))?
        .clone();
    let expected = columns_of(endpoint);
    let got: Vec<&str> = headers.iter().collect();
    if got != expected {
        return Err(invalid(
            path,
            endpoint,
            format!(
                "header row: expected columns {} , got {}",
                expected.join(","),
                got.join(",")
            ),
        ));
    }
    // Holder order as first seen, data per holder.
    let mut order: Vec<Uuid> = Vec::new();
    let mut a: BTreeMap<Uuid, Vec<Outage>> = BTreeMap::new();
    let mut n: BTreeMap<Uuid, u64> = BTreeMap::new();
    let mut r: BTreeMap<Uuid, Vec<SlowResponse>> = BTreeMap::new();
    // Per holder: calculation_type, ERI items, accrued items.
    type CalcRows = (Option<String>, Vec<Calculation>, Vec<Calculation>);
    let mut c: BTreeMap<Uuid, CalcRows> = BTreeMap::new();
    let mut u: BTreeMap<Uuid, UnavailableCounts> = BTreeMap::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        let row = row.map_err(|e| invalid(path, endpoint, format!("line {line}: {e}")))?;
        let col = |name: &str| -> &str {
            expected
                .iter()
                .position(|c| *c == name)
                .and_then(|p| row.get(p))
                .unwrap_or("")
        };
        let at = |name: &str| format!("line {line}, column {name}");
        let time = |name: &str| -> Result<DateTime<Utc>, SourceError> {
            DateTime::parse_from_rfc3339(col(name))
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| {
                    invalid(
                        path,
                        endpoint,
                        format!(
                            "{}: {:?} is not an RFC 3339 date-time ({e})",
                            at(name),
                            col(name)
                        ),
                    )
                })
        };
        let g = holder_key(path, endpoint, &at("holdernameGuid"), col("holdernameGuid"))?;
        if !order.contains(&g) {
            order.push(g);
        }
        let rest_empty = expected.iter().skip(1).all(|k| col(k).is_empty());
        match endpoint {
            Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
                let list = a.entry(g).or_default();
                if rest_empty {
                    continue;
                }
                let scheduled = match col("unavail_scheduled").to_ascii_lowercase().as_str() {
                    "true" | "1" | "yes" => true,
                    "false" | "0" | "no" => false,
                    other => {
                        return Err(invalid(
                            path,
                            endpoint,
                            format!(
                                "{}: expected true or false, got {other:?}",
                                at("unavail_scheduled")
                            ),
                        ));
                    }
                };
                list.push(Outage {
                    start_date_ts: time("start_date_ts")?,
                    end_date_ts: time("end_date_ts")?,
                    unavail_scheduled: scheduled,
                    unavail_reason: sanitise_reason(col("unavail_reason")),
                });
            }
            Endpoint::ViewResponseRequestNumber => {
                let v: u64 = col("req_count").parse().map_err(|_| {
                    invalid(
                        path,
                        endpoint,
                        format!(
                            "{}: expected a whole number, got {:?}",
                            at("req_count"),
                            col("req_count")
                        ),
                    )
                })?;
                *n.entry(g).or_default() += v;
            }
            Endpoint::ViewResponseResponseTime => {
                let list = r.entry(g).or_default();
                if rest_empty {
                    continue;
                }
                list.push(SlowResponse {
                    req_date_ts: time("req_date_ts")?,
                    resp_date_ts: time("resp_date_ts")?,
                });
            }
            Endpoint::ViewResponseCalculations => {
                let entry = c.entry(g).or_default();
                if rest_empty {
                    continue;
                }
                let ty = col("calculation_type").to_ascii_lowercase();
                if ty != "single" && ty != "multiple" {
                    return Err(invalid(
                        path,
                        endpoint,
                        format!(
                            "{}: expected single or multiple, got {ty:?}",
                            at("calculation_type")
                        ),
                    ));
                }
                if entry.0.as_ref().is_some_and(|t| *t != ty) {
                    return Err(invalid(
                        path,
                        endpoint,
                        format!(
                            "{}: holder {g} mixes single and multiple",
                            at("calculation_type")
                        ),
                    ));
                }
                entry.0 = Some(ty);
                let value_code = match col("value_code") {
                    "DBC" => ValueCode::Dbc,
                    "DCC" => ValueCode::Dcc,
                    other => {
                        return Err(invalid(
                            path,
                            endpoint,
                            format!("{}: expected DBC or DCC, got {other:?}", at("value_code")),
                        ));
                    }
                };
                let calc = Calculation {
                    value_code,
                    calculation_start_date: time("calculation_start_date")?,
                    calculation_end_date: time("calculation_end_date")?,
                };
                match col("array").to_ascii_lowercase().as_str() {
                    "" | "eri" => entry.1.push(calc),
                    "accrued" => entry.2.push(calc),
                    other => {
                        return Err(invalid(
                            path,
                            endpoint,
                            format!("{}: expected eri or accrued, got {other:?}", at("array")),
                        ));
                    }
                }
            }
            Endpoint::ViewResponseUnavailable => {
                let mut v = [0u64; 9];
                for (k, name) in UnavailableCounts::NAMES.iter().enumerate() {
                    v[k] = col(name).parse().map_err(|_| {
                        invalid(
                            path,
                            endpoint,
                            format!("{}: expected a whole number, got {:?}", at(name), col(name)),
                        )
                    })?;
                }
                u.entry(g)
                    .or_default()
                    .add(&UnavailableCounts::from_values(v));
            }
        }
    }
    if order.is_empty() {
        return Err(invalid(
            path,
            endpoint,
            "no data rows (list each holdernameGuid, with nothing else if it has nothing to report)",
        ));
    }
    let calcs: Vec<(Uuid, Calculations)> = order
        .iter()
        .filter_map(|g| {
            c.remove(g).map(|(ty, eri, accrued)| {
                let calc = if ty.as_deref() == Some("multiple") {
                    Calculations::Multiple { eri, accrued }
                } else {
                    Calculations::Single(eri)
                };
                (*g, calc)
            })
        })
        .collect();
    Ok(assemble(
        endpoint,
        in_order(&order, &mut a),
        in_order(&order, &mut n),
        in_order(&order, &mut r),
        calcs,
        in_order(&order, &mut u),
    ))
}

/// The holders' entries in the order they were first seen in the file.
fn in_order<T>(order: &[Uuid], map: &mut BTreeMap<Uuid, T>) -> Vec<(Uuid, T)> {
    order
        .iter()
        .filter_map(|g| map.remove(g).map(|v| (*g, v)))
        .collect()
}
