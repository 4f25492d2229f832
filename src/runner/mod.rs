//! The Gherkin runner: selects scenarios from `features/` by pack and tag expression, runs them
//! with cucumber against an [`Environment`], and writes the run log and evidence.

pub mod audit;
pub mod live;
pub mod reporting_scope;
pub mod rerun;
mod steps;
pub mod stop;
pub mod world;
pub mod writer;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::Utc;
use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;
use cucumber::{World as _, gherkin};
use futures::FutureExt as _;

use crate::evidence::{self, EvidenceError, Format};
use crate::harness::config::TargetConfig;
use crate::harness::environment::Environment;
use crate::harness::updates::MatchUpdateFile;
use crate::record::events::LogEvent;
use crate::record::run::{
    PlannedScenario, RerunInfo, RunHeader, RunRecord, ScenarioKey, Selection, Standards,
};
use crate::record::runlog::RunLog;
use reporting_scope::ReportingScope;
use world::HarnessWorld;
use writer::{Console, EvidenceWriter, Progress};

/// The packs of PDP integration testing; each is a tag on its scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pack {
    /// One find, one registration, one view (tag @connection-proving).
    ConnectionProving,
    /// Cases that need no intervention and set up matches (tag @stage1).
    Stage1,
    /// Checks after the match updates were applied (tag @stage2).
    Stage2,
    /// Reporting data to the six reporting endpoints (tag @reporting).
    Reporting,
    /// Retry, backoff and recovery under injected C&A faults (tag @resilience; not in "all").
    Resilience,
    /// The error catalogue: every C&A error the MaPS stub seeds and every bad view request,
    /// each a case the provider must survive or refuse (tags @errors and @reporting-errors;
    /// not in "all").
    Errors,
    /// The reporting scripts alone: every `INVALID_*` code of the reporting yaml and the
    /// transport errors, refused by the harness's validator and by the reporting API (tag
    /// @reporting-errors; also in "errors"; not in "all").
    ReportingErrors,
    /// What the reporting simulator of `pdp-harness serve` received from the organisation's own
    /// reporting client this UTC day, judged as PDP's pipeline does (tag @reporting-received;
    /// not in "all").
    ReportingReceived,
    /// Every pack, in order.
    All,
}

impl Pack {
    /// Whether the pack's scenarios call the provider (find, view, clear-down). The two
    /// reporting-only packs do not, so the provider checks before a run (which include a
    /// clear-down) are not made for them.
    pub fn calls_provider(self) -> bool {
        !matches!(self, Pack::ReportingErrors | Pack::ReportingReceived)
    }

    pub fn tag(self) -> Option<&'static str> {
        match self {
            Pack::ConnectionProving => Some("connection-proving"),
            Pack::Stage1 => Some("stage1"),
            Pack::Stage2 => Some("stage2"),
            Pack::Reporting => Some("reporting"),
            Pack::Resilience => Some("resilience"),
            Pack::Errors => Some("errors"),
            Pack::ReportingErrors => Some("reporting-errors"),
            Pack::ReportingReceived => Some("reporting-received"),
            Pack::All => None,
        }
    }

    /// The tags whose scenarios the pack selects (any of them); empty for "all".
    pub fn tags(self) -> &'static [&'static str] {
        match self {
            Pack::ConnectionProving => &["connection-proving"],
            Pack::Stage1 => &["stage1"],
            Pack::Stage2 => &["stage2"],
            Pack::Reporting => &["reporting"],
            Pack::Resilience => &["resilience"],
            // The reporting API's error scripts belong to the catalogue too.
            Pack::Errors => &["errors", "reporting-errors"],
            Pack::ReportingErrors => &["reporting-errors"],
            Pack::ReportingReceived => &["reporting-received"],
            Pack::All => &[],
        }
    }

    pub fn name(self) -> &'static str {
        self.tag().unwrap_or("all")
    }
}

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

