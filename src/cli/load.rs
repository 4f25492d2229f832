//! `pdp-harness load`: finds at a fixed rate for a fixed time, by [`pdp_harness::app::load`].

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use pdp_harness::app::load::{self, LoadOptions};
use pdp_harness::app::session::{EXIT_FAILED, EXIT_PASSED};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::provider::Faults;

use super::{Outcome, could_not_run};

/// `load`: both the rate and the duration are required; every bound is checked.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Finds per second (at most 5000)
    #[arg(long, value_name = "PER_SECOND")]
    rate: f64,
    /// How long to send, in seconds (at most 600)
    #[arg(long, value_name = "SECONDS")]
    duration: f64,
    /// Share of finds for people the provider holds (0 to 1); the rest match nobody
    #[arg(long, value_name = "SHARE", default_value_t = 0.5)]
    match_share: f64,
    /// Also view every registered pension (ticket, RPT, view data)
    #[arg(long)]
    view: bool,
    /// How long a find may take to be answered, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    /// How long registrations may trail the last answer, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    registration_timeout: u64,
    /// Finds in flight at once; a find waiting for a free slot counts the wait
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_in_flight: usize,
    /// Target file (TOML), as for `run`; a find endpoint not on loopback needs
    /// [load] confirm_host in it
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Where run directories are written
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Where the test packs are (default: the built-in integration pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
}

pub async fn run(args: LoadArgs) -> Outcome {
    let config = TargetConfig::load_or_default(args.target.as_deref()).map_err(could_not_run)?;
    let mut opts = LoadOptions::new(
        args.rate,
        Duration::try_from_secs_f64(args.duration).unwrap_or(Duration::MAX),
    );
    opts.match_share = args.match_share;
    opts.view = args.view;
    opts.timeout = Duration::from_millis(args.timeout_ms);
    opts.registration_timeout = Duration::from_secs(args.registration_timeout);
    opts.max_in_flight = args.max_in_flight;
    opts.check().map_err(could_not_run)?;
    let pack = TestPack::load_for(&super::pack_file(args.testpacks.as_deref())?, &config)
        .map_err(could_not_run)?;
    let redactor = pack.redactor(&config, false);
    println!(
        "pdp-harness load: {} finds at {}/s for {} s ({} for people the provider holds)...",
        opts.total_finds(),
        opts.rate,
        args.duration,
        opts.matching_finds()
    );
    let run = load::load_test(pack, &config, redactor, Faults::none(), &opts, &args.out)
        .await
        .map_err(could_not_run)?;
    for line in load::evidence::lines(&run.summary) {
        println!("{line}");
    }
    println!(
        "Load test: {}. Evidence: {}",
        run.record.verdict.plain_words(),
        run.run_dir.display()
    );
    Ok(if run.summary.passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}
