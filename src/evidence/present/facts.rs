//! The facts both reports print in the same words: the cover's rows, a scenario's title, tags
//! and duration, an exchange's outcome, a load test's figures, the warnings and where a
//! reporting submission stands. The PDF and the HTML only choose how to draw them.

use super::{expected_by, submission_ok};
use crate::record::run::{Exchange, ReportingSubmission, RunRecord, ScenarioRecord, Status};

/// How a cover fact is drawn: most plainly, a few to catch the eye.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emphasis {
    Plain,
    /// The run id.
    Strong,
    /// Personal data revealed.
    Alarm,
    /// A run that did not finish.
    Caution,
    /// Long reference text (the view data schema).
    Small,
}

/// One row of the cover: a label, its value and how to draw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub label: &'static str,
    pub value: String,
    pub emphasis: Emphasis,
}

/// A time as the reports print it: "2026-11-22 10:00:00 UTC".
pub fn utc(t: &chrono::DateTime<chrono::Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// The cover's rows, in order, up to (not including) the input digests and the manifest.
pub fn cover_facts(record: &RunRecord) -> Vec<Fact> {
    let h = &record.header;
    let fact = |label, value: &str| Fact {
        label,
        value: value.to_owned(),
        emphasis: Emphasis::Plain,
    };
    let mut selection = format!(
        "pack {}, tags {}",
        h.selection.pack,
        h.selection.tags.as_deref().unwrap_or("none")
    );
    if !h.selection.features.is_empty() {
        let names: Vec<String> = h
            .selection
            .features
            .iter()
            .map(|f| {
                std::path::Path::new(f)
                    .file_name()
                    .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
            })
            .collect();
        selection.push_str(&format!(", features {}", names.join(", ")));
    }
    let mut facts = vec![
        Fact {
            emphasis: Emphasis::Strong,
            ..fact("Run id", &h.run_id)
        },
        fact("Organisation", &h.target.organisation),
        fact("Environment", &h.target.environment),
        fact("Holdername GUID", &h.target.holdername_guid),
        fact("Find URL", &h.target.find_url),
        fact("View URL", &h.target.view_url),
        fact(
            "Target file",
            h.target
                .target_file
                .as_deref()
                .unwrap_or("none - embedded default"),
        ),
        fact("Started (UTC)", &utc(&h.started_at)),
        match &record.ended_at {
            Some(end) => fact("Finished (UTC)", &utc(end)),
            None => Fact {
                emphasis: Emphasis::Caution,
                ..fact("Finished (UTC)", "not finished - run interrupted")
            },
        },
        fact("Harness version", &h.harness_version),
        fact("Technical standards", &h.standards.technical),
        fact("Data standards", &h.standards.data),
        fact("Reporting standards", &h.standards.reporting),
        fact("Find/view contract", &h.standards.find_view_contract),
        Fact {
            emphasis: Emphasis::Small,
            ..fact(
                "View data schema",
                if h.standards.view_data_schema.is_empty() {
                    "not recorded"
                } else {
                    &h.standards.view_data_schema
                },
            )
        },
        fact(
            "Test pack",
            h.test_pack.as_deref().unwrap_or("not recorded"),
        ),
        fact("Selection", &selection),
        if h.personal_data_revealed {
            Fact {
                emphasis: Emphasis::Alarm,
                ..fact("Personal data", "REVEALED at the user's request")
            }
        } else {
            fact("Personal data", "redacted")
        },
    ];
    if let Some(after) = &h.after {
        facts.push(fact(
            "Stage 2 of",
            &format!(
                "stage-1 run {after}: its match-update file and the registrations it left at the C&A"
            ),
        ));
    }
    if let Some(rerun) = &h.rerun {
        facts.push(fact(
            "Re-run of",
            &format!(
                "run {}: its scenarios that did not pass (runs in the chain: {}; attempt history after the coverage matrix)",
                rerun.rerun_of,
                rerun.chain.join(", ")
            ),
        ));
    }
    facts
}

/// A status as a badge says it: "PASSED".
pub fn status_word(status: Status) -> String {
    status.as_str().to_uppercase()
}

/// "CP-01 Name", or the name alone without a case id.
pub fn scenario_title(s: &ScenarioRecord) -> String {
    match &s.case_id {
        Some(case) => format!("{case} {}", s.name),
        None => s.name.clone(),
    }
}

/// Wall-clock seconds from the scenario's start to its end, if it ended.
pub fn scenario_seconds(s: &ScenarioRecord) -> Option<f64> {
    s.ended_at
        .map(|end| (end - s.started_at).num_milliseconds() as f64 / 1000.0)
}

/// Seconds to two places, or "-" for a scenario that did not end.
pub fn seconds_text(s: &ScenarioRecord) -> String {
    scenario_seconds(s).map_or_else(|| "-".to_owned(), |d| format!("{d:.2}"))
}

/// The scenario's tags as written in a feature file: "@case:CP-01 @stage1".
pub fn tags_text(s: &ScenarioRecord) -> String {
    s.tags
        .iter()
        .map(|t| format!("@{}", t.trim_start_matches('@')))
        .collect::<Vec<_>>()
        .join(" ")
}

/// An exchange's HTTP status, or "no response".
pub fn outcome_text(ex: &Exchange) -> String {
    ex.status
        .map_or_else(|| "no response".to_owned(), |c| c.to_string())
}

/// Where a reporting submission stands: accepted, refused as its scenario intended (with that
/// scenario's case), or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Standing {
    Accepted,
    Expected(String),
    Refused,
}