/// Every step of the selected scenarios (background included) has exactly one definition;
/// a misworded one is named with the nearest wording that does match, before anything runs.
fn check_steps(
    parsed: &[(PathBuf, gherkin::Feature)],
    selected: &[(PathBuf, Vec<gherkin::Step>)],
) -> Result<(), RunError> {
    let definitions = HarnessWorld::collection();
    let matches = |step: &gherkin::Step| definitions.find(step).map(|m| m.is_some());
    // Known-good wordings: every step of every feature file that matches a definition.
    let known: Vec<(gherkin::StepType, String)> = parsed
        .iter()
        .flat_map(|(_, f)| all_steps(f))
        .filter(|s| matches(s).unwrap_or(false))
        .map(|s| (s.ty, s.value.clone()))
        .collect();
    for (path, steps) in selected {
        for step in steps {
            let location = format!("{}:{}", path.display(), step.position.line);
            match matches(step) {
                Ok(true) => {}
                Ok(false) => {
                    let nearest = known
                        .iter()
                        .filter(|(ty, _)| *ty == step.ty)
                        .min_by_key(|(_, text)| edit_distance(text, &step.value))
                        .map(|(_, text)| text);
                    return Err(RunError::UnknownStep {
                        location,
                        text: step.value.clone(),
                        suggestion: nearest
                            .map(|t| format!("; the nearest step that does is \"{t}\""))
                            .unwrap_or_default(),
                    });
                }
                Err(_) => {
                    return Err(RunError::AmbiguousStep {
                        location,
                        text: step.value.clone(),
                    });
                }
            }
        }
    }
    Ok(())
}

/// Every step written in a feature file (backgrounds, scenarios, rules).
fn all_steps(f: &gherkin::Feature) -> Vec<&gherkin::Step> {
    let mut out: Vec<&gherkin::Step> = Vec::new();
    out.extend(f.background.iter().flat_map(|b| b.steps.iter()));
    out.extend(f.scenarios.iter().flat_map(|s| s.steps.iter()));
    for r in &f.rules {
        out.extend(r.background.iter().flat_map(|b| b.steps.iter()));
        out.extend(r.scenarios.iter().flat_map(|s| s.steps.iter()));
    }
    out
}

/// Levenshtein distance in characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
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
}

/// Scenarios chosen by identity (case id, else feature and name), plus whole stages that they
/// depend on; used by `rerun` together with the pack's stage tags.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CaseFilter {
    pub scenarios: Vec<ScenarioKey>,
    /// Stage tags (e.g. "stage1") every scenario of which is selected: a `@depends-on:stage1`
    /// scenario checks state the whole of stage 1 set up earlier in the same run.
    #[serde(default)]
    pub whole_stages: Vec<String>,
}

impl CaseFilter {
    fn selects(&self, key: &ScenarioKey, tags: &[String]) -> bool {
        self.scenarios.iter().any(|k| k.matches(key))
            || self.whole_stages.iter().any(|stage| tags.contains(stage))
    }
}

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

fn feature_files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|_| RunError::NoFeatures(dir.to_owned()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "feature"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(RunError::NoFeatures(dir.to_owned()));
    }
    Ok(files)
}

/// A scenario's tags with those of its feature and rule, outline columns resolved
/// ([`resolve_tag`]).
fn all_tags(
    feature: &gherkin::Feature,
    rule: Option<&gherkin::Rule>,
    scenario: &gherkin::Scenario,
) -> Vec<String> {
    feature
        .tags
        .iter()
        .chain(rule.into_iter().flat_map(|r| r.tags.iter()))
        .chain(scenario.tags.iter())
        .map(|t| resolve_tag(scenario, t))
        .collect()
}

/// Decides which scenarios run: the stage's tag, the user's tag expression and, for a re-run,
/// the case filter.
#[derive(Debug, Clone)]
struct Filter {
    /// A scenario is selected if it has any of these (all when empty).
    pack_tags: &'static [&'static str],
    expr: Option<TagOperation>,
    /// Scenarios with any of these tags are left out (e.g. `stub` against a real reporting
    /// API, `reconciliation` when nothing is reported to reconcile).
    skip_tags: Vec<&'static str>,
    cases: Option<Arc<CaseFilter>>,
}

