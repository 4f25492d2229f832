//! `pdp-harness history`: the runs under `--out`, newest first.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::evidence::history;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Where run directories are
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Show at most this many runs
    #[arg(long, value_name = "N")]
    limit: Option<usize>,
}

pub fn run(args: HistoryArgs) -> Outcome {
    let entries = history::list(&args.out, args.limit).map_err(could_not_run)?;
    if entries.is_empty() {
        say!("no runs under {}", args.out.display());
        return Ok(EXIT_PASSED);
    }
    for line in history::history_lines(&entries) {
        say!("{line}");
    }
    Ok(EXIT_PASSED)
}
