//! One validator for reporting bodies, used twice: by the client before anything is sent, and
//! by the simulator on receipt. It applies the yaml's discriminators (digest 8.6 rule 1: plain
//! `anyOf` would let malformed bodies through the `NullSubmission` branch), its formats and
//! limits, and the rules its descriptions state (`submission_id` null on null submissions,
//! `record_id` a UUID v4). Every error names the field (a JSON path) and carries the `INVALID_*`
//! code the yaml lists for it, so both sides speak the spec's language.
//!
//! Codes the yaml does not list but the MaPS stub uses: `INVALID_REQUEST_BODY` (not a JSON
//! object), `INVALID_SUBMISSION_STATUS`, `INVALID_UNEXPECTED_FIELD`. For #6 the yaml names the
//! accrued PPF count's code `INVALID_UNAVAIL_PPF_COUNT` (probably a typo); we follow the yaml.

use serde_json::{Map, Value};

use super::Endpoint;
use super::model::{
    MAX_CALCULATIONS, MAX_COUNT, MAX_HOLDERS, MAX_PERIODS_PER_HOLDER, MAX_RESPONSE_TIMES,
};

/// One problem with a body: where, what the spec expects, and the code.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct FieldError {
    /// JSON path, e.g. `items[0].1093cd4a-….[2].unavail_reason`.
    pub field: String,
    pub code: String,
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({})", self.field, self.message, self.code)
    }
}

/// The problems in one line, for consoles, the evidence and error messages.
pub fn describe(errors: &[FieldError]) -> String {
    errors
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Whether unknown keys in the yaml's open objects are errors (the stub rejects them; the
/// yaml lets them through). Keys in the yaml's closed objects are always errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Strictness {
    pub reject_unknown_fields: bool,
}

impl Default for Strictness {
    fn default() -> Self {
        Strictness {
            reject_unknown_fields: true,
        }
    }
}

const COMMON: [&str; 5] = [
    "record_id",
    "submission_id",
    "submission_reason",
    "submission_status",
    "reporting_period_start",
];
const COUNTS: [(&str, &str); 9] = [
    ("contact_count", "INVALID_CONTACT_COUNT"),
    ("missingadmin_count", "INVALID_MISSINGADMIN_COUNT"),
    ("temperror_count", "INVALID_TEMPERROR_COUNT"),
    ("eri_unavail_ano_count", "INVALID_ERI_UNAVAIL_ANO_COUNT"),
    ("eri_unavail_ppf_count", "INVALID_ERI_UNAVAIL_PPF_COUNT"),
    ("eri_unavail_trn_count", "INVALID_ERI_UNAVAIL_TRN_COUNT"),
    (
        "accrued_unavail_ano_count",
        "INVALID_ACCRUED_UNAVAIL_ANO_COUNT",
    ),
    ("accrued_unavail_ppf_count", "INVALID_UNAVAIL_PPF_COUNT"),
    (
        "accrued_unavail_trn_count",
        "INVALID_ACCRUED_UNAVAIL_TRN_COUNT",
    ),
];

pub use crate::protocol::request_id::is_uuid;

/// RFC 3339 date-time (section 5.6), with `T` between date and time.
pub fn is_date_time(s: &str) -> bool {
    matches!(s.as_bytes().get(10), Some(b'T' | b't'))
        && chrono::DateTime::parse_from_rfc3339(s).is_ok()
}

struct Checker {
    errors: Vec<FieldError>,
    strict: Strictness,
}

impl Checker {
    fn err(&mut self, field: impl Into<String>, code: &str, message: impl Into<String>) {
        self.errors.push(FieldError {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        });
    }

    fn unknown(&mut self, obj: &Map<String, Value>, prefix: &str, known: &[&str], closed: bool) {
        if !closed && !self.strict.reject_unknown_fields {
            return;
        }
        for k in obj.keys().filter(|k| !known.contains(&k.as_str())) {
            self.err(
                join(prefix, k),
                "INVALID_UNEXPECTED_FIELD",
                "is not a field of this body",
            );
        }
    }