impl Filter {
    fn selects(
        &self,
        feature: &gherkin::Feature,
        rule: Option<&gherkin::Rule>,
        scenario: &gherkin::Scenario,
    ) -> bool {
        let tags = all_tags(feature, rule, scenario);
        (self.pack_tags.is_empty() || self.pack_tags.iter().any(|t| tags.iter().any(|x| x == t)))
            && !self.skip_tags.iter().any(|t| tags.iter().any(|x| x == t))
            && self.expr.as_ref().is_none_or(|e| e.eval(tags.iter()))
            && self
                .cases
                .as_ref()
                .is_none_or(|c| c.selects(&key_of(feature, scenario, &tags), &tags))
    }
}

/// A scenario's identity across runs, as the run record will hold it.
fn key_of(
    feature: &gherkin::Feature,
    scenario: &gherkin::Scenario,
    tags: &[String],
) -> ScenarioKey {
    let case_id = tags.iter().find_map(|t| t.strip_prefix("case:"));
    ScenarioKey::new(case_id, &feature.name, &scenario.name)
}

/// A tag of a Scenario Outline may name a column of its Examples table (`@case:<case>`), so
/// that each row has its own case id: in an expanded scenario, `<column>` is that row's value.
/// Cucumber itself expands names and steps, not tags.
pub(crate) fn resolve_tag(scenario: &gherkin::Scenario, tag: &str) -> String {
    let Some(rows) = scenario
        .examples
        .first()
        .and_then(|e| e.table.as_ref())
        .map(|t| &t.rows)
    else {
        return tag.to_owned();
    };
    let (Some(header), Some(values)) = (rows.first(), rows.get(1)) else {
        return tag.to_owned();
    };
    let mut out = tag.to_owned();
    for (name, value) in header.iter().zip(values) {
        out = out.replace(&format!("<{name}>"), value);
    }
    out
}

/// Tags of the reporting scenarios that do not apply to this target.
fn reporting_skips(stage: Pack, scope: &ReportingScope) -> Vec<&'static str> {
    if stage == Pack::Reporting {
        scope.not_applicable.iter().map(|(tag, _)| *tag).collect()
    } else {
        Vec::new()
    }
}

/// The stages of a pack, in the order PDP runs them.
fn stages_of(pack: Pack) -> Vec<Pack> {
    match pack {
        Pack::All => vec![
            Pack::ConnectionProving,
            Pack::Stage1,
            Pack::Stage2,
            Pack::Reporting,
        ],
        p => vec![p],
    }
}

