//! A cucumber writer that turns the runner's events into run log events (with the HTTP
//! exchanges and timings each step produced) and prints a short line per scenario.

use std::sync::Arc;
use std::time::SystemTime;

use cucumber::event::{self, Cucumber, StepError};
use cucumber::{Event, Writer, cli, gherkin, parser};

use super::world::HarnessWorld;
use crate::net::recorder::{Recorder, Tag};
use crate::record::classify::{FailureClass, StepFailure};
use crate::record::events::LogEvent;
use crate::record::run::{Status, StepRecord};
use crate::record::runlog::RunLog;

/// Scenario numbers by the address of the scenario cucumber runs, which is the same in the
/// `before` hook (which numbers it) and in the events the writer gets for it: the writer asks
/// the recorder for that scenario's calls, timings and notes only.
#[derive(Debug, Clone, Default)]
pub struct ScenarioIds(Arc<std::sync::Mutex<std::collections::HashMap<usize, u64>>>);

impl ScenarioIds {
    /// Number `scenario` (run-wide unique, never 0).
    pub fn assign(&self, scenario: &gherkin::Scenario) -> u64 {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut ids) = self.0.lock() {
            ids.insert(std::ptr::from_ref(scenario) as usize, id);
        }
        id
    }

    fn of(&self, scenario: &gherkin::Scenario) -> Tag {
        self.0
            .lock()
            .ok()?
            .get(&(std::ptr::from_ref(scenario) as usize))
            .copied()
    }
}