    fn uuid_field(&mut self, obj: &Map<String, Value>, prefix: &str, key: &str, code: &str) {
        match obj.get(key) {
            None => self.err(join(prefix, key), code, "is required (a UUID)"),
            Some(Value::String(s)) if is_uuid(s) => {}
            Some(v) => self.err(
                join(prefix, key),
                code,
                format!("expected a UUID, got {}", show(v)),
            ),
        }
    }

    fn date_time(&mut self, obj: &Map<String, Value>, prefix: &str, key: &str, code: &str) {
        match obj.get(key) {
            None => self.err(
                join(prefix, key),
                code,
                "is required (an RFC 3339 date-time)",
            ),
            Some(Value::String(s)) if s.len() <= 255 && is_date_time(s) => {}
            Some(v) => self.err(
                join(prefix, key),
                code,
                format!(
                    "expected an RFC 3339 date-time such as 2026-11-21T00:00:00.000Z, got {}",
                    show(v)
                ),
            ),
        }
    }

    fn count(&mut self, obj: &Map<String, Value>, key: &str, code: &str) {
        match obj.get(key) {
            None => self.err(key, code, "is required (an integer from 0 to 2147483647)"),
            Some(v) if v.as_u64().is_some_and(|n| n <= MAX_COUNT) => {}
            Some(v) => self.err(
                key,
                code,
                format!("expected an integer from 0 to 2147483647, got {}", show(v)),
            ),
        }
    }

    fn array<'v>(
        &mut self,
        obj: &'v Map<String, Value>,
        prefix: &str,
        key: &str,
        code: &str,
        (min, max): (usize, usize),
    ) -> Option<&'v Vec<Value>> {
        let field = join(prefix, key);
        match obj.get(key) {
            None => {
                self.err(
                    field,
                    code,
                    format!("is required (an array of {min} to {max} items)"),
                );
                None
            }
            Some(Value::Array(a)) if a.len() < min || a.len() > max => {
                self.err(
                    field,
                    code,
                    format!("expected {min} to {max} items, got {}", a.len()),
                );
                Some(a)
            }
            Some(Value::Array(a)) => Some(a),
            Some(v) => {
                self.err(field, code, format!("expected an array, got {}", show(v)));
                None
            }
        }
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_owned()
    } else {
        format!("{prefix}.{key}")
    }
}

fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(60).collect::<String>())
    } else {
        s
    }
}