/// What the preflight found: the stages with selected scenarios, and the feature files used.
struct Plan {
    expr: Option<TagOperation>,
    cases: Option<Arc<CaseFilter>>,
    stages: Vec<Pack>,
    features: Vec<String>,
    /// How many scenarios will run (outlines expanded), for the progress display.
    total: usize,
    /// Scenarios the case filter asked for that no feature file holds any more.
    unmatched: Vec<ScenarioKey>,
    /// Every selected scenario in run order, for the run log.
    planned: Vec<PlannedScenario>,
    /// Whether and how the reporting stage runs against this target.
    reporting: ReportingScope,
    /// Scenario tags that cannot run against this target, with the reason (shown as notes).
    not_applicable: Vec<(&'static str, String)>,
}

/// Tag of the scenarios that restart the provider (`features/restart.feature`).
pub const NEEDS_RESTART_TAG: &str = "needs-restart";

/// Scenarios this target cannot run, whatever the stage: a restart needs the embedded
/// provider or the target file's `[provider] restart` command.
fn not_applicable(config: &crate::harness::config::TargetConfig) -> Vec<(&'static str, String)> {
    match &config.provider {
        Some(p) if p.restart.is_none() => vec![(
            NEEDS_RESTART_TAG,
            "the restart case (E-RST-01) is not applicable: the target file names no [provider] restart command, so the harness cannot restart your solution between acknowledging a find and registering it".to_owned(),
        )],
        _ => Vec::new(),
    }
}

/// Parse every feature file up front (outlines expanded): a broken file is a "could not run",
/// named, before anything starts; and an empty selection is reported instead of a vacuous pass.
fn preflight(opts: &RunOptions, skip_tag: Option<&'static str>) -> Result<Plan, RunError> {
    use cucumber::feature::Ext as _;
    let expr = match &opts.tags {
        Some(e) => Some(e.parse::<TagOperation>().map_err(|err| RunError::BadTags {
            expr: e.clone(),
            message: err.to_string(),
        })?),
        None => None,
    };
    let mut parsed = Vec::new();
    for path in feature_files(&opts.features_dir)? {
        let feature = gherkin::Feature::parse_path(&path, gherkin::GherkinEnv::default())
            .map_err(|e| RunError::FeatureParse {
                path: path.clone(),
                message: e.to_string(),
            })?
            .expand_examples()
            .map_err(|e| RunError::FeatureParse {
                path: path.clone(),
                message: e.to_string(),
            })?;
        parsed.push((path, feature));
    }
    let cases = opts.cases.clone().map(Arc::new);
    let mut stages = Vec::new();
    let mut features = Vec::new();
    let mut total = 0;
    let mut found: Vec<ScenarioKey> = Vec::new();
    let mut planned: Vec<PlannedScenario> = Vec::new();
    let mut selected_steps = Vec::new();
    let mut dependencies: Vec<(String, Pack, String)> = Vec::new();
    let reporting = reporting_scope::reporting_scope(&opts.config, opts.pack)?;
    // Said only where the pack holds such scenarios.
    let not_applicable = if matches!(opts.pack, Pack::Resilience | Pack::Errors) {
        not_applicable(&opts.config)
    } else {
        Vec::new()
    };
    for stage in stages_of(opts.pack) {
        if stage == Pack::Reporting && reporting.left_out.is_some() {
            continue;
        }
        let filter = Filter {
            pack_tags: stage.tags(),
            expr: expr.clone(),
            skip_tags: {
                let mut tags = reporting_skips(stage, &reporting);
                tags.extend(skip_tag);
                tags.extend(not_applicable.iter().map(|(tag, _)| *tag));
                tags
            },
            cases: cases.clone(),
        };
        let mut selected = 0;
        for (path, feature) in &parsed {
            let chosen: Vec<(Vec<String>, &gherkin::Scenario)> = feature
                .scenarios
                .iter()
                .filter(|s| filter.selects(feature, None, s))
                .map(|s| (all_tags(feature, None, s), s))
                .chain(feature.rules.iter().flat_map(|r| {
                    r.scenarios
                        .iter()
                        .filter(|s| filter.selects(feature, Some(r), s))
                        .map(move |s| (all_tags(feature, Some(r), s), s))
                }))
                .collect();
            for (tags, scenario) in &chosen {
                let rule = feature
                    .rules
                    .iter()
                    .find(|r| r.scenarios.iter().any(|s| std::ptr::eq(s, *scenario)));
                let steps = feature
                    .background
                    .iter()
                    .chain(rule.and_then(|r| r.background.as_ref()))
                    .flat_map(|b| b.steps.iter())
                    .chain(scenario.steps.iter())
                    .cloned()
                    .collect();
                selected_steps.push((path.clone(), steps));
                found.push(key_of(feature, scenario, tags));
                planned.push(PlannedScenario {
                    key: key_of(feature, scenario, tags),
                    tags: tags.clone(),
                });
                for dep in tags.iter().filter_map(|t| t.strip_prefix("depends-on:")) {
                    dependencies.push((dep.to_owned(), stage, path.display().to_string()));
                }
            }
            let n = chosen.len();
            if n > 0 {
                let shown = path.display().to_string();
                if !features.contains(&shown) {
                    features.push(shown);
                }
            }
            selected += n;
        }
        if selected > 0 {
            stages.push(stage);
        }
        total += selected;
    }
    if stages.is_empty() {
        let hint = match opts.pack {
            _ if opts.cases.is_some() => {
                "none of the scenarios to re-run is in the feature files now".to_owned()
            }
            Pack::Stage1 | Pack::Stage2 | Pack::Reporting if opts.tags.is_none() => format!(
                "the {} pack has no scenarios in this version of pdp-harness yet",
                opts.pack.name()
            ),
            _ => "check --pack and --tags".to_owned(),
        };
        return Err(RunError::NothingSelected {
            dir: opts.features_dir.clone(),
            pack: opts.pack.name().to_owned(),
            tags: opts
                .tags
                .as_ref()
                .map(|t| format!(" and --tags {t:?}"))
                .unwrap_or_default(),
            hint,
        });
    }
    // A scenario tagged @depends-on:<stage> needs that stage's scenarios earlier in the same
    // run; stages run in PDP's order, so it is enough that the stage is selected.
    for (dep, stage, file) in dependencies {
        let satisfied = stages
            .iter()
            .take_while(|s| **s != stage)
            .any(|s| s.tag() == Some(dep.as_str()))
            || (opts.after.is_some() && dep == "stage1" && stage == Pack::Stage2);
        if stages.contains(&stage) && !satisfied {
            return Err(RunError::MissingDependency {
                file,
                stage: stage.name().to_owned(),
                dependency: dep,
            });
        }
    }
    if opts.after.is_some() && opts.pack != Pack::Stage2 {
        return Err(RunError::AfterNotStage2(opts.pack.name().to_owned()));
    }
    check_steps(&parsed, &selected_steps)?;
    let unmatched = cases
        .as_ref()
        .map(|c| {
            c.scenarios
                .iter()
                .filter(|k| !found.iter().any(|f| f.matches(k)))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    Ok(Plan {
        expr,
        cases,
        stages,
        features,
        total,
        unmatched,
        planned,
        reporting,
        not_applicable,
    })
}

/// Check the feature files and the selection before anything is started.
pub fn check_selection(opts: &RunOptions) -> Result<(), RunError> {
    preflight(opts, None).map(|_| ())
}

/// The match-update file stage 1 of this run issued: where, and what.
type Issued = (PathBuf, MatchUpdateFile);

/// How a stage starts: its notes, and whether its scenarios run (stage 2 waits when the match
/// updates are not applied yet, and fails when the `[updates] command` failed).
struct StageStart {
    notes: Vec<String>,
    run: bool,
}

impl From<Vec<String>> for StageStart {
    fn from(notes: Vec<String>) -> StageStart {
        StageStart { notes, run: true }
    }
}

/// The run-level check an `[updates] command` that did not apply the updates fails.
pub const UPDATES_CHECK: &str =
    "The [updates] command applied stage 1's match updates in the organisation's system";

/// End of stage 1: the match-update file (what PDP emails the organisation) and what stage 1
/// left at the C&A are written into the run directory, and announced with what to do next.
fn issue_updates(
    env: &Environment,
    run_dir: &Path,
    run_id: &str,
    stage2_follows: bool,
    log: &RunLog,
    console: &writer::SharedConsole,
) -> Result<Option<Issued>, RunError> {
    let registrations = env.cas.registrations();
    let (file, missing) = MatchUpdateFile::plan(&env.pack, &registrations, run_id);
    let path = run_dir.join(crate::harness::updates::FILE_NAME);
    let note = |text: String| {
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: Pack::Stage1.name().to_owned(),
            text,
        })
    };
    for text in missing {
        note(text)?;
    }
    let left = crate::harness::updates::Stage1Left::of(&registrations, run_id);
    let left_path = run_dir.join(crate::harness::updates::STAGE1_FILE);
    let written = file.save(&path).and_then(|()| {
        serde_json::to_vec_pretty(&left)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(&left_path, json))
            .map_err(|source| crate::harness::updates::UpdatesError::Write {
                path: left_path.clone(),
                source,
            })
    });
    if let Err(e) = written {
        note(e.to_string())?;
        return Ok(None);
    }
    let next = if !stage2_follows {
        format!(
            "apply these updates in your system, then run `pdp-harness run --pack stage2 --after {run_id}` (with the same --target and --out)"
        )
    } else if env.is_embedded() {
        "stage 2 follows in this run: the harness applies them to the embedded reference provider"
            .to_owned()
    } else {
        "stage 2 follows in this run, once they are applied".to_owned()
    };
    if let Ok(mut c) = console.lock() {
        c.line(&format!(
            "Stage 1 done: the match-update file is {} ({} updates)",
            path.display(),
            file.updates.len()
        ));
        c.line(&format!("Next: {next}"));
    }
    log.append(&LogEvent::MatchUpdatesIssued {
        at: Utc::now(),
        file: path.display().to_string(),
        updates: file.updates.len(),
        next,
    })?;
    Ok(Some((path, file)))
}

