//! The run record: what a run did, step by step, in the form every output is rendered from.
//!
//! A run appends [`LogEvent`]s to `run.log.jsonl` as they happen (one line per event, flushed at
//! once). [`RunRecord::from_events`] folds those lines back into a [`RunRecord`]; `run.json`,
//! `junit.xml` and `evidence.pdf` are all rendered from that record alone, so a run killed
//! half-way can still be turned into the same evidence by `pdp-harness report <run-id>`.
//!
//! Everything in here has already been redacted (see [`crate::record::redact`]): the record
//! never holds a token, a key or a persona's personal data unless the user asked to reveal it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Outcome of a step or a scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Passed,
    Failed,
    Skipped,
    /// Started but never finished: the process died or was stopped.
    Interrupted,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Passed => "passed",
            Status::Failed => "failed",
            Status::Skipped => "skipped",
            Status::Interrupted => "interrupted",
        }
    }
}

/// The overall verdict of a run, in the words a test manager reads on the cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every selected scenario passed.
    Passed,
    /// At least one scenario failed.
    Failed,
    /// The run stopped before it finished; what was recorded is shown.
    Incomplete,
    /// The run was stopped (a signal, its client gone, the midnight guard) and sealed what it had:
    /// the scenarios that never started are counted as such.
    Interrupted,
    /// Nothing matched the selection.
    NoScenarios,
    /// Everything run passed, and stage 2 waits for the organisation to apply the match
    /// updates (a real target without an `[updates] command`): `run --pack stage2 --after`.
    Pending,
}

impl Verdict {
    pub fn plain_words(self) -> &'static str {
        match self {
            Verdict::Passed => "PASSED - every selected scenario passed",
            Verdict::Failed => "FAILED - one or more scenarios did not pass",
            Verdict::Incomplete => "INCOMPLETE - the run stopped before it finished",
            Verdict::Interrupted => "INTERRUPTED - the run was stopped before it finished",
            Verdict::NoScenarios => "NO SCENARIOS - nothing matched the selection",
            Verdict::Pending => {
                "STAGE 1 PASSED, STAGE 2 PENDING - apply the match updates, then run stage 2"
            }
        }
    }
}

/// Versions of the standards the run exercised, printed on the cover.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Standards {
    pub technical: String,
    pub data: String,
    pub reporting: String,
    /// Which find/view wire contract was in force (documented default or the organisation's).
    pub find_view_contract: String,
    /// The view data schema that judged view data ("built-in ..." or the organisation's file)
    /// and its SHA-256.
    #[serde(default)]
    pub view_data_schema: String,
}

/// What the run was pointed at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// e.g. "embedded default (reference provider)".
    pub environment: String,
    /// Who is tested: the target file's `[organisation] name`, else the pack's administrator.
    #[serde(default)]
    pub organisation: String,
    pub holdername_guid: String,
    pub find_url: String,
    pub view_url: String,
    /// Where the target configuration came from, if a file was given.
    pub target_file: Option<String>,
    /// True when the reporting API was the harness's own simulator (absent in older logs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reporting_simulated: Option<bool>,
}

/// What the user selected.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    pub pack: String,
    pub tags: Option<String>,
    pub features: Vec<String>,
}

/// Certificate facts for the appendix (never the key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CertificateInfo {
    pub role: String,
    pub subject: String,
    pub sha256_fingerprint: String,
    pub not_after: DateTime<Utc>,
}

/// One HTTP exchange seen or made by the harness, already redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Exchange {
    /// Who called whom, e.g. "pension finder -> provider find".
    pub party: String,
    pub at: DateTime<Utc>,
    pub method: String,
    pub url: String,
    pub request_headers: Vec<(String, String)>,
    pub request_body: Option<String>,
    /// None when no response arrived (connection refused, TLS failure, timeout).
    pub status: Option<u16>,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Option<String>,
    pub duration_ms: f64,
    /// Transport error, when there was one.
    pub error: Option<String>,
}

