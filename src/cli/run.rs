//! `pdp-harness run`, and the execution `rerun` shares: hand the run to a `serve` running for the
//! target file, else run it here through [`session::execute`].

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use pdp_harness::app::serve::{self, RunRequest};
use pdp_harness::app::session::{self, EXIT_FAILED};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::environment::{EmbeddedKeys, Environment};
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::harness::updates::AfterStage1;
use pdp_harness::record::run::RerunInfo;
use pdp_harness::runner::{self, CaseFilter, Pack};

use super::args::{RunInputs, pack_parser};
use super::signals::{Signals, stop_on_signals};
use super::{Failure, Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Which part of PDP integration testing to run
    #[arg(long, value_parser = pack_parser(), default_value = "connection-proving")]
    pack: Pack,
    /// Only scenarios matching this tag expression, e.g. "@case:CP-01" or "not @slow"
    #[arg(long, value_name = "EXPR")]
    tags: Option<String>,
    /// Target file (TOML): your solution ([provider], [cda]), wire contract, limits; `init` writes one
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Where run directories are written
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Stage 2 after an earlier stage 1: that run's id (directory name under --out) or its
    /// directory; its match-update file must have been applied in your system
    #[arg(long, value_name = "RUN")]
    after: Option<String>,
    #[command(flatten)]
    inputs: RunInputs,
}

/// A run as the command line asks for it: `run` (pack and tags), or `rerun` (the same pack
/// narrowed to the scenarios to re-run, with their attempt history).
pub struct Invocation {
    pub pack: Pack,
    pub tags: Option<String>,
    pub cases: Option<CaseFilter>,
    pub rerun: Option<RerunInfo>,
    pub target: Option<PathBuf>,
    pub out: PathBuf,
    /// `--after`: the stage-1 run stage 2 continues.
    pub after: Option<String>,
    pub inputs: RunInputs,
}

pub async fn run(args: RunArgs) -> Outcome {
    execute(Invocation {
        pack: args.pack,
        tags: args.tags,
        cases: None,
        rerun: None,
        target: args.target,
        out: args.out,
        after: args.after,
        inputs: args.inputs,
    })
    .await
}

pub async fn execute(inv: Invocation) -> Outcome {
    let features = super::features_dir(inv.inputs.features.as_deref())?;
    let sign_off = inv.inputs.sign_off.read().map_err(could_not_run)?;
    // The stage-1 run is read (and judged) before anything starts; a `serve` reads it again.
    let after = match &inv.after {
        Some(id) => Some(Arc::new(
            AfterStage1::load(&inv.out, id).map_err(could_not_run)?,
        )),
        None => None,
    };
    let request = RunRequest {
        pack: inv.pack,
        tags: inv.tags,
        features_dir: features,
        out_dir: inv.out,
        reveal_personal_data: inv.inputs.reveal_personal_data,
        cases: inv.cases,
        rerun: inv.rerun,
        sign_off: Some(sign_off),
        after: after.as_ref().map(|a| a.run_dir.clone()),
        concurrency: Some(usize::from(inv.inputs.concurrency)),
    };
    // A `serve` running for this target file takes the run: its C&A is the one the solution
    // is configured against.
    if let Some(target) = &inv.target {
        match serve::delegate(target, &request.absolute(), |line| say!("{line}")).await {
            Ok(Some(code)) => return Ok(code),
            Ok(None) => {}
            // `serve` went away mid-run: the run was interrupted, not impossible to start.
            Err(e @ serve::ServeError::Broken { .. }) => {
                return Err(Failure {
                    code: EXIT_FAILED,
                    error: anyhow::Error::new(e).context("the run was interrupted"),
                });
            }
            Err(e) => return Err(could_not_run(e)),
        }
    }
    // On the embedded default the signing keys are most of start-up: under way while the
    // target, the pack and the feature files are read.
    let keys = inv.target.is_none().then(EmbeddedKeys::start);
    let config = TargetConfig::load_or_default(inv.target.as_deref()).map_err(could_not_run)?;
    let stop = runner::stop::Stop::new();
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stdin());
    let options = request.options(config, after, stop.clone(), interactive);
    runner::check_selection(&options).map_err(could_not_run)?;
    let signals = Signals::new().map_err(could_not_run)?;
    stop_on_signals(signals, stop.clone());
    let pack_path = super::pack_file(inv.inputs.testpacks.as_deref())?;
    let pack = TestPack::load_for(&pack_path, &options.config).map_err(could_not_run)?;
    let redactor = pack.redactor(&options.config, inv.inputs.reveal_personal_data);
    let env = Environment::for_target(Arc::new(pack), &options.config, redactor, keys)
        .await
        .map_err(could_not_run)?;
    let console = runner::writer::shared(runner::live::console());
    let outcome = session::execute(Arc::new(env), &options, console, |line| say!("{line}"))
        .await
        .map_err(could_not_run)?;
    if let Some(reason) = &outcome.record.interrupted {
        eprintln!(
            "pdp-harness: run {} INTERRUPTED ({reason}); its evidence is sealed in {}",
            outcome.run_id,
            outcome.run_dir.display()
        );
    }
    Ok(session::exit_code(&outcome))
}
