//! What a schema cannot say about view data: the cross-field sense of unavailable codes and
//! arrangements, the date orders, values too old to show without a reason, and warnings where the
//! public sources disagree.

use chrono::{Datelike as _, NaiveDate};
use serde_json::Value;

use super::Finding;

const DB_OR_CASH_BALANCE: [&str; 4] = ["DB", "DBL", "CBL", "CBS"];
const DC_OR_AVC: [&str; 2] = ["DC", "AVC"];

fn arrangements(view_data: &Value) -> &[Value] {
    view_data
        .get("arrangements")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

/// Each illustration component with its JSON path.
fn components(view_data: &Value) -> Vec<(String, &Value)> {
    let mut out = Vec::new();
    for (i, a) in arrangements(view_data).iter().enumerate() {
        for (j, ill) in a
            .get("benefitIllustrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            for (k, c) in ill
                .get("illustrationComponents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                out.push((
                    format!(
                        "arrangements[{i}].benefitIllustrations[{j}].illustrationComponents[{k}]"
                    ),
                    c,
                ));
            }
        }
    }
    out
}

/// The rules a schema cannot say, judged today (UTC): see [`cross_field_on`].
pub fn cross_field(view_data: &Value) -> Vec<Finding> {
    cross_field_on(view_data, chrono::Utc::now().date_naive())
}

/// The rules a schema cannot say: definite and possible arrangements never mixed in one
/// response, unavailable codes that make sense only for some benefit types, and dates that
/// must keep their order or not lie after `today` (a schema has no "now").
pub fn cross_field_on(view_data: &Value, today: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    let all = arrangements(view_data);
    let possible = all
        .iter()
        .filter(|a| a.get("possibleMatch") == Some(&Value::Bool(true)))
        .count();
    if possible > 0 && possible < all.len() {
        out.push(Finding::new(
            Some("2.001".to_owned()),
            "arrangements".to_owned(),
            "mixes possible-match (limited) and definite arrangements in one response".to_owned(),
        ));
    }
    for (path, c) in components(view_data) {
        let (Some(code), Some(benefit)) = (
            c.get("unavailableReason").and_then(Value::as_str),
            c.get("benefitType").and_then(Value::as_str),
        ) else {
            continue;
        };
        let item = match c.get("illustrationType").and_then(Value::as_str) {
            Some("AP") => "2.401",
            _ => "2.301",
        };
        let (allowed, meaning): (&[&str], &str) = match code {
            "DBC" => (
                &DB_OR_CASH_BALANCE,
                "a DB or cash balance value being calculated",
            ),
            "DCC" => (&DC_OR_AVC, "a DC value being calculated"),
            "DCHA" | "DCHP" => (&DC_OR_AVC, "a DC or hybrid pot"),
            _ => continue,
        };
        if !allowed.contains(&benefit) {
            out.push(Finding::new(
                Some(item.to_owned()),
                format!("{path}.unavailableReason"),
                format!(
                    "{code:?} ({meaning}) does not fit benefitType {benefit:?} (it fits {})",
                    allowed.join(", ")
                ),
            ));
        }
    }
    date_order(view_data, today, &mut out);
    out
}

/// A `YYYY-MM-DD` member of `v`; `None` when absent or not a date (the schema names that).
fn date(v: &Value, key: &str) -> Option<NaiveDate> {
    v.get(key)
        .and_then(Value::as_str)
        .and_then(|s| NaiveDate::parse_from_str(s, "%Y-%m-%d").ok())
}