/// A timing measured by a step, with the limit it was judged against.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Timing {
    /// "acknowledgement", "registration" or "view response".
    pub measure: String,
    pub millis: f64,
    pub limit_millis: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    /// "Given", "When", "Then", "And", "But".
    pub keyword: String,
    pub text: String,
    pub status: Status,
    pub duration_ms: f64,
    /// Why it failed (or was skipped), naming the expectation and what was observed.
    pub message: Option<String>,
    /// Who has to act on a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_class: Option<super::classify::FailureClass>,
    pub exchanges: Vec<Exchange>,
    pub timings: Vec<Timing>,
    /// Doubts that did not fail the step: where the public sources disagree (`[contract]
    /// strict = true` makes them failures instead).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    /// What the step's check observed, in one line ("PeI urn:pei:... registered match-yes").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// The exchange a failed step's check judged, which an earlier step may have recorded:
    /// the evidence shows it rather than whatever exchange happened last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged: Option<Box<Exchange>>,
    /// View data tokens the step verified, as their decoded claims (personal data masked):
    /// the exchange itself only holds "[redacted token]".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub view_data: Vec<DecodedToken>,
}

impl StepRecord {
    /// A step with nothing recorded but its outcome: a check judged over the whole run, a
    /// scenario that could not be set up, a step never run.
    pub fn outcome_only(
        keyword: &str,
        text: String,
        status: Status,
        message: Option<String>,
        failure_class: Option<super::classify::FailureClass>,
    ) -> StepRecord {
        StepRecord {
            keyword: keyword.to_owned(),
            text,
            status,
            duration_ms: 0.0,
            message,
            failure_class,
            exchanges: Vec::new(),
            timings: Vec::new(),
            observed: None,
            judged: None,
            view_data: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// A failed "Then" step of a check judged over the whole run (the registration audit):
    /// the system under test's, with nothing recorded but its message.
    pub fn failed_check(text: String, message: String) -> StepRecord {
        StepRecord::outcome_only(
            "Then",
            text,
            Status::Failed,
            Some(message),
            Some(super::classify::FailureClass::SystemUnderTest),
        )
    }
}

/// A verified view data token's claims, masked like everything else in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodedToken {
    /// Which registration it was for (the PeI).
    pub pei: String,
    /// The claims as pretty JSON text, masked.
    pub claims: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioRecord {
    pub feature: String,
    pub name: String,
    pub tags: Vec<String>,
    /// Stable case id from the `@case:XX-nn` tag, if any.
    pub case_id: Option<String>,
    /// Stage from the `@stage:...` / `@connection-proving` tag, if any.
    pub stage: Option<String>,
    /// `features/...feature:LINE`.
    pub location: String,
    pub started_at: DateTime<Utc>,
    pub ended_at: Option<DateTime<Utc>>,
    pub status: Status,
    pub steps: Vec<StepRecord>,
}

impl ScenarioRecord {
    /// Every warning its steps raised, in order.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.steps
            .iter()
            .flat_map(|st| st.warnings.iter().map(String::as_str))
    }

    /// The organisation's own references for this case, from `@ref:<id>` tags.
    pub fn refs(&self) -> Vec<&str> {
        self.tags
            .iter()
            .filter_map(|t| t.trim_start_matches('@').strip_prefix("ref:"))
            .collect()
    }

    /// The message of the first failed step (what a reader needs first), if any.
    pub fn first_failure(&self) -> Option<&str> {
        self.steps
            .iter()
            .find(|st| st.status == Status::Failed)
            .and_then(|st| st.message.as_deref())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
    pub interrupted: usize,
    /// Planned scenarios that never started (the run stopped first). Absent when zero, so
    /// records of complete runs are as before.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub not_started: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Counts {
    pub fn total(&self) -> usize {
        self.passed + self.failed + self.skipped + self.interrupted + self.not_started
    }
}

/// A scenario the run selected, written to the run log before any scenario starts, so a run
/// that stops early still knows (and `rerun` can run) what it never reached.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlannedScenario {
    #[serde(flatten)]
    pub key: ScenarioKey,
    /// Its tags with its feature's and rule's (`@depends-on:` among them).
    pub tags: Vec<String>,
}

/// The first event of every run log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunHeader {
    pub run_id: String,
    pub started_at: DateTime<Utc>,
    pub harness_version: String,
    pub standards: Standards,
    pub target: TargetInfo,
    pub selection: Selection,
    pub certificates: Vec<CertificateInfo>,
    /// The configuration in force, secrets removed, as `key = value` lines.
    pub configuration: Vec<(String, String)>,
    /// True when the user asked to keep personal data in the evidence.
    pub personal_data_revealed: bool,
    /// The test pack's id and version, e.g. "integration 1.0.0".
    #[serde(default)]
    pub test_pack: Option<String>,
    /// Set when this run re-ran the failed scenarios of an earlier run: which run, and every
    /// earlier attempt of each scenario. Absent from the logs of ordinary runs (and of runs
    /// older than `rerun`), which therefore still load and render byte for byte as before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rerun: Option<RerunInfo>,
    /// SHA-256 of the test pack and of each feature file the run used (absent in older logs;
    /// the evidence loader then takes them from `inputs/used.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<FileDigest>,
    /// Set on a stage 2 run (`--after`): the stage-1 run whose registrations and match-update
    /// file it checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
}

