//! The `pdp-harness` command line: parse, dispatch to the subcommand's file in `cli/`, exit
//! code.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use pdp_harness::app::session::{EXIT_COULD_NOT_RUN, EXIT_PASSED};

mod cli;

use cli::block_on;

#[derive(Debug, Parser)]
#[command(
    name = "pdp-harness",
    version,
    about = "Rehearse, pass and evidence a Pensions Dashboards connection",
    long_about = "Rehearse, pass and evidence a connection to the Pensions Dashboards central \
digital architecture (CDA).\n\n\
pdp-harness plays the CDA side (pension finder, consent and authorisation service, dashboard) \
over mutual TLS, drives a pension provider's find and view endpoints through the scenarios in \
features/, and writes evidence (PDF, JUnit XML, JSON) under reports/<run-id>/.\n\n\
With no --target it runs against its embedded reference provider, so `pdp-harness run` works \
on a fresh machine with no configuration.",
    after_help = "Exit codes: 0 every selected scenario passed; 1 one or more scenarios failed; \
2 could not run (configuration, test data or environment)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a test pack and write its evidence under reports/<run-id>/
    Run(cli::run::RunArgs),
    /// Run again only the scenarios of an earlier run that did not pass (with the stages they
    /// depend on), as a new run whose evidence shows every attempt
    Rerun(cli::rerun::RerunArgs),
    /// List the runs under --out, newest first
    History(cli::history::HistoryArgs),
    /// Compare two runs scenario by scenario: status changes, failure messages, p95 timings
    Diff(cli::diff::DiffArgs),
    /// Re-render the evidence of an earlier run from its run log (also after a crash)
    Report(cli::report::ReportArgs),
    /// Measure how long the evidence takes to render for a synthetic run of N scenarios
    #[command(hide = true)]
    BenchEvidence(cli::bench_evidence::BenchEvidenceArgs),
    /// Measure the speed figures: run --pack all wall time, start-up, load's highest sustained
    /// find rate beside a bare client's, peak memory
    #[command(hide = true)]
    Bench(cli::bench::BenchArgs),
    /// Send finds at a fixed rate for a fixed time (open model) and report acknowledgement and
    /// registration latencies (p50 to max), errors, timeouts and the rate achieved
    Load(cli::load::LoadArgs),
    /// Check a sealed evidence bundle (a run directory) and say exactly what changed
    Verify(cli::verify::VerifyArgs),
    /// Sign a run's seal with the organisation's private key (writes seal.json.sig)
    Sign(cli::sign::SignArgs),
    /// Submit the organisation's reporting data to the six reporting API endpoints (the target
    /// file's [reporting]; the harness's simulator when it names no base_url)
    SubmitReporting(cli::submit_reporting::SubmitReportingArgs),
    /// Check certificates, TLS handshakes, JWKS, clock skew and clear-down before a run
    Doctor(cli::doctor::DoctorArgs),
    /// Check a test pack file and list its problems with file and line
    CheckPack(cli::check_pack::CheckPackArgs),
    /// Run the simulated CDA (C&A and JWKS) on its own, at the target file's [cda] address, and
    /// print what the organisation's test environment must be configured with
    Serve(cli::serve::ServeArgs),
    /// Write a commented example target file and the CDA-side certificates and keys
    Init(cli::init::InitArgs),
    /// The feature files and test pack built into pdp-harness
    #[command(subcommand)]
    Features(cli::features::FeaturesCommand),
    /// Run the reference provider as a separate service, configured only through a file
    ReferenceProvider(cli::reference_provider::ReferenceProviderArgs),
    /// Apply a match-update file (written at the end of stage 1) to a reference provider
    ApplyUpdates(cli::apply_updates::ApplyUpdatesArgs),
    /// Clear down the provider's test data: the target file's [clear_down] command, or a
    /// reference provider's clear-down endpoint (--provider ...)
    Clear(cli::clear::ClearArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                EXIT_COULD_NOT_RUN
            } else {
                EXIT_PASSED
            });
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PDP_HARNESS_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn")),
        )
        .with_writer(std::io::stderr)
        .init();
    let result = match cli.command {
        Command::Run(args) => block_on(cli::run::run(args)),
        Command::Rerun(args) => block_on(cli::rerun::run(args)),
        Command::History(args) => cli::history::run(args),
        Command::Diff(args) => cli::diff::run(args),
        Command::Report(args) => cli::report::run(args),
        Command::BenchEvidence(args) => cli::bench_evidence::run(args),
        Command::Bench(args) => cli::bench::run(args),
        Command::Load(args) => block_on(cli::load::run(args)),
        Command::Verify(args) => cli::verify::run(args),
        Command::Sign(args) => cli::sign::run(args),
        Command::SubmitReporting(args) => block_on(cli::submit_reporting::run(args)),
        Command::Doctor(args) => block_on(cli::doctor::run(args)),
        Command::CheckPack(args) => cli::check_pack::run(args),
        Command::Serve(args) => block_on(cli::serve::run(args)),
        Command::Init(args) => cli::init::run(args),
        Command::Features(command) => cli::features::run(command),
        Command::ReferenceProvider(args) => block_on(cli::reference_provider::run(args)),
        Command::ApplyUpdates(args) => block_on(cli::apply_updates::run(args)),
        Command::Clear(args) => block_on(cli::clear::run(args)),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {}", f.message());
            eprintln!("pdp-harness could not run (exit code {}).", f.code);
            ExitCode::from(f.code)
        }
    }
}
