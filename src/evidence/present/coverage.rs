//! The catalogue coverage section (issue 17, item 9): each error-catalogue case of the run
//! (`@errors`, `@reporting-errors`) with the MaPS stub scenario or reporting API error code it
//! mirrors and its result. What a case mirrors is read from its scenario's name as the feature
//! file gave it and the run log recorded it, so the table cannot drift from the cases that ran.

use crate::record::run::{RunRecord, ScenarioRecord, Status, reading_order};

/// The tags that make a scenario a catalogue case.
const CATALOGUE_TAGS: [&str; 2] = ["errors", "reporting-errors"];

/// What a catalogue case says it mirrors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mirror {
    /// A MaPS stub error scenario, as the scenario names it in `(stub: …)`.
    Stub(String),
    /// A reporting API error: the code (with its HTTP status when the scenario names one) on
    /// an endpoint or path.
    Reporting { code: String, endpoint: String },
    /// The scenario names neither (E-RST-01 mirrors the code of connection, not a stub
    /// scenario).
    Unnamed,
}

impl Mirror {
    /// The mirror in words, for a table cell.
    pub fn text(&self) -> String {
        match self {
            Mirror::Stub(s) => format!("MaPS stub: {s}"),
            Mirror::Reporting { code, endpoint } => format!("reporting API: {code} on {endpoint}"),
            Mirror::Unnamed => "no stub scenario or reporting code named".to_owned(),
        }
    }
}

/// One row of the coverage table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoverageRow {
    /// Index of the scenario in the record (for its detail).
    pub scenario: usize,
    pub case: String,
    pub mirror: Mirror,
    pub status: Status,
}

/// Whether the scenario belongs to the error catalogue (by its own or its feature's tags).
fn is_catalogue_case(s: &ScenarioRecord) -> bool {
    s.tags
        .iter()
        .any(|t| CATALOGUE_TAGS.contains(&t.trim_start_matches('@')))
}

/// What a scenario name says it mirrors: `(stub: …)` for a C&A or view case; "<endpoint> is
/// refused with [status] CODE …" or "<path>, not one of the six paths, is refused with …" for a
/// reporting script.
pub fn mirror_of(name: &str) -> Mirror {
    if let Some(start) = name.find("(stub: ") {
        let rest = &name[start + "(stub: ".len()..];
        if let Some(end) = rest.rfind(')') {
            return Mirror::Stub(rest[..end].trim().to_owned());
        }
    }
    if let Some(at) = name.find(" is refused with ") {
        let after = &name[at + " is refused with ".len()..];
        let words: Vec<&str> = after.split_whitespace().collect();
        let is_status = |w: &str| w.len() == 3 && w.bytes().all(|b| b.is_ascii_digit());
        let is_code = |w: &str| {
            !w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_uppercase() || b == b'_' || b.is_ascii_digit())
        };
        let code = match words.as_slice() {
            [status, code, ..] if is_status(status) && is_code(code) => {
                Some(format!("{status} {code}"))
            }
            [code, ..] if is_code(code) => Some((*code).to_owned()),
            _ => None,
        };
        if let Some(code) = code {
            let subject = &name[..at];
            let endpoint = subject.split(',').next().unwrap_or(subject).trim();
            return Mirror::Reporting {
                code,
                endpoint: endpoint.to_owned(),
            };
        }
    }
    Mirror::Unnamed
}

/// Every catalogue case of the run in reading order, or nothing when the run has none.
pub fn coverage(record: &RunRecord) -> Vec<CoverageRow> {
    reading_order(&record.scenarios)
        .into_iter()
        .filter(|&i| is_catalogue_case(&record.scenarios[i]))
        .map(|i| {
            let s = &record.scenarios[i];
            CoverageRow {
                scenario: i,
                case: s.case_id.clone().unwrap_or_else(|| "-".to_owned()),
                mirror: mirror_of(&s.name),
                status: s.status,
            }
        })
        .collect()
}

/// "61 cases: 60 passed, 1 failed" over the coverage rows.
pub fn coverage_counts(rows: &[CoverageRow]) -> String {
    let n = |st: Status| rows.iter().filter(|r| r.status == st).count();
    let mut parts = vec![format!("{} passed", n(Status::Passed))];
    for (st, word) in [
        (Status::Failed, "failed"),
        (Status::Skipped, "skipped"),
        (Status::Interrupted, "interrupted"),
    ] {
        if n(st) > 0 {
            parts.push(format!("{} {word}", n(st)));
        }
    }
    format!("{} case(s): {}", rows.len(), parts.join(", "))
}

/// What the section says it is, the same in the PDF and the HTML.
pub const COVERAGE_TITLE: &str = "Error catalogue coverage";
pub const COVERAGE_NOTE: &str = "Each error-catalogue case of this run (the errors pack's C&A and view cases, and the reporting scripts) with the MaPS stub scenario or reporting API error it mirrors, as its feature file names it, and its result in this run.";

#[cfg(test)]
mod tests {
    use super::{Mirror, mirror_of};

    #[test]
    fn a_case_mirrors_what_its_scenario_name_says() {
        assert_eq!(
            mirror_of(
                "E-REG-07 A registration the C&A never answers is given up on and retried (stub: /rreguri POST 504, as a timeout)"
            ),
            Mirror::Stub("/rreguri POST 504, as a timeout".to_owned())
        );
        assert_eq!(
            mirror_of(
                "/view-response/calculations is refused with INVALID_VALUE_CODE when single_calculation.items[0].value_code is ANO"
            ),
            Mirror::Reporting {
                code: "INVALID_VALUE_CODE".to_owned(),
                endpoint: "/view-response/calculations".to_owned()
            }
        );
        assert_eq!(
            mirror_of(
                "/service-availability/find is refused with 413 CONTENT_TOO_LARGE for a body over 1 MiB"
            ),
            Mirror::Reporting {
                code: "413 CONTENT_TOO_LARGE".to_owned(),
                endpoint: "/service-availability/find".to_owned()
            }
        );
        assert_eq!(
            mirror_of(
                "/service-availability, not one of the six paths, is refused with 404 INVALID_URL"
            ),
            Mirror::Reporting {
                code: "404 INVALID_URL".to_owned(),
                endpoint: "/service-availability".to_owned()
            }
        );
        assert_eq!(
            mirror_of("A find acknowledged before a restart is still registered after it"),
            Mirror::Unnamed
        );
    }
}