/// Identifies a scenario across runs: its case id when it has one (stable while names are
/// reworded), else its feature and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ScenarioKey {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_id: Option<String>,
    pub feature: String,
    pub name: String,
}

impl ScenarioKey {
    pub fn new(case_id: Option<&str>, feature: &str, name: &str) -> ScenarioKey {
        ScenarioKey {
            case_id: case_id.map(str::to_owned),
            feature: feature.to_owned(),
            name: name.to_owned(),
        }
    }

    pub fn of(s: &ScenarioRecord) -> ScenarioKey {
        ScenarioKey::new(s.case_id.as_deref(), &s.feature, &s.name)
    }

    /// Same scenario: by case id when either has one, else by feature and name.
    pub fn matches(&self, other: &ScenarioKey) -> bool {
        match (&self.case_id, &other.case_id) {
            (Some(a), Some(b)) => a == b,
            (None, None) => self.feature == other.feature && self.name == other.name,
            _ => false,
        }
    }

    /// The case id, else the name: how a feature file's scenarios are told apart.
    pub fn id(&self) -> &str {
        self.case_id.as_deref().unwrap_or(&self.name)
    }

    /// "CP-01 A known member ..." or "Feature: name".
    pub fn label(&self) -> String {
        match &self.case_id {
            Some(id) => format!("{id} {}", self.name),
            None => format!("{}: {}", self.feature, self.name),
        }
    }
}

/// One earlier attempt of a scenario, in another run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub run_id: String,
    /// When the scenario finished in that run (its start when it never finished).
    pub at: DateTime<Utc>,
    pub status: Status,
    /// The first failure message of that attempt, if it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The earlier attempts of one scenario, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScenarioHistory {
    #[serde(flatten)]
    pub key: ScenarioKey,
    /// Why it was re-run: "failed" (it did not pass last time) or "dependency" (a re-run
    /// scenario depends on its stage).
    pub reason: String,
    pub attempts: Vec<Attempt>,
}

/// What a re-run re-ran, and the history it carries forward.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RerunInfo {
    /// The run whose failures this run re-ran.
    pub rerun_of: String,
    /// Every run in the chain, oldest first, ending with `rerun_of`.
    #[serde(default)]
    pub chain: Vec<String>,
    #[serde(default)]
    pub previous_attempts: Vec<ScenarioHistory>,
    /// Inputs (test pack, feature files) that differ from what the earlier run used, in words.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs_changed: Vec<String>,
}

impl RerunInfo {
    /// The earlier attempts of a scenario of this run, if it has any.
    pub fn history_of(&self, s: &ScenarioRecord) -> Option<&ScenarioHistory> {
        let key = ScenarioKey::of(s);
        self.previous_attempts.iter().find(|h| h.key.matches(&key))
    }
}

/// "failed in run A at 2026-11-23 10:14 UTC; passed in this run": the attempt history in one
/// sentence, the same in the console, JUnit, HTML and PDF.
pub fn attempt_history_text(history: &ScenarioHistory, now: Status) -> String {
    let mut parts: Vec<String> = history
        .attempts
        .iter()
        .map(|a| {
            format!(
                "{} in run {} at {}",
                a.status.as_str(),
                a.run_id,
                a.at.format("%Y-%m-%d %H:%M UTC")
            )
        })
        .collect();
    parts.push(format!("{} in this run", now.as_str()));
    parts.join("; ")
}

impl RunRecord {
    /// The attempt history of a scenario of this run, when this run was a re-run.
    pub fn history_of(&self, s: &ScenarioRecord) -> Option<&ScenarioHistory> {
        self.header.rerun.as_ref()?.history_of(s)
    }
}

