//! `pdp-harness submit-reporting`: the organisation's reporting data to the reporting API, by
//! [`pdp_harness::app::submit`].

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::{EXIT_FAILED, EXIT_PASSED};
use pdp_harness::app::submit::{self, SubmitOptions};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::reporting::Endpoint;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct SubmitReportingArgs {
    /// Target file (TOML) with a [reporting] section: base_url, certificates, sources
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Only this endpoint (path or slug, e.g. view-response-unavailable); repeatable; default all six
    #[arg(long = "endpoint", value_name = "ENDPOINT")]
    endpoints: Vec<String>,
    /// Send the null submission (the minimal valid set) where the spec has one
    #[arg(long, conflicts_with = "correction")]
    null: bool,
    /// Send the data again deliberately, as a resubmission with status correction
    #[arg(long)]
    correction: bool,
    /// Validate and show what would be sent, without sending
    #[arg(long)]
    dry_run: bool,
    /// Where the test packs are (for the default holdernameGuid; default: the built-in pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
}

pub async fn run(args: SubmitReportingArgs) -> Outcome {
    let config = TargetConfig::load_or_default(args.target.as_deref()).map_err(could_not_run)?;
    let endpoints: Vec<Endpoint> = if args.endpoints.is_empty() {
        Endpoint::ALL.to_vec()
    } else {
        args.endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e).ok_or_else(|| {
                    could_not_run(anyhow::anyhow!(
                        "--endpoint {e:?} is not a reporting endpoint (expected one of {})",
                        Endpoint::ALL.map(Endpoint::slug).join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let pack = TestPack::load_for(&super::pack_file(args.testpacks.as_deref())?, &config)
        .map_err(could_not_run)?;
    let redactor = pack.redactor(&config, false);
    let opts = SubmitOptions {
        endpoints,
        null: args.null,
        correction: args.correction,
        dry_run: args.dry_run,
    };
    let all_good = submit::submit(config, &pack, redactor, &opts, |line| say!("{line}"))
        .await
        .map_err(could_not_run)?;
    Ok(if all_good { EXIT_PASSED } else { EXIT_FAILED })
}
