//! `pdp-harness serve`: the simulated CDA on its own ([`pdp_harness::app::serve::Serving`]),
//! what the organisation's test environment must be configured with, and (with `[provider]`)
//! runs attached until a signal stops it.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use pdp_harness::app::serve::Serving;
use pdp_harness::app::session::{EXIT_FAILED, EXIT_PASSED};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::runner::stop::Stop;

use super::signals::Signals;
use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Target file (TOML) with a [cda] section; `pdp-harness init` writes one
    #[arg(long, value_name = "FILE")]
    target: PathBuf,
    /// Where the test packs are (for runs attached to this serve; default: the built-in pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
}

pub async fn run(args: ServeArgs) -> Outcome {
    let target = &args.target;
    let config = TargetConfig::load(target).map_err(could_not_run)?;
    if config.cda.is_none() {
        // Before the test pack is read: a target file without [cda] is the first thing to fix.
        return Err(could_not_run(pdp_harness::app::serve::ServeError::NoCda {
            target: target.clone(),
        }));
    }
    let pack = TestPack::load_for(&super::pack_file(args.testpacks.as_deref())?, &config)
        .map_err(could_not_run)?;
    let serving = Serving::start(target, config, Arc::new(pack)).map_err(could_not_run)?;
    for warning in &serving.warnings {
        eprintln!("pdp-harness serve: {warning}");
    }
    say!("pdp-harness serve: the simulated CDA (C&A and JWKS) is running.");
    say!("Configure the solution's test environment with:");
    for (what, value) in serving.service.what_to_configure() {
        say!("  {what:<46} {value}");
    }
    if let Some(r) = &serving.reporting {
        for (what, value) in [
            (
                "reporting API (your own reporting client) on",
                r.server.addr.to_string(),
            ),
            (
                "  its client certificates from the CA(s) in",
                r.client_ca.display().to_string(),
            ),
            (
                "  what it receives is kept in",
                r.journal.display().to_string(),
            ),
        ] {
            say!("  {what:<46} {value}");
        }
        say!(
            "`pdp-harness run --pack reporting-received --target {}` judges what it received today (UTC), as PDP's pipeline does.",
            target.display()
        );
    }
    let attached = serving.attach(target).await.map_err(could_not_run)?;
    if attached.is_some() {
        say!(
            "`pdp-harness run --target {}` runs its scenarios here, against this C&A, while this serve runs.",
            target.display()
        );
    } else {
        say!(
            "Add [provider] to {} for `pdp-harness run --target` to run its scenarios against this C&A.",
            target.display()
        );
    }
    say!("Calls are shown below as they arrive; Ctrl-C stops it.");
    let mut signals = Signals::new().map_err(could_not_run)?;
    match attached {
        Some((runs, jobs, handoff)) => {
            // A signal stops the run in progress (sealed INTERRUPTED, its client told), then
            // serve; a second one exits at once.
            let shutdown = Stop::new();
            let raise = shutdown.clone();
            let handoff_file = handoff.clone();
            tokio::spawn(async move {
                let first = signals.next().await;
                raise.request(format!("serve stopped by {first}"));
                let _ = signals.next().await;
                let _ = std::fs::remove_file(handoff_file);
                pdp_harness::harness::environment::kill_clear_down_commands();
                std::process::exit(i32::from(EXIT_FAILED));
            });
            runs.serve_jobs(jobs, &shutdown).await;
            let _ = std::fs::remove_file(handoff);
        }
        None => {
            let _ = signals.next().await;
        }
    }
    serving.shutdown();
    Ok(EXIT_PASSED)
}
