//! `pdp-harness apply-updates`: a match-update file applied to a reference provider.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::{EXIT_FAILED, EXIT_PASSED};
use pdp_harness::harness::updates::{self, MatchUpdateFile};

use super::args::ProviderAccess;
use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct ApplyUpdatesArgs {
    /// The file, e.g. reports/<run-id>/match-updates.json
    file: PathBuf,
    #[command(flatten)]
    provider: ProviderAccess,
}

pub async fn run(args: ApplyUpdatesArgs) -> Outcome {
    let (file, access) = (&args.file, &args.provider);
    let updates = MatchUpdateFile::load(file).map_err(could_not_run)?;
    let client = access.client().map_err(could_not_run)?;
    let results = updates::apply(&client, &access.provider, &updates)
        .await
        .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
    let mut all = true;
    for r in &results {
        all &= r.applied;
        say!(
            "{} {}: {}",
            if r.applied {
                "applied    "
            } else {
                "NOT applied"
            },
            r.update_id,
            r.detail
        );
    }
    say!(
        "{} of {} updates applied from {}",
        results.iter().filter(|r| r.applied).count(),
        results.len(),
        file.display()
    );
    Ok(if all { EXIT_PASSED } else { EXIT_FAILED })
}