/// One reporting record in the evidence (no personal data: GUIDs, counts and codes only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportingSubmission {
    /// When the record was sent (last attempt), or checked.
    pub at: DateTime<Utc>,
    /// The path, e.g. `/view-response/unavailable`.
    pub endpoint: String,
    pub record_id: String,
    pub submission_id: Option<String>,
    pub submission_reason: String,
    pub submission_status: String,
    /// e.g. "null submission for 1 holder(s)".
    pub summary: String,
    /// `accepted`, `refused`, `failed`, `in_doubt`, `already_accepted`, `held_in_doubt`,
    /// `invalid` (refused by the harness's own validator) or `dry_run`.
    pub outcome: String,
    pub http_status: Option<u16>,
    /// Problem codes, or the validator's codes for `invalid`.
    #[serde(default)]
    pub codes: Vec<String>,
    pub attempts: usize,
    /// The waits before each retry, in milliseconds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waits_ms: Vec<u64>,
    /// The answer in words (message and timestamp, problem, or why nothing was sent).
    pub detail: String,
}

/// The same-UTC-day check over a run's accepted reporting submissions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayCheck {
    pub at: DateTime<Utc>,
    /// Each UTC date with the endpoint paths accepted on it.
    pub days: Vec<(String, Vec<String>)>,
    /// All six on one UTC day.
    pub complete: bool,
    pub description: String,
}

/// One reconciliation, with its findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reconciliation {
    pub at: DateTime<Utc>,
    pub window_from: DateTime<Utc>,
    pub window_to: DateTime<Utc>,
    pub findings: Vec<ReconciliationFinding>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReconciliationFinding {
    pub measure: String,
    pub reported: u64,
    pub observed: u64,
    pub agrees: bool,
}

/// Everything reporting did in a run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReportingSection {
    pub submissions: Vec<ReportingSubmission>,
    pub day_checks: Vec<DayCheck>,
    pub reconciliations: Vec<Reconciliation>,
}

impl ReportingSection {
    pub fn is_empty(&self) -> bool {
        self.submissions.is_empty() && self.day_checks.is_empty() && self.reconciliations.is_empty()
    }
}

/// The match-update file a stage 1 issued, and what to do next.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedUpdates {
    pub file: String,
    pub updates: usize,
    /// "Apply these updates in your system, then run ...".
    pub next: String,
}

/// A runner note, kept in the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    pub at: DateTime<Utc>,
    pub stage: String,
    pub text: String,
}

/// The whole run, as rendered into every output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    #[serde(flatten)]
    pub header: RunHeader,
    /// None when the run log has no `run_finished` line (the run was interrupted).
    pub ended_at: Option<DateTime<Utc>>,
    pub verdict: Verdict,
    pub counts: Counts,
    pub scenarios: Vec<ScenarioRecord>,
    /// SHA-256 of the run log the record was folded from, hex.
    pub run_log_sha256: String,
    /// What the runner did between scenarios.
    #[serde(default)]
    pub notes: Vec<Note>,
    /// p50/p95/max of each measure over the run, against its limit.
    #[serde(default)]
    pub timing_summary: Vec<TimingSummary>,
    /// Reporting submissions, the same-UTC-day check and reconciliation (reporting pack).
    #[serde(default)]
    pub reporting: ReportingSection,
    /// A load test's figures; absent from ordinary runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<crate::record::load::LoadSummary>,
    /// Why the run was stopped, when it was (a signal, its client gone, the midnight guard).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Planned scenarios that never started, when the run did not finish.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_started: Vec<PlannedScenario>,
    /// The test manager's sign-off details (`inputs/signoff.json`, set at `run` or `report`
    /// time; covered by the manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sign_off: Option<SignOff>,
    /// Each time `report --reseal` re-rendered the bundle from a log that no longer matched
    /// its seal (`reseal.json`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resealed: Vec<Reseal>,
    /// The match-update file stage 1 issued (absent when stage 1 did not run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_updates: Option<IssuedUpdates>,
    /// Stages not run that wait for the organisation (stage 2 pending).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Note>,
}

/// What the test manager adds for the sign-off: the organisation's ticket, who reviews and
/// approves, and free-text notes and deviations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignOff {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reviewer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<String>,
    /// Notes and deviations, as the test manager wrote them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

impl SignOff {
    /// `self` with every field `other` sets replaced.
    pub fn merged(mut self, other: SignOff) -> SignOff {
        self.ticket = other.ticket.or(self.ticket);
        self.reviewer = other.reviewer.or(self.reviewer);
        self.approver = other.approver.or(self.approver);
        self.notes = other.notes.or(self.notes);
        self
    }

    pub fn is_empty(&self) -> bool {
        *self == SignOff::default()
    }
}

/// A re-render from a changed log: when, and what no longer matched the seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reseal {
    pub at: DateTime<Utc>,
    pub problems: Vec<String>,
}

