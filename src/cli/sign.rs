//! `pdp-harness sign`: a run's seal signed with the organisation's private key.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::evidence;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The run directory; default: the latest run under --out
    dir: Option<PathBuf>,
    /// Where run directories are
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// The private key (PEM: Ed25519, ECDSA P-256 or RSA): a file, or env:NAME for a
    /// variable holding the PEM text
    #[arg(long, value_name = "FILE|env:NAME")]
    key: String,
}

pub fn run(args: SignArgs) -> Outcome {
    let out = &args.out;
    let dir = match args.dir {
        Some(d) => d,
        None => {
            let mut runs: Vec<PathBuf> = std::fs::read_dir(out)
                .with_context(|| format!("could not read {}", out.display()))
                .map_err(could_not_run)?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.join(evidence::seal::SEAL).is_file())
                .collect();
            runs.sort();
            runs.pop().ok_or_else(|| {
                could_not_run(anyhow::anyhow!(
                    "no sealed run under {} (expected reports/<run-id>/seal.json)",
                    out.display()
                ))
            })?
        }
    };
    let pem = pdp_harness::harness::config::Secret(args.key)
        .text("--key", Path::new(""))
        .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
    let alg = evidence::seal::sign(&dir, &pem).map_err(could_not_run)?;
    say!(
        "signed {} ({alg}): {}",
        dir.join(evidence::seal::SEAL).display(),
        dir.join(evidence::seal::SIGNATURE).display()
    );
    Ok(EXIT_PASSED)
}