pub fn standing(record: &RunRecord, s: &ReportingSubmission) -> Standing {
    if submission_ok(s) {
        return Standing::Accepted;
    }
    expected_by(record, s).map_or(Standing::Refused, Standing::Expected)
}

/// A submission's outcome in words: "refused 400".
pub fn submission_outcome(s: &ReportingSubmission) -> String {
    format!(
        "{}{}",
        s.outcome.replace('_', " "),
        s.http_status.map(|h| format!(" {h}")).unwrap_or_default()
    )
}

/// Each warning a step raised without failing, with its case (else its scenario's name).
pub fn warning_rows(record: &RunRecord) -> Vec<(String, &str)> {
    record
        .scenarios
        .iter()
        .flat_map(|s| {
            let case = s.case_id.clone().unwrap_or_else(|| s.name.clone());
            s.warnings().map(move |w| (case.clone(), w))
        })
        .collect()
}

pub const WARNINGS_NOTE: &str = "Where the public sources disagree the harness warns instead of failing; each warning gives its reason. [contract] strict = true makes them failures.";

pub const LOAD_NOTE: &str = "Latencies run from each find's intended send time (its slot in the schedule), so time spent queueing behind a slow answer counts (no coordinated omission); 'service' alone runs from the actual send. HDR histograms, 3 significant digits.";

/// A load test's figures in two sentences: what was sent, then what came of it (none for a
/// run that was not a load test).
pub fn load_lines(record: &RunRecord) -> Option<[String; 2]> {
    let s = record.load.as_ref()?;
    let errors = s
        .error_kinds
        .iter()
        .map(|(k, n)| format!("{k}: {n}"))
        .collect::<Vec<_>>()
        .join(", ");
    Some([
        format!(
            "{} finds to {} at {} per second requested, {:.1} per second achieved, over {} s; {} for people the provider holds; at most {} in flight; timeout {} ms.",
            s.finds_sent,
            s.find_url,
            s.requested_rate,
            s.achieved_rate,
            s.duration_secs,
            s.matching_finds,
            s.max_in_flight,
            s.timeout_ms
        ),
        format!(
            "Acknowledged {}, errors {}{}, timeouts {}. Registrations: {} expected, {} seen, {} missing, {} unexpected.{}",
            s.acknowledged,
            s.errors,
            if errors.is_empty() {
                String::new()
            } else {
                format!(" ({errors})")
            },
            s.timeouts,
            s.registrations_expected,
            s.registrations_observed,
            s.registrations_missing,
            s.registrations_unexpected,
            if s.views_ok + s.view_errors > 0 {
                format!(" Views: {} served, {} failed.", s.views_ok, s.view_errors)
            } else {
                String::new()
            }
        ),
    ])
}