/// Stage 2's start: the match-update file (this run's stage 1, or the `--after` run's) applied
/// by the harness to the embedded reference provider, by the organisation before an `--after`
/// run, by the `[updates] command`, or confirmed applied at the terminal; else stage 2 waits.
async fn start_stage2(
    env: &Environment,
    opts: &RunOptions,
    issued: Option<&Issued>,
    log: &RunLog,
    console: &writer::SharedConsole,
) -> Result<StageStart, RunError> {
    let stage = Pack::Stage2.name().to_owned();
    let (path, file, from) = match (&opts.after, issued) {
        (Some(a), _) => (
            a.run_dir.join(crate::harness::updates::FILE_NAME),
            a.updates.clone(),
            a.run_id.clone(),
        ),
        (None, Some((p, f))) => (p.clone(), f.clone(), f.run_id.clone()),
        (None, None) => {
            return Ok(vec![
                "no match-update file: stage 1 issued none in this run (see its notes)".to_owned(),
            ]
            .into());
        }
    };
    let say = |text: &str| {
        if let Ok(mut c) = console.lock() {
            c.line(text);
        }
    };
    if env.is_embedded() {
        let mut notes = Vec::new();
        match env.apply_match_updates(file).await {
            Ok(results) => notes.extend(results.into_iter().map(|r| {
                format!(
                    "update {} {}: {}",
                    r.update_id,
                    if r.applied { "applied" } else { "NOT applied" },
                    r.detail
                )
            })),
            Err(e) => notes.push(format!("match updates could not be applied: {e}")),
        }
        return Ok(notes.into());
    }
    if opts.after.is_some() {
        env.set_match_updates(file);
        return Ok(vec![format!(
            "stage 2 of run {from}: the organisation applied its match-update file {} before this run",
            path.display()
        )]
        .into());
    }
    if let Some(argv) = &opts.config.updates.command {
        let timeout =
            std::time::Duration::from_secs(opts.config.updates.timeout_secs.unwrap_or(300));
        say(&format!(
            "Applying the match updates: {} {}",
            argv.join(" "),
            path.display()
        ));
        let out = crate::harness::updates::run_command(argv, &path, timeout).await;
        let mask = |t: &str| env.recorder.redactor().mask(t.trim());
        let mut text = format!("[updates] command {}: {}", mask(&out.command), out.status);
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if !stream.trim().is_empty() {
                text.push_str(&format!("\n{name}:\n{}", mask(stream)));
            }
        }
        if out.truncated {
            text.push_str(&format!(
                "\n(output cut at {} bytes per stream)",
                crate::harness::updates::COMMAND_OUTPUT_CAP
            ));
        }
        if out.success {
            env.set_match_updates(file);
            return Ok(vec![text].into());
        }
        say(&format!("  FAILED  {UPDATES_CHECK}"));
        say(&format!("          -> {}", out.status));
        log.append(&LogEvent::StageCheckFailed {
            at: Utc::now(),
            stage: stage.clone(),
            check: UPDATES_CHECK.to_owned(),
            message: text,
        })?;
        return Ok(StageStart {
            notes: vec![
                "stage 2's scenarios were not run: the [updates] command did not apply the match updates"
                    .to_owned(),
            ],
            run: false,
        });
    }
    if opts.interactive {
        say(&format!(
            "Apply the match updates in {} in your system now. Applied? [y/N]",
            path.display()
        ));
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        if let Ok(Ok(line)) = answer
            && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
        {
            env.set_match_updates(file);
            return Ok(vec![format!(
                "the user confirmed at the terminal that the match updates in {} were applied",
                path.display()
            )]
            .into());
        }
    }
    let reason = format!(
        "stage 2 not run: the match updates in {} must first be applied in the organisation's system; apply them, then run `pdp-harness run --pack stage2 --after {from}` (or name an [updates] command in the target file to apply them within the run)",
        path.display()
    );
    say(&format!("Stage 2 PENDING: {reason}"));
    log.append(&LogEvent::StagePending {
        at: Utc::now(),
        stage,
        reason,
    })?;
    Ok(StageStart {
        notes: Vec::new(),
        run: false,
    })
}

