//! `pdp-harness bench` (hidden): the speed figures, measured by [`pdp_harness::app::bench`].

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::bench::BenchOptions;
use pdp_harness::app::session::EXIT_PASSED;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Where the .feature files are (default: the built-in ones)
    #[arg(long, value_name = "DIR")]
    features: Option<PathBuf>,
    /// Where the test packs are (default: the built-in integration pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
    /// Seconds each measured rate is held
    #[arg(long, default_value_t = 3.0)]
    step_secs: f64,
    /// How many launches start-up is measured over
    #[arg(long, default_value_t = 5)]
    startups: usize,
    /// Connections of the bare client
    #[arg(long, default_value_t = 32)]
    connections: usize,
}

pub fn run(args: BenchArgs) -> Outcome {
    let opts = BenchOptions {
        features: super::features_dir(args.features.as_deref())?,
        testpacks: super::testpacks_dir(args.testpacks.as_deref())?,
        step_secs: args.step_secs,
        startups: args.startups,
        connections: args.connections,
    };
    super::block_on(async move {
        for line in pdp_harness::app::bench::run(&opts)
            .await
            .map_err(could_not_run)?
        {
            println!("{line}");
        }
        Ok(EXIT_PASSED)
    })
}
