//! The reporting submissions, the same-UTC-day check and the reconciliation of what was
//! reported with what the harness observed.

use super::super::layout::*;
use super::super::style::*;
use crate::evidence::present;
use crate::record::run::*;

/// Every reporting submission (endpoint, record id, UTC time, outcome), the same-UTC-day check
/// and the reconciliation of what was reported with what the harness observed.
pub(crate) fn reporting(l: &mut Layout, record: &RunRecord) {
    let r = &record.reporting;
    if r.is_empty() {
        return;
    }
    l.gap(8.0);
    l.section("Reporting submissions");
    let days: std::collections::BTreeSet<String> = r
        .submissions
        .iter()
        .map(|s| s.at.format("%Y-%m-%d").to_string())
        .collect();
    l.paragraph(para(
        format!(
            "Each record sent to the reporting API, in order; times are UTC on {}. \"already accepted\" and \"held in doubt\" records were not sent again: the journal shows the same data was accepted earlier, or may have been.",
            days.into_iter().collect::<Vec<_>>().join(" and ")
        ),
        NOTE,
    ));
    l.gap(4.0);
    // Fixed widths: the longest endpoint path and a record id each on one line (the reason
    // under the endpoint), codes on a line of their own.
    l.begin_table(columns(&[
        ("UTC", 16.5, Align::Left),
        ("Endpoint, reason", 50.0, Align::Left),
        ("Record id", 0.0, Align::Left),
        ("Outcome", 42.0, Align::Left),
    ]));
    for s in &r.submissions {
        let standing = present::standing(record, s);
        let style = match standing {
            present::Standing::Accepted => SMALL.colored(GREEN),
            present::Standing::Expected(_) => SMALL.bold().colored(NAVY),
            present::Standing::Refused => SMALL.bold().colored(RED),
        };
        let mut outcome = Cell::text(present::submission_outcome(s), style);
        for code in &s.codes {
            outcome = outcome.with(para(code.as_str(), Style::new(Weight::Regular, 6.5, TEXT)));
        }
        if let present::Standing::Expected(case) = standing {
            outcome = outcome.with(para(format!("expected: the purpose of {case}"), NOTE));
        }
        l.row(vec![
            Cell::text(s.at.format("%H:%M:%S").to_string(), SMALL),
            Cell::text(s.endpoint.as_str(), SMALL).with(para(s.submission_reason.as_str(), NOTE)),
            Cell::text(s.record_id.as_str(), Style::new(Weight::Regular, 7.0, TEXT)),
            outcome,
        ]);
    }
    l.end_table();
    if !r.submissions.is_empty() {
        let days = present::accepted_days(record);
        let text = if days.is_empty() {
            "no submission in the table above was accepted".to_owned()
        } else {
            days.iter()
                .map(|(d, e)| format!("{d}: {} endpoint(s) accepted", e.len()))
                .collect::<Vec<_>>()
                .join("; ")
        };
        l.gap(4.0);
        l.paragraph(vec![
            span("Accepted, by UTC day (from the rows above): ", BODY.bold()),
            span(text, BODY),
        ]);
    }
    for d in &r.day_checks {
        l.gap(2.0);
        l.paragraph(vec![
            span(
                format!("Same-UTC-day check at {}: ", d.at.format("%H:%M:%S")),
                BODY.bold(),
            ),
            span(
                present::plain(&d.description),
                if d.complete {
                    BODY
                } else {
                    BODY.bold().colored(RED)
                },
            ),
        ]);
    }
    for rec in &r.reconciliations {
        l.gap(6.0);
        l.subheading("Reconciliation: reported against observed", None, 60.0);
        l.paragraph(para(present::window_text(rec), NOTE));
        l.gap(2.0);
        if rec.findings.is_empty() {
            l.paragraph(para(
                "No measure was compared: the organisation's reporting data for this window held no view-response counts for this holdername GUID, so there was nothing to set against what the harness observed.",
                BODY,
            ));
            continue;
        }
        l.begin_table(columns(&[
            ("Measure", 0.0, Align::Left),
            ("Reported", 20.0, Align::Right),
            ("Observed", 20.0, Align::Right),
            ("Verdict", 22.0, Align::Left),
        ]));
        for f in &rec.findings {
            let mut measure = Cell::text(f.measure.as_str(), SMALL.bold());
            if let Some(m) = present::meaning(&f.measure) {
                measure = measure.with(para(m, NOTE));
            }
            l.row(vec![
                measure,
                Cell::text(f.reported.to_string(), SMALL),
                Cell::text(f.observed.to_string(), SMALL),
                if f.agrees {
                    Cell::text("agrees", SMALL.colored(GREEN))
                } else {
                    Cell::text("DIFFERS", SMALL.bold().colored(RED))
                },
            ]);
        }
        l.end_table();
    }
}
