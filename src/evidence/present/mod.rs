//! The content model the PDF and the HTML share, worked out once from the record: here, what
//! the run is (and is not) evidence of, the sign-off's scope and the meaning of raw keys;
//! `findings.rs` every failure and warning in one list; `facts.rs` the cover's facts and the
//! words both print; `coverage.rs` the error catalogue's coverage. The renderers only decide
//! how things look.

mod coverage;
mod facts;
mod findings;

pub use coverage::{
    COVERAGE_NOTE, COVERAGE_TITLE, CoverageRow, Mirror, coverage, coverage_counts, mirror_of,
};
pub use facts::{
    Emphasis, Fact, LOAD_NOTE, Standing, WARNINGS_NOTE, cover_facts, load_lines, outcome_text,
    scenario_seconds, scenario_title, seconds_text, standing, status_word, submission_outcome,
    tags_text, utc, warning_rows,
};
pub use findings::{Finding, expected_by, findings, submission_ok};

use crate::record::run::{Exchange, RunRecord, ScenarioRecord, Status, StepRecord};

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

/// The first `limit` bytes of `body` (cut at a character boundary) and how many bytes were left
/// out.
pub fn excerpt(body: &str, limit: usize) -> (&str, usize) {
    if body.len() <= limit {
        return (body, 0);
    }
    let mut cut = limit;
    while cut > 0 && !body.is_char_boundary(cut) {
        cut -= 1;
    }
    (&body[..cut], body.len() - cut)
}
