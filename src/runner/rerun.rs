//! `rerun`: which scenarios of an earlier run to run again, and the attempt history the new run
//! carries.
//!
//! Only the scenarios that did not pass are re-run (failed, skipped or interrupted), found again
//! by case id (else feature and name) through a [`CaseFilter`], with the same pack as the
//! earlier run so stages keep PDP's order. A re-run scenario tagged `@depends-on:<stage>` brings
//! in every scenario of that stage: it checks state that the whole stage sets up earlier in the
//! same run. The history chains: the earlier run's own history (if it was itself a re-run) is
//! carried forward and the earlier run's attempt appended.

use std::path::PathBuf;

use super::{CaseFilter, Pack, RunOptions};
use crate::harness::config::TargetConfig;
use crate::record::run::{Attempt, RerunInfo, RunRecord, ScenarioHistory, ScenarioKey, Status};

#[derive(Debug, thiserror::Error)]
pub enum RerunError {
    #[error(
        "run {run_id} was made with pack {pack:?}, which this version of pdp-harness does not know"
    )]
    UnknownPack { run_id: String, pack: String },
}

/// What a re-run runs.
#[derive(Debug, Clone, PartialEq)]
pub struct RerunPlan {
    pub pack: Pack,
    pub cases: CaseFilter,
    pub rerun: RerunInfo,
    /// The scenarios to re-run because they did not pass.
    pub failed: Vec<ScenarioKey>,
    /// Things the user should know (e.g. the earlier run stopped before some scenarios).
    pub notes: Vec<String>,
}

impl RerunPlan {
    /// The run options of the re-run.
    pub fn options(
        &self,
        features_dir: PathBuf,
        out_dir: PathBuf,
        config: TargetConfig,
    ) -> RunOptions {
        RunOptions {
            cases: Some(self.cases.clone()),
            rerun: Some(self.rerun.clone()),
            ..RunOptions::new(self.pack, features_dir, out_dir, config)
        }
    }
}

/// The pack a run log names (`selection.pack`, written as [`Pack::name`]), in any case.
fn pack_named(name: &str) -> Option<Pack> {
    Pack::from_name(&name.to_ascii_lowercase())
}