/// 2.016 and 2.501 not after today; 2.205 not before 2.204; 2.309/2.409 not before
/// 2.305/2.405.
fn date_order(view_data: &Value, today: NaiveDate, out: &mut Vec<Finding>) {
    for (i, a) in arrangements(view_data).iter().enumerate() {
        if let Some(d) = date(a, "dateOfBirth").filter(|d| *d > today) {
            out.push(Finding::new(
                Some("2.016".to_owned()),
                format!("arrangements[{i}].dateOfBirth"),
                format!("is {d}, after today ({today}): a date of birth cannot be in the future"),
            ));
        }
        for (j, period) in a
            .get("employmentMembershipPeriods")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let (Some(start), Some(end)) = (
                date(period, "employmentStartDate"),
                date(period, "employmentEndDate"),
            ) && end < start
            {
                out.push(Finding::new(
                    Some("2.205".to_owned()),
                    format!("arrangements[{i}].employmentMembershipPeriods[{j}].employmentEndDate"),
                    format!("is {end}, before the employment start date (2.204) {start}"),
                ));
            }
        }
        for (j, ill) in a
            .get("benefitIllustrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(d) = date(ill, "illustrationDate").filter(|d| *d > today) {
                out.push(Finding::new(
                    Some("2.501".to_owned()),
                    format!("arrangements[{i}].benefitIllustrations[{j}].illustrationDate"),
                    format!(
                        "is {d}, after today ({today}): values cannot be illustrated as at a future date"
                    ),
                ));
            }
        }
    }
    for (path, c) in components(view_data) {
        let ap = c.get("illustrationType").and_then(Value::as_str) == Some("AP");
        let Some(details) = c.get("payableDetails") else {
            continue;
        };
        if let (Some(first), Some(last)) = (
            date(details, "payableDate"),
            date(details, "lastPaymentDate"),
        ) && last < first
        {
            let (item, first_item) = if ap {
                ("2.409", "2.405")
            } else {
                ("2.309", "2.305")
            };
            out.push(Finding::new(
                Some(item.to_owned()),
                format!("{path}.payableDetails.lastPaymentDate"),
                format!("is {last}, before the payable date ({first_item}) {first}"),
            ));
        }
    }
}

/// Values older than this many months are doubtful: the regulations (as read in the live-CDA
/// notes, rule 13) ask for values no more than 12 months old; one month's grace for annual
/// statement cycles.
pub const VALUE_AGE_MONTHS: u32 = 13;

/// 2.501 values more than [`VALUE_AGE_MONTHS`] old without an unavailable code: a doubt, not a
/// failure (inferred from the regulations; no public schema says it).
fn stale_values(view_data: &Value, today: NaiveDate, out: &mut Vec<Finding>) {
    let Some(oldest) = today.checked_sub_months(chrono::Months::new(VALUE_AGE_MONTHS)) else {
        return;
    };
    for (i, a) in arrangements(view_data).iter().enumerate() {
        for (j, ill) in a
            .get("benefitIllustrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(d) = date(ill, "illustrationDate").filter(|d| *d < oldest) else {
                continue;
            };
            let with_values = ill
                .get("illustrationComponents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|c| {
                    c.get("payableDetails").is_some() && c.get("unavailableReason").is_none()
                })
                .count();
            if with_values == 0 {
                continue;
            }
            let months = (today.year() - d.year()) * 12 + today.month() as i32 - d.month() as i32;
            out.push(Finding::new(
                Some("2.501".to_owned()),
                format!("arrangements[{i}].benefitIllustrations[{j}].illustrationDate"),
                format!(
                    "is {d}, {months} months before today ({today}), and {with_values} component(s) carry values without an unavailable code: the regulations ask for values no more than 12 months old (inferred; no public schema says it)"
                ),
            ));
        }
    }
}

/// [`source_conflicts_on`] judged today (UTC).
pub fn source_conflicts(view_data: &Value) -> Vec<Finding> {
    source_conflicts_on(view_data, chrono::Utc::now().date_naive())
}

