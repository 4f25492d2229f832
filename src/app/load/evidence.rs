//! A load test's evidence: a run directory like a run's (run log, `run.json`, PDF, HTML,
//! JUnit, seal), written through the same evidence writers. Its one scenario says whether every
//! find was acknowledged and every registration arrived; the figures ride in the run log as a
//! `load` event and come out in `run.json` and in the PDF's load section and chart.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use super::{LoadOptions, LoadSummary};
use crate::evidence::{self, Format};
use crate::harness::config::TargetConfig;
use crate::harness::environment::Environment;
use crate::record::events::LogEvent;
use crate::record::run::{RunHeader, RunRecord, Selection, Status, StepRecord};
use crate::record::runlog::RunLog;
use crate::runner::RunError;

/// The pack name a load test's evidence carries.
pub const PACK: &str = "load";

fn step(text: String, ok: bool, message: Option<String>) -> LogEvent {
    LogEvent::StepFinished {
        at: Utc::now(),
        step: StepRecord::outcome_only(
            "Then",
            text,
            if ok { Status::Passed } else { Status::Failed },
            if ok { None } else { message },
            None,
        ),
    }
}

/// The scenario's steps: what was asked, and whether each part of it held.
fn steps(s: &LoadSummary, opts: &LoadOptions) -> Vec<LogEvent> {
    let mut out = vec![
        step(
            format!(
                "{} finds are sent at {} per second for {} s ({} for people the provider holds)",
                s.finds_planned, s.requested_rate, s.duration_secs, s.matching_finds
            ),
            s.finds_sent == s.finds_planned,
            Some(format!(
                "only {} of {} finds were sent",
                s.finds_sent, s.finds_planned
            )),
        ),
        step(
            format!(
                "every find is acknowledged with 202 within {} ms",
                s.timeout_ms
            ),
            s.acknowledged == s.finds_sent,
            Some(format!(
                "{} of {} finds acknowledged; {} errors ({}); {} timed out",
                s.acknowledged,
                s.finds_sent,
                s.errors,
                s.error_kinds
                    .iter()
                    .map(|(k, n)| format!("{k}: {n}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                s.timeouts
            )),
        ),
        step(
            format!(
                "every matching find's pensions are registered at the C&A within {} s of the last answer, and nothing else is",
                opts.registration_timeout.as_secs_f64()
            ),
            s.registrations_missing == 0 && s.registrations_unexpected == 0,
            Some(format!(
                "{} of {} expected registrations seen ({} missing); {} unexpected",
                s.registrations_observed,
                s.registrations_expected,
                s.registrations_missing,
                s.registrations_unexpected
            )),
        ),
    ];
    if opts.view {
        out.push(step(
            "every registered pension's view data is served".to_owned(),
            s.view_errors == 0,
            Some(format!(
                "{} views served, {} failed",
                s.views_ok, s.view_errors
            )),
        ));
    }
    out
}

/// Write the load test's run directory under `out_dir` and render its evidence.
pub fn write(
    env: &Environment,
    config: &TargetConfig,
    opts: &LoadOptions,
    summary: &LoadSummary,
    started_at: DateTime<Utc>,
    out_dir: &Path,
) -> Result<(RunRecord, PathBuf), RunError> {
    let run_id = crate::runner::new_run_id();
    let run_dir = out_dir.join(&run_id);
    std::fs::create_dir_all(&run_dir).map_err(|source| RunError::RunDir {
        path: run_dir.clone(),
        source,
    })?;
    let log = RunLog::create(&run_dir)?;
    // The test pack the people came from (on the embedded default, plus synthetic members made
    // in memory), inside the bundle as a run's inputs are.
    let inputs =
        crate::evidence::seal::write_inputs(&run_dir, &[], &env.pack.path, &config.summary())?;
    log.append(&LogEvent::RunStarted(Box::new(RunHeader {
        run_id: run_id.clone(),
        started_at,
        harness_version: env!("CARGO_PKG_VERSION").to_owned(),
        standards: crate::runner::standards(config, &env.view_schema),
        target: env.target_info(config.path.as_ref().map(|p| p.display().to_string())),
        selection: Selection {
            pack: PACK.to_owned(),
            tags: None,
            features: Vec::new(),
        },
        certificates: env.certificates(),
        configuration: config.summary(),
        personal_data_revealed: false,
        test_pack: Some(format!("{} {}", env.pack.pack.id, env.pack.pack.version)),
        rerun: None,
        inputs,
        after: None,
    })))?;
    log.append(&LogEvent::ScenarioStarted {
        at: started_at,
        feature: "Find endpoint under load".to_owned(),
        name: format!(
            "{} finds per second for {} s",
            summary.requested_rate, summary.duration_secs
        ),
        tags: vec![PACK.to_owned()],
        location: "pdp-harness load".to_owned(),
    })?;
    let all_ok = summary.passed();
    for event in steps(summary, opts) {
        log.append(&event)?;
    }
    log.append(&LogEvent::ScenarioFinished {
        at: Utc::now(),
        status: if all_ok {
            Status::Passed
        } else {
            Status::Failed
        },
    })?;
    log.append(&LogEvent::Load(Box::new(summary.clone())))?;
    log.append(&LogEvent::RunFinished { at: Utc::now() })?;
    let (record, _) = evidence::render(&run_dir, Format::All)?;
    Ok((record, run_dir))
}

/// The figures as console lines.
pub fn lines(s: &LoadSummary) -> Vec<String> {
    let mut out = vec![
        format!(
            "finds: {} sent of {} planned at {:.1}/s requested, {:.1}/s achieved; {} acknowledged, {} errors, {} timeouts",
            s.finds_sent,
            s.finds_planned,
            s.requested_rate,
            s.achieved_rate,
            s.acknowledged,
            s.errors,
            s.timeouts
        ),
        format!(
            "registrations: {} expected, {} seen, {} missing, {} unexpected",
            s.registrations_expected,
            s.registrations_observed,
            s.registrations_missing,
            s.registrations_unexpected
        ),
        format!(
            "{:<16} {:>7} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "latency (ms)", "count", "p50", "p90", "p99", "p99.9", "max"
        ),
    ];
    for l in &s.latencies {
        out.push(format!(
            "{:<16} {:>7} {:>9.1} {:>9.1} {:>9.1} {:>9.1} {:>9.1}",
            l.measure, l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
        ));
    }
    out
}
