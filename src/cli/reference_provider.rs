//! `pdp-harness reference-provider`: the reference provider as a separate service, until a
//! signal stops it.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;

use super::signals::Signals;
use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct ReferenceProviderArgs {
    /// Its configuration (TOML); see src/harness/provider_service.rs and README
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
}

pub async fn run(args: ReferenceProviderArgs) -> Outcome {
    let server = pdp_harness::harness::provider_service::start(&args.config)
        .await
        .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
    // Listen for the signals before saying it is up, so a stop sent at once is not missed.
    let mut signals = Signals::new().map_err(could_not_run)?;
    say!(
        "reference provider listening on {} (find, view, clear-down, match updates); Ctrl-C or SIGTERM stops it",
        server.base_url()
    );
    let _ = signals.next().await;
    server.shutdown();
    Ok(EXIT_PASSED)
}
