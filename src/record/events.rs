//! The run log's events (one line of `run.log.jsonl` each) and how they fold into the run
//! record: the fold is the one place a record is made, so every output agrees.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::run::{
    Counts, DayCheck, IssuedUpdates, Note, PlannedScenario, Reconciliation, ReportingSection,
    ReportingSubmission, RunHeader, RunRecord, ScenarioKey, ScenarioRecord, Status, StepRecord,
    Verdict, stage_of, summarise_timings,
};

/// One line of `run.log.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum LogEvent {
    RunStarted(Box<RunHeader>),
    ScenarioStarted {
        at: DateTime<Utc>,
        feature: String,
        name: String,
        tags: Vec<String>,
        location: String,
    },
    StepFinished {
        at: DateTime<Utc>,
        step: StepRecord,
    },
    ScenarioFinished {
        at: DateTime<Utc>,
        status: Status,
    },
    /// Something the runner did between scenarios (stage set-up: clear-down, match updates).
    Note {
        at: DateTime<Utc>,
        stage: String,
        text: String,
    },
    RunFinished {
        at: DateTime<Utc>,
    },
    /// Every scenario the run selected, in order (second line of the log).
    Planned {
        at: DateTime<Utc>,
        scenarios: Vec<PlannedScenario>,
    },
    /// The run was stopped before it finished, and why; the evidence was still sealed.
    RunInterrupted {
        at: DateTime<Utc>,
        reason: String,
    },
    /// One reporting record: sent (with its outcome), held back, or only checked (dry run).
    ReportingSubmission(Box<ReportingSubmission>),
    /// Which endpoints were accepted on which UTC day.
    ReportingDayCheck(DayCheck),
    /// A load test's figures (`pdp-harness load`).
    Load(Box<crate::record::load::LoadSummary>),
    /// What the organisation reported against what the harness observed.
    ReportingReconciliation(Reconciliation),
    /// Stage 1 ended and its match-update file is in the run directory: what to apply before
    /// stage 2.
    MatchUpdatesIssued {
        at: DateTime<Utc>,
        /// The file's path as written.
        file: String,
        updates: usize,
        /// What to do next, e.g. "apply these updates in your system, then run ...".
        next: String,
    },
    /// A stage that was not run and waits for the organisation (stage 2 until the match updates
    /// are applied), and why.
    StagePending {
        at: DateTime<Utc>,
        stage: String,
        reason: String,
    },
    /// A run-level check of a stage failed (the `[updates] command` exited non-zero): a failed
    /// entry named `check`, of no scenario.
    StageCheckFailed {
        at: DateTime<Utc>,
        stage: String,
        check: String,
        message: String,
    },
    /// A finding of the whole-run registration audit (`runner::audit`), logged after the
    /// scenario it concerns finished: it amends that scenario's verdict, or, with no
    /// scenario, fails the run-level check [`AUDIT_CHECK_NAME`].
    AuditFinding {
        at: DateTime<Utc>,
        stage: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scenario: Option<ScenarioKey>,
        message: String,
    },
}

/// The step an audit finding adds to the scenario it amends.
pub const AUDIT_STEP: &str =
    "every call to /rreguri caused by this scenario's find requests is what the test pack expects";
/// The run-level check that holds audit findings no find request explains.
pub const AUDIT_CHECK_FEATURE: &str = "Run-level checks";
pub const AUDIT_CHECK_NAME: &str =
    "Registration audit: every call to /rreguri comes from a find request of this run";

/// Fold one audit finding into the scenarios (see [`LogEvent::AuditFinding`]).
fn amend(
    scenarios: &mut Vec<ScenarioRecord>,
    notes: &mut Vec<Note>,
    at: DateTime<Utc>,
    stage: String,
    scenario: Option<ScenarioKey>,
    message: String,
) {
    let step = |message: String| StepRecord::failed_check(AUDIT_STEP.to_owned(), message);
    let key =
        scenario.unwrap_or_else(|| ScenarioKey::new(None, AUDIT_CHECK_FEATURE, AUDIT_CHECK_NAME));
    let target = scenarios
        .iter_mut()
        .rev()
        .find(|s| ScenarioKey::of(s).matches(&key));
    match target {
        // Already amended: one audit step holds every finding.
        Some(s) if s.steps.last().is_some_and(|st| st.text == AUDIT_STEP) => {
            if let Some(st) = s.steps.last_mut() {
                let m = st.message.get_or_insert_with(String::new);
                m.push_str("; ");
                m.push_str(&message);
            }
        }
        // Failed already for its own reasons: the finding is kept as a note beside it.
        Some(s) if s.status == Status::Failed => notes.push(Note {
            at,
            stage,
            text: format!("{} (already failed): {message}", key.label()),
        }),
        Some(s) => {
            s.steps.push(step(message));
            s.status = Status::Failed;
        }
        None => scenarios.push(ScenarioRecord {
            feature: key.feature.clone(),
            name: key.name.clone(),
            tags: vec!["run-level".to_owned()],
            case_id: key.case_id.clone(),
            stage: None,
            location: "run".to_owned(),
            started_at: at,
            ended_at: Some(at),
            status: Status::Failed,
            steps: vec![step(message)],
        }),
    }
}