/// Check a body for `endpoint`; an empty list means valid.
pub fn check(endpoint: Endpoint, body: &Value, strict: Strictness) -> Vec<FieldError> {
    let mut c = Checker {
        errors: Vec::new(),
        strict,
    };
    let Some(obj) = body.as_object().filter(|o| !o.is_empty()) else {
        c.err(
            "(body)",
            "INVALID_REQUEST_BODY",
            "expected a non-empty JSON object",
        );
        return c.errors;
    };

    // The discriminator: submission_reason picks the schema.
    let reason = obj.get("submission_reason").and_then(Value::as_str);
    let allowed: &[&str] = if endpoint.allows_null_submission() {
        &["initial submission", "resubmission", "null submission"]
    } else {
        &["initial submission", "resubmission"]
    };
    match obj.get("submission_reason") {
        Some(Value::String(s)) if allowed.contains(&s.as_str()) => {}
        Some(v) => c.err(
            "submission_reason",
            "INVALID_SUBMISSION_REASON",
            format!(
                "expected one of {allowed:?} for {endpoint}, got {}",
                show(v)
            ),
        ),
        None => c.err(
            "submission_reason",
            "INVALID_SUBMISSION_REASON",
            format!("is required (one of {allowed:?})"),
        ),
    }
    let null = reason == Some("null submission") && endpoint.allows_null_submission();

    // Common fields.
    match obj.get("record_id") {
        Some(Value::String(s)) if is_uuid(s) => {
            if uuid::Uuid::try_parse(s).map(|u| u.get_version_num()) != Ok(4) {
                c.err(
                    "record_id",
                    "INVALID_RECORD_ID",
                    format!(
                        "must be a UUID v4 (the yaml's description), got version {}",
                        s.chars().nth(14).unwrap_or('?')
                    ),
                );
            }
        }
        Some(v) => c.err(
            "record_id",
            "INVALID_RECORD_ID",
            format!("expected a UUID v4, got {}", show(v)),
        ),
        None => c.err("record_id", "INVALID_RECORD_ID", "is required (a UUID v4)"),
    }
    match obj.get("submission_id") {
        None => c.err(
            "submission_id",
            "INVALID_SUBMISSION_ID",
            "the key is required: a UUID, or null for a null submission or a record sent on its own",
        ),
        Some(Value::Null) => {}
        Some(Value::String(s)) if is_uuid(s) => {
            if null {
                c.err(
                    "submission_id",
                    "INVALID_SUBMISSION_ID",
                    "must be null on a null submission",
                );
            }
        }
        Some(v) => c.err(
            "submission_id",
            "INVALID_SUBMISSION_ID",
            format!("expected a UUID or null, got {}", show(v)),
        ),
    }
    match obj.get("submission_status") {
        Some(Value::String(s)) if ["on time", "correction", "late"].contains(&s.as_str()) => {}
        Some(v) => c.err(
            "submission_status",
            "INVALID_SUBMISSION_STATUS",
            format!(
                "expected \"on time\", \"correction\" or \"late\", got {}",
                show(v)
            ),
        ),
        None => c.err(
            "submission_status",
            "INVALID_SUBMISSION_STATUS",
            "is required (\"on time\", \"correction\" or \"late\")",
        ),
    }
    c.date_time(
        obj,
        "",
        "reporting_period_start",
        "INVALID_REPORTING_PERIOD_START",
    );

    let mut known: Vec<&str> = COMMON.to_vec();
    match endpoint {
        Endpoint::ServiceAvailabilityFind | Endpoint::ServiceAvailabilityView => {
            known.push("items");
            if null {
                if let Some(items) =
                    c.array(obj, "", "items", "INVALID_HOLDERNAMEGUID", (1, MAX_HOLDERS))
                {
                    for (i, v) in items.iter().enumerate() {
                        if !v.as_str().is_some_and(is_uuid) {
                            c.err(
                                format!("items[{i}]"),
                                "INVALID_HOLDERNAMEGUID",
                                format!("expected a holdernameGuid (UUID), got {}", show(v)),
                            );
                        }
                    }
                }
            } else if let Some(items) =
                c.array(obj, "", "items", "INVALID_HOLDERNAMEGUID", (1, MAX_HOLDERS))
            {
                for (i, map) in items.iter().enumerate() {
                    check_holder_map(&mut c, &format!("items[{i}]"), map);
                }
            }
        }
        Endpoint::ViewResponseRequestNumber => {
            known.extend(["holdernameGuid", "req_count"]);
            c.uuid_field(obj, "", "holdernameGuid", "INVALID_HOLDERNAMEGUID");
            c.count(obj, "req_count", "INVALID_REQ_COUNT");
        }
        Endpoint::ViewResponseResponseTime => {
            known.push("holdernameGuid");
            c.uuid_field(obj, "", "holdernameGuid", "INVALID_HOLDERNAMEGUID");
            if !null {
                known.push("items");
                if let Some(items) = c.array(
                    obj,
                    "",
                    "items",
                    "INVALID_REQ_DATE_TS",
                    (1, MAX_RESPONSE_TIMES),
                ) {
                    for (i, item) in items.iter().enumerate() {
                        let p = format!("items[{i}]");
                        let Some(o) = item.as_object() else {
                            c.err(
                                p,
                                "INVALID_REQ_DATE_TS",
                                "expected an object with req_date_ts and resp_date_ts",
                            );
                            continue;
                        };
                        c.date_time(o, &p, "req_date_ts", "INVALID_REQ_DATE_TS");
                        c.date_time(o, &p, "resp_date_ts", "INVALID_RESP_DATE_TS");
                        c.unknown(o, &p, &["req_date_ts", "resp_date_ts"], true);
                    }
                }
            }
        }
        Endpoint::ViewResponseCalculations => {
            known.push("holdernameGuid");
            c.uuid_field(obj, "", "holdernameGuid", "INVALID_HOLDERNAMEGUID");
            if !null {
                known.push("calculation_type");
                match obj.get("calculation_type").and_then(Value::as_str) {
                    Some("single") => {
                        known.push("single_calculation");
                        check_calc_array(&mut c, obj, "", "single_calculation");
                    }
                    Some("multiple") => {
                        known.push("multiple_calculation");
                        match obj.get("multiple_calculation") {
                            Some(Value::Object(m)) => {
                                let p = "multiple_calculation";
                                check_calc_array(&mut c, m, p, "eriCalculationData");
                                check_calc_array(&mut c, m, p, "accruedCalculationData");
                                c.unknown(m, p, &["eriCalculationData", "accruedCalculationData"], true);
                            }
                            Some(v) => c.err(
                                "multiple_calculation",
                                "INVALID_CALCULATION_TYPE",
                                format!("expected an object with eriCalculationData and accruedCalculationData, got {}", show(v)),
                            ),
                            None => c.err(
                                "multiple_calculation",
                                "INVALID_CALCULATION_TYPE",
                                "is required when calculation_type is \"multiple\"",
                            ),
                        }
                    }
                    _ => c.err(
                        "calculation_type",
                        "INVALID_CALCULATION_TYPE",
                        format!(
                            "expected \"single\" or \"multiple\", got {}",
                            obj.get("calculation_type")
                                .map_or("nothing".to_owned(), show)
                        ),
                    ),
                }
            }
        }
        Endpoint::ViewResponseUnavailable => {
            known.push("holdernameGuid");
            c.uuid_field(obj, "", "holdernameGuid", "INVALID_HOLDERNAMEGUID");
            for (k, code) in COUNTS {
                known.push(k);
                c.count(obj, k, code);
            }
        }
    }
    c.unknown(obj, "", &known, false);
    c.errors
}