/// Before a stage's scenarios: stage 1 starts from cleared-down data; stage 2 from the
/// match-update file applied ([`start_stage2`]). Returns notes for the run log.
#[allow(clippy::too_many_arguments)]
async fn set_up_stage(
    env: &Environment,
    stage: Pack,
    run_dir: &Path,
    log: &RunLog,
    opts: &RunOptions,
    issued: Option<&Issued>,
    console: &writer::SharedConsole,
) -> Result<StageStart, RunError> {
    let config = &opts.config;
    Ok(match stage {
        Pack::Stage1 => match env.clear_down().await {
            Ok(()) => vec!["test data cleared down before stage 1".to_owned()],
            Err(e) => vec![format!("clear-down before stage 1 failed: {e}")],
        }
        .into(),
        Pack::Stage2 => return start_stage2(env, opts, issued, log, console).await,
        Pack::Reporting => {
            let session = &env.reporting;
            session.attach_log(log.clone());
            // On the simulator the journal belongs to the run; against the real API it is kept
            // beside the target file, so a rerun the same day resumes without duplicates.
            let journal = match (&session.simulator, &config.path) {
                (None, Some(_)) => config.base_dir().join(crate::reporting::JOURNAL_FILE),
                _ => run_dir.join(crate::reporting::JOURNAL_FILE),
            };
            session.default_journal(&journal);
            session.start_window();
            let mut notes = vec![format!(
                "reporting to {} ({}); journal {}; data counted from {}",
                session.client.base_url,
                if session.simulator.is_some() {
                    "the harness's reporting simulator"
                } else {
                    "the reporting API of the target file"
                },
                session
                    .journal_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                crate::reporting::model::ts(&session.window_start())
            )];
            if !session.stub {
                notes.push(
                    "scenarios tagged @stub are not run: the reporting API does not take the MaPS stub's /configuration ([reporting] stub = false)"
                        .to_owned(),
                );
            }
            notes.into()
        }
        Pack::ReportingReceived => {
            let session = &env.reporting;
            let day = session.clock.now().date_naive();
            match &session.settings.received_journal {
                Some(path) => match crate::reporting::received::load(path) {
                    Ok(all) => vec![format!(
                        "judging what serve's reporting simulator received on {day} (UTC): {} of the {} requests in {}",
                        all.iter().filter(|r| r.at.date_naive() == day).count(),
                        all.len(),
                        path.display()
                    )],
                    Err(e) => vec![e.to_string()],
                },
                None => Vec::new(),
            }
            .into()
        }
        _ => Vec::<String>::new().into(),
    })
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

/// The end of a stage: every `/rreguri` call not yet judged and the C&A's live registrations
/// are judged against the pack. Findings are logged (amending the scenario that caused them)
/// and shown on the console at once. Calls keep being logged across stages (and clear-downs),
/// so a call still in flight is judged at the next stage's end; only the run's last stage
/// waits for a quiet period, counted from the last find or `/rreguri` call, so it overlaps
/// the stage's own work (after `--pack all` it is long over).
async fn audit_stage(
    env: &Environment,
    audit: &audit::Audit,
    stage: Pack,
    last: bool,
    log: &RunLog,
    console: &writer::SharedConsole,
) -> Result<(), RunError> {
    if last {
        let quiet = std::time::Duration::from_millis(
            env.limits
                .registration_settle_ms
                .max(env.limits.no_match_watch_ms),
        );
        let max = std::time::Duration::from_millis(env.limits.registration_ms).max(quiet);
        audit.settle(&env.cas, quiet, max).await;
    }
    let updates = env.applied_match_updates();
    // Stage 1 leaves the registrations stage 2 checks, and stage 2 the updated ones; the
    // reporting stage registers to view and is judged call by call only.
    let state_check = matches!(stage, Pack::ConnectionProving | Pack::Stage1 | Pack::Stage2).then(
        || match stage {
            Pack::ConnectionProving => "connection proving",
            Pack::Stage1 => "stage 1",
            _ => "stage 2",
        },
    );
    let findings = audit.judge(&env.cas, updates.as_ref(), state_check);
    let name = stage.name().to_owned();
    if findings.is_empty() {
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: name,
            text: format!(
                "registration audit after {}: every /rreguri call judged against the test pack; nothing unexpected",
                stage.name()
            ),
        })?;
        return Ok(());
    }
    for f in findings {
        let label = f
            .scenario
            .as_ref()
            .map(ScenarioKey::label)
            .unwrap_or_else(|| "run-level check: registration audit".to_owned());
        if let Ok(mut c) = console.lock() {
            c.line(&format!(
                "  FAILED  {label} (amended by the registration audit)"
            ));
            c.line(&format!("          -> {}", f.message));
            c.line("          class: system under test; to act: technical contact");
        }
        log.append(&LogEvent::AuditFinding {
            at: Utc::now(),
            stage: name.clone(),
            scenario: f.scenario,
            message: f.message,
        })?;
    }
    Ok(())
}

