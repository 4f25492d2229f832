//! Every failure and warning of a run in one list, for the page after the cover (and the top
//! of the HTML): a reader of a real target's evidence meets each failure before the detail.

use super::one_line;
use crate::record::classify::FailureClass;
use crate::record::run::{ReportingSubmission, RunRecord, Status, reading_order};

/// One line of the failures-first summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Index of the scenario in the record (for its detail page), if it belongs to one.
    pub scenario: Option<usize>,
    /// Case id, or "-".
    pub case: String,
    /// "Then ..." for a step; the section for a warning.
    pub step: String,
    /// One line.
    pub reason: String,
    /// "failure" or "warning".
    pub kind: &'static str,
    /// Class and who acts, e.g. "system under test - technical contact".
    pub class: String,
}

/// Every failure (by failed step) and warning, in reading order: the page after the cover.
pub fn findings(record: &RunRecord) -> Vec<Finding> {
    let mut out = Vec::new();
    for i in reading_order(&record.scenarios) {
        let s = &record.scenarios[i];
        let case = s.case_id.clone().unwrap_or_else(|| "-".to_owned());
        match s.status {
            Status::Failed | Status::Skipped => {
                for st in s.steps.iter().filter(|st| st.status == Status::Failed) {
                    // A run log from before failures carried their class has none: say so
                    // rather than guess it from the wording.
                    let class = st.failure_class.map_or_else(
                        || "not recorded (run log from an older version)".to_owned(),
                        class_text,
                    );
                    out.push(Finding {
                        scenario: Some(i),
                        case: case.clone(),
                        step: one_line(&format!("{} {}", st.keyword, st.text), 70),
                        reason: one_line(
                            st.message.as_deref().unwrap_or("no message recorded"),
                            320,
                        ),
                        kind: "failure",
                        class,
                    });
                }
            }
            Status::Interrupted => out.push(Finding {
                scenario: Some(i),
                case: case.clone(),
                step: s
                    .steps
                    .last()
                    .map(|st| format!("after {} {}", st.keyword, st.text))
                    .unwrap_or_else(|| "before its first step".to_owned()),
                reason: "the scenario never finished: the run was stopped".to_owned(),
                kind: "failure",
                class: class_text(FailureClass::Environment),
            }),
            Status::Passed => {}
        }
        // Doubts a step raised without failing (where the public sources disagree).
        for st in &s.steps {
            for w in &st.warnings {
                out.push(Finding {
                    scenario: Some(i),
                    case: case.clone(),
                    step: one_line(&format!("{} {}", st.keyword, st.text), 70),
                    reason: one_line(w, 320),
                    kind: "warning",
                    class: class_text(FailureClass::SystemUnderTest),
                });
            }
        }
    }
    for t in record.timing_summary.iter().filter(|t| t.over_limit > 0) {
        out.push(Finding {
            scenario: None,
            case: "-".to_owned(),
            step: "Timings".to_owned(),
            reason: format!(
                "{} of {} {} measurements over the {:.0} ms limit (max {:.0} ms)",
                t.over_limit, t.count, t.measure, t.limit_ms, t.max_ms
            ),
            kind: "warning",
            class: class_text(FailureClass::SystemUnderTest),
        });
    }
    let r = &record.reporting;
    for sub in &r.submissions {
        if submission_ok(sub) || expected_by(record, sub).is_some() {
            continue;
        }
        out.push(Finding {
            scenario: None,
            case: "-".to_owned(),
            step: format!("Reporting {}", sub.endpoint),
            reason: one_line(
                &format!("{}: {}", sub.outcome.replace('_', " "), sub.detail),
                220,
            ),
            kind: "warning",
            class: class_text(FailureClass::SystemUnderTest),
        });
    }
    for rec in &r.reconciliations {
        for f in rec.findings.iter().filter(|f| !f.agrees) {
            out.push(Finding {
                scenario: None,
                case: "-".to_owned(),
                step: "Reconciliation".to_owned(),
                reason: format!(
                    "{}: reported {}, observed {}",
                    f.measure, f.reported, f.observed
                ),
                kind: "warning",
                class: class_text(FailureClass::SystemUnderTest),
            });
        }
    }
    for n in &record.notes {
        let lower = n.text.to_ascii_lowercase();
        if lower.contains("failed") || lower.contains("not applied") || lower.contains("not re-run")
        {
            out.push(Finding {
                scenario: None,
                case: "-".to_owned(),
                step: format!("Set-up of {}", n.stage),
                reason: one_line(&n.text, 220),
                kind: "warning",
                class: class_text(FailureClass::Environment),
            });
        }
    }
    out
}

fn class_text(class: FailureClass) -> String {
    format!("{}: {}", class.label(), class.owner())
}

pub fn submission_ok(s: &ReportingSubmission) -> bool {
    matches!(
        s.outcome.as_str(),
        "accepted" | "already_accepted" | "dry_run"
    )
}

/// The case id of the passing scenario whose purpose a refused submission was (a forced 400,
/// a body the spec forbids): such a refusal is the expected outcome, not a finding.
pub fn expected_by(record: &RunRecord, s: &ReportingSubmission) -> Option<String> {
    if submission_ok(s) {
        return None;
    }
    record
        .scenarios
        .iter()
        .find(|sc| {
            sc.status == Status::Passed
                && sc.started_at <= s.at
                && sc.ended_at.is_some_and(|end| s.at <= end)
        })
        .map(|sc| sc.case_id.clone().unwrap_or_else(|| sc.name.clone()))
}