/// One measure's distribution over a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimingSummary {
    pub measure: String,
    pub count: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub max_ms: f64,
    pub limit_ms: f64,
    /// How many measurements exceeded the limit.
    pub over_limit: usize,
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// Summarise every timing of every step, per measure, in the order measures first appear.
pub fn summarise_timings(scenarios: &[ScenarioRecord]) -> Vec<TimingSummary> {
    let mut measures: Vec<(String, Vec<f64>, f64)> = Vec::new();
    for t in scenarios
        .iter()
        .flat_map(|s| s.steps.iter())
        .flat_map(|st| st.timings.iter())
    {
        match measures.iter_mut().find(|(m, _, _)| *m == t.measure) {
            Some((_, values, limit)) => {
                values.push(t.millis);
                *limit = limit.max(t.limit_millis);
            }
            None => measures.push((t.measure.clone(), vec![t.millis], t.limit_millis)),
        }
    }
    measures
        .into_iter()
        .map(|(measure, mut values, limit)| {
            values.sort_by(f64::total_cmp);
            TimingSummary {
                measure,
                count: values.len(),
                p50_ms: percentile(&values, 50.0),
                p95_ms: percentile(&values, 95.0),
                max_ms: values.last().copied().unwrap_or(0.0),
                limit_ms: limit,
                over_limit: values.iter().filter(|v| **v > limit).count(),
            }
        })
        .collect()
}

/// The scenarios' indices in reading order: by stage in PDP's order, then by case id (numbers
/// compared as numbers, so S1-10 follows S1-09), then as they ran. Runs execute scenario
/// outlines and features in file order, which is not the order a reader looks for them in.
pub fn reading_order(scenarios: &[ScenarioRecord]) -> Vec<usize> {
    const STAGES: [&str; 4] = ["connection proving", "stage 1", "stage 2", "reporting"];
    let stage_rank = |s: &ScenarioRecord| {
        s.stage
            .as_deref()
            .and_then(|n| STAGES.iter().position(|o| *o == n))
            .unwrap_or(STAGES.len())
    };
    // "S1-10" -> ("S1-", 10): the prefix as text, the trailing number as a number.
    let case_key = |s: &ScenarioRecord| -> (String, u64) {
        let id = s.case_id.as_deref().unwrap_or("~");
        let digits = id.len() - id.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (prefix, num) = id.split_at(id.len() - digits);
        (prefix.to_owned(), num.parse().unwrap_or(0))
    };
    let mut order: Vec<usize> = (0..scenarios.len()).collect();
    order.sort_by_key(|&i| (stage_rank(&scenarios[i]), case_key(&scenarios[i]), i));
    order
}

/// The stage a scenario belongs to, from its tags.
pub fn stage_of(tags: &[String]) -> Option<String> {
    const STAGES: [(&str, &str); 6] = [
        ("connection-proving", "connection proving"),
        ("stage1", "stage 1"),
        ("stage2", "stage 2"),
        ("reporting", "reporting"),
        ("reporting-errors", "reporting errors"),
        ("reporting-received", "reporting received"),
    ];
    STAGES
        .iter()
        .find(|(tag, _)| tags.iter().any(|t| t == tag))
        .map(|(_, name)| (*name).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reading_order_is_stage_then_case_number() {
        let mut base = crate::record::synthetic::record(1).scenarios[0].clone();
        let mut make = |case: &str, stage: &str| {
            base.case_id = Some(case.to_owned());
            base.stage = Some(stage.to_owned());
            base.clone()
        };
        let scenarios = vec![
            make("S1-13", "stage 1"),
            make("S1-10", "stage 1"),
            make("CP-02", "connection proving"),
            make("S1-09", "stage 1"),
            make("RP-01", "reporting"),
        ];
        let order: Vec<&str> = reading_order(&scenarios)
            .into_iter()
            .map(|i| scenarios[i].case_id.as_deref().unwrap_or_default())
            .collect();
        assert_eq!(order, ["CP-02", "S1-09", "S1-10", "S1-13", "RP-01"]);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=20).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 10.0);
        assert_eq!(percentile(&v, 95.0), 19.0);
        assert_eq!(percentile(&[7.0], 95.0), 7.0);
    }
}

/// One file of the evidence folder, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileDigest {
    /// Relative to the run directory, `/`-separated.
    pub path: String,
    pub sha256: String,
    pub bytes: u64,
}
