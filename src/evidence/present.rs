//! What the PDF and the HTML both say, worked out once from the record: what the run is (and
//! is not) evidence of, every failure and warning in one list, the sign-off's scope, the
//! meaning of raw keys, and which refusals were the point of their scenario.

use crate::record::classify::FailureClass;
use crate::record::run::{
    Exchange, ReportingSubmission, RunRecord, ScenarioRecord, Status, StepRecord, reading_order,
};

/// What the run was pointed at, in words for the cover and the running header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Framing {
    /// True when the provider was the embedded reference provider.
    pub reference_provider: bool,
    /// A few words for every page's header.
    pub header: String,
    /// One sentence under the cover's title.
    pub title: String,
    /// What the evidence is and is not, for the cover.
    pub explanation: Vec<String>,
}

pub fn framing(record: &RunRecord) -> Framing {
    let t = &record.header.target;
    let reference = t.target_file.is_none() || t.environment.starts_with("embedded");
    let simulated_reporting = t.reporting_simulated != Some(false);
    if reference {
        Framing {
            reference_provider: true,
            header: "REHEARSAL against the embedded reference provider".to_owned(),
            title: "Rehearsal against pdp-harness's embedded reference provider".to_owned(),
            explanation: vec![
                "This run exercised pdp-harness's own reference provider, not the organisation's solution. It shows that the harness, its scenarios and this machine work; it says nothing about the organisation's find and view endpoints.".to_owned(),
                format!(
                    "The pension finder, consent and authorisation service (C&A), dashboard{} were played by pdp-harness.",
                    if simulated_reporting { " and reporting API" } else { "" }
                ),
            ],
        }
    } else {
        Framing {
            reference_provider: false,
            header: "REHEARSAL against the organisation's solution (C&A simulated)".to_owned(),
            title: "Rehearsal against the organisation's solution".to_owned(),
            explanation: vec![
                format!(
                    "This run exercised the organisation's find and view endpoints ({}). The pension finder, consent and authorisation service (C&A) and dashboard were simulated by pdp-harness; reporting went to {}.",
                    t.environment,
                    if simulated_reporting {
                        "the reporting API simulated by pdp-harness"
                    } else {
                        "the organisation's configured reporting API"
                    }
                ),
                "It is the organisation's own rehearsal and readiness evidence: for its go/no-go, for PDP when it asks for logs, and for re-testing after a change. It is not PDP's test report: PDP's test team produces that after testing in pre-production.".to_owned(),
            ],
        }
    }
}

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

/// The first line of a message, at most `max` characters, without markdown backticks.
pub fn one_line(message: &str, max: usize) -> String {
    let first = plain(message.lines().next().unwrap_or_default());
    if first.chars().count() > max {
        format!("{}…", first.chars().take(max - 1).collect::<String>())
    } else {
        first
    }
}

/// Text with markdown backticks taken out: evidence is read on paper, not rendered markdown.
pub fn plain(text: &str) -> String {
    text.replace('`', "")
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

/// The exchange a failed step's check judged, and where it came from: the step's own record
/// of it, else (older logs) the latest exchange of the step or of the nearest earlier step
/// that made any.
pub fn judged_exchange(s: &ScenarioRecord, index: usize) -> Option<(&Exchange, &'static str)> {
    let step = s.steps.get(index)?;
    if let Some(ex) = &step.judged {
        return Some((ex, "the exchange this check judged"));
    }
    if let Some(ex) = step.exchanges.last() {
        return Some((ex, "the last exchange of this step"));
    }
    s.steps[..index]
        .iter()
        .rev()
        .find_map(|st: &StepRecord| st.exchanges.last())
        .map(|ex| {
            (
                ex,
                "the last exchange of an earlier step (no judged exchange was recorded)",
            )
        })
}

/// One line for a passing step: what its check observed, else what it timed, else how many
/// exchanges it made.
pub fn observed_line(step: &StepRecord) -> Option<String> {
    if let Some(o) = &step.observed {
        return Some(plain(o));
    }
    if !step.timings.is_empty() {
        return None;
    }
    match step.exchanges.len() {
        0 => None,
        1 => {
            let e = &step.exchanges[0];
            Some(format!(
                "{} {} -> {}",
                e.method,
                path_of(&e.url),
                e.status
                    .map_or_else(|| "no response".to_owned(), |c| c.to_string())
            ))
        }
        n => Some(format!("{n} HTTP exchanges")),
    }
}

fn path_of(url: &str) -> &str {
    url.find("://")
        .and_then(|i| url[i + 3..].find('/').map(|j| &url[i + 3 + j..]))
        .unwrap_or(url)
}

/// What a sign-off attests, and the scope: what ran and what did not.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    pub attested: String,
    pub included: Vec<String>,
    pub excluded: Vec<String>,
}