/// Run the selected scenarios against `env` and write the evidence into a new run directory.
pub async fn run(
    env: Arc<Environment>,
    opts: &RunOptions,
    console: Box<dyn Console>,
) -> Result<RunOutcome, RunError> {
    let skip_tag = (!env.reporting.stub).then_some("stub");
    let plan = preflight(opts, skip_tag)?;
    if plan.stages.contains(&Pack::Reporting) {
        // All six submissions must fall on one UTC day: refuse to start too near midnight.
        env.reporting.guard()?;
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
    progress(&console, Progress::Planned { total: plan.total });
    let mut problems = Vec::new();
    let mut stopped = None;
    for stage in &plan.stages {
        if let Some(reason) = opts.stop.reason() {
            stopped = Some(reason);
            break;
        }
        if *stage == Pack::Reporting
            && let Err(e) = env.reporting.guard()
        {
            // The midnight guard again, where the day's submissions start: a refusal ends the
            // run like an interruption, with the earlier stages' results sealed.
            stopped = Some(format!("the reporting stage was not started: {e}"));
            break;
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
        let hook_env = env.clone();
        let hook_audit = audit.clone();
        let writer = EvidenceWriter::new(log.clone(), env.recorder.clone(), console.clone());
        let scenarios = HarnessWorld::cucumber()
            .max_concurrent_scenarios(1)
            // Scenarios run one at a time, so events arrive in order.
            .with_writer(cucumber::writer::AssertNormalized::new(writer))
            .with_default_cli()
            .before(move |feature, rule, scenario, world| {
                world.attach(hook_env.clone());
                world.audit = Some(hook_audit.clone());
                world.scenario = Some(key_of(
                    feature,
                    scenario,
                    &all_tags(feature, rule, scenario),
                ));
                async {}.boxed_local()
            })
            .filter_run(opts.features_dir.clone(), move |f, r, s| {
                filter.selects(f, r, s)
            });
        // A stop abandons the scenario in progress (it is recorded as interrupted) and starts
        // no other.
        tokio::select! {
            writer = scenarios => problems.extend(writer.problems.iter().cloned()),
            reason = opts.stop.requested() => {
                stopped = Some(reason);
                break;
            }
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