/// How far a run has got, for a live display; the lines say the same for a plain console.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress<'a> {
    /// The run is about to start `total` scenarios.
    Planned { total: usize },
    /// A stage (pack) starts.
    Stage(&'a str),
    /// A scenario starts: its label ("CP-01 A known member ...").
    ScenarioStarted(&'a str),
    /// A scenario finished.
    ScenarioFinished { label: &'a str, status: Status },
    /// Every scenario has run.
    Finished,
}

/// Where the writer reports to the user.
pub trait Console: Send {
    fn line(&mut self, text: &str);

    /// Progress for a live display. Plain consoles ignore it: their lines (one per scenario)
    /// already say everything, and CI logs and tests read those lines.
    fn progress(&mut self, _event: Progress<'_>) {}
}

/// A console shared by the writers of each stage of a run.
pub type SharedConsole = Arc<std::sync::Mutex<Box<dyn Console>>>;

pub fn shared(console: Box<dyn Console>) -> SharedConsole {
    Arc::new(std::sync::Mutex::new(console))
}

/// One line on standard output. A closed stdout (`run | head`) is not a reason to stop a run:
/// the line is dropped, where `println!` would panic.
pub fn print_line(text: &str) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
}

/// Plain lines on standard output.
#[derive(Debug, Default)]
pub struct Stdout;

impl Console for Stdout {
    fn line(&mut self, text: &str) {
        print_line(text);
    }
}

struct Current {
    name: String,
    case_id: Option<String>,
    /// Every step of the scenario (background first), to list the ones never run.
    all_steps: Vec<(String, String)>,
    recorded: Vec<StepRecord>,
    started: SystemTime,
    step_started: SystemTime,
    /// The end of the scenario's last step (its start before any): a step's exchanges are
    /// those completed since, so a call the provider makes between two steps (its `/token`
    /// or `/rreguri` after the find's 202, late on a busy machine) is not lost between them.
    since: SystemTime,
    /// The scenario's start, logged once its before hook has ended: a scenario may wait
    /// there for its turn ([`super::overlap`]), and its evidence starts when it does.
    announce: Option<LogEvent>,
}

fn millis(from: SystemTime, to: SystemTime) -> f64 {
    to.duration_since(from).unwrap_or_default().as_secs_f64() * 1000.0
}

pub struct EvidenceWriter {
    log: RunLog,
    recorder: Arc<Recorder>,
    ids: ScenarioIds,
    console: SharedConsole,
    current: Option<Current>,
    /// Parse errors and log write errors: the run could not be trusted.
    pub problems: Vec<String>,
    pub counts: crate::record::run::Counts,
}

impl EvidenceWriter {
    pub fn new(
        log: RunLog,
        recorder: Arc<Recorder>,
        console: SharedConsole,
        ids: ScenarioIds,
    ) -> EvidenceWriter {
        EvidenceWriter {
            log,
            recorder,
            ids,
            console,
            current: None,
            problems: Vec::new(),
            counts: Default::default(),
        }
    }

    pub fn log(&self) -> &RunLog {
        &self.log
    }

    fn say(&self, text: &str) {
        if let Ok(mut c) = self.console.lock() {
            c.line(text);
        }
    }

    fn progress(&self, event: Progress<'_>) {
        if let Ok(mut c) = self.console.lock() {
            c.progress(event);
        }
    }

    fn append(&mut self, event: &LogEvent) {
        if let Err(e) = self.log.append(event) {
            let msg = e.to_string();
            self.say(&format!("error: {msg}"));
            self.problems.push(msg);
        }
    }

    fn scenario_started(
        &mut self,
        at: SystemTime,
        feature: &gherkin::Feature,
        rule: Option<&gherkin::Rule>,
        scenario: &gherkin::Scenario,
    ) {
        let mut tags: Vec<String> = feature.tags.clone();
        if let Some(r) = rule {
            tags.extend(r.tags.iter().cloned());
        }
        tags.extend(
            scenario
                .tags
                .iter()
                .map(|t| super::resolve_tag(scenario, t)),
        );
        let path = feature
            .path
            .as_ref()
            .map(|p| display_path(p))
            .unwrap_or_else(|| feature.name.clone());
        let location = format!("{path}:{}", scenario.position.line);
        let mut all_steps = Vec::new();
        for bg in feature
            .background
            .iter()
            .chain(rule.and_then(|r| r.background.as_ref()))
        {
            all_steps.extend(
                bg.steps
                    .iter()
                    .map(|s| (s.keyword.clone(), s.value.clone())),
            );
        }
        all_steps.extend(
            scenario
                .steps
                .iter()
                .map(|s| (s.keyword.clone(), s.value.clone())),
        );
        let case_id = tags
            .iter()
            .find_map(|t| t.strip_prefix("case:").map(str::to_owned));
        self.progress(Progress::ScenarioStarted(&label_of(
            case_id.as_deref(),
            &scenario.name,
        )));
        let announce = LogEvent::ScenarioStarted {
            at: at.into(),
            feature: feature.name.clone(),
            name: scenario.name.clone(),
            tags,
            location,
        };
        self.current = Some(Current {
            name: scenario.name.clone(),
            case_id,
            all_steps,
            recorded: Vec::new(),
            started: at,
            step_started: at,
            since: at,
            announce: Some(announce),
        });
    }

    /// Log the current scenario's start as of `at`, the end of its before hook (or, without
    /// one, its first event after starting): what came before it was waiting for its turn.
    fn begun(&mut self, at: SystemTime) {
        let Some(c) = self.current.as_mut() else {
            return;
        };
        let Some(mut event) = c.announce.take() else {
            return;
        };
        if let LogEvent::ScenarioStarted { at: started, .. } = &mut event {
            *started = at.into();
        }
        c.started = at;
        c.step_started = at;
        c.since = at;
        self.append(&event);
    }

    fn step_event(
        &mut self,
        at: SystemTime,
        scenario: &gherkin::Scenario,
        step: &gherkin::Step,
        ev: &event::Step<HarnessWorld>,
    ) {
        let (status, failure) = match ev {
            event::Step::Started => {
                if let Some(c) = self.current.as_mut() {
                    c.step_started = at;
                }
                return;
            }
            event::Step::Passed(..) => (Status::Passed, None),
            event::Step::Skipped => (
                Status::Failed,
                Some(StepFailure::configuration(
                    "no step definition matches this sentence (check its wording against the step catalogue in README.md)",
                )),
            ),
            event::Step::Failed(_, _, world, err) => {
                (Status::Failed, Some(step_failure(world.as_deref(), err)))
            }
        };
        let Some(c) = self.current.as_mut() else {
            return;
        };
        let (message, failure_class) = match failure {
            Some(f) => (Some(f.message), Some(f.class)),
            None => (None, None),
        };
        // This scenario's own, when others run beside it.
        let scope = self.ids.of(scenario);
        let notes = self.recorder.notes_between(scope, c.step_started, at);
        let record = StepRecord {
            keyword: step.keyword.trim().to_owned(),
            text: step.value.clone(),
            status,
            duration_ms: millis(c.step_started, at),
            message: message.map(|m| self.recorder.redactor().text(&m)),
            failure_class,
            exchanges: self.recorder.exchanges_between(scope, c.since, at),
            timings: self.recorder.timings_between(scope, c.step_started, at),
            warnings: self
                .recorder
                .warnings_between(scope, c.step_started, at)
                .iter()
                .map(|w| self.recorder.redactor().text(w))
                .collect(),
            observed: notes.observed,
            // Only a failure needs the judged exchange spelled out; a pass says what it saw.
            judged: notes
                .judged
                .filter(|_| status == Status::Failed)
                .map(Box::new),
            view_data: notes.view_data,
        };
        c.since = at;
        c.recorded.push(record.clone());
        self.append(&LogEvent::StepFinished {
            at: at.into(),
            step: record,
        });
    }

    fn hook_failed(&mut self, at: SystemTime, info: &event::Info) {
        let message = format!("the scenario could not be set up: {}", panic_text(info));
        if let Some(c) = self.current.as_mut() {
            let record = StepRecord::outcome_only(
                "Before",
                "set up the scenario".to_owned(),
                Status::Failed,
                Some(message),
                Some(FailureClass::Harness),
            );
            c.recorded.push(record.clone());
            self.append(&LogEvent::StepFinished {
                at: at.into(),
                step: record,
            });
        }
    }

    fn scenario_finished(&mut self, at: SystemTime) {
        let Some(c) = self.current.take() else {
            return;
        };
        let failed = c.recorded.iter().any(|s| s.status == Status::Failed);
        // Steps after a failure never run; record them so the evidence lists every step.
        let ran = c.recorded.iter().filter(|s| s.keyword != "Before").count();
        for (keyword, text) in c.all_steps.iter().skip(ran) {
            let record = StepRecord::outcome_only(
                keyword.trim(),
                text.clone(),
                Status::Skipped,
                Some("not run: an earlier step failed".to_owned()),
                None,
            );
            self.append(&LogEvent::StepFinished {
                at: at.into(),
                step: record,
            });
        }
        let status = if failed {
            Status::Failed
        } else {
            Status::Passed
        };
        self.append(&LogEvent::ScenarioFinished {
            at: at.into(),
            status,
        });
        let secs = millis(c.started, at) / 1000.0;
        let label = label_of(c.case_id.as_deref(), &c.name);
        self.progress(Progress::ScenarioFinished {
            label: &label,
            status,
        });
        if failed {
            self.counts.failed += 1;
            self.say(&format!("  FAILED  {label} ({secs:.2} s)"));
            for s in c.recorded.iter().filter(|s| s.status == Status::Failed) {
                self.say(&format!("          {} {}", s.keyword, s.text));
                if let Some(m) = &s.message {
                    self.say(&format!("          -> {m}"));
                }
                if let Some(class) = s.failure_class {
                    self.say(&format!(
                        "          class: {}; to act: {}",
                        class.label(),
                        class.owner()
                    ));
                }
            }
        } else {
            self.counts.passed += 1;
            self.say(&format!("  passed  {label} ({secs:.2} s)"));
        }
        for w in c.recorded.iter().flat_map(|s| s.warnings.iter()) {
            self.say(&format!("          warning: {w}"));
        }
    }
}

/// "CP-01 A known member ...", or the name alone.
fn label_of(case_id: Option<&str>, name: &str) -> String {
    match case_id {
        Some(id) => format!("{id} {name}"),
        None => name.to_owned(),
    }
}

fn display_path(p: &std::path::Path) -> String {
    if let Some(shown) = crate::harness::bundled::display(p) {
        return shown;
    }
    let cwd = std::env::current_dir().unwrap_or_default();
    p.strip_prefix(&cwd).unwrap_or(p).display().to_string()
}

fn panic_text(info: &event::Info) -> String {
    if let Some(s) = info.downcast_ref::<String>() {
        s.clone()
    } else if let Some(s) = info.downcast_ref::<&str>() {
        (*s).to_owned()
    } else {
        "(no message)".to_owned()
    }
}

/// The failure a step left on its world (its class as the step decided it); anything else,
/// a panic or a step that kept nothing, is the harness's own fault.
fn step_failure(world: Option<&HarnessWorld>, err: &StepError) -> StepFailure {
    if let Some(f) = world.and_then(|w| w.failure.clone()) {
        return f;
    }
    match err {
        StepError::Panic(info) => StepFailure::harness(format!(
            "internal: the step stopped unexpectedly: {}",
            panic_text(info)
        )),
        other => StepFailure::harness(format!("internal: {other}")),
    }
}

impl Writer<HarnessWorld> for EvidenceWriter {
    type Cli = cli::Empty;

    async fn handle_event(
        &mut self,
        event: parser::Result<Event<Cucumber<HarnessWorld>>>,
        _: &Self::Cli,
    ) {
        let (at, event) = match event {
            Ok(ev) => (ev.at, ev.value),
            Err(e) => {
                let msg = format!("feature file could not be read: {e}");
                self.say(&format!("error: {msg}"));
                self.problems.push(msg);
                return;
            }
        };
        let Cucumber::Feature(feature, fev) = event else {
            return;
        };
        let (rule, scenario, ev) = match fev {
            event::Feature::Started => {
                self.say(&feature.name);
                return;
            }
            event::Feature::Scenario(s, ev) => (None, s, ev.event),
            event::Feature::Rule(r, event::Rule::Scenario(s, ev)) => (Some(r), s, ev.event),
            _ => return,
        };
        // The scenario has begun once its before hook has ended (at the latest, at its first
        // step): what came before was waiting for its turn.
        match &ev {
            event::Scenario::Started
            | event::Scenario::Hook(event::HookType::Before, event::Hook::Started) => {}
            _ => self.begun(at),
        }
        match ev {
            event::Scenario::Started => {
                self.scenario_started(at, &feature, rule.as_deref(), &scenario)
            }
            event::Scenario::Background(step, ev) | event::Scenario::Step(step, ev) => {
                self.step_event(at, &scenario, &step, &ev)
            }
            event::Scenario::Hook(_, event::Hook::Failed(_, info)) => self.hook_failed(at, &info),
            event::Scenario::Finished => self.scenario_finished(at),
            _ => {}
        }
    }
}

/// Collects the lines instead of printing them (tests, embedding).
#[derive(Debug, Clone, Default)]
pub struct Collect(pub Arc<std::sync::Mutex<Vec<String>>>);

impl Console for Collect {
    fn line(&mut self, text: &str) {
        if let Ok(mut v) = self.0.lock() {
            v.push(text.to_owned());
        }
    }
}
