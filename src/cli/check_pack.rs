//! `pdp-harness check-pack`: a test pack file checked, its problems listed with file and line.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::harness::testpack::TestPack;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct CheckPackArgs {
    /// The pack file, e.g. testpacks/integration/pack.toml
    path: PathBuf,
}

pub fn run(args: CheckPackArgs) -> Outcome {
    let path = &args.path;
    let pack = TestPack::load(path).map_err(could_not_run)?;
    say!(
        "{}: pack {} v{} is valid: {} personas, {} pensions, {} cases",
        path.display(),
        pack.pack.id,
        pack.pack.version,
        pack.personas.len(),
        pack.pensions.len(),
        pack.cases.len()
    );
    Ok(EXIT_PASSED)
}
