//! The `pdp-harness` command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};

use pdp_harness::cda::service::CdaService;
use pdp_harness::evidence::history;
use pdp_harness::evidence::{self, Format};
use pdp_harness::harness::config::TargetConfig;
use pdp_harness::harness::doctor;
use pdp_harness::harness::environment::Environment;
use pdp_harness::harness::testpack::TestPack;
use pdp_harness::harness::updates::MatchUpdateFile;
use pdp_harness::provider::Faults;
use pdp_harness::record::redact::Redactor;
use pdp_harness::record::run::{RerunInfo, SignOff, Verdict};
use pdp_harness::runner::{self, CaseFilter, Pack, RunOptions};

use pdp_harness::app::serve;
use pdp_harness::app::session::{self, EXIT_COULD_NOT_RUN, EXIT_FAILED, EXIT_PASSED};

/// `println!` that drops the line when stdout is closed instead of panicking.
macro_rules! say {
    () => {
        pdp_harness::runner::writer::print_line("")
    };
    ($($arg:tt)*) => {
        pdp_harness::runner::writer::print_line(&format!($($arg)*))
    };
}

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
    Run(RunArgs),
    /// Run again only the scenarios of an earlier run that did not pass (with the stages they
    /// depend on), as a new run whose evidence shows every attempt
    Rerun(RerunArgs),
    /// List the runs under --out, newest first
    History {
        /// Where run directories are
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
        /// Show at most this many runs
        #[arg(long, value_name = "N")]
        limit: Option<usize>,
    },
    /// Compare two runs scenario by scenario: status changes, failure messages, p95 timings
    Diff {
        /// The earlier run: its id (directory name under --out) or its directory
        run_a: String,
        /// The later run
        run_b: String,
        /// Where run directories are
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
    },
    /// Re-render the evidence of an earlier run from its run log (also after a crash)
    Report(ReportArgs),
    /// Measure how long the evidence takes to render for a synthetic run of N scenarios
    #[command(hide = true)]
    BenchEvidence {
        #[arg(long, default_value_t = 200)]
        scenarios: usize,
        #[arg(long, default_value_t = 5)]
        iterations: u32,
    },
    /// Measure the speed figures: run --pack all wall time, start-up, load's highest sustained
    /// find rate beside a bare client's, peak memory
    #[command(hide = true)]
    Bench {
        /// Where the .feature files are (default: the built-in ones)
        #[arg(long, value_name = "DIR")]
        features: Option<PathBuf>,
        /// Where the test packs are (default: the built-in integration pack)
        #[arg(long, value_name = "DIR")]
        testpacks: Option<PathBuf>,
        /// Seconds each measured rate is held
        #[arg(long, default_value_t = 3.0)]
        step_secs: f64,
        /// How many launches start-up is measured over
        #[arg(long, default_value_t = 5)]
        startups: usize,
        /// Connections of the bare client
        #[arg(long, default_value_t = 32)]
        connections: usize,
    },
    /// Send finds at a fixed rate for a fixed time (open model) and report acknowledgement and
    /// registration latencies (p50 to max), errors, timeouts and the rate achieved
    Load(LoadArgs),
    /// Check a sealed evidence bundle (a run directory) and say exactly what changed
    Verify {
        /// The run directory, e.g. reports/20261123T071639Z-5cbbac
        dir: PathBuf,
        /// Also check the organisation's signature (seal.json.sig) with this public key (PEM)
        #[arg(long, value_name = "FILE")]
        public_key: Option<PathBuf>,
    },
    /// Sign a run's seal with the organisation's private key (writes seal.json.sig)
    Sign {
        /// The run directory; default: the latest run under --out
        dir: Option<PathBuf>,
        /// Where run directories are
        #[arg(long, value_name = "DIR", default_value = "reports")]
        out: PathBuf,
        /// The private key (PEM: Ed25519, ECDSA P-256 or RSA): a file, or env:NAME for a
        /// variable holding the PEM text
        #[arg(long, value_name = "FILE|env:NAME")]
        key: String,
    },
    /// Submit the organisation's reporting data to the six reporting API endpoints (the target
    /// file's [reporting]; the harness's simulator when it names no base_url)
    SubmitReporting(SubmitReportingArgs),
    /// Check certificates, TLS handshakes, JWKS, clock skew and clear-down before a run
    Doctor {
        /// Target file (TOML), as for `run`
        #[arg(long, value_name = "FILE")]
        target: Option<PathBuf>,
        /// Where the test packs are (default: the built-in integration pack)
        #[arg(long, value_name = "DIR")]
        testpacks: Option<PathBuf>,
    },
    /// Check a test pack file and list its problems with file and line
    CheckPack {
        /// The pack file, e.g. testpacks/integration/pack.toml
        path: PathBuf,
    },
    /// Run the simulated CDA (C&A and JWKS) on its own, at the target file's [cda] address, and
    /// print what the organisation's test environment must be configured with
    Serve {
        /// Target file (TOML) with a [cda] section; `pdp-harness init` writes one
        #[arg(long, value_name = "FILE")]
        target: PathBuf,
        /// Where the test packs are (for runs attached to this serve; default: the built-in pack)
        #[arg(long, value_name = "DIR")]
        testpacks: Option<PathBuf>,
    },
    /// Write a commented example target file and the CDA-side certificates and keys
    Init {
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
    },
    /// The feature files and test pack built into pdp-harness
    #[command(subcommand)]
    Features(FeaturesCommand),
    /// Run the reference provider as a separate service, configured only through a file
    ReferenceProvider {
        /// Its configuration (TOML); see src/harness/provider_service.rs and README
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
    /// Apply a match-update file (written at the end of stage 1) to a reference provider
    ApplyUpdates {
        /// The file, e.g. reports/<run-id>/match-updates.json
        file: PathBuf,
        #[command(flatten)]
        provider: ProviderAccess,
    },
    /// Clear down the provider's test data: the target file's [clear_down] command, or a
    /// reference provider's clear-down endpoint (--provider ...)
    Clear {
        /// Target file whose [clear_down] command to run
        #[arg(long, value_name = "FILE")]
        target: Option<PathBuf>,
        /// Base URL of the reference provider, e.g. https://localhost:8443
        #[arg(long, value_name = "URL", requires_all = ["cert", "key", "ca"])]
        provider: Option<String>,
        /// Client certificate (PEM) the provider trusts
        #[arg(long, value_name = "FILE")]
        cert: Option<PathBuf>,
        /// Private key of the client certificate (PEM)
        #[arg(long, value_name = "FILE")]
        key: Option<PathBuf>,
        /// CA certificate(s) (PEM) that issued the provider's server certificate
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum FeaturesCommand {
    /// Write the built-in feature files and test pack to DIR/features and DIR/testpacks, for
    /// editing; run them with --features DIR/features --testpacks DIR/testpacks
    Export {
        /// Directory to write into (created if missing)
        dir: PathBuf,
        /// Overwrite files that exist and differ from the built-in ones
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
struct SubmitReportingArgs {
    /// Target file (TOML) with a [reporting] section: base_url, certificates, sources
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Only this endpoint (path or slug, e.g. view-response-unavailable); repeatable; default all six
    #[arg(long = "endpoint", value_name = "ENDPOINT")]
    endpoints: Vec<String>,
    /// Send the null submission (the minimal valid set) where the spec has one
    #[arg(long, conflicts_with = "correction")]
    null: bool,
    /// Send the data again deliberately, as a resubmission with status correction
    #[arg(long)]
    correction: bool,
    /// Validate and show what would be sent, without sending
    #[arg(long)]
    dry_run: bool,
    /// Where the test packs are (for the default holdernameGuid; default: the built-in pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
}

/// `load`: both the rate and the duration are required; every bound is checked.
#[derive(Debug, Args)]
struct LoadArgs {
    /// Finds per second (at most 5000)
    #[arg(long, value_name = "PER_SECOND")]
    rate: f64,
    /// How long to send, in seconds (at most 600)
    #[arg(long, value_name = "SECONDS")]
    duration: f64,
    /// Share of finds for people the provider holds (0 to 1); the rest match nobody
    #[arg(long, value_name = "SHARE", default_value_t = 0.5)]
    match_share: f64,
    /// Also view every registered pension (ticket, RPT, view data)
    #[arg(long)]
    view: bool,
    /// How long a find may take to be answered, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    timeout_ms: u64,
    /// How long registrations may trail the last answer, in seconds
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    registration_timeout: u64,
    /// Finds in flight at once; a find waiting for a free slot counts the wait
    #[arg(long, value_name = "N", default_value_t = 512)]
    max_in_flight: usize,
    /// Target file (TOML), as for `run`; a find endpoint not on loopback needs
    /// [load] confirm_host in it
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Where run directories are written
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Where the test packs are (default: the built-in integration pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
}

async fn load(args: LoadArgs) -> Result<u8, Failure> {
    use pdp_harness::app::load::{self, LoadOptions};
    let config = match &args.target {
        Some(path) => TargetConfig::load(path).map_err(could_not_run)?,
        None => TargetConfig::default(),
    };
    let mut opts = LoadOptions::new(
        args.rate,
        std::time::Duration::try_from_secs_f64(args.duration).unwrap_or(std::time::Duration::MAX),
    );
    opts.match_share = args.match_share;
    opts.view = args.view;
    opts.timeout = std::time::Duration::from_millis(args.timeout_ms);
    opts.registration_timeout = std::time::Duration::from_secs(args.registration_timeout);
    opts.max_in_flight = args.max_in_flight;
    opts.check().map_err(could_not_run)?;
    let pack = load_pack(&pack_file(args.testpacks.as_deref())?, &config)?;
    let redactor = redactor_for(&pack, &config, false);
    println!(
        "pdp-harness load: {} finds at {}/s for {} s ({} for people the provider holds)...",
        opts.total_finds(),
        opts.rate,
        args.duration,
        opts.matching_finds()
    );
    let run = load::load_test(pack, &config, redactor, Faults::none(), &opts, &args.out)
        .await
        .map_err(could_not_run)?;
    for line in load::evidence::lines(&run.summary) {
        println!("{line}");
    }
    println!(
        "Load test: {}. Evidence: {}",
        run.record.verdict.plain_words(),
        run.run_dir.display()
    );
    Ok(if run.summary.passed() {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    })
}

async fn bench(opts: pdp_harness::app::bench::BenchOptions) -> Result<u8, Failure> {
    for line in pdp_harness::app::bench::run(&opts)
        .await
        .map_err(could_not_run)?
    {
        println!("{line}");
    }
    Ok(EXIT_PASSED)
}

/// How to reach a reference provider over mutual TLS.
#[derive(Debug, Args)]
struct ProviderAccess {
    /// Base URL of the reference provider, e.g. https://localhost:8443
    #[arg(long, value_name = "URL")]
    provider: String,
    /// Client certificate (PEM) the provider trusts
    #[arg(long, value_name = "FILE")]
    cert: PathBuf,
    /// Private key of the client certificate (PEM)
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// CA certificate(s) (PEM) that issued the provider's server certificate
    #[arg(long, value_name = "FILE")]
    ca: PathBuf,
}

impl ProviderAccess {
    fn client(&self) -> anyhow::Result<reqwest::Client> {
        let read = |p: &Path, what: &str| {
            std::fs::read(p).with_context(|| format!("could not read the {what} {}", p.display()))
        };
        let mut identity = read(&self.cert, "client certificate")?;
        identity.extend(read(&self.key, "client key")?);
        let ca = String::from_utf8(read(&self.ca, "CA bundle")?)
            .with_context(|| format!("{} is not PEM text", self.ca.display()))?;
        Ok(pdp_harness::net::tls::client_from_pem(
            Some(&identity),
            &[ca],
            std::time::Duration::from_secs(60),
        )?)
    }
}

/// What `run` and `rerun` share: where the scenarios and test data are, and redaction.
#[derive(Debug, Args)]
struct RunInputs {
    /// Where the .feature files are (default: the ones built into pdp-harness; `features
    /// export DIR` writes them out for editing)
    #[arg(long, value_name = "DIR")]
    features: Option<PathBuf>,
    /// Where the test packs are (default: the built-in integration pack)
    #[arg(long, value_name = "DIR")]
    testpacks: Option<PathBuf>,
    /// Keep personas' personal data in the evidence (local debugging only; recorded on the cover)
    #[arg(long)]
    reveal_personal_data: bool,
    #[command(flatten)]
    sign_off: SignOffArgs,
}

/// The test manager's sign-off details, printed in the evidence's sign-off and sealed with it.
#[derive(Debug, Args)]
struct SignOffArgs {
    /// The organisation's ticket or change reference for this test
    #[arg(long, value_name = "REF")]
    ticket: Option<String>,
    /// Who reviews the evidence (printed under "Reviewed by")
    #[arg(long, value_name = "NAME")]
    reviewer: Option<String>,
    /// Who approves it (printed under "Approved by")
    #[arg(long, value_name = "NAME")]
    approver: Option<String>,
    /// A text file of notes and deviations to print in the sign-off
    #[arg(long, value_name = "FILE")]
    notes: Option<PathBuf>,
}

impl SignOffArgs {
    /// The details given, the notes file read (at most 64 KiB of UTF-8 text).
    fn read(&self) -> anyhow::Result<SignOff> {
        let notes = match &self.notes {
            None => None,
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("could not read the notes file {}", path.display()))?;
                if bytes.len() > evidence::NOTES_LIMIT {
                    anyhow::bail!(
                        "the notes file {} is {} bytes; at most {} are taken (notes, not attachments)",
                        path.display(),
                        bytes.len(),
                        evidence::NOTES_LIMIT
                    );
                }
                let text = String::from_utf8(bytes).with_context(|| {
                    format!("the notes file {} is not UTF-8 text", path.display())
                })?;
                Some(text.trim_end().to_owned())
            }
        };
        let given = |v: &Option<String>| {
            v.as_ref()
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        Ok(SignOff {
            ticket: given(&self.ticket),
            reviewer: given(&self.reviewer),
            approver: given(&self.approver),
            notes,
        })
    }
}

#[derive(Debug, Args)]
struct RunArgs {
    /// Which part of PDP integration testing to run
    #[arg(long, value_enum, default_value = "connection-proving")]
    pack: Pack,
    /// Only scenarios matching this tag expression, e.g. "@case:CP-01" or "not @slow"
    #[arg(long, value_name = "EXPR")]
    tags: Option<String>,
    /// Target file (TOML): your solution ([provider], [cda]), wire contract, limits; `init` writes one
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// Where run directories are written
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Stage 2 after an earlier stage 1: that run's id (directory name under --out) or its
    /// directory; its match-update file must have been applied in your system
    #[arg(long, value_name = "RUN")]
    after: Option<String>,
    #[command(flatten)]
    inputs: RunInputs,
}

#[derive(Debug, Args)]
struct RerunArgs {
    /// The earlier run: its id (directory name under --out) or its directory; default: the
    /// latest run under --out
    run: Option<String>,
    /// Where run directories are (the earlier run, and the new one)
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Target file (TOML); default: the one the earlier run used, if any
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    #[command(flatten)]
    inputs: RunInputs,
}

#[derive(Debug, Args)]
struct ReportArgs {
    /// The run id (the directory name under --out)
    run_id: String,
    /// Where run directories are
    #[arg(long, value_name = "DIR", default_value = "reports")]
    out: PathBuf,
    /// Which output to render
    #[arg(long, value_enum, default_value = "all")]
    format: Format,
    /// Re-render and re-seal even though the bundle no longer matches its seal (the new cover
    /// says it was re-rendered from a changed log)
    #[arg(long)]
    reseal: bool,
    #[command(flatten)]
    sign_off: SignOffArgs,
}

/// An error with the exit code it deserves.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

/// `submit-reporting`: plan, check and send (or, with --dry-run, only check and show) each
/// endpoint's records, through the journal; one line per record.
async fn submit_reporting(args: SubmitReportingArgs) -> Result<u8, Failure> {
    use pdp_harness::reporting::{Endpoint, JOURNAL_FILE, session::Mode};
    let mut config = match &args.target {
        Some(path) => TargetConfig::load(path).map_err(could_not_run)?,
        None => TargetConfig::default(),
    };
    let endpoints: Vec<Endpoint> = if args.endpoints.is_empty() {
        Endpoint::ALL.to_vec()
    } else {
        args.endpoints
            .iter()
            .map(|e| {
                Endpoint::parse(e).ok_or_else(|| {
                    could_not_run(anyhow::anyhow!(
                        "--endpoint {e:?} is not a reporting endpoint (expected one of {})",
                        Endpoint::ALL.map(Endpoint::slug).join(", ")
                    ))
                })
            })
            .collect::<Result<_, _>>()?
    };
    let mode = match (args.null, args.correction) {
        (true, _) => Mode::Null,
        (_, true) => Mode::Resubmission,
        _ => Mode::Initial,
    };
    if args.null {
        // The minimal valid set: where the spec has no null variant, zero counts are sent as
        // an initial submission.
        for e in &endpoints {
            if !e.allows_null_submission() {
                config
                    .reporting
                    .sources
                    .insert(e.slug().to_owned(), "null".to_owned());
            }
        }
    }
    let mode_of = |e: Endpoint| {
        if mode == Mode::Null && !e.allows_null_submission() {
            Mode::Initial
        } else {
            mode
        }
    };
    let pack = load_pack(&pack_file(args.testpacks.as_deref())?, &config)?;
    let holder = uuid::Uuid::parse_str(pack.holdername_guid()).map_err(|e| {
        could_not_run(anyhow::anyhow!(
            "holdernameGuid {:?} is not a GUID: {e}",
            pack.holdername_guid()
        ))
    })?;
    let recorder = Arc::new(pdp_harness::net::recorder::Recorder::new(redactor_for(
        &pack, &config, false,
    )));
    // The reporting API's timeout: [limits] reporting_response_ms plus the margin.
    config.limits.apply_to(&recorder);
    let session = pdp_harness::reporting::setup::start(
        &config.reporting_sections(),
        recorder,
        holder,
        None,
        None,
        None,
    )
    .map_err(could_not_run)?;
    // Against the simulator (a rehearsal) the journal is thrown away afterwards.
    let scratch_journal = session.simulator.is_some().then(|| {
        std::env::temp_dir().join(format!(
            "pdp-harness-{}-{JOURNAL_FILE}",
            uuid::Uuid::new_v4()
        ))
    });
    session.default_journal(
        &scratch_journal
            .clone()
            .unwrap_or_else(|| config.base_dir().join(JOURNAL_FILE)),
    );
    if let Some(e) = endpoints
        .iter()
        .find(|e| mode_of(**e) != Mode::Null && !session.settings.sources.contains_key(*e))
    {
        return Err(could_not_run(anyhow::anyhow!(
            "{e}: no data source: set [reporting.sources] {} = \"file:PATH\" (the organisation's export) or \"null\", or use --null",
            e.slug()
        )));
    }
    say!(
        "Reporting to {}{} for holdernameGuid {holder}; journal {}",
        session.client.base_url,
        if session.simulator.is_some() {
            " (the harness's simulator: no [reporting] base_url)"
        } else {
            ""
        },
        session
            .journal_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    );
    if !args.dry_run {
        session.guard().map_err(could_not_run)?;
    }
    let mut all_good = true;
    for endpoint in endpoints {
        if args.dry_run {
            match session.dry_run(endpoint, mode_of(endpoint)) {
                Ok(records) => {
                    for (record, errors) in records {
                        all_good &= errors.is_empty();
                        say!(
                            "{endpoint}  record {}  {}  {}: {}",
                            record.header.record_id,
                            record.header.submission_reason.as_str(),
                            record.summary(),
                            if errors.is_empty() {
                                "valid; not sent (dry run)".to_owned()
                            } else {
                                pdp_harness::reporting::validate::describe(&errors)
                            }
                        );
                        say!("  {}", record.to_json());
                    }
                }
                Err(e) => {
                    all_good = false;
                    say!("{endpoint}  not planned: {e}");
                }
            }
            continue;
        }
        match session.submit(endpoint, mode_of(endpoint)).await {
            Ok(sent) => {
                for s in sent {
                    all_good &= matches!(s.outcome.as_str(), "accepted" | "already_accepted");
                    say!(
                        "{}  record {}  {}  {}: {} - {}",
                        s.endpoint,
                        s.record_id,
                        s.submission_reason,
                        s.summary,
                        s.outcome.replace('_', " "),
                        s.detail
                    );
                }
            }
            Err(e) => {
                all_good = false;
                say!("{endpoint}  not sent: {e}");
            }
        }
    }
    if !args.dry_run {
        say!("{}", session.day_check().describe());
    }
    session.shutdown();
    if let Some(path) = scratch_journal {
        let _ = std::fs::remove_file(path);
    }
    Ok(if all_good { EXIT_PASSED } else { EXIT_FAILED })
}

fn could_not_run(error: impl Into<anyhow::Error>) -> Failure {
    Failure {
        code: EXIT_COULD_NOT_RUN,
        error: error.into(),
    }
}

/// Every pack of this version runs on one test pack: connection proving, stage 1 and stage 2
/// share personas and the provider. `--testpacks DIR` names its folder; the default is the
/// copy built into pdp-harness.
fn pack_file(testpacks: Option<&Path>) -> Result<PathBuf, Failure> {
    let dir = match testpacks {
        Some(dir) => given_dir(dir, "--testpacks", "test packs")?,
        None => pdp_harness::harness::bundled::testpacks_dir().map_err(could_not_run)?,
    };
    Ok(dir.join(pdp_harness::harness::bundled::INTEGRATION_PACK))
}

/// The feature files: `--features DIR`, or the ones built into pdp-harness.
fn features_dir(features: Option<&Path>) -> Result<PathBuf, Failure> {
    match features {
        Some(dir) => given_dir(dir, "--features", "feature files"),
        None => pdp_harness::harness::bundled::features_dir().map_err(could_not_run),
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

/// The test pack, under the organisation's holdername GUID and scheme name when the target file
/// gives them.
fn load_pack(path: &Path, config: &TargetConfig) -> Result<TestPack, Failure> {
    let mut pack = TestPack::load(path).map_err(could_not_run)?;
    let o = &config.organisation;
    pack.apply_organisation(o.holdername_guid.as_deref(), o.scheme_name.as_deref());
    Ok(pack)
}

/// The redaction policy: the personas' personal data and the target file's further values,
/// revealed only when asked (flag or target file).
fn redactor_for(pack: &TestPack, config: &TargetConfig, reveal_flag: bool) -> Redactor {
    Redactor::new(
        pack.personal_values(),
        reveal_flag || config.redaction.reveal_personal_data,
    )
    .with_masks(config.redaction.mask.iter().cloned())
}

/// The organisation's solution when the target file names one, else the embedded default.
async fn start_environment(
    pack: Arc<TestPack>,
    config: &TargetConfig,
    redactor: Redactor,
) -> Result<Environment, Failure> {
    if config.provider.is_some() {
        Environment::external(pack, config, redactor)
            .await
            .context("could not prepare the run against the organisation's endpoints")
            .map_err(could_not_run)
    } else {
        Environment::embedded(pack, config, Faults::none(), redactor)
            .await
            .context("could not start the embedded default")
            .map_err(could_not_run)
    }
}

/// A run as the command line asks for it: `run` (pack and tags), or `rerun` (the same pack
/// narrowed to the scenarios to re-run, with their attempt history).
struct Invocation {
    pack: Pack,
    tags: Option<String>,
    cases: Option<CaseFilter>,
    rerun: Option<RerunInfo>,
    target: Option<PathBuf>,
    out: PathBuf,
    /// `--after`: the stage-1 run stage 2 continues.
    after: Option<String>,
    inputs: RunInputs,
}

async fn run(args: RunArgs) -> Result<u8, Failure> {
    execute(Invocation {
        pack: args.pack,
        tags: args.tags,
        cases: None,
        rerun: None,
        target: args.target,
        out: args.out,
        after: args.after,
        inputs: args.inputs,
    })
    .await
}

async fn execute(inv: Invocation) -> Result<u8, Failure> {
    let features = features_dir(inv.inputs.features.as_deref())?;
    let sign_off = inv.inputs.sign_off.read().map_err(could_not_run)?;
    // The stage-1 run is read (and judged) before anything starts; a `serve` reads it again.
    let after = match &inv.after {
        Some(id) => Some(Arc::new(
            pdp_harness::harness::updates::AfterStage1::load(&inv.out, id)
                .map_err(could_not_run)?,
        )),
        None => None,
    };
    // A `serve` running for this target file takes the run: its C&A is the one the solution
    // is configured against.
    if let Some(target) = &inv.target {
        let absolute = |p: &Path| std::path::absolute(p).unwrap_or_else(|_| p.to_owned());
        let request = serve::RunRequest {
            pack: inv.pack,
            tags: inv.tags.clone(),
            features_dir: absolute(&features),
            out_dir: absolute(&inv.out),
            reveal_personal_data: inv.inputs.reveal_personal_data,
            cases: inv.cases.clone(),
            rerun: inv.rerun.clone(),
            sign_off: Some(sign_off.clone()),
            after: after.as_ref().map(|a| absolute(&a.run_dir)),
        };
        match serve::delegate(target, &request, |line| say!("{line}")).await {
            Ok(Some(code)) => return Ok(code),
            Ok(None) => {}
            // `serve` went away mid-run: the run was interrupted, not impossible to start.
            Err(e @ serve::ServeError::Broken { .. }) => {
                return Err(Failure {
                    code: EXIT_FAILED,
                    error: anyhow::Error::new(e).context("the run was interrupted"),
                });
            }
            Err(e) => return Err(could_not_run(e)),
        }
    }
    let config = match &inv.target {
        Some(path) => TargetConfig::load(path).map_err(could_not_run)?,
        None => TargetConfig::default(),
    };
    let stop = runner::stop::Stop::new();
    let options = RunOptions {
        pack: inv.pack,
        tags: inv.tags,
        features_dir: features,
        out_dir: inv.out,
        config,
        cases: inv.cases,
        rerun: inv.rerun,
        stop: stop.clone(),
        sign_off: Some(sign_off),
        after,
        interactive: std::io::IsTerminal::is_terminal(&std::io::stdin()),
    };
    runner::check_selection(&options).map_err(could_not_run)?;
    let signals = Signals::new().map_err(could_not_run)?;
    stop_on_signals(signals, stop.clone());
    let pack_path = pack_file(inv.inputs.testpacks.as_deref())?;
    let pack = Arc::new(load_pack(&pack_path, &options.config)?);
    let redactor = redactor_for(&pack, &options.config, inv.inputs.reveal_personal_data);
    let env = Arc::new(start_environment(pack, &options.config, redactor).await?);
    let console = runner::writer::shared(runner::live::console());
    let outcome = session::checked_run(env.clone(), &options, console).await;
    env.shutdown();
    let outcome = outcome.map_err(could_not_run)?;
    for line in session::summary(&outcome) {
        say!("{}", env.recorder.redactor().mask(&line));
    }
    if let Some(reason) = &outcome.record.interrupted {
        eprintln!(
            "pdp-harness: run {} INTERRUPTED ({reason}); its evidence is sealed in {}",
            outcome.run_id,
            outcome.run_dir.display()
        );
    }
    Ok(session::exit_code(&outcome))
}

/// SIGINT and SIGTERM (Ctrl-C on other systems), as one stream.
struct Signals {
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
}

impl Signals {
    /// Listening from now on: the signals no longer end the process by themselves.
    fn new() -> std::io::Result<Signals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Signals {
                int: signal(SignalKind::interrupt())?,
                term: signal(SignalKind::terminate())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Signals {})
    }

    /// The next signal's name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.int.recv() => "SIGINT",
                _ = self.term.recv() => "SIGTERM",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// The first signal asks the run to stop (no further scenario; the evidence is sealed as
/// INTERRUPTED); a second one exits at once.
fn stop_on_signals(mut signals: Signals, stop: runner::stop::Stop) {
    tokio::spawn(async move {
        let first = signals.next().await;
        stop.request(format!("stopped by {first}"));
        eprintln!(
            "pdp-harness: {first}: no further scenario starts; finishing the run log and sealing the evidence as INTERRUPTED (again to exit at once)"
        );
        let second = signals.next().await;
        eprintln!(
            "pdp-harness: {second} again: exiting now; the run log is kept (`pdp-harness report <run dir>` renders it)"
        );
        pdp_harness::harness::environment::kill_clear_down_commands();
        std::process::exit(i32::from(EXIT_FAILED));
    });
}

async fn rerun(args: RerunArgs) -> Result<u8, Failure> {
    let dir = match &args.run {
        Some(id) => history::resolve(&args.out, id),
        None => history::latest(&args.out),
    }
    .map_err(could_not_run)?;
    let earlier = history::read_run(&dir).map_err(could_not_run)?;
    let run_id = &earlier.header.run_id;
    let Some(plan) = runner::rerun::plan(&earlier).map_err(could_not_run)? else {
        let c = earlier.counts;
        say!(
            "Run {run_id}: nothing to re-run - no scenario failed ({} passed of {}).",
            c.passed,
            c.total()
        );
        if earlier.ended_at.is_none() {
            say!(
                "note: run {run_id} stopped before it finished; `pdp-harness run` runs the whole pack again."
            );
        }
        return Ok(EXIT_PASSED);
    };
    for note in &plan.notes {
        say!("note: {note}");
    }
    say!(
        "Re-running {} scenario(s) of run {run_id} that did not pass: {}",
        plan.failed.len(),
        plan.failed
            .iter()
            .map(|k| k.case_id.clone().unwrap_or_else(|| k.label()))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for stage in &plan.cases.whole_stages {
        say!("  with every @{stage} scenario, which they depend on (run first)");
    }
    // Against what the earlier run was pointed at, unless told otherwise.
    let target = match (args.target, &earlier.header.target.target_file) {
        (Some(t), _) => Some(t),
        (None, Some(file)) => {
            let path = PathBuf::from(file);
            if !path.is_file() {
                return Err(could_not_run(anyhow::anyhow!(
                    "run {run_id} used the target file {file}, which is not there now; give it with --target FILE"
                )));
            }
            say!("  against {file}, the target file of run {run_id}");
            Some(path)
        }
        (None, None) => None,
    };
    execute(Invocation {
        pack: plan.pack,
        tags: None,
        cases: Some(plan.cases),
        rerun: Some(plan.rerun),
        target,
        out: args.out,
        // A re-run of a stage 2 `--after` run continues the same stage-1 run.
        after: earlier.header.after.clone(),
        inputs: args.inputs,
    })
    .await
}

fn features_export(dir: &Path, force: bool) -> Result<u8, Failure> {
    let written = pdp_harness::harness::bundled::export(dir, force).map_err(could_not_run)?;
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

fn history_command(out: &Path, limit: Option<usize>) -> Result<u8, Failure> {
    let entries = history::list(out, limit).map_err(could_not_run)?;
    if entries.is_empty() {
        say!("no runs under {}", out.display());
        return Ok(EXIT_PASSED);
    }
    for line in history::history_lines(&entries) {
        say!("{line}");
    }
    Ok(EXIT_PASSED)
}

fn diff_command(out: &Path, a: &str, b: &str) -> Result<u8, Failure> {
    let read = |id: &str| {
        history::resolve(out, id)
            .and_then(|dir| history::read_run(&dir))
            .map_err(could_not_run)
    };
    let (a, b) = (read(a)?, read(b)?);
    for line in history::diff(&a, &b).lines() {
        say!("{line}");
    }
    Ok(EXIT_PASSED)
}

fn report(args: ReportArgs) -> Result<u8, Failure> {
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
    let (record, files) = evidence::render(&run_dir, args.format).map_err(could_not_run)?;
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

fn bench_evidence(scenarios: usize, iterations: u32) -> Result<u8, Failure> {
    use std::time::Instant;
    let record = pdp_harness::record::synthetic::record(scenarios);
    let iterations = iterations.max(1);
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

fn sign(dir: Option<PathBuf>, out: &Path, key: &str) -> Result<u8, Failure> {
    let dir = match dir {
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
    let pem = pdp_harness::harness::config::Secret(key.to_owned())
        .read("--key", Path::new(""))
        .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
    let alg = evidence::seal::sign(&dir, &pem).map_err(could_not_run)?;
    say!(
        "signed {} ({alg}): {}",
        dir.join(evidence::seal::SEAL).display(),
        dir.join(evidence::seal::SIGNATURE).display()
    );
    Ok(EXIT_PASSED)
}

fn verify(dir: &Path, public_key: Option<&Path>) -> Result<u8, Failure> {
    if !dir.is_dir() {
        return Err(could_not_run(anyhow::anyhow!(
            "{} is not a directory (expected a run directory such as reports/<run-id>)",
            dir.display()
        )));
    }
    let mut v = evidence::seal::verify(dir).map_err(could_not_run)?;
    if let Some(path) = public_key {
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

fn check_pack(path: &Path) -> Result<u8, Failure> {
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

fn block_on(f: impl std::future::Future<Output = Result<u8, Failure>>) -> Result<u8, Failure> {
    match tokio::runtime::Runtime::new() {
        Ok(rt) => rt.block_on(f),
        Err(e) => Err(could_not_run(e)),
    }
}

async fn doctor_command(
    target: Option<PathBuf>,
    testpacks: Option<PathBuf>,
) -> Result<u8, Failure> {
    let config = match &target {
        Some(path) => TargetConfig::load(path).map_err(could_not_run)?,
        None => TargetConfig::default(),
    };
    let pack_path = pack_file(testpacks.as_deref())?;
    let pack = load_pack(&pack_path, &config)?;
    say!(
        "✔ target file: {}",
        target
            .as_ref()
            .map(|p| format!("{} is valid", p.display()))
            .unwrap_or_else(|| "none (embedded default)".to_owned())
    );
    say!(
        "✔ test pack: {} v{} is valid",
        pack.pack.id,
        pack.pack.version
    );
    let redactor = redactor_for(&pack, &config, false);
    let env = start_environment(Arc::new(pack), &config, redactor).await?;
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

async fn serve(target: PathBuf, testpacks: Option<PathBuf>) -> Result<u8, Failure> {
    let config = TargetConfig::load(&target).map_err(could_not_run)?;
    let Some(cda) = &config.cda else {
        return Err(could_not_run(anyhow::anyhow!(
            "{}: serve needs a [cda] section (listen, public_url, server_cert, server_key, server_ca, client_ca, signing_key); `pdp-harness init` writes an example",
            target.display()
        )));
    };
    // With [provider], runs attach to this serve: the recorder keeps the solution's calls for
    // their evidence.
    let pack = Arc::new(load_pack(&pack_file(testpacks.as_deref())?, &config)?);
    let recorder = Arc::new(pdp_harness::net::recorder::Recorder::new(redactor_for(
        &pack, &config, false,
    )));
    let inbound = pdp_harness::net::recorder::InboundParty {
        recorder: recorder.clone(),
        party: pdp_harness::harness::environment::PARTY_PROVIDER_TO_CAS,
    };
    let service = CdaService::start(
        cda,
        &config.base_dir(),
        &config.contract,
        &config.server,
        |router| {
            router
                .layer(axum::middleware::from_fn_with_state(
                    inbound,
                    pdp_harness::net::recorder::record_inbound,
                ))
                .layer(axum::middleware::from_fn(
                    pdp_harness::cda::service::log_to_console,
                ))
        },
    )
    .map_err(could_not_run)?;
    // The provider's registered view token keys are at /jwk_uri from the start, not only once
    // a run attaches: the solution (and a dashboard) may read them at any time.
    // A key file not there yet (init's template names one the organisation supplies) does not
    // stop the C&A: it is said here, and a run refuses to start until it is fixed.
    // The holdername (the test pack's, or [organisation]'s) PATs for find tokens are issued for.
    service.cas.register_holdername(pack.holdername_guid());
    if let Some(provider) = &config.provider {
        match provider.view_token_key_set(&config.base_dir()) {
            Ok(keys) if !keys.keys.is_empty() => service.cas.register_view_token_keys(&keys),
            Ok(_) => {}
            Err(e) => eprintln!("pdp-harness serve: /jwk_uri publishes no view token key yet: {e}"),
        }
        // The solution's PAT assertion keys: the PAT refresh route works from the start, as
        // the find-token route does.
        match provider.pat_assertion_key_set(&config.base_dir()) {
            Ok(keys) => service
                .cas
                .register_pat_assertion_keys(pack.holdername_guid(), &keys),
            Err(e) => eprintln!("pdp-harness serve: no PAT assertion key registered yet: {e}"),
        }
    }
    // The reporting API for the organisation's own reporting client, when configured.
    let reporting = pdp_harness::reporting::setup::standalone(&config.reporting_sections())
        .map_err(could_not_run)?;
    say!("pdp-harness serve: the simulated CDA (C&A and JWKS) is running.");
    say!("Configure the solution's test environment with:");
    for (what, value) in service.what_to_configure() {
        say!("  {what:<46} {value}");
    }
    if let Some(r) = &reporting {
        for (what, value) in [
            (
                "reporting API (your own reporting client) on",
                r.server.addr.to_string(),
            ),
            (
                "  its client certificates from the CA(s) in",
                r.client_ca.display().to_string(),
            ),
            (
                "  what it receives is kept in",
                r.journal.display().to_string(),
            ),
        ] {
            say!("  {what:<46} {value}");
        }
        say!(
            "`pdp-harness run --pack reporting-received --target {}` judges what it received today (UTC), as PDP's pipeline does.",
            target.display()
        );
    }
    let service = Arc::new(service);
    let attached = if config.provider.is_some() {
        let (jobs, handoff) = serve::start_control(&target, &config.server)
            .await
            .map_err(could_not_run)?;
        say!(
            "`pdp-harness run --target {}` runs its scenarios here, against this C&A, while this serve runs.",
            target.display()
        );
        Some((
            serve::AttachedRuns {
                config: config.clone(),
                pack,
                recorder,
                service: service.clone(),
            },
            jobs,
            handoff,
        ))
    } else {
        say!(
            "Add [provider] to {} for `pdp-harness run --target` to run its scenarios against this C&A.",
            target.display()
        );
        None
    };
    say!("Calls are shown below as they arrive; Ctrl-C stops it.");
    let mut signals = Signals::new().map_err(could_not_run)?;
    match attached {
        Some((runs, jobs, handoff)) => {
            // A signal stops the run in progress (sealed INTERRUPTED, its client told), then
            // serve; a second one exits at once.
            let shutdown = runner::stop::Stop::new();
            let raise = shutdown.clone();
            let handoff_file = handoff.clone();
            tokio::spawn(async move {
                let first = signals.next().await;
                raise.request(format!("serve stopped by {first}"));
                let _ = signals.next().await;
                let _ = std::fs::remove_file(handoff_file);
                pdp_harness::harness::environment::kill_clear_down_commands();
                std::process::exit(i32::from(EXIT_FAILED));
            });
            runs.serve_jobs(jobs, &shutdown).await;
            let _ = std::fs::remove_file(handoff);
        }
        None => {
            let _ = signals.next().await;
        }
    }
    service.shutdown();
    if let Some(r) = &reporting {
        r.server.shutdown();
    }
    Ok(EXIT_PASSED)
}

fn init(dir: &Path, cda_hosts: &[String], cda_port: u16, force: bool) -> Result<u8, Failure> {
    let written = pdp_harness::harness::init::write_example(dir, cda_hosts, cda_port, force)
        .map_err(could_not_run)?;
    say!("Wrote into {}:", dir.display());
    for (file, about) in &written {
        say!("  {file:<20} {about}");
    }
    say!(
        "Next: fill in [provider] in {}, then `pdp-harness doctor --target {}`.",
        dir.join(pdp_harness::harness::init::TARGET_FILE).display(),
        dir.join(pdp_harness::harness::init::TARGET_FILE).display()
    );
    Ok(EXIT_PASSED)
}

async fn reference_provider(config: PathBuf) -> Result<u8, Failure> {
    let server = pdp_harness::harness::provider_service::start(&config)
        .await
        .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
    // Listen for the signals before saying it is up, so a stop sent at once is not missed.
    let mut signals = Signals::new().map_err(could_not_run)?;
    say!(
        "reference provider listening on {} (find, view, clear-down, match updates); Ctrl-C or SIGTERM stops it",
        server.base_url()
    );
    let _ = signals.next().await;
    server.shutdown();
    Ok(EXIT_PASSED)
}

async fn apply_updates(file: PathBuf, access: ProviderAccess) -> Result<u8, Failure> {
    let updates = MatchUpdateFile::load(&file).map_err(could_not_run)?;
    let client = access.client().map_err(could_not_run)?;
    let results = pdp_harness::harness::updates::apply(&client, &access.provider, &updates)
        .await
        .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
    let mut all = true;
    for r in &results {
        all &= r.applied;
        say!(
            "{} {}: {}",
            if r.applied {
                "applied    "
            } else {
                "NOT applied"
            },
            r.update_id,
            r.detail
        );
    }
    say!(
        "{} of {} updates applied from {}",
        results.iter().filter(|r| r.applied).count(),
        results.len(),
        file.display()
    );
    Ok(if all { EXIT_PASSED } else { EXIT_FAILED })
}

async fn clear(target: Option<PathBuf>, access: Option<ProviderAccess>) -> Result<u8, Failure> {
    let config = match &target {
        Some(path) => Some(TargetConfig::load(path).map_err(could_not_run)?),
        None => None,
    };
    if let Some(argv) = config.as_ref().and_then(|c| c.clear_down.command.clone()) {
        let timeout = std::time::Duration::from_secs(
            config
                .as_ref()
                .and_then(|c| c.clear_down.timeout_secs)
                .unwrap_or(120),
        );
        pdp_harness::harness::environment::run_clear_down_command(&argv, timeout)
            .await
            .map_err(|e| could_not_run(anyhow::anyhow!(e)))?;
        say!("cleared down: {} exited 0", argv.join(" "));
        return Ok(EXIT_PASSED);
    }
    // The target file's [clear_down] url, called with the harness's client certificate as a
    // run calls it.
    if let Some((config, url)) = config
        .as_ref()
        .and_then(|c| c.clear_down.url.clone().map(|u| (c, u)))
    {
        let Some(provider) = &config.provider else {
            return Err(could_not_run(anyhow::anyhow!(
                "[clear_down] url needs [provider] client_cert, client_key and ca_bundle: the certificate the call is made with"
            )));
        };
        let base = config.base_dir();
        let read = |setting: &str, path: &Path| {
            pdp_harness::harness::config::read_text(setting, &base.join(path))
                .map_err(|e| could_not_run(anyhow::anyhow!(e)))
        };
        let mut identity = read("provider.client_cert", &provider.client_cert)?;
        identity.push('\n');
        identity.push_str(
            &provider
                .client_key
                .read("provider.client_key", &base)
                .map_err(|e| could_not_run(anyhow::anyhow!(e)))?,
        );
        let ca = read("provider.ca_bundle", &provider.ca_bundle)?;
        let client = pdp_harness::net::tls::client_from_pem(
            Some(identity.as_bytes()),
            &[ca],
            std::time::Duration::from_secs(config.clear_down.timeout_secs.unwrap_or(120)),
        )
        .map_err(could_not_run)?;
        return post_clear_down(&client, &url).await;
    }
    let Some(access) = access else {
        return Err(could_not_run(anyhow::anyhow!(
            "say how to clear down: --provider URL --cert FILE --key FILE --ca FILE, or --target FILE with a [clear_down] url or command"
        )));
    };
    let client = access.client().map_err(could_not_run)?;
    let url = format!(
        "{}{}",
        access.provider.trim_end_matches('/'),
        pdp_harness::provider::CLEAR_DOWN_PATH
    );
    post_clear_down(&client, &url).await
}

/// POST to a clear-down URL; 2xx means the provider's test data was cleared.
async fn post_clear_down(client: &reqwest::Client, url: &str) -> Result<u8, Failure> {
    let resp = client
        .post(url)
        .header("X-Request-ID", uuid::Uuid::new_v4().to_string())
        .send()
        .await
        .map_err(|e| {
            could_not_run(anyhow::anyhow!(
                "{url}: {}",
                pdp_harness::net::tls::error_chain(&e)
            ))
        })?;
    if resp.status().is_success() {
        say!("cleared down: {url} answered {}", resp.status());
        Ok(EXIT_PASSED)
    } else {
        Err(could_not_run(anyhow::anyhow!(
            "{url} answered {}; expected 2xx",
            resp.status()
        )))
    }
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
        Command::Run(args) => block_on(run(args)),
        Command::Rerun(args) => block_on(rerun(args)),
        Command::History { out, limit } => history_command(&out, limit),
        Command::Diff { run_a, run_b, out } => diff_command(&out, &run_a, &run_b),
        Command::Report(args) => report(args),
        Command::Features(FeaturesCommand::Export { dir, force }) => features_export(&dir, force),
        Command::Doctor { target, testpacks } => block_on(doctor_command(target, testpacks)),
        Command::SubmitReporting(args) => block_on(submit_reporting(args)),
        Command::CheckPack { path } => check_pack(&path),
        Command::Verify { dir, public_key } => verify(&dir, public_key.as_deref()),
        Command::Sign { dir, out, key } => sign(dir, &out, &key),
        Command::BenchEvidence {
            scenarios,
            iterations,
        } => bench_evidence(scenarios, iterations),
        Command::Serve { target, testpacks } => block_on(serve(target, testpacks)),
        Command::Load(args) => block_on(load(args)),
        Command::Bench {
            features,
            testpacks,
            step_secs,
            startups,
            connections,
        } => (|| {
            let features = features_dir(features.as_deref())?;
            let testpacks = match testpacks {
                Some(dir) => given_dir(&dir, "--testpacks", "test packs")?,
                None => pdp_harness::harness::bundled::testpacks_dir().map_err(could_not_run)?,
            };
            block_on(bench(pdp_harness::app::bench::BenchOptions {
                features,
                testpacks,
                step_secs,
                startups,
                connections,
            }))
        })(),
        Command::Init {
            dir,
            cda_hosts,
            cda_port,
            force,
        } => init(&dir, &cda_hosts, cda_port, force),
        Command::ReferenceProvider { config } => block_on(reference_provider(config)),
        Command::ApplyUpdates { file, provider } => block_on(apply_updates(file, provider)),
        Command::Clear {
            target,
            provider,
            cert,
            key,
            ca,
        } => {
            let access = match (provider, cert, key, ca) {
                (Some(provider), Some(cert), Some(key), Some(ca)) => Some(ProviderAccess {
                    provider,
                    cert,
                    key,
                    ca,
                }),
                _ => None,
            };
            block_on(clear(target, access))
        }
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            eprintln!("pdp-harness could not run (exit code {}).", f.code);
            ExitCode::from(f.code)
        }
    }
}
