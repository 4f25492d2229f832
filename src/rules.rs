//! Data standards rules a view data payload must follow (field model of digest section 5):
//! required items, code lists, ISO dates, amounts in pence, and the possible-match limited
//! response never mixed with definite arrangements. Each problem names the JSON path.

use serde_json::Value;

const PENSION_TYPES: [&str; 7] = ["AVC", "CB", "CDC", "DB", "DC", "HYB", "SP"];
const PENSION_ORIGINS: [&str; 7] = ["A", "PC", "PM", "PT", "WC", "WM", "WT"];
const PENSION_STATUSES: [&str; 4] = ["A", "I", "IPPF", "IWU"];
const ILLUSTRATION_TYPES: [&str; 2] = ["ERI", "AP"];
const BENEFIT_TYPES: [&str; 9] = ["AVC", "CBL", "CBS", "CDI", "CDL", "DB", "DBL", "DC", "SP"];
const CALCULATION_METHODS: [&str; 3] = ["BS", "CBI", "SMPI"];
/// Items allowed in a possible-match (limited) arrangement.
const LIMITED_ITEMS: [&str; 6] = [
    "pensionProviderSchemeName",
    "possibleMatch",
    "possibleMatchReference",
    "pensionAdministrator",
    "alternateSchemeName",
    "additionalDataSources",
];

fn is_date(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok())
}

fn is_money(v: &Value) -> bool {
    v.as_f64()
        .is_some_and(|f| ((f * 100.0).round() - f * 100.0).abs() < 1e-6)
}

struct Problems(Vec<String>);

impl Problems {
    fn require<'a>(&mut self, obj: &'a Value, path: &str, key: &str) -> Option<&'a Value> {
        let v = obj.get(key);
        if v.is_none() || v == Some(&Value::Null) {
            self.0.push(format!("{path}.{key} is required but missing"));
        }
        v
    }

    fn code(&mut self, obj: &Value, path: &str, key: &str, allowed: &[&str]) {
        if let Some(v) = self.require(obj, path, key)
            && !v.as_str().is_some_and(|s| allowed.contains(&s))
        {
            self.0
                .push(format!("{path}.{key} is {v}, expected one of {allowed:?}"));
        }
    }

    fn date(&mut self, obj: &Value, path: &str, key: &str, required: bool) {
        match obj.get(key) {
            Some(v) if !is_date(v) => self
                .0
                .push(format!("{path}.{key} is {v}, expected a YYYY-MM-DD date")),
            None if required => self.0.push(format!("{path}.{key} is required but missing")),
            _ => {}
        }
    }

    fn money(&mut self, obj: &Value, path: &str, key: &str) {
        if let Some(v) = obj.get(key)
            && !is_money(v)
        {
            self.0.push(format!(
                "{path}.{key} is {v}, expected a number of pounds to 2 decimal places"
            ));
        }
    }
}

/// Every rule the view data breaks; empty when it conforms.
pub fn view_data_problems(view_data: &Value) -> Vec<String> {
    let mut p = Problems(Vec::new());
    let Some(arrangements) = view_data.get("arrangements").and_then(Value::as_array) else {
        return vec!["view_data.arrangements is required and must be an array".to_owned()];
    };
    if arrangements.is_empty() {
        p.0.push("view_data.arrangements is empty".to_owned());
    }
    let possible = arrangements
        .iter()
        .filter(|a| a.get("possibleMatch") == Some(&Value::Bool(true)))
        .count();
    if possible > 0 && possible < arrangements.len() {
        p.0.push(
            "view_data mixes possible-match (limited) and definite arrangements in one response"
                .to_owned(),
        );
    }
    for (i, a) in arrangements.iter().enumerate() {
        let path = format!("arrangements[{i}]");
        p.require(a, &path, "pensionProviderSchemeName");
        p.require(a, &path, "pensionAdministrator");
        if a.get("possibleMatch") == Some(&Value::Bool(true)) {
            p.require(a, &path, "possibleMatchReference");
            if let Some(obj) = a.as_object() {
                for key in obj.keys() {
                    if !LIMITED_ITEMS.contains(&key.as_str()) {
                        p.0.push(format!(
                            "{path}.{key} must not appear in a possible-match (limited) response"
                        ));
                    }
                }
            }
            continue;
        }
        p.require(a, &path, "pensionReference");
        // Items 2.005 (new member) and 2.006 (temporary system error): only the administrative
        // basics can be given, so the codes below may be absent.
        let partial = ["administrativeDetailsNotAvailable", "temporarySystemError"]
            .iter()
            .any(|flag| a.get(*flag) == Some(&Value::Bool(true)));
        if partial {
            continue;
        }
        p.code(a, &path, "pensionType", &PENSION_TYPES);
        p.code(a, &path, "pensionOrigin", &PENSION_ORIGINS);
        p.code(a, &path, "pensionStatus", &PENSION_STATUSES);
        p.date(a, &path, "pensionStartDate", false);
        p.date(a, &path, "retirementDate", false);
        p.date(a, &path, "dateOfBirth", false);
        for (j, ill) in a
            .get("benefitIllustrations")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ipath = format!("{path}.benefitIllustrations[{j}]");
            p.date(ill, &ipath, "illustrationDate", true);
            for (k, c) in ill
                .get("illustrationComponents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let cpath = format!("{ipath}.illustrationComponents[{k}]");
                p.code(c, &cpath, "illustrationType", &ILLUSTRATION_TYPES);
                p.code(c, &cpath, "benefitType", &BENEFIT_TYPES);
                p.code(c, &cpath, "calculationMethod", &CALCULATION_METHODS);
                p.money(c, &cpath, "dcPot");
                match (c.get("payableDetails"), c.get("unavailableReason")) {
                    (Some(d), _) => {
                        let dpath = format!("{cpath}.payableDetails");
                        p.money(d, &dpath, "annualAmount");
                        p.money(d, &dpath, "monthlyAmount");
                        p.money(d, &dpath, "amount");
                        p.date(d, &dpath, "payableDate", false);
                    }
                    (None, Some(_)) => {}
                    (None, None) => p.0.push(format!(
                        "{cpath} has neither payableDetails nor an unavailableReason code"
                    )),
                }
            }
        }
    }
    p.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn catches_codes_dates_money_and_mixing() {
        let bad = json!({"arrangements": [
            {"pensionProviderSchemeName": "S", "pensionAdministrator": {}, "pensionReference": "R",
             "pensionType": "XX", "pensionOrigin": "A", "pensionStatus": "A", "retirementDate": "14/03/2038",
             "benefitIllustrations": [{"illustrationDate": "2026-04-05", "illustrationComponents": [
                {"illustrationType": "ERI", "benefitType": "DC", "calculationMethod": "SMPI",
                 "payableDetails": {"annualAmount": 12.345}}]}]},
            {"pensionProviderSchemeName": "S", "pensionAdministrator": {}, "possibleMatch": true,
             "possibleMatchReference": "R", "pensionType": "DC"}
        ]});
        let problems = view_data_problems(&bad).join("\n");
        assert!(problems.contains("pensionType is \"XX\""), "{problems}");
        assert!(problems.contains("retirementDate"), "{problems}");
        assert!(problems.contains("annualAmount is 12.345"), "{problems}");
        assert!(problems.contains("mixes possible-match"), "{problems}");
        assert!(
            problems.contains("arrangements[1].pensionType must not appear"),
            "{problems}"
        );
    }
}