/// `{holdernameGuid: [period, ...]}`: one or more holders, 1..100 periods each.
fn check_holder_map(c: &mut Checker, prefix: &str, map: &Value) {
    let Some(m) = map.as_object().filter(|m| !m.is_empty()) else {
        c.err(
            prefix,
            "INVALID_HOLDERNAMEGUID",
            "expected an object whose key is a holdernameGuid and whose value is its unavailability periods",
        );
        return;
    };
    for (holder, periods) in m {
        let p = format!("{prefix}.{holder}");
        if !is_uuid(holder) {
            c.err(
                &p,
                "INVALID_HOLDERNAMEGUID",
                "the key must be a holdernameGuid (UUID)",
            );
        }
        let Some(list) = periods.as_array() else {
            c.err(
                &p,
                "INVALID_HOLDERNAMEGUID",
                "expected an array of unavailability periods",
            );
            continue;
        };
        if list.is_empty() || list.len() > MAX_PERIODS_PER_HOLDER {
            c.err(
                &p,
                "INVALID_HOLDERNAMEGUID",
                format!(
                    "expected 1 to {MAX_PERIODS_PER_HOLDER} unavailability periods, got {}",
                    list.len()
                ),
            );
        }
        for (j, period) in list.iter().enumerate() {
            let pp = format!("{p}[{j}]");
            let Some(o) = period.as_object() else {
                c.err(
                    pp,
                    "INVALID_START_DATE_TS",
                    "expected an unavailability period object",
                );
                continue;
            };
            c.date_time(o, &pp, "start_date_ts", "INVALID_START_DATE_TS");
            c.date_time(o, &pp, "end_date_ts", "INVALID_END_DATE_TS");
            if !o.get("unavail_scheduled").is_some_and(Value::is_boolean) {
                c.err(
                    join(&pp, "unavail_scheduled"),
                    "INVALID_UNAVAIL_SCHEDULED",
                    format!(
                        "expected true (planned) or false (unplanned), got {}",
                        o.get("unavail_scheduled")
                            .map_or("nothing".to_owned(), show)
                    ),
                );
            }
            let reason_ok = o
                .get("unavail_reason")
                .and_then(Value::as_str)
                .is_some_and(|s| {
                    (1..=255).contains(&s.chars().count())
                        && s.chars().all(|ch| {
                            ch.is_ascii_alphanumeric() || matches!(ch, '_' | ' ' | '.' | '-')
                        })
                });
            if !reason_ok {
                c.err(
                    join(&pp, "unavail_reason"),
                    "INVALID_UNAVAIL_REASON",
                    format!(
                        "expected 1 to 255 characters of letters, digits, space, _ . -; got {}",
                        o.get("unavail_reason").map_or("nothing".to_owned(), show)
                    ),
                );
            }
            c.unknown(
                o,
                &pp,
                &[
                    "start_date_ts",
                    "end_date_ts",
                    "unavail_scheduled",
                    "unavail_reason",
                ],
                false,
            );
        }
    }
}

