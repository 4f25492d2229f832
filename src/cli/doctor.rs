//! `pdp-harness doctor`: the checks before a run, against the target file's solution or the
//! embedded default.

use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use pdp_harness::app::session::{EXIT_COULD_NOT_RUN, EXIT_PASSED};
use pdp_harness::harness::doctor;
use pdp_harness::harness::environment::Environment;

use super::{Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Target file (TOML), as for `run`
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Where the test packs are (default: the built-in integration pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
}

pub async fn run(args: DoctorArgs) -> Outcome {
    let (config, pack) = super::target_and_pack(args.target.as_deref(), args.testpacks.as_deref())?;
    say!(
        "✔ target file: {}",
        args.target
            .as_ref()
            .map(|p| format!("{} is valid", p.display()))
            .unwrap_or_else(|| "none (embedded default)".to_owned())
    );
    say!(
        "✔ test pack: {} v{} is valid",
        pack.pack.id,
        pack.pack.version
    );
    let redactor = pack.redactor(&config, false);
    let env = Environment::for_target(Arc::new(pack), &config, redactor, None)
        .await
        .map_err(could_not_run)?;
    let mut checks = doctor::examine(&env).await;
    env.shutdown();
    checks.extend(doctor::reporting_simulator(&config).await);
    for c in &checks {
        say!("{}", c.line());
    }
    let blocking = doctor::blocking(&checks).len();
    if blocking == 0 {
        say!("all checks passed");
        Ok(EXIT_PASSED)
    } else {
        say!("{blocking} blocking problem(s)");
        Ok(EXIT_COULD_NOT_RUN)
    }
}
