//! `pdp-harness bench-evidence` (hidden): how long each output takes to render for a synthetic
//! run of N scenarios.

use std::time::Instant;

use clap::Args;

use pdp_harness::app::session::EXIT_PASSED;
use pdp_harness::evidence;

use super::{Failure, Outcome, could_not_run};

#[derive(Debug, Args)]
pub struct BenchEvidenceArgs {
    #[arg(long, default_value_t = 200)]
    scenarios: usize,
    #[arg(long, default_value_t = 5)]
    iterations: u32,
}

pub fn run(args: BenchEvidenceArgs) -> Outcome {
    let scenarios = args.scenarios;
    let record = pdp_harness::record::synthetic::record(scenarios);
    let iterations = args.iterations.max(1);
    let time = |name: &str, f: &dyn Fn() -> Result<usize, String>| -> Result<(), Failure> {
        let mut best = f64::MAX;
        let mut size = 0;
        for _ in 0..iterations {
            let start = Instant::now();
            size = f().map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
            best = best.min(start.elapsed().as_secs_f64() * 1000.0);
        }
        say!("{name:<14} {scenarios} scenarios: best of {iterations} {best:>8.1} ms, {size} bytes");
        Ok(())
    };
    time("evidence.pdf", &|| {
        evidence::pdf::render_pdf(&record, Some(&"0".repeat(64)))
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    })?;
    time("report.html", &|| {
        Ok(evidence::html::render_html(&record, Some(&"0".repeat(64))).len())
    })?;
    time("junit.xml", &|| {
        evidence::junit::render_junit(&record)
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    })?;
    time("cucumber.json", &|| {
        evidence::cucumber_json::render_cucumber_json(&record)
            .map(|b| b.len())
            .map_err(|e| e.to_string())
    })?;
    Ok(EXIT_PASSED)
}