pub fn scope(record: &RunRecord) -> Scope {
    let h = &record.header;
    let f = framing(record);
    let attested = if f.reference_provider {
        "that pdp-harness ran the scenarios listed in this report against its embedded reference provider on this machine, with the results shown; it attests nothing about the organisation's solution."
    } else {
        "that the organisation's find and view endpoints were run through the scenarios listed in this report, against a C&A and dashboard simulated by pdp-harness, with the results shown, and that the evidence bundle matches its seal."
    };
    let mut included = vec![format!(
        "pack {}{}: {} scenario(s) ({} passed, {} failed, {} skipped, {} interrupted)",
        h.selection.pack,
        h.selection
            .tags
            .as_deref()
            .map(|t| format!(", tags {t}"))
            .unwrap_or_default(),
        record.counts.total(),
        record.counts.passed,
        record.counts.failed,
        record.counts.skipped,
        record.counts.interrupted
    )];
    if let Some(r) = &h.rerun {
        included.push(format!(
            "a re-run of the scenarios of run {} that did not pass",
            r.rerun_of
        ));
    }
    let mut excluded = Vec::new();
    let all = ["connection-proving", "stage1", "stage2", "reporting"];
    match h.selection.pack.as_str() {
        "all" => {}
        p => excluded.push(format!(
            "the packs not selected: {}",
            all.iter()
                .filter(|x| **x != p)
                .copied()
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
    for (pack, what) in [
        (
            "errors",
            "the errors pack (the C&A error catalogue and the reporting scripts)",
        ),
        (
            "resilience",
            "the resilience pack (C&A fault injection: retries and backoff)",
        ),
        (
            "reporting-errors",
            "the reporting-errors pack (every INVALID_* code and transport error of the reporting API)",
        ),
        (
            "reporting-received",
            "the reporting-received pack (what serve's reporting simulator received from the organisation's own client)",
        ),
    ] {
        // The errors pack holds the reporting scripts.
        let included = h.selection.pack == pack
            || (pack == "reporting-errors" && h.selection.pack == "errors");
        if !included {
            excluded.push(format!("{what}, which is not part of \"all\""));
        }
    }
    if let Some(t) = &h.selection.tags {
        excluded.push(format!("scenarios not matching the tag expression {t}"));
    }
    if h.rerun.is_some() {
        excluded.push("scenarios that passed in the earlier run (not re-run)".to_owned());
    }
    for n in record
        .notes
        .iter()
        .filter(|n| n.text.contains("are not run"))
    {
        excluded.push(plain(&n.text));
    }
    excluded
        .push("PDP's own pre-production testing, which this rehearsal does not replace".to_owned());
    Scope {
        attested: attested.to_owned(),
        included,
        excluded,
    }
}

/// What a raw configuration key or reconciliation measure means, for readers who do not know
/// the code.
pub fn meaning(key: &str) -> Option<&'static str> {
    Some(match key {
        "organisation.name" => "who is tested",
        "organisation.holdername_guid" => "the organisation's holdername GUID at the CDA",
        "organisation.scheme_name" => "the scheme name registrations and view data carry",
        "provider.find_url" => "the solution's find endpoint",
        "provider.view_url" => "the solution's view endpoint",
        "provider.client_cert" => "the certificate the harness presents to the solution",
        "provider.ca_bundle" => "the CA(s) trusted for the solution's server certificate",
        "cda.listen" => "where the simulated C&A listens",
        "cda.public_url" => "the C&A address the solution is configured with",
        "cda.server_cert" => "the simulated C&A's server certificate",
        "cda.server_ca" => "the CA of that certificate",
        "cda.client_ca" => "the CA the C&A trusts for the solution's client certificate",
        "cda.signing_kid" => "the key id the C&A signs tokens with",
        "reporting.base_url" => "where reporting submissions are sent",
        "reporting.client_cert" => "the certificate presented to the reporting API",
        "reporting.expected_minutes" => {
            "time budget for the reporting submissions (they must not straddle 00:00 UTC)"
        }
        "limits.acknowledgement_ms" => "find request to its 202 acknowledgement, at most",
        "limits.registration_ms" => "find request to each PeI registration at the C&A, at most",
        "limits.view_response_ms" => "view request (with the RPT) to its response, at most",
        "limits.registration_settle_ms" => "how long to keep watching for extra registrations",
        "limits.no_match_watch_ms" => "how long to watch for a registration that must not come",
        "limits.update_ms" => "how long a match update may take to reach the C&A",
        "clear_down" => "how test data is cleared down between scenarios",
        "contact_count" => "view requests answered with a contact-the-provider response",
        "missingadmin_count" => "view requests answered administrativeDetailsNotAvailable",
        "temperror_count" => "view requests answered temporarySystemError",
        "eri_unavail_ano_count" => "ERI illustrations unavailable, code ANO",
        "eri_unavail_ppf_count" => "ERI illustrations unavailable, code PPF",
        "eri_unavail_trn_count" => "ERI illustrations unavailable, code TRN",
        "accrued_unavail_ano_count" => "accrued illustrations unavailable, code ANO",
        "accrued_unavail_ppf_count" => "accrued illustrations unavailable, code PPF",
        "accrued_unavail_trn_count" => "accrued illustrations unavailable, code TRN",
        k if k.starts_with("reporting.sources.") => {
            "where that endpoint's reporting data comes from (derived, file or null)"
        }
        _ => return None,
    })
}

/// The same-UTC-day result of the accepted rows themselves: each UTC date with its endpoints.
pub fn accepted_days(record: &RunRecord) -> Vec<(String, Vec<String>)> {
    let mut days: Vec<(String, Vec<String>)> = Vec::new();
    for s in record
        .reporting
        .submissions
        .iter()
        .filter(|s| matches!(s.outcome.as_str(), "accepted" | "already_accepted"))
    {
        let d = s.at.format("%Y-%m-%d").to_string();
        let i = match days.iter().position(|(x, _)| *x == d) {
            Some(i) => i,
            None => {
                days.push((d, Vec::new()));
                days.len() - 1
            }
        };
        if !days[i].1.contains(&s.endpoint) {
            days[i].1.push(s.endpoint.clone());
        }
    }
    days
}

/// The inputs' digests as cover lines: "pack.toml: <sha256>".
pub fn input_lines(record: &RunRecord) -> Vec<(String, String)> {
    record
        .header
        .inputs
        .iter()
        .map(|f| {
            let name = std::path::Path::new(&f.path)
                .file_name()
                .map_or_else(|| f.path.clone(), |n| n.to_string_lossy().into_owned());
            (name, f.sha256.clone())
        })
        .collect()
}

/// A reconciliation's window in words, with milliseconds, saying so when it is one instant.
pub fn window_text(rec: &crate::record::run::Reconciliation) -> String {
    let f = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string();
    let what = "Observed: the harness's own view requests, their durations and the view data it verified, completed in the window.";
    if rec.window_from == rec.window_to {
        format!(
            "Window: the single instant {} (the reporting stage started and was reconciled at once, so nothing could be observed in it). {what}",
            f(&rec.window_from)
        )
    } else {
        format!(
            "Window: from {} to {} ({:.1} s). {what}",
            f(&rec.window_from),
            f(&rec.window_to),
            (rec.window_to - rec.window_from).num_milliseconds() as f64 / 1000.0
        )
    }
}

/// A logarithmic axis from 1 ms to a little beyond the larger of a limit and a maximum.
#[derive(Debug, Clone, Copy)]
pub struct LogAxis {
    top: f64,
}

pub fn log_axis(limit_ms: f64, max_ms: f64) -> LogAxis {
    LogAxis {
        top: (limit_ms.max(max_ms).max(10.0) * 1.5).log10(),
    }
}

impl LogAxis {
    /// Where `ms` falls along the axis, 0 to 1 (below 1 ms: at the start).
    pub fn fraction(self, ms: f64) -> f64 {
        (ms.max(1.0).log10() / self.top).clamp(0.0, 1.0)
    }
}

/// The order stages are listed in (by the start of their lower-cased names).
const STAGE_ORDER: [&str; 4] = ["connection proving", "stage 1", "stage 2", "reporting"];

/// Per stage, in PDP's order: scenarios passed, failed, skipped and interrupted; for the
/// per-stage table of the PDF and the HTML alike.
pub fn stage_counts(record: &RunRecord) -> Vec<(String, [usize; 4])> {
    let mut stages: Vec<(String, [usize; 4])> = Vec::new();
    for s in &record.scenarios {
        let name = s.stage.clone().unwrap_or_else(|| "other".to_owned());
        let i = match stages.iter().position(|(n, _)| *n == name) {
            Some(i) => i,
            None => {
                stages.push((name, [0; 4]));
                stages.len() - 1
            }
        };
        let slot = match s.status {
            Status::Passed => 0,
            Status::Failed => 1,
            Status::Skipped => 2,
            Status::Interrupted => 3,
        };
        stages[i].1[slot] += 1;
    }
    stages.sort_by_key(|(n, _)| {
        STAGE_ORDER
            .iter()
            .position(|o| n.to_lowercase().starts_with(o))
            .unwrap_or(STAGE_ORDER.len())
    });
    stages
}
