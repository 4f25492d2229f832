//! Which scenarios a run selects: feature files parsed and checked up front, the pack's and
//! the user's tags, a re-run's cases, and which scenarios must run alone.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use cucumber::gherkin::tagexpr::TagOperation;
use cucumber::tag::Ext as _;
use cucumber::{World as _, gherkin};

use super::reporting_scope::{self, ReportingScope};
use super::segment::{Segment, cases_named};
use super::world::HarnessWorld;
use super::{Pack, RunError, RunOptions, stages_of};
use crate::record::run::{PlannedScenario, ScenarioKey};

/// Every step of the selected scenarios (background included) has exactly one definition;
/// a misworded one is named with the nearest wording that does match, before anything runs.
pub(super) fn check_steps(
    parsed: &[(PathBuf, gherkin::Feature)],
    unparsed: &[PathBuf],
    selected: &[(PathBuf, Vec<gherkin::Step>)],
) -> Result<(), RunError> {
    let definitions = HarnessWorld::collection();
    let matches = |step: &gherkin::Step| definitions.find(step).map(|m| m.is_some());
    // Known-good wordings, gathered only when a step matches nothing: every step of every
    // feature file (those the pack did not need parsed as well) that matches a definition.
    let known = || -> Vec<(gherkin::StepType, String)> {
        let others: Vec<gherkin::Feature> = unparsed
            .iter()
            .filter_map(|p| gherkin::Feature::parse_path(p, gherkin::GherkinEnv::default()).ok())
            .collect();
        parsed
            .iter()
            .map(|(_, f)| f)
            .chain(others.iter())
            .flat_map(all_steps)
            .filter(|s| matches(s).unwrap_or(false))
            .map(|s| (s.ty, s.value.clone()))
            .collect()
    };
    for (path, steps) in selected {
        for step in steps {
            let location = format!("{}:{}", path.display(), step.position.line);
            match matches(step) {
                Ok(true) => {}
                Ok(false) => {
                    let known = known();
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
pub(super) fn all_steps(f: &gherkin::Feature) -> Vec<&gherkin::Step> {
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
pub(super) fn edit_distance(a: &str, b: &str) -> usize {
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

/// Scenarios with any of these tags (on the scenario, its rule or its feature) run alone:
/// they change what every other scenario would see. `serial`: clears the provider's test data
/// down (connection proving, the find negatives); `stage2`: checks the state stage 1 left and
/// applies match updates; `reporting`, `reporting-errors`, `reporting-received`: one UTC day's
/// submissions to one reporting API, in order; `resilience`, `errors`: arm the C&A's faults
/// and error seeds for every caller; `needs-restart`: restarts the provider.
pub const SERIAL_TAGS: &[&str] = &[
    "serial",
    "stage2",
    "reporting",
    "reporting-errors",
    "reporting-received",
    "resilience",
    "errors",
    NEEDS_RESTART_TAG,
];

/// Whether a scenario with these tags runs alone ([`SERIAL_TAGS`]).
pub fn runs_alone(tags: &[String]) -> bool {
    tags.iter().any(|t| SERIAL_TAGS.contains(&t.as_str()))
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

pub(super) fn feature_files(dir: &Path) -> Result<Vec<PathBuf>, RunError> {
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
pub(super) fn all_tags(
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
pub(super) struct Filter {
    /// A scenario is selected if it has any of these (all when empty).
    pub(super) pack_tags: &'static [&'static str],
    pub(super) expr: Option<TagOperation>,
    /// Scenarios with any of these tags are left out (e.g. `stub` against a real reporting
    /// API, `reconciliation` when nothing is reported to reconcile).
    pub(super) skip_tags: Vec<&'static str>,
    pub(super) cases: Option<Arc<CaseFilter>>,
}

impl Filter {
    pub(super) fn selects(
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
pub(super) fn key_of(
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
pub(super) fn reporting_skips(stage: Pack, scope: &ReportingScope) -> Vec<&'static str> {
    if stage == Pack::Reporting {
        scope.not_applicable.iter().map(|(tag, _)| *tag).collect()
    } else {
        Vec::new()
    }
}

/// What the preflight found: the stages with selected scenarios, and the feature files used.
pub(super) struct Plan {
    pub(super) expr: Option<TagOperation>,
    pub(super) cases: Option<Arc<CaseFilter>>,
    pub(super) stages: Vec<Pack>,
    pub(super) features: Vec<String>,
    /// How many scenarios will run (outlines expanded), for the progress display.
    pub(super) total: usize,
    /// Scenarios the case filter asked for that no feature file holds any more.
    pub(super) unmatched: Vec<ScenarioKey>,
    /// Every selected scenario in run order, for the run log.
    pub(super) planned: Vec<PlannedScenario>,
    /// Whether and how the reporting stage runs against this target.
    pub(super) reporting: ReportingScope,
    /// Scenario tags that cannot run against this target, with the reason (shown as notes).
    pub(super) not_applicable: Vec<(&'static str, String)>,
    /// Per stage, its feature files with selected scenarios, in order.
    pub(super) segments: Vec<Segment>,
}

/// The Background step of a feature whose scenarios share one clear-down: each uses its own
/// members, so they may run together once the data is cleared down, where a clear-down per
/// scenario would wipe what the others had registered. The feature's first selected scenario
/// performs it; the others wait for it.
pub const CLEARED_DOWN_ONCE: &str =
    "the provider's test data has been cleared down once for these scenarios";

/// Tag of the scenarios that restart the provider (`features/restart.feature`).
pub const NEEDS_RESTART_TAG: &str = "needs-restart";

/// Tag of the scenarios that have match updates applied while a C&A fault is armed (the error
/// catalogue's PATCH and DELETE cases, `features/errors.feature`).
pub const NEEDS_UPDATES_TAG: &str = "needs-updates";

/// Scenarios this target cannot run, whatever the stage: a restart needs the embedded
/// provider or the target file's `[provider] restart` command; applying match updates within
/// a scenario needs the embedded provider or the `[updates] command`.
pub(super) fn not_applicable(
    config: &crate::harness::config::TargetConfig,
) -> Vec<(&'static str, String)> {
    let Some(p) = &config.provider else {
        return Vec::new();
    };
    let mut out = Vec::new();
    if p.restart.is_none() {
        out.push((
            NEEDS_RESTART_TAG,
            "the restart case (E-RST-01) is not applicable: the target file names no [provider] restart command, so the harness cannot restart your solution between acknowledging a find and registering it".to_owned(),
        ));
    }
    if config.updates.command.is_none() {
        out.push((
            NEEDS_UPDATES_TAG,
            "the match-update error cases (E-UPD-01..14) are not applicable: the target file names no [updates] command, so the harness cannot have your solution apply a match update while the C&A's fault is armed".to_owned(),
        ));
    }
    out
}

/// Parse every feature file up front (outlines expanded): a broken file is a "could not run",
/// named, before anything starts; and an empty selection is reported instead of a vacuous pass.
pub(super) fn preflight(
    opts: &RunOptions,
    skip_tag: Option<&'static str>,
) -> Result<Plan, RunError> {
    use cucumber::feature::Ext as _;
    let expr = match &opts.tags {
        Some(e) => Some(e.parse::<TagOperation>().map_err(|err| RunError::BadTags {
            expr: e.clone(),
            message: err.to_string(),
        })?),
        None => None,
    };
    let mut parsed = Vec::new();
    let mut unparsed = Vec::new();
    // Only the files that can hold a scenario of the pack's stages are parsed: the stages'
    // tags must appear in the text (an outline's `@<column>` tag could make one, so such a
    // file is parsed too). `run --pack connection-proving` then parses one small file, not
    // the error catalogue's hundreds of lines, while its signing keys are generated.
    let stage_tags: Vec<String> = stages_of(opts.pack)
        .iter()
        .flat_map(|stage| stage.tags().iter().map(|t| format!("@{t}")))
        .collect();
    for path in feature_files(&opts.features_dir)? {
        let text = std::fs::read_to_string(&path).map_err(|e| RunError::FeatureParse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if !stage_tags.is_empty()
            && !text.contains("@<")
            && !stage_tags.iter().any(|t| text.contains(t.as_str()))
        {
            unparsed.push(path);
            continue;
        }
        // The text already read, named by its path as cucumber's own parse would.
        let mut feature =
            gherkin::Feature::parse(&text, gherkin::GherkinEnv::default()).map_err(|e| {
                RunError::FeatureParse {
                    path: path.clone(),
                    message: e.to_string(),
                }
            })?;
        feature.path = Some(path.clone());
        let feature = feature
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
    let mut segments = Vec::new();
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
                let alone = chosen.iter().any(|(tags, _)| runs_alone(tags));
                let clears_down = feature
                    .background
                    .iter()
                    .flat_map(|b| b.steps.iter())
                    .any(|s| s.value == CLEARED_DOWN_ONCE)
                    .then(|| chosen.first())
                    .flatten()
                    .map(|(tags, s)| key_of(feature, s, tags));
                let cases = chosen
                    .iter()
                    .map(|(tags, s)| {
                        let key = key_of(feature, s, tags);
                        let named = s
                            .steps
                            .iter()
                            .flat_map(|st| cases_named(&st.value))
                            .collect();
                        (key.id().to_owned(), named)
                    })
                    .collect();
                segments.push(Segment {
                    stage,
                    path: path.clone(),
                    alone,
                    clears_down,
                    cases,
                });
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
    check_steps(&parsed, &unparsed, &selected_steps)?;
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
        segments,
    })
}

/// Check the feature files and the selection before anything is started.
pub fn check_selection(opts: &RunOptions) -> Result<(), RunError> {
    preflight(opts, None).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A scenario that clears the provider's test data down (or, through its feature, sits
    /// among ones that do) must run alone: cleared beside another scenario, that scenario's
    /// registrations would vanish under it. Every such feature file says so by a tag.
    #[test]
    fn every_feature_that_clears_down_runs_alone_by_its_tags() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("features");
        let mut clearing = 0;
        for path in feature_files(&dir).expect("the feature files") {
            let feature = gherkin::Feature::parse_path(&path, gherkin::GherkinEnv::default())
                .expect("a feature file parses");
            let clears = all_steps(&feature)
                .iter()
                .any(|s| s.value == "the provider's test data has been cleared down");
            if clears {
                clearing += 1;
                assert!(
                    runs_alone(&feature.tags),
                    "{}: clears the test data down but is not tagged to run alone (one of {SERIAL_TAGS:?})",
                    path.display()
                );
            }
        }
        assert!(
            clearing >= 3,
            "found {clearing} feature files that clear down"
        );
    }

    /// A feature whose scenarios share one clear-down runs them side by side: that is sound
    /// only where the step is in its Background (so every scenario waits for it) and no two
    /// of its scenarios use one member or pension (else one's registration could hide or fail
    /// another's). Checked of the built-in pack here, and of the pack in use before each run.
    #[test]
    fn a_shared_clear_down_is_in_the_background_of_scenarios_with_their_own_members() {
        use cucumber::feature::Ext as _;
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let pack =
            crate::harness::testpack::TestPack::load(&root.join("testpacks/integration/pack.toml"))
                .expect("the built-in pack");
        let mut sharing = 0;
        for path in feature_files(&root.join("features")).expect("the feature files") {
            let feature = gherkin::Feature::parse_path(&path, gherkin::GherkinEnv::default())
                .expect("a feature file parses")
                .expand_examples()
                .expect("examples expand");
            let in_background = feature
                .background
                .iter()
                .flat_map(|b| b.steps.iter())
                .any(|s| s.value == CLEARED_DOWN_ONCE);
            let in_scenarios = feature
                .scenarios
                .iter()
                .flat_map(|s| s.steps.iter())
                .any(|s| s.value == CLEARED_DOWN_ONCE);
            assert!(
                !in_scenarios,
                "{}: the shared clear-down outside the Background",
                path.display()
            );
            let segment = Segment {
                stage: Pack::Stage1,
                path: path.clone(),
                alone: false,
                clears_down: None,
                cases: feature
                    .scenarios
                    .iter()
                    .map(|s| {
                        let named = s
                            .steps
                            .iter()
                            .flat_map(|st| cases_named(&st.value))
                            .collect();
                        (s.name.clone(), named)
                    })
                    .collect(),
            };
            let shared = segment.shared_members(&pack);
            if in_background {
                sharing += 1;
                assert_eq!(shared, None, "{}", path.display());
            } else if path.ends_with("connection_proving.feature") {
                // PDP's connection proving uses one member: the check tells.
                let shared = shared.expect("connection proving's scenarios share a member");
                assert!(shared.contains("member P-CP-01"), "{shared}");
            }
        }
        assert!(
            sharing >= 1,
            "found {sharing} feature files sharing a clear-down"
        );
    }

    /// Only the feature files that can hold a scenario of the pack's stages are parsed: one
    /// without the stages' tags is not read as Gherkin at all (here it would not parse), while
    /// one whose tags an outline column could make is.
    #[test]
    fn feature_files_without_the_packs_tags_are_not_parsed() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        std::fs::write(
            dir.path().join("a.feature"),
            "@connection-proving\nFeature: A\n  Scenario: one\n    Given the provider's test data has been cleared down\n",
        )
        .expect("write a.feature");
        std::fs::write(
            dir.path().join("b.feature"),
            "@errors\nFeature B is not Gherkin\n",
        )
        .expect("write b.feature");
        let opts = |pack| RunOptions {
            concurrency: 1,
            ..RunOptions::new(
                pack,
                dir.path().to_owned(),
                dir.path().join("out"),
                crate::harness::config::TargetConfig::default(),
            )
        };
        let plan =
            preflight(&opts(Pack::ConnectionProving), None).expect("b.feature is not parsed");
        assert_eq!(plan.total, 1);
        assert!(matches!(
            preflight(&opts(Pack::Errors), None),
            Err(RunError::FeatureParse { .. })
        ));
        // A tag an outline column makes: the file is parsed whatever the pack.
        std::fs::write(
            dir.path().join("b.feature"),
            "@<pack>\nFeature B is not Gherkin\n",
        )
        .expect("write b.feature");
        assert!(matches!(
            preflight(&opts(Pack::ConnectionProving), None),
            Err(RunError::FeatureParse { .. })
        ));
    }

    #[test]
    fn stage_1s_own_scenarios_may_overlap_and_the_tagged_ones_may_not() {
        let tags = |t: &[&str]| t.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(!runs_alone(&tags(&["stage1", "case:S1-01"])));
        assert!(runs_alone(&tags(&["stage1", "serial", "case:FN-01"])));
        assert!(runs_alone(&tags(&[
            "resilience",
            "errors",
            "needs-restart"
        ])));
        assert!(runs_alone(&tags(&["stage2", "depends-on:stage1"])));
    }
}
