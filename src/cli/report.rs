//! `pdp-harness report`: the evidence of an earlier run re-rendered from its run log; a bundle
//! that no longer matches its seal is re-sealed only when asked.

use std::path::PathBuf;

use clap::Args;

use pdp_harness::app::session::{EXIT_FAILED, EXIT_PASSED};
use pdp_harness::evidence;
use pdp_harness::record::run::Verdict;

use super::args::{FormatArg, SignOffArgs};
use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// The run id (the directory name under --out)
    run_id: String,
    /// Where run directories are
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Which output to render
    #[arg(long, value_enum, default_value = "all")]
    format: FormatArg,
    /// Re-render and re-seal even though the bundle no longer matches its seal (the new cover
    /// says it was re-rendered from a changed log)
    #[arg(long)]
    reseal: bool,
    #[command(flatten)]
    sign_off: SignOffArgs,
}

pub fn run(args: ReportArgs) -> Outcome {
    let run_dir = args.out.join(&args.run_id);
    if !run_dir.is_dir() {
        return Err(could_not_run(anyhow::anyhow!(
            "no run {} under {} (expected the directory {})",
            args.run_id,
            args.out.display(),
            run_dir.display()
        )));
    }
    let sign_off = args.sign_off.read().map_err(could_not_run)?;
    // Re-rendering re-seals: a bundle that no longer matches its seal is not silently given a
    // fresh, valid-looking one. Nothing is written unless --reseal says so.
    if run_dir.join(evidence::seal::SEAL).is_file() {
        let v = evidence::seal::verify(&run_dir).map_err(could_not_run)?;
        if !v.is_intact() {
            let problems = v.problems.join("\n  - ");
            if !args.reseal {
                return Err(could_not_run(anyhow::anyhow!(
                    "run {} no longer matches its seal; nothing was re-rendered:\n  - {problems}\n\
                     `pdp-harness report {} --reseal` re-renders and re-seals it, and its cover then says it was re-rendered from a changed log",
                    args.run_id,
                    args.run_id
                )));
            }
            // Nothing is written unless the changed log can be rendered at all.
            evidence::load_record(&run_dir).map_err(could_not_run)?;
            say!("note: the bundle did not match its seal:\n  - {problems}");
            say!(
                "note: re-sealing (--reseal): the new cover says the bundle was re-rendered from a changed log."
            );
            evidence::record_reseal(&run_dir, v.problems).map_err(could_not_run)?;
        }
    }
    if !sign_off.is_empty() {
        evidence::set_sign_off(&run_dir, sign_off).map_err(could_not_run)?;
    }
    let (record, files) = evidence::render(&run_dir, args.format.into()).map_err(could_not_run)?;
    say!(
        "Run {}: {}",
        record.header.run_id,
        record.verdict.plain_words()
    );
    for f in &files {
        say!("  {}", f.display());
    }
    Ok(
        if matches!(record.verdict, Verdict::Passed | Verdict::Pending) {
            EXIT_PASSED
        } else {
            EXIT_FAILED
        },
    )
}
