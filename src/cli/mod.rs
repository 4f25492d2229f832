//! The subcommands, one file each: argument handling and printing only; what they do lives in
//! the library. Errors are `anyhow` here, with the exit code they deserve ([`Failure`]).

use std::path::{Path, PathBuf};

use pdp_harness::app::session::EXIT_COULD_NOT_RUN;
use pdp_harness::harness::bundled;

/// `println!` that drops the line when stdout is closed instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {
        pdp_harness::runner::writer::print_line(&format!($($arg)*))
    };
}

pub mod apply_updates;
pub mod args;
pub mod bench;
pub mod bench_evidence;
pub mod check_pack;
pub mod clear;
pub mod diff;
pub mod doctor;
pub mod features;
pub mod history;
pub mod init;
pub mod load;
pub mod reference_provider;
pub mod report;
pub mod rerun;
pub mod run;
pub mod serve;
pub mod sign;
pub mod signals;
pub mod submit_reporting;
pub mod verify;

/// An error with the exit code it deserves.
pub struct Failure {
    pub code: u8,
    pub error: anyhow::Error,
}

impl Failure {
    /// The error and its causes, outermost first, joined by ": ", each said once: a typed
    /// error that names its cause in its own message and also gives it as its source would
    /// otherwise print the cause twice.
    pub fn message(&self) -> String {
        let mut out = String::new();
        for cause in self.error.chain() {
            let text = cause.to_string();
            if out.contains(&text) {
                continue;
            }
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        out
    }
}

/// What every subcommand returns: its exit code, or why it could not run.
pub type Outcome = Result<u8, Failure>;

/// Configuration, test data or environment: exit code 2.
pub fn could_not_run(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_COULD_NOT_RUN,
        error: error.into(),
    }
}

/// A subcommand's future, on a runtime of its own.
pub fn block_on(f: impl std::future::Future<Output = Outcome>) -> Outcome {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(f),
        Err(e) => Err(could_not_run(e)),
    }
}

/// Every pack of this version runs on one test pack: connection proving, stage 1 and stage 2
/// share personas and the provider. `--testpacks DIR` names its folder; the default is the
/// copy built into pdp-harness.
pub fn pack_file(testpacks: Option<&Path>) -> Result<PathBuf, Failure> {
    Ok(testpacks_dir(testpacks)?.join(bundled::INTEGRATION_PACK))
}

/// The test packs' folder: `--testpacks DIR`, or the one built into pdp-harness.
pub fn testpacks_dir(testpacks: Option<&Path>) -> Result<PathBuf, Failure> {
    match testpacks {
        Some(dir) => given_dir(dir, "--testpacks", "test packs"),
        None => bundled::testpacks_dir().map_err(could_not_run),
    }
}

/// The feature files: `--features DIR`, or the ones built into pdp-harness.
pub fn features_dir(features: Option<&Path>) -> Result<PathBuf, Failure> {
    match features {
        Some(dir) => given_dir(dir, "--features", "feature files"),
        None => bundled::features_dir().map_err(could_not_run),
    }
}

/// A directory named on the command line, which must exist.
fn given_dir(dir: &Path, option: &str, what: &str) -> Result<PathBuf, Failure> {
    if dir.is_dir() {
        Ok(dir.to_owned())
    } else {
        Err(could_not_run(anyhow::anyhow!(
            "{option} {}: no such directory. Give {option} the folder holding the {what}, or leave \
             {option} out to use the ones built into pdp-harness (`pdp-harness features export DIR` \
             writes them out for editing)",
            dir.display()
        )))
    }
}

/// The target file (or the embedded default's configuration) and the test pack under its
/// organisation.
pub fn target_and_pack(
    target: Option<&Path>,
    testpacks: Option<&Path>,
) -> Result<
    (
        pdp_harness::harness::config::TargetConfig,
        pdp_harness::harness::testpack::TestPack,
    ),
    Failure,
> {
    let config = pdp_harness::harness::config::TargetConfig::load_or_default(target)
        .map_err(could_not_run)?;
    let pack = pdp_harness::harness::testpack::TestPack::load_for(&pack_file(testpacks)?, &config)
        .map_err(could_not_run)?;
    Ok((config, pack))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("cda.client_ca: could not read org-ca.pem: {source}")]
    struct Read {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("target file: {0}")]
    struct Target(#[from] Read);

    /// A cause already in its parent's message is not said again; context is kept.
    #[test]
    fn each_cause_is_said_once() {
        let read = Read {
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "No such file"),
        };
        let failure = could_not_run(anyhow::Error::new(Target(read)).context("could not prepare"));
        assert_eq!(
            failure.message(),
            "could not prepare: target file: cda.client_ca: could not read org-ca.pem: No such file"
        );
    }
}
