//! The Gherkin runner: selects scenarios from `features/` by pack and tag expression, runs them
//! with cucumber against an [`Environment`], and writes the run log and evidence.

pub mod audit;
pub mod live;
mod overlap;
mod pack;
mod parser;
pub mod reporting_scope;
pub mod rerun;
mod segment;
mod select;
pub mod shared_clear_down;
mod stage;
mod steps;
pub mod stop;
pub mod world;
pub mod writer;

use std::path::PathBuf;
use std::sync::Arc;

use chrono::Utc;
use cucumber::World as _;
use futures::FutureExt as _;

use crate::evidence::{self, EvidenceError, Format};
use crate::harness::config::TargetConfig;
use crate::harness::environment::Environment;
use crate::record::events::LogEvent;
use crate::record::run::{RerunInfo, RunHeader, RunRecord, Selection, Standards};
use crate::record::runlog::RunLog;
use crate::reporting::clock::DayStart;
use world::HarnessWorld;

pub use pack::Pack;
use pack::stages_of;
use segment::Segment;
pub(crate) use select::resolve_tag;
pub use select::{
    CLEARED_DOWN_ONCE, CaseFilter, NEEDS_RESTART_TAG, NEEDS_UPDATES_TAG, SERIAL_TAGS,
    check_selection, runs_alone,
};
use select::{Filter, all_tags, key_of, preflight, reporting_skips};
pub use stage::UPDATES_CHECK;
use stage::{Issued, audit_stage, issue_updates, set_up_stage};
use writer::{Console, EvidenceWriter, Progress};

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("features directory {0} does not exist or holds no .feature file")]
    NoFeatures(PathBuf),
    #[error("{path}: the feature file could not be parsed: {message}")]
    FeatureParse { path: PathBuf, message: String },
    #[error("--tags {expr:?} is not a valid tag expression: {message}")]
    BadTags { expr: String, message: String },
    #[error("no scenario in {dir} matches pack {pack}{tags}; {hint}")]
    NothingSelected {
        dir: PathBuf,
        pack: String,
        tags: String,
        hint: String,
    },
    #[error("could not create the run directory {path}: {source}")]
    RunDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    RunLog(#[from] crate::record::runlog::RunLogError),
    #[error(transparent)]
    Evidence(#[from] EvidenceError),
    #[error("the run log could not be written completely: {0}")]
    Recording(String),
    #[error(
        "{file}: the {stage} scenarios are tagged @depends-on:{dependency}: they check state that the {dependency} scenarios set up earlier in the same run, so select both: use --pack all (optionally with --tags), or run stage 2 later with --after <the stage-1 run id>"
    )]
    MissingDependency {
        file: String,
        stage: String,
        dependency: String,
    },
    #[error("{0}")]
    DayGuard(#[from] crate::reporting::clock::DayGuardError),
    #[error("{location}: no step definition matches \"{text}\"{suggestion}")]
    UnknownStep {
        location: String,
        text: String,
        /// "; did you mean ...?" when a known wording is near.
        suggestion: String,
    },
    #[error("{location}: \"{text}\" matches more than one step definition")]
    AmbiguousStep { location: String, text: String },
    #[error(transparent)]
    ReportingScope(#[from] reporting_scope::ReportingScopeError),
    #[error(transparent)]
    After(#[from] crate::harness::updates::AfterError),
    #[error("--after is for stage 2 (--pack stage2), not --pack {0}")]
    AfterNotStage2(String),
}

/// What to run and where to write.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub pack: Pack,
    pub tags: Option<String>,
    pub features_dir: PathBuf,
    pub out_dir: PathBuf,
    pub config: TargetConfig,
    /// Only these scenarios (a re-run): selected by identity rather than by a tag expression,
    /// so scenarios without a case id can be chosen too.
    pub cases: Option<CaseFilter>,
    /// The attempt history a re-run carries into its run header.
    pub rerun: Option<RerunInfo>,
    /// Raised to stop the run early (signal, client gone); the evidence is still sealed.
    pub stop: stop::Stop,
    /// The test manager's sign-off details (`--ticket`, `--notes FILE`, ...), sealed with the
    /// evidence.
    pub sign_off: Option<crate::record::run::SignOff>,
    /// Stage 2 continuing an earlier run's stage 1 (`--after <run id>`).
    pub after: Option<Arc<crate::harness::updates::AfterStage1>>,
    /// Stdin is a terminal: stage 2 against a real target without an `[updates] command` asks
    /// whether the updates have been applied, instead of being left pending.
    pub interactive: bool,
    /// How many scenarios of a feature run at once (`--concurrency`; 1: one after another).
    /// Scenarios tagged to run alone ([`SERIAL_TAGS`]) always run one at a time.
    pub concurrency: usize,
}

impl RunOptions {
    /// A run of `pack`'s scenarios in `features_dir`, its evidence under `out_dir`: no tag
    /// expression, re-run, sign-off or earlier stage 1; `DEFAULT_CONCURRENCY` at once.
    pub fn new(pack: Pack, features_dir: PathBuf, out_dir: PathBuf, config: TargetConfig) -> Self {
        RunOptions {
            pack,
            tags: None,
            features_dir,
            out_dir,
            config,
            cases: None,
            rerun: None,
            stop: Default::default(),
            sign_off: None,
            after: None,
            interactive: false,
            concurrency: DEFAULT_CONCURRENCY,
        }
    }
}

/// `--concurrency` when not given: stage 1's scenarios mostly wait (the acknowledgement,
/// the registration window, the settle and no-match watches), so sixteen in flight start the
/// six find negatives and the nine of stage 1's own scenarios that use none of their members
/// at once ([`overlap`]) at little CPU, and sixteen finds in flight is far below what the live
/// pension finder sends a provider at once.
pub const DEFAULT_CONCURRENCY: usize = 16;

/// What a finished run left behind.
#[derive(Debug)]
pub struct RunOutcome {
    pub run_id: String,
    pub run_dir: PathBuf,
    pub record: RunRecord,
    pub files: Vec<PathBuf>,
}

/// A sortable, unique run id: UTC time plus a short random suffix.
pub fn new_run_id() -> String {
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    format!("{}-{}", Utc::now().format("%Y%m%dT%H%M%SZ"), &suffix[..6])
}

pub fn standards(
    config: &TargetConfig,
    schema: &crate::protocol::rules::ViewDataSchema,
) -> Standards {
    Standards {
        technical: "2.0 (C&A per MaPS OpenAPI: token 1.2, perm 1.1, introspect 1.1, rreguri 1.2)"
            .to_owned(),
        data: "1.3 draft (view data field model of the MaPS dashboard)".to_owned(),
        reporting: "2.2 draft (reporting API 2.1)".to_owned(),
        find_view_contract: config.contract.name.clone(),
        view_data_schema: format!("{} (SHA-256 {})", schema.label, schema.sha256),
    }
}

fn progress(console: &writer::SharedConsole, event: Progress<'_>) {
    if let Ok(mut c) = console.lock() {
        c.progress(event);
    }
}

/// How long a scenario waiting for the first of two files running beside each other waits
/// for one of its scenarios to finish ([`overlap`]): room for one of them to wait for its
/// place behind another scenario and then run, each clearing down and sending two finds, each
/// find acknowledged, registered, settled, watched and viewed within its limits and timeout
/// margins. A backstop against a fault of the harness: every step has its own limit.
fn first_file_stall_limit(env: &Environment) -> std::time::Duration {
    let l = &env.limits;
    let one_find = std::time::Duration::from_millis(
        l.acknowledgement_ms
            + l.registration_ms
            + l.registration_settle_ms
            + l.no_match_watch_ms
            + l.view_response_ms
            + 2 * l.timeout_margin_ms,
    );
    2 * (env.clear_down_limit() + 2 * one_find)
}

/// Run one feature file's selected scenarios (`files` of one), or two files beside each other
/// (`files` of two, [`overlap`]): `opts.concurrency` at once, or one at a time when the file
/// runs alone (its shared clear-down, where it has one, performed by the first). The writer
/// gets each scenario's events in the files' order whatever the order they ran in
/// (cucumber's normalising writer), so the evidence order is the feature order at any
/// concurrency. Returns the problems the writer met.
async fn run_files(
    env: &Arc<Environment>,
    audit: &Arc<audit::Audit>,
    log: &RunLog,
    console: &writer::SharedConsole,
    files: &[&Segment],
    filter: Filter,
    opts: &RunOptions,
) -> Vec<String> {
    let Some(first) = files.first() else {
        return Vec::new();
    };
    let shared = first
        .clears_down
        .clone()
        .map(|by| Arc::new(shared_clear_down::SharedClearDown::new(by)));
    let overlap = match (files.get(1), &shared) {
        (Some(second), Some(shared)) => Some(Arc::new(overlap::Overlap::new(
            overlap::cucumber_path(&first.path),
            shared.clone(),
            env.clear_down_limit() + std::time::Duration::from_secs(10),
            second.sharing_with(first, &env.pack),
            first_file_stall_limit(env),
            opts.concurrency,
        ))),
        _ => None,
    };
    // Beside each other, the overlap keeps the active ones to `opts.concurrency`: cucumber
    // starts them all, as those waiting their turn hold no place.
    let at_once = if overlap.is_some() {
        files.iter().map(|f| f.cases.len()).sum::<usize>().max(1)
    } else if first.alone {
        1
    } else {
        opts.concurrency.max(1)
    };
    let ids = writer::ScenarioIds::default();
    let hook_ids = ids.clone();
    let hook_env = env.clone();
    let hook_audit = audit.clone();
    let (admit, finished, selected) = (overlap.clone(), overlap.clone(), overlap);
    let writer = EvidenceWriter::new(log.clone(), env.recorder.clone(), console.clone(), ids);
    let writer = HarnessWorld::cucumber::<PathBuf>()
        .with_parser(parser::FeatureFiles)
        .max_concurrent_scenarios(at_once)
        .with_writer(cucumber::writer::Normalize::new(writer))
        .with_default_cli()
        .before(move |feature, rule, scenario, world| {
            world.attach(hook_env.clone());
            world.audit = Some(hook_audit.clone());
            let key = key_of(feature, scenario, &all_tags(feature, rule, scenario));
            world.scenario = Some(key.clone());
            world.scenario_id = hook_ids.assign(scenario);
            world.shared_clear_down = shared.clone();
            let admit = admit.clone();
            async move {
                if let Some(overlap) = admit {
                    match overlap.admit(feature, &key).await {
                        Ok(place) => world.place = place,
                        Err(stalled) => {
                            world.not_admitted = Some(
                                crate::record::classify::StepFailure::harness(stalled.to_string()),
                            );
                        }
                    }
                }
            }
            .boxed_local()
        })
        .after(move |feature, _rule, _scenario, _finished, world| {
            if let Some(world) = world {
                world.place = None;
            }
            if let Some(overlap) = &finished {
                overlap.finished(feature);
            }
            async {}.boxed_local()
        })
        .filter_run(
            files.iter().map(|f| f.path.clone()).collect(),
            move |f, r, s| {
                let chosen = filter.selects(f, r, s);
                if let Some(overlap) = selected.as_ref().filter(|_| chosen) {
                    overlap.selected(f);
                }
                chosen
            },
        )
        .await;
    writer.problems.clone()
}

/// Run the selected scenarios against `env` and write the evidence into a new run directory.
pub async fn run(
    env: Arc<Environment>,
    opts: &RunOptions,
    console: Box<dyn Console>,
) -> Result<RunOutcome, RunError> {
    let skip_tag = (!env.reporting.stub).then_some("stub");
    let mut plan = preflight(opts, skip_tag)?;
    if plan.stages.contains(&Pack::Reporting) {
        // All six submissions must fall on one UTC day: refuse to start too near midnight
        // (toward the simulator the reporting stage waits for the new day instead).
        env.reporting.day_start()?;
    }
    if let Some(after) = &opts.after {
        // A C&A that forgot stage 1 (cleared down, restarted without its state) cannot be
        // judged: said before anything is written.
        after.check_held(&env.cas.registrations(), env.is_embedded())?;
    }
    let run_id = new_run_id();
    let run_dir = opts.out_dir.join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|source| RunError::RunDir {
        path: run_dir.clone(),
        source,
    })?;
    let redactor = env.recorder.redactor();
    let log = RunLog::create(&run_dir)?.with_masks(redactor.masks());
    // The configuration as recorded: `[redaction] mask` values never appear, wherever they are.
    let configuration: Vec<(String, String)> = opts
        .config
        .summary()
        .into_iter()
        .map(|(k, v)| (k, redactor.mask(&v)))
        .collect();
    // What the run used, inside the bundle, so that it can be verified when moved; the
    // digests also go in the header, for the cover, `rerun` and `diff`.
    let used: Vec<PathBuf> = plan.features.iter().map(PathBuf::from).collect();
    let inputs =
        crate::evidence::seal::write_inputs(&run_dir, &used, &env.pack.path, &configuration)
            .map_err(RunError::Evidence)?;
    if let Some(sign_off) = opts.sign_off.clone().filter(|s| !s.is_empty()) {
        crate::evidence::set_sign_off(&run_dir, sign_off)?;
    }
    log.append(&LogEvent::RunStarted(Box::new(RunHeader {
        run_id: run_id.clone(),
        started_at: Utc::now(),
        harness_version: env!("CARGO_PKG_VERSION").to_owned(),
        standards: standards(&opts.config, &env.view_schema),
        target: env.target_info(opts.config.path.as_ref().map(|p| p.display().to_string())),
        selection: Selection {
            pack: opts.pack.name().to_owned(),
            tags: opts.tags.clone(),
            features: plan.features.clone(),
        },
        certificates: env.certificates(),
        configuration: configuration.clone(),
        personal_data_revealed: env.recorder.redactor().reveals_personal_data(),
        test_pack: Some(format!("{} {}", env.pack.pack.id, env.pack.pack.version)),
        rerun: opts.rerun.clone(),
        inputs,
        after: opts.after.as_ref().map(|a| a.run_id.clone()),
    })))?;
    log.append(&LogEvent::Planned {
        at: Utc::now(),
        scenarios: plan.planned.clone(),
    })?;
    for key in &plan.unmatched {
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: "rerun".to_owned(),
            text: format!(
                "{} was not re-run: no scenario in {} has that case id (or feature and name) now",
                key.label(),
                opts.features_dir.display()
            ),
        })?;
    }
    let console = writer::shared(console);
    let audit = Arc::new(audit::Audit::new(&env.cas));
    if let Some(after) = &opts.after {
        audit.expect_left(&env.cas, &after.left);
    }
    let mut issued: Option<Issued> = None;
    let reporting_notes = plan.reporting.left_out.iter().chain(
        plan.reporting
            .not_applicable
            .iter()
            .filter(|_| plan.stages.contains(&Pack::Reporting))
            .map(|(_, why)| why),
    );
    for text in reporting_notes {
        if let Ok(mut c) = console.lock() {
            c.line(&format!("note: {text}"));
        }
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: Pack::Reporting.name().to_owned(),
            text: text.clone(),
        })?;
    }

    for (_, text) in &plan.not_applicable {
        if let Ok(mut c) = console.lock() {
            c.line(&format!("note: {text}"));
        }
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: opts.pack.name().to_owned(),
            text: text.clone(),
        })?;
    }
    // A shared clear-down is sound only where the pack in use gives its scenarios different
    // members; else they clear down each and run alone, as the note says.
    for segment in plan.segments.iter_mut().filter(|s| s.clears_down.is_some()) {
        if let Some(shared) = segment.shared_members(&env.pack) {
            segment.clears_down = None;
            segment.alone = true;
            log.append(&LogEvent::Note {
                at: Utc::now(),
                stage: segment.stage.name().to_owned(),
                text: format!(
                    "{}: {shared} in this test pack, so each of its scenarios clears the test data down and they run one at a time",
                    segment
                        .path
                        .file_name()
                        .unwrap_or_default()
                        .to_string_lossy()
                ),
            })?;
        }
    }
    progress(&console, Progress::Planned { total: plan.total });
    let mut problems = Vec::new();
    let mut stopped = None;
    for stage in &plan.stages {
        if let Some(reason) = opts.stop.reason() {
            stopped = Some(reason);
            break;
        }
        if *stage == Pack::Reporting {
            // The midnight guard again, where the day's submissions start: a refusal ends the
            // run like an interruption, with the earlier stages' results sealed.
            match env.reporting.day_start() {
                Err(e) => {
                    stopped = Some(format!("the reporting stage was not started: {e}"));
                    break;
                }
                Ok(DayStart::WaitUntil(t)) => {
                    let wait = env.reporting.time_until(t);
                    let text = format!(
                        "the reporting stage waits {} s for 00:00 UTC: all six submissions must fall on one UTC day",
                        wait.as_secs()
                    );
                    if let Ok(mut c) = console.lock() {
                        c.line(&format!("note: {text}"));
                    }
                    log.append(&LogEvent::Note {
                        at: Utc::now(),
                        stage: stage.name().to_owned(),
                        text,
                    })?;
                    tokio::select! {
                        () = env.reporting.wait(wait) => {}
                        reason = opts.stop.requested() => {
                            stopped = Some(reason);
                            break;
                        }
                    }
                }
                Ok(DayStart::Go) => {}
            }
        }
        progress(&console, Progress::Stage(stage.name()));
        // A stop during set-up (a long clear-down command) ends it too: the command is killed.
        let start = tokio::select! {
            start = set_up_stage(&env, *stage, &run_dir, &log, opts, issued.as_ref(), &console) => start?,
            reason = opts.stop.requested() => {
                stopped = Some(reason);
                break;
            }
        };
        for text in start.notes {
            log.append(&LogEvent::Note {
                at: Utc::now(),
                stage: stage.name().to_owned(),
                text,
            })?;
        }
        let last = plan.stages.last() == Some(stage);
        if !start.run {
            // Stage 2 not run: what stage 1 left is still judged (late calls included).
            if last {
                audit_stage(&env, &audit, Pack::Stage1, true, &log, &console).await?;
            }
            continue;
        }
        let mut skip_tags = reporting_skips(*stage, &plan.reporting);
        if !env.reporting.stub {
            skip_tags.push("stub");
        }
        skip_tags.extend(plan.not_applicable.iter().map(|(tag, _)| *tag));
        let filter = Filter {
            pack_tags: stage.tags(),
            expr: plan.expr.clone(),
            skip_tags,
            cases: plan.cases.clone(),
        };
        // Feature by feature, in order: a file's scenarios run concurrently unless one of them
        // runs alone, and a file whose scenarios share a clear-down has the next one start
        // beside it ([`overlap`]; not at concurrency 1, which keeps one scenario at a time).
        let segments: Vec<&Segment> = plan.segments.iter().filter(|s| s.stage == *stage).collect();
        let mut rest = segments.as_slice();
        while let Some((first, after)) = rest.split_first() {
            let together = match after.first() {
                Some(next) if opts.concurrency > 1 && first.may_run_beside(next) => 2,
                _ => 1,
            };
            let (files, left) = rest.split_at(together);
            rest = left;
            let run = run_files(&env, &audit, &log, &console, files, filter.clone(), opts);
            // A stop abandons the scenarios in progress (recorded as interrupted) and starts
            // no other.
            tokio::select! {
                found = run => problems.extend(found),
                reason = opts.stop.requested() => {
                    stopped = Some(reason);
                    break;
                }
            }
        }
        if stopped.is_some() {
            break;
        }
        audit_stage(&env, &audit, *stage, last, &log, &console).await?;
        if *stage == Pack::Stage1 {
            let follows = plan.stages.contains(&Pack::Stage2);
            issued = issue_updates(&env, &run_dir, &run_id, follows, &log, &console)?;
        }
    }
    progress(&console, Progress::Finished);
    match stopped {
        Some(reason) => log.append(&LogEvent::RunInterrupted {
            at: Utc::now(),
            reason,
        })?,
        None => log.append(&LogEvent::RunFinished { at: Utc::now() })?,
    }
    if !problems.is_empty() {
        return Err(RunError::Recording(problems.join("; ")));
    }
    let (record, files) = evidence::render(&run_dir, Format::All)?;
    Ok(RunOutcome {
        run_id,
        run_dir,
        record,
        files,
    })
}
