//! `pdp-harness init`: a commented example target file and the CDA-side certificates and keys.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::harness::init::{TARGET_FILE, write_example};

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Directory to write into (created if missing)
    #[arg(default_value = "pdp-target")]
    dir: PathBuf,
    /// Host name(s) the organisation's solution reaches the harness's C&A by
    #[arg(long = "cda-host", value_name = "NAME", default_value = "localhost")]
    cda_hosts: Vec<String>,
    /// Port the C&A listens on
    #[arg(long, default_value_t = 8443)]
    cda_port: u16,
    /// Overwrite files that exist
    #[arg(long)]
    force: bool,
}

pub fn run(args: InitArgs) -> Outcome {
    let dir = &args.dir;
    let written =
        write_example(dir, &args.cda_hosts, args.cda_port, args.force).map_err(could_not_run)?;
    say!("Wrote into {}:", dir.display());
    for (file, about) in &written {
        say!("  {file:<20} {about}");
    }
    say!(
        "Next: fill in [provider] in {}, then `pdp-harness doctor --target {}`.",
        dir.join(TARGET_FILE).display(),
        dir.join(TARGET_FILE).display()
    );
    Ok(EXIT_PASSED)
}
