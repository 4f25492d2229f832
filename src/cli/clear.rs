//! `pdp-harness clear`: the provider's test data cleared down outside a run, through the same
//! typed clear-down a run uses ([`pdp_harness::harness::environment::ClearDown`]).

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::environment::{ClearDown, clear_down_configured, clear_down_once};

use super::args::ProviderAccess;
use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct ClearArgs {
    /// Target file whose [clear_down] command to run
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Base URL of the reference provider, e.g. https://localhost:8443
    #[arg(long, value_name = "URL", requires_all = ["cert", "key", "ca"])]
    provider: Option<String>,
    /// Client certificate (PEM) the provider trusts
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// Private key of the client certificate (PEM)
    #[arg(long, value_name = "FILE")]
    key: Option<PathBuf>,
    /// CA certificate(s) (PEM) that issued the provider's server certificate
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
}

pub async fn run(args: ClearArgs) -> Outcome {
    // The target file's [clear_down] command, or its url called with the harness's client
    // certificate as a run calls it.
    if let Some(path) = &args.target {
        let config = TargetConfig::load(path).map_err(could_not_run)?;
        // The message alone: the clear-down's own errors already name their cause.
        if let Some(cleared) = clear_down_configured(&config)
            .await
            .map_err(|e| could_not_run(anyhow::anyhow!("{e}")))?
        {
            say!("cleared down: {cleared}");
            return Ok(EXIT_PASSED);
        }
    }
    let (Some(provider), Some(cert), Some(key), Some(ca)) =
        (args.provider, args.cert, args.key, args.ca)
    else {
        return Err(could_not_run(anyhow::anyhow!(
            "say how to clear down: --provider URL --cert FILE --key FILE --ca FILE, or --target FILE with a [clear_down] url or command"
        )));
    };
    let access = ProviderAccess {
        provider,
        cert,
        key,
        ca,
    };
    let client = access.client().map_err(could_not_run)?;
    let url = format!(
        "{}{}",
        access.provider.trim_end_matches('/'),
        pdp_harness::provider::CLEAR_DOWN_PATH
    );
    let cleared = clear_down_once(&ClearDown::Http(url), &client)
        .await
        .map_err(|e| could_not_run(anyhow::anyhow!("{e}")))?;
    say!("cleared down: {cleared}");
    Ok(EXIT_PASSED)
}
