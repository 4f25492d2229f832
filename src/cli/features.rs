//! `pdp-harness features export`: the built-in feature files and test pack, written out for
//! editing.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use pdp_harness::app::session::EXIT_PASSED;

use super::{Outcome, could_not_run};

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Write the built-in feature files and test pack to DIR/features and DIR/testpacks, for
    /// editing; run them with --features DIR/features --testpacks DIR/testpacks
    Export(ExportArgs),
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Directory to write into (created if missing)
    dir: PathBuf,
    /// Overwrite files that exist and differ from the built-in ones
    #[arg(long)]
    force: bool,
}

pub fn run(command: FeaturesCommand) -> Outcome {
    let FeaturesCommand::Export(args) = command;
    let dir = &args.dir;
    let written = pdp_harness::harness::bundled::export(dir, args.force).map_err(could_not_run)?;
    for path in &written {
        say!("{}", path.display());
    }
    say!(
        "Run them with: pdp-harness run --features {} --testpacks {}",
        dir.join("features").display(),
        dir.join("testpacks").display()
    );
    Ok(EXIT_PASSED)
}
