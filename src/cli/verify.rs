//! `pdp-harness verify`: a sealed evidence bundle checked against its seal (and, given a public
//! key, the organisation's signature), saying exactly what changed.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;

use pdp_harness::app::session::{EXIT_FAILED, EXIT_PASSED};
use pdp_harness::evidence;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The run directory, e.g. reports/20261123T071639Z-5cbbac
    dir: PathBuf,
    /// Also check the organisation's signature (seal.json.sig) with this public key (PEM)
    #[arg(long, value_name = "FILE")]
    public_key: Option<PathBuf>,
}

pub fn run(args: VerifyArgs) -> Outcome {
    let dir = &args.dir;
    if !dir.is_dir() {
        return Err(could_not_run(anyhow::anyhow!(
            "{} is not a directory (expected a run directory such as reports/<run-id>)",
            dir.display()
        )));
    }
    let mut v = evidence::seal::verify(dir).map_err(could_not_run)?;
    if let Some(path) = &args.public_key {
        let pem = std::fs::read_to_string(path)
            .with_context(|| format!("could not read the public key {}", path.display()))
            .map_err(could_not_run)?;
        match evidence::seal::check_signature(dir, &pem) {
            Ok(alg) => say!("✔ signature ({alg}) verifies with {}", path.display()),
            Err(problem) => v.problems.push(problem.to_string()),
        }
    }
    if v.is_intact() {
        say!(
            "✔ {}: intact - {} file(s) match the seal; manifest SHA-256 {}",
            dir.display(),
            v.intact,
            v.manifest_sha256.as_deref().unwrap_or("-")
        );
    } else {
        say!(
            "✖ {}: {} difference(s) from the seal:",
            dir.display(),
            v.problems.len()
        );
        for p in &v.problems {
            say!("  - {p}");
        }
    }
    for n in &v.notes {
        say!("  note: {n}");
    }
    Ok(if v.is_intact() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}
