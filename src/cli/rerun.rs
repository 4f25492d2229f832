//! `pdp-harness rerun`: the scenarios of an earlier run that did not pass, planned by
//! [`pdp_harness::runner::rerun::plan`] and executed as `run` executes.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::evidence::history;

use super::args::RunInputs;
use super::run::{Invocation, execute};
use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct RerunArgs {
    /// The earlier run: its id (directory name under --out) or its directory; default: the
    /// latest run under --out
    run: Option<String>,
    /// Where run directories are (the earlier run, and the new one)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Target file (TOML); default: the one the earlier run used, if any
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    #[command(flatten)]
    inputs: RunInputs,
}

pub async fn run(args: RerunArgs) -> Outcome {
    let dir = match &args.run {
        Some(id) => history::resolve(&args.out, id),
        None => history::latest(&args.out),
    }
    .map_err(could_not_run)?;
    let earlier = history::read_run(&dir).map_err(could_not_run)?;
    let run_id = &earlier.header.run_id;
    let Some(plan) = pdp_harness::runner::rerun::plan(&earlier).map_err(could_not_run)? else {
        let c = earlier.counts;
        say!(
            "Run {run_id}: nothing to re-run - no scenario failed ({} passed of {}).",
            c.passed,
            c.total()
        );
        if earlier.ended_at.is_none() {
            say!(
                "note: run {run_id} stopped before it finished; `pdp-harness run` runs the whole pack again."
            );
        }
        return Ok(EXIT_PASSED);
    };
    for note in &plan.notes {
        say!("note: {note}");
    }
    say!(
        "Re-running {} scenario(s) of run {run_id} that did not pass: {}",
        plan.failed.len(),
        plan.failed
            .iter()
            .map(|k| k.case_id.clone().unwrap_or_else(|| k.label()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for stage in &plan.cases.whole_stages {
        say!("  with every @{stage} scenario, which they depend on (run first)");
    }
    // Against what the earlier run was pointed at, unless told otherwise.
    let target = match (args.target, &earlier.header.target.target_file) {
        (Some(t), _) => Some(t),
        (None, Some(file)) => {
            let path = PathBuf::from(file);
            if !path.is_file() {
                return Err(could_not_run(anyhow::anyhow!(
                    "run {run_id} used the target file {file}, which is not there now; give it with --target FILE"
                )));
            }
            say!("  against {file}, the target file of run {run_id}");
            Some(path)
        }
        (None, None) => None,
    };
    execute(Invocation {
        pack: plan.pack,
        tags: None,
        cases: Some(plan.cases),
        rerun: Some(plan.rerun),
        target,
        out: args.out,
        // A re-run of a stage 2 `--after` run continues the same stage-1 run.
        after: earlier.header.after.clone(),
        inputs: args.inputs,
    })
    .await
}