/// Plan the re-run of `earlier`; `Ok(None)` when every scenario of it passed.
pub fn plan(earlier: &RunRecord) -> Result<Option<RerunPlan>, RerunError> {
    let run_id = &earlier.header.run_id;
    let pack =
        pack_named(&earlier.header.selection.pack).ok_or_else(|| RerunError::UnknownPack {
            run_id: run_id.clone(),
            pack: earlier.header.selection.pack.clone(),
        })?;
    let not_passed: Vec<_> = earlier
        .scenarios
        .iter()
        .filter(|s| s.status != Status::Passed)
        .collect();
    let mut notes = Vec::new();
    if earlier.ended_at.is_none() && earlier.not_started.is_empty() {
        // A log from before runs wrote their plan: what never started is not known.
        notes.push(format!(
            "run {run_id} stopped before it finished: scenarios it never started are not re-run (use `pdp-harness run` for the whole pack)"
        ));
    }
    if !earlier.not_started.is_empty() {
        notes.push(format!(
            "run {run_id} stopped before {} planned scenario(s) started; they are run too",
            earlier.not_started.len()
        ));
    }
    if not_passed.is_empty() && earlier.not_started.is_empty() {
        return Ok(None);
    }
    let mut whole_stages: Vec<String> = Vec::new();
    let tag_lists = not_passed
        .iter()
        .map(|s| &s.tags)
        .chain(earlier.not_started.iter().map(|p| &p.tags));
    for tags in tag_lists {
        for dep in tags.iter().filter_map(|t| t.strip_prefix("depends-on:")) {
            if !whole_stages.iter().any(|w| w == dep) {
                whole_stages.push(dep.to_owned());
            }
        }
    }
    let failed: Vec<ScenarioKey> = not_passed
        .iter()
        .map(|s| ScenarioKey::of(s))
        .chain(earlier.not_started.iter().map(|p| p.key.clone()))
        .collect();
    // Every scenario that will run again gets its history: the earlier run's history of it,
    // then the earlier run's attempt.
    let previous_attempts = earlier
        .scenarios
        .iter()
        .filter_map(|s| {
            let key = ScenarioKey::of(s);
            let reason = if failed.iter().any(|k| k.matches(&key)) {
                "failed"
            } else if s.tags.iter().any(|t| whole_stages.contains(t)) {
                "dependency"
            } else {
                return None;
            };
            let mut attempts = earlier
                .history_of(s)
                .map(|h| h.attempts.clone())
                .unwrap_or_default();
            attempts.push(Attempt {
                run_id: run_id.clone(),
                at: s.ended_at.unwrap_or(s.started_at),
                status: s.status,
                message: s.first_failure().map(str::to_owned),
            });
            Some(ScenarioHistory {
                key,
                reason: reason.to_owned(),
                attempts,
            })
        })
        .collect();
    let mut chain = earlier
        .header
        .rerun
        .as_ref()
        .map(|r| r.chain.clone())
        .unwrap_or_default();
    chain.push(run_id.clone());
    // A pass after a changed pack or feature file is not the same test passing again.
    let inputs_changed = crate::evidence::seal::changed_inputs(&earlier.header.inputs);
    notes.extend(
        inputs_changed
            .iter()
            .map(|c| format!("inputs changed since run {run_id}: {c}")),
    );
    Ok(Some(RerunPlan {
        pack,
        cases: CaseFilter {
            scenarios: failed.clone(),
            whole_stages,
        },
        rerun: RerunInfo {
            rerun_of: run_id.clone(),
            chain,
            previous_attempts,
            inputs_changed,
        },
        failed,
        notes,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::run::ScenarioRecord;

    fn scenario(case: &str, tags: &[&str], status: Status) -> ScenarioRecord {
        let mut s = crate::record::synthetic::record(1).scenarios[0].clone();
        s.case_id = Some(case.to_owned());
        s.name = format!("scenario {case}");
        s.tags = tags.iter().map(|t| (*t).to_owned()).collect();
        s.tags.push(format!("case:{case}"));
        s.status = status;
        s
    }

    fn record(pack: &str, scenarios: Vec<ScenarioRecord>) -> RunRecord {
        let mut r = crate::record::synthetic::record(1);
        r.header.selection.pack = pack.to_owned();
        r.header.run_id = "A".to_owned();
        r.scenarios = scenarios;
        r
    }

    #[test]
    fn every_pack_is_found_again_by_the_name_its_run_log_records() {
        for pack in Pack::ALL {
            assert_eq!(pack_named(pack.name()), Some(pack));
            assert_eq!(pack_named(&pack.name().to_uppercase()), Some(pack));
        }
        assert_eq!(pack_named("stage3"), None);
    }

    #[test]
    fn nothing_to_rerun_when_everything_passed() {
        let r = record(
            "connection-proving",
            vec![scenario("CP-01", &["connection-proving"], Status::Passed)],
        );
        assert_eq!(plan(&r).ok().flatten(), None);
    }

    #[test]
    fn a_failed_stage2_scenario_brings_in_stage1() {
        let r = record(
            "all",
            vec![
                scenario("CP-01", &["connection-proving"], Status::Passed),
                scenario("S1-01", &["stage1"], Status::Passed),
                scenario("S1-02", &["stage1"], Status::Failed),
                scenario("S2-02", &["stage2", "depends-on:stage1"], Status::Failed),
            ],
        );
        let p = plan(&r).ok().flatten().expect("a plan");
        assert_eq!(p.pack, Pack::All);
        assert_eq!(p.cases.whole_stages, vec!["stage1".to_owned()]);
        let reasons: Vec<(Option<String>, String)> = p
            .rerun
            .previous_attempts
            .iter()
            .map(|h| (h.key.case_id.clone(), h.reason.clone()))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (Some("S1-01".to_owned()), "dependency".to_owned()),
                (Some("S1-02".to_owned()), "failed".to_owned()),
                (Some("S2-02".to_owned()), "failed".to_owned()),
            ]
        );
        assert_eq!(p.rerun.chain, vec!["A".to_owned()]);
    }

    #[test]
    fn the_history_chains_through_earlier_reruns() {
        let mut b = record(
            "connection-proving",
            vec![scenario("CP-01", &["connection-proving"], Status::Failed)],
        );
        let a = record(
            "connection-proving",
            vec![scenario("CP-01", &["connection-proving"], Status::Failed)],
        );
        b.header.rerun = plan(&a).ok().flatten().map(|p| p.rerun);
        b.header.run_id = "B".to_owned();
        let p = plan(&b).ok().flatten().expect("a plan");
        assert_eq!(p.rerun.chain, vec!["A".to_owned(), "B".to_owned()]);
        let runs: Vec<&str> = p.rerun.previous_attempts[0]
            .attempts
            .iter()
            .map(|a| a.run_id.as_str())
            .collect();
        assert_eq!(runs, vec!["A", "B"]);
    }
}