impl RunRecord {
    /// Fold the events of a run log into a record. A scenario without a `scenario_finished`
    /// event is `interrupted`; a log without `run_finished` gives the verdict `incomplete`.
    pub fn from_events(
        events: impl IntoIterator<Item = LogEvent>,
        run_log_sha256: String,
    ) -> Option<RunRecord> {
        let mut events = events.into_iter();
        let header = match events.next()? {
            LogEvent::RunStarted(h) => *h,
            _ => return None,
        };
        let mut scenarios: Vec<ScenarioRecord> = Vec::new();
        let mut ended_at = None;
        let mut notes = Vec::new();
        let mut reporting = ReportingSection::default();
        let mut load = None;
        let mut planned: Vec<PlannedScenario> = Vec::new();
        let mut interrupted = None;
        let mut match_updates = None;
        let mut pending = Vec::new();
        for event in events {
            match event {
                LogEvent::RunStarted(_) => {}
                LogEvent::ScenarioStarted {
                    at,
                    feature,
                    name,
                    tags,
                    location,
                } => {
                    let case_id = tags
                        .iter()
                        .find_map(|t| t.strip_prefix("case:").map(str::to_owned));
                    let stage = stage_of(&tags);
                    scenarios.push(ScenarioRecord {
                        feature,
                        name,
                        tags,
                        case_id,
                        stage,
                        location,
                        started_at: at,
                        ended_at: None,
                        status: Status::Interrupted,
                        steps: Vec::new(),
                    });
                }
                LogEvent::StepFinished { step, .. } => {
                    if let Some(s) = scenarios.last_mut() {
                        s.steps.push(step);
                    }
                }
                LogEvent::ScenarioFinished { at, status } => {
                    if let Some(s) = scenarios.last_mut() {
                        s.ended_at = Some(at);
                        s.status = status;
                    }
                }
                LogEvent::Note { at, stage, text } => notes.push(Note { at, stage, text }),
                LogEvent::RunFinished { at } => ended_at = Some(at),
                LogEvent::Planned { scenarios, .. } => planned = scenarios,
                LogEvent::RunInterrupted { at, reason } => {
                    ended_at = Some(at);
                    interrupted = Some(reason);
                }
                // A later event for the same record (its answer) replaces the in-flight one.
                LogEvent::ReportingSubmission(s) => match reporting
                    .submissions
                    .iter_mut()
                    .find(|e| e.record_id == s.record_id && e.endpoint == s.endpoint)
                {
                    Some(earlier) => *earlier = *s,
                    None => reporting.submissions.push(*s),
                },
                LogEvent::ReportingDayCheck(d) => reporting.day_checks.push(d),
                LogEvent::ReportingReconciliation(r) => reporting.reconciliations.push(r),
                LogEvent::AuditFinding {
                    at,
                    stage,
                    scenario,
                    message,
                } => amend(&mut scenarios, &mut notes, at, stage, scenario, message),
                LogEvent::Load(l) => load = Some(*l),
                LogEvent::MatchUpdatesIssued {
                    file,
                    updates,
                    next,
                    ..
                } => {
                    match_updates = Some(IssuedUpdates {
                        file,
                        updates,
                        next,
                    })
                }
                LogEvent::StagePending { at, stage, reason } => pending.push(Note {
                    at,
                    stage,
                    text: reason,
                }),
                LogEvent::StageCheckFailed {
                    at,
                    stage,
                    check,
                    message,
                } => scenarios.push(ScenarioRecord {
                    feature: AUDIT_CHECK_FEATURE.to_owned(),
                    name: check.clone(),
                    tags: vec!["run-level".to_owned()],
                    case_id: None,
                    stage: stage_of(std::slice::from_ref(&stage)),
                    location: "run".to_owned(),
                    started_at: at,
                    ended_at: Some(at),
                    status: Status::Failed,
                    steps: vec![StepRecord::failed_check(check, message)],
                }),
            }
        }
        let mut counts = Counts::default();
        for s in &scenarios {
            match s.status {
                Status::Passed => counts.passed += 1,
                Status::Failed => counts.failed += 1,
                Status::Skipped => counts.skipped += 1,
                Status::Interrupted => counts.interrupted += 1,
            }
        }
        // A run that did not finish every stage: what it planned and never started.
        let not_started: Vec<PlannedScenario> = if ended_at.is_none() || interrupted.is_some() {
            let mut seen: Vec<bool> = vec![false; scenarios.len()];
            planned
                .into_iter()
                .filter(|p| {
                    let hit = scenarios
                        .iter()
                        .enumerate()
                        .find(|(i, s)| !seen[*i] && ScenarioKey::of(s).matches(&p.key));
                    match hit {
                        Some((i, _)) => {
                            seen[i] = true;
                            false
                        }
                        None => true,
                    }
                })
                .collect()
        } else {
            Vec::new()
        };
        counts.not_started = not_started.len();
        let verdict = if interrupted.is_some() {
            Verdict::Interrupted
        } else if counts.failed > 0 || counts.skipped > 0 {
            Verdict::Failed
        } else if ended_at.is_none() || counts.interrupted > 0 {
            Verdict::Incomplete
        } else if scenarios.is_empty() {
            Verdict::NoScenarios
        } else if !pending.is_empty() {
            Verdict::Pending
        } else {
            Verdict::Passed
        };
        Some(RunRecord {
            header,
            ended_at,
            verdict,
            counts,
            timing_summary: summarise_timings(&scenarios),
            scenarios,
            run_log_sha256,
            notes,
            reporting,
            load,
            interrupted,
            not_started,
            sign_off: None,
            resealed: Vec::new(),
            match_updates,
            pending,
        })
    }
}
