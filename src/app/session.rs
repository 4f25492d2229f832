//! A run as `pdp-harness run` performs it, wherever it is started from (the command line, or a
//! running `serve`): the doctor's checks first, so a configuration error stops the run before
//! any scenario; then the scenarios; then a summary. Every line goes to one console.

use std::sync::Arc;

use crate::harness::doctor;
use crate::harness::environment::Environment;
use crate::record::run::Verdict;
use crate::runner::writer::{Console, SharedConsole};
use crate::runner::{self, RunError, RunOptions, RunOutcome};

/// Every selected scenario passed.
pub const EXIT_PASSED: u8 = 0;
/// One or more scenarios failed (or the run was incomplete).
pub const EXIT_FAILED: u8 = 1;
/// The run could not start or finish: configuration, test data or environment.
pub const EXIT_COULD_NOT_RUN: u8 = 2;

#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error("the doctor found {0} blocking problem(s); nothing was run")]
    Doctor(usize),
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Lines for a console shared with the runner.
struct Forward(SharedConsole);

impl Console for Forward {
    fn line(&mut self, text: &str) {
        if let Ok(mut c) = self.0.lock() {
            c.line(text);
        }
    }

    fn progress(&mut self, event: crate::runner::writer::Progress<'_>) {
        if let Ok(mut c) = self.0.lock() {
            c.progress(event);
        }
    }
}

/// Lines with the `[redaction] mask` values masked, before they reach any console.
struct Masked {
    console: SharedConsole,
    redactor: crate::record::redact::Redactor,
}

impl Console for Masked {
    fn line(&mut self, text: &str) {
        if let Ok(mut c) = self.console.lock() {
            c.line(&self.redactor.mask(text));
        }
    }

    fn progress(&mut self, event: crate::runner::writer::Progress<'_>) {
        if let Ok(mut c) = self.console.lock() {
            c.progress(event);
        }
    }
}

/// The doctor, then the scenarios. The environment is left running (its owner stops it).
pub async fn checked_run(
    env: Arc<Environment>,
    options: &RunOptions,
    console: SharedConsole,
) -> Result<RunOutcome, SessionError> {
    let console = crate::runner::writer::shared(Box::new(Masked {
        console,
        redactor: env.recorder.redactor().clone(),
    }));
    let mut out = Forward(console.clone());
    out.line(&format!(
        "pdp-harness {}: pack {} against {}",
        env!("CARGO_PKG_VERSION"),
        options.pack.name(),
        env.target_info(None).environment
    ));
    // A stop during the checks (a long clear-down command) abandons them; the run then seals
    // at once as INTERRUPTED, every scenario not started.
    let checks = if options.pack.calls_provider() {
        tokio::select! {
            checks = doctor::examine_with(&env, options.after.is_none()) => checks,
            _ = options.stop.requested() => Vec::new(),
        }
    } else {
        out.line(&format!(
            "the provider checks are not made: pack {} does not call the provider (and is not to clear its test data down)",
            options.pack.name()
        ));
        Vec::new()
    };
    let blocking = doctor::blocking(&checks).len();
    if blocking > 0 {
        for c in &checks {
            out.line(&c.line());
        }
        return Err(SessionError::Doctor(blocking));
    }
    Ok(runner::run(env, options, Box::new(Forward(console))).await?)
}

/// One run as `run` and `serve` both execute it: the doctor and the scenarios
/// ([`checked_run`]), then the environment's own servers stopped (a `serve`'s C&A keeps
/// running), then the closing lines, masked, to `say`.
pub async fn execute(
    env: Arc<Environment>,
    options: &RunOptions,
    console: SharedConsole,
    mut say: impl FnMut(&str),
) -> Result<RunOutcome, SessionError> {
    let outcome = checked_run(env.clone(), options, console).await;
    env.shutdown();
    let outcome = outcome?;
    for line in summary(&outcome) {
        say(&env.recorder.redactor().mask(&line));
    }
    Ok(outcome)
}

/// The closing lines: verdict, counts, timing figures, where the evidence is.
pub fn summary(outcome: &RunOutcome) -> Vec<String> {
    let c = outcome.record.counts;
    let mut lines = vec![format!(
        "\nRun {}: {} ({} passed, {} failed of {})",
        outcome.run_id,
        outcome.record.verdict.plain_words(),
        c.passed,
        c.failed,
        c.total()
    )];
    if let Some(after) = &outcome.record.header.after {
        lines.push(format!("Stage 2 of stage-1 run {after}"));
    }
    if let Some(issued) = &outcome.record.match_updates {
        lines.push(format!(
            "Match-update file: {} ({} updates); next: {}",
            issued.file, issued.updates, issued.next
        ));
    }
    for p in &outcome.record.pending {
        lines.push(format!("Pending: {}", p.text));
    }
    if let Some(rerun) = &outcome.record.header.rerun {
        lines.push(format!("Attempt history (re-run of {}):", rerun.rerun_of));
        for s in &outcome.record.scenarios {
            if let Some(h) = rerun.history_of(s) {
                lines.push(format!(
                    "  {}: {}",
                    h.key.label(),
                    crate::record::run::attempt_history_text(h, s.status)
                ));
            }
        }
    }
    for t in &outcome.record.timing_summary {
        lines.push(format!(
            "  {:<16} n={:<3} p50 {:>6.0} ms  p95 {:>6.0} ms  max {:>6.0} ms  (limit {:.0} ms{})",
            t.measure,
            t.count,
            t.p50_ms,
            t.p95_ms,
            t.max_ms,
            t.limit_ms,
            if t.over_limit > 0 {
                format!(", {} over", t.over_limit)
            } else {
                String::new()
            }
        ));
    }
    lines.push(format!("Evidence in {}:", outcome.run_dir.display()));
    lines.push(format!(
        "  {}",
        outcome
            .run_dir
            .join(crate::record::runlog::RUN_LOG)
            .display()
    ));
    lines.extend(outcome.files.iter().map(|f| format!("  {}", f.display())));
    lines
}

/// The exit code a finished run deserves.
pub fn exit_code(outcome: &RunOutcome) -> u8 {
    // Stage 2 pending: everything run so far passed.
    if matches!(outcome.record.verdict, Verdict::Passed | Verdict::Pending) {
        EXIT_PASSED
    } else {
        EXIT_FAILED
    }
}