/// Where the public sources disagree or only an inference supports a rule, a doubt rather
/// than a failure (`[contract] strict` makes them failures): `monthlyAmount`, items one
/// reading requires and another does not, and values older than [`VALUE_AGE_MONTHS`].
pub fn source_conflicts_on(view_data: &Value, today: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    stale_values(view_data, today, &mut out);
    for (path, c) in components(view_data) {
        if c.pointer("/payableDetails/monthlyAmount").is_some() {
            out.push(Finding::new(
                Some("2.307/2.407".to_owned()),
                format!("{path}.payableDetails.monthlyAmount"),
                "is present: MaPS's older view data schema has it, its newer stricter one does not (and forbids unknown members); the data standards v1.3 text was not seen".to_owned(),
            ));
        }
    }
    for (i, a) in arrangements(view_data).iter().enumerate() {
        if a.get("possibleMatch") == Some(&Value::Bool(true)) {
            continue;
        }
        let flagged = [
            "contactScheme",
            "administrativeDetailsNotAvailable",
            "temporarySystemError",
        ]
        .iter()
        .any(|f| a.get(*f) == Some(&Value::Bool(true)));
        let mut wanted = vec![("2.003", "pensionReference")];
        if !flagged {
            wanted.extend([
                ("2.010", "pensionType"),
                ("2.011", "pensionOrigin"),
                ("2.012", "pensionStatus"),
            ]);
        }
        for (item, key) in wanted {
            if a.get(key).is_none() {
                out.push(Finding::new(
                    Some(item.to_owned()),
                    format!("arrangements[{i}].{key}"),
                    "is absent: the digest's reading of the data standards requires it on a definite arrangement, MaPS's dashboard schema makes it optional".to_owned(),
                ));
            }
        }
        for (j, ill) in a
            .get("benefitIllustrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if ill.get("illustrationDate").is_none() {
                out.push(Finding::new(
                    Some("2.501".to_owned()),
                    format!("arrangements[{i}].benefitIllustrations[{j}].illustrationDate"),
                    "is absent: the digest's reading of the data standards requires it, MaPS's dashboard schema makes it optional".to_owned(),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::tests::good;
    use super::*;
    use serde_json::json;

    #[test]
    fn source_conflicts_are_warnings_with_reasons() {
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][1]["payableDetails"]
            ["monthlyAmount"] = json!(508.33);
        v["arrangements"][0]
            .as_object_mut()
            .map(|o| o.remove("pensionReference"));
        let w = source_conflicts(&v)
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        assert!(w.contains("2.307/2.407 "), "{w}");
        assert!(
            w.contains("2.003 arrangements[0].pensionReference: is absent"),
            "{w}"
        );
    }

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
    }

    fn joined(findings: &[Finding]) -> String {
        findings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Rule 13 and the date orders a schema cannot say: future dates of birth and
    /// illustrations, employment ending before it started, payments ending before they start.
    #[test]
    fn dates_keep_their_order_and_do_not_lie_in_the_future() {
        let today = day("2026-12-01");
        assert_eq!(joined(&cross_field_on(&good(), today)), "");
        let mut v = good();
        v["arrangements"][0]["dateOfBirth"] = json!("2026-12-02");
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationDate"] = json!("2027-01-01");
        v["arrangements"][0]["employmentMembershipPeriods"][0]["employmentEndDate"] =
            json!("2009-12-31");
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][1]["payableDetails"]
            ["lastPaymentDate"] = json!("2035-10-04");
        let m = joined(&cross_field_on(&v, today));
        for expected in [
            "2.016 arrangements[0].dateOfBirth: is 2026-12-02, after today (2026-12-01): a date of birth cannot be in the future",
            "2.501 arrangements[0].benefitIllustrations[0].illustrationDate: is 2027-01-01, after today (2026-12-01)",
            "2.205 arrangements[0].employmentMembershipPeriods[0].employmentEndDate: is 2009-12-31, before the employment start date (2.204) 2010-01-01",
            "2.409 arrangements[0].benefitIllustrations[0].illustrationComponents[1].payableDetails.lastPaymentDate: is 2035-10-04, before the payable date (2.405) 2035-10-05",
        ] {
            assert!(m.contains(expected), "{expected}\n{m}");
        }
        // Today itself is not the future.
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationDate"] = json!("2026-12-01");
        assert_eq!(joined(&cross_field_on(&v, today)), "");
    }

    /// Values more than 13 months old without an unavailable code are a warning naming their
    /// age; an illustration whose components all carry codes is not.
    #[test]
    fn stale_values_are_a_warning() {
        let v = good();
        assert!(!joined(&source_conflicts_on(&v, day("2027-05-05"))).contains("months before"));
        let w = joined(&source_conflicts_on(&v, day("2027-05-06")));
        assert!(
            w.contains("2.501 arrangements[0].benefitIllustrations[0].illustrationDate: is 2026-04-05, 13 months before today (2027-05-06), and 1 component(s) carry values without an unavailable code"),
            "{w}"
        );
        let mut v = good();
        v["arrangements"][0]["benefitIllustrations"][0]["illustrationComponents"][1] = json!(
            {"illustrationType": "AP", "benefitType": "DB", "calculationMethod": "BS", "unavailableReason": "DBC"}
        );
        assert!(!joined(&source_conflicts_on(&v, day("2030-01-01"))).contains("months before"));
    }
}
