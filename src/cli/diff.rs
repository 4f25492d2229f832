//! `pdp-harness diff`: two runs compared scenario by scenario.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::evidence::history;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The earlier run: its id (directory name under --out) or its directory
    run_a: String,
    /// The later run
    run_b: String,
    /// Where run directories are
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
}

pub fn run(args: DiffArgs) -> Outcome {
    let read = |id: &str| {
        history::resolve(&args.out, id)
            .and_then(|dir| history::read_run(&dir))
            .map_err(could_not_run)
    };
    let (a, b) = (read(&args.run_a)?, read(&args.run_b)?);
    for line in history::diff(&a, &b).lines() {
        say!("{line}");
    }
    Ok(EXIT_PASSED)
}