/// `{items: [calculation, ...]}` (closed), 0..1300 items.
fn check_calc_array(c: &mut Checker, obj: &Map<String, Value>, prefix: &str, key: &str) {
    let p = join(prefix, key);
    let Some(inner) = obj.get(key).and_then(Value::as_object) else {
        c.err(
            &p,
            "INVALID_CALCULATION_TYPE",
            "is required: an object with items (0 to 1300 calculations)",
        );
        return;
    };
    c.unknown(inner, &p, &["items"], true);
    let Some(items) = c.array(
        inner,
        &p,
        "items",
        "INVALID_VALUE_CODE",
        (0, MAX_CALCULATIONS),
    ) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let ip = format!("{p}.items[{i}]");
        let Some(o) = item.as_object() else {
            c.err(ip, "INVALID_VALUE_CODE", "expected a calculation object");
            continue;
        };
        match o.get("value_code").and_then(Value::as_str) {
            Some("DBC" | "DCC") => {}
            _ => c.err(
                join(&ip, "value_code"),
                "INVALID_VALUE_CODE",
                format!(
                    "expected \"DBC\" or \"DCC\", got {}",
                    o.get("value_code").map_or("nothing".to_owned(), show)
                ),
            ),
        }
        c.date_time(
            o,
            &ip,
            "calculation_start_date",
            "INVALID_CALCULATION_START_DATE",
        );
        c.date_time(
            o,
            &ip,
            "calculation_end_date",
            "INVALID_CALCULATION_END_DATE",
        );
        c.unknown(
            o,
            &ip,
            &[
                "value_code",
                "calculation_start_date",
                "calculation_end_date",
            ],
            true,
        );
    }
}

/// The response the reporting API answers 202 with: `{message, datetimestamp}`, closed.
pub fn check_accepted(body: &Value) -> Result<(String, String), AcceptedError> {
    let Some(o) = body.as_object() else {
        return Err(AcceptedError::NotAnObject(show(body)));
    };
    let message = o.get("message").and_then(Value::as_str).unwrap_or_default();
    if message.is_empty()
        || message.len() > 255
        || !message
            .chars()
            .all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
    {
        return Err(AcceptedError::Message(
            o.get("message").map_or("nothing".to_owned(), show),
        ));
    }
    let stamp = o
        .get("datetimestamp")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !is_date_time(stamp) {
        return Err(AcceptedError::Stamp(
            o.get("datetimestamp").map_or("nothing".to_owned(), show),
        ));
    }
    if let Some(k) = o.keys().find(|k| *k != "message" && *k != "datetimestamp") {
        return Err(AcceptedError::ExtraField(k.clone()));
    }
    Ok((message.to_owned(), stamp.to_owned()))
}

/// How a 202's body departs from `{message, datetimestamp}` (each shows what came).
#[derive(Debug, thiserror::Error)]
pub enum AcceptedError {
    #[error("expected a JSON object {{message, datetimestamp}}, got {0}")]
    NotAnObject(String),
    #[error("message: expected 1 to 255 of [a-zA-Z0-9_] (e.g. ACCEPTED), got {0}")]
    Message(String),
    #[error("datetimestamp: expected an RFC 3339 date-time, got {0}")]
    Stamp(String),
    #[error("{0}: not a field of the 202 response (the schema is closed)")]
    ExtraField(String),
}
