//! A stage's set-up (clear-down, stage 2's match updates, the reporting window), its end
//! (the registration audit) and what stage 1 hands to stage 2.

use std::path::{Path, PathBuf};

use chrono::Utc;

use super::writer::{self};
use super::{Pack, RunError, RunOptions, audit};
use crate::harness::environment::Environment;
use crate::harness::updates::MatchUpdateFile;
use crate::record::events::LogEvent;
use crate::record::run::ScenarioKey;
use crate::record::runlog::RunLog;

/// The match-update file stage 1 of this run issued: where, and what.
pub(super) type Issued = (PathBuf, MatchUpdateFile);

/// How a stage starts: its notes, and whether its scenarios run (stage 2 waits when the match
/// updates are not applied yet, and fails when the `[updates] command` failed).
pub(super) struct StageStart {
    pub(super) notes: Vec<String>,
    pub(super) run: bool,
}

impl From<Vec<String>> for StageStart {
    fn from(notes: Vec<String>) -> StageStart {
        StageStart { notes, run: true }
    }
}

/// The run-level check an `[updates] command` that did not apply the updates fails.
pub const UPDATES_CHECK: &str =
    "The [updates] command applied stage 1's match updates in the organisation's system";

/// End of stage 1: the match-update file (what PDP emails the organisation) and what stage 1
/// left at the C&A are written into the run directory, and announced with what to do next.
pub(super) fn issue_updates(
    env: &Environment,
    run_dir: &Path,
    run_id: &str,
    stage2_follows: bool,
    log: &RunLog,
    console: &writer::SharedConsole,
) -> Result<Option<Issued>, RunError> {
    let registrations = env.cas.registrations();
    let (file, missing) = MatchUpdateFile::plan(&env.pack, &registrations, run_id);
    let path = run_dir.join(crate::harness::updates::FILE_NAME);
    let note = |text: String| {
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: Pack::Stage1.name().to_owned(),
            text,
        })
    };
    for text in missing {
        note(text)?;
    }
    let left = crate::harness::updates::Stage1Left::of(&registrations, run_id);
    let left_path = run_dir.join(crate::harness::updates::STAGE1_FILE);
    let written = file.save(&path).and_then(|()| {
        serde_json::to_vec_pretty(&left)
            .map_err(std::io::Error::other)
            .and_then(|json| std::fs::write(&left_path, json))
            .map_err(|source| crate::harness::updates::UpdatesError::Write {
                path: left_path.clone(),
                source,
            })
    });
    if let Err(e) = written {
        note(e.to_string())?;
        return Ok(None);
    }
    let next = if !stage2_follows {
        format!(
            "apply these updates in your system, then run `pdp-harness run --pack stage2 --after {run_id}` (with the same --target and --out)"
        )
    } else if env.is_embedded() {
        "stage 2 follows in this run: the harness applies them to the embedded reference provider"
            .to_owned()
    } else {
        "stage 2 follows in this run, once they are applied".to_owned()
    };
    if let Ok(mut c) = console.lock() {
        c.line(&format!(
            "Stage 1 done: the match-update file is {} ({} updates)",
            path.display(),
            file.updates.len()
        ));
        c.line(&format!("Next: {next}"));
    }
    log.append(&LogEvent::MatchUpdatesIssued {
        at: Utc::now(),
        file: path.display().to_string(),
        updates: file.updates.len(),
        next,
    })?;
    Ok(Some((path, file)))
}

/// Stage 2's start: the match-update file (this run's stage 1, or the `--after` run's) applied
/// by the harness to the embedded reference provider, by the organisation before an `--after`
/// run, by the `[updates] command`, or confirmed applied at the terminal; else stage 2 waits.
pub(super) async fn start_stage2(
    env: &Environment,
    opts: &RunOptions,
    issued: Option<&Issued>,
    log: &RunLog,
    console: &writer::SharedConsole,
) -> Result<StageStart, RunError> {
    let stage = Pack::Stage2.name().to_owned();
    let (path, file, from) = match (&opts.after, issued) {
        (Some(a), _) => (
            a.run_dir.join(crate::harness::updates::FILE_NAME),
            a.updates.clone(),
            a.run_id.clone(),
        ),
        (None, Some((p, f))) => (p.clone(), f.clone(), f.run_id.clone()),
        (None, None) => {
            return Ok(vec![
                "no match-update file: stage 1 issued none in this run (see its notes)".to_owned(),
            ]
            .into());
        }
    };
    let say = |text: &str| {
        if let Ok(mut c) = console.lock() {
            c.line(text);
        }
    };
    if env.is_embedded() {
        let mut notes = Vec::new();
        match env.apply_match_updates(file).await {
            Ok(results) => notes.extend(results.into_iter().map(|r| {
                format!(
                    "update {} {}: {}",
                    r.update_id,
                    if r.applied { "applied" } else { "NOT applied" },
                    r.detail
                )
            })),
            Err(e) => notes.push(format!("match updates could not be applied: {e}")),
        }
        return Ok(notes.into());
    }
    if opts.after.is_some() {
        env.set_match_updates(file);
        return Ok(vec![format!(
            "stage 2 of run {from}: the organisation applied its match-update file {} before this run",
            path.display()
        )]
        .into());
    }
    if let Some(argv) = &opts.config.updates.command {
        let timeout =
            std::time::Duration::from_secs(opts.config.updates.timeout_secs.unwrap_or(300));
        say(&format!(
            "Applying the match updates: {} {}",
            argv.join(" "),
            path.display()
        ));
        let out = crate::harness::updates::run_command(argv, &path, timeout).await;
        let mask = |t: &str| env.recorder.redactor().mask(t.trim());
        let mut text = format!("[updates] command {}: {}", mask(&out.command), out.status);
        for (name, stream) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
            if !stream.trim().is_empty() {
                text.push_str(&format!("\n{name}:\n{}", mask(stream)));
            }
        }
        if out.truncated {
            text.push_str(&format!(
                "\n(output cut at {} bytes per stream)",
                crate::harness::updates::COMMAND_OUTPUT_CAP
            ));
        }
        if out.success {
            env.set_match_updates(file);
            return Ok(vec![text].into());
        }
        say(&format!("  FAILED  {UPDATES_CHECK}"));
        say(&format!("          -> {}", out.status));
        log.append(&LogEvent::StageCheckFailed {
            at: Utc::now(),
            stage: stage.clone(),
            check: UPDATES_CHECK.to_owned(),
            message: text,
        })?;
        return Ok(StageStart {
            notes: vec![
                "stage 2's scenarios were not run: the [updates] command did not apply the match updates"
                    .to_owned(),
            ],
            run: false,
        });
    }
    if opts.interactive {
        say(&format!(
            "Apply the match updates in {} in your system now. Applied? [y/N]",
            path.display()
        ));
        let answer = tokio::task::spawn_blocking(|| {
            let mut line = String::new();
            std::io::stdin().read_line(&mut line).map(|_| line)
        })
        .await;
        if let Ok(Ok(line)) = answer
            && matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes")
        {
            env.set_match_updates(file);
            return Ok(vec![format!(
                "the user confirmed at the terminal that the match updates in {} were applied",
                path.display()
            )]
            .into());
        }
    }
    let reason = format!(
        "stage 2 not run: the match updates in {} must first be applied in the organisation's system; apply them, then run `pdp-harness run --pack stage2 --after {from}` (or name an [updates] command in the target file to apply them within the run)",
        path.display()
    );
    say(&format!("Stage 2 PENDING: {reason}"));
    log.append(&LogEvent::StagePending {
        at: Utc::now(),
        stage,
        reason,
    })?;
    Ok(StageStart {
        notes: Vec::new(),
        run: false,
    })
}

/// Before a stage's scenarios: stage 1 starts from cleared-down data; stage 2 from the
/// match-update file applied ([`start_stage2`]). Returns notes for the run log.
#[allow(clippy::too_many_arguments)]
pub(super) async fn set_up_stage(
    env: &Environment,
    stage: Pack,
    run_dir: &Path,
    log: &RunLog,
    opts: &RunOptions,
    issued: Option<&Issued>,
    console: &writer::SharedConsole,
) -> Result<StageStart, RunError> {
    let config = &opts.config;
    Ok(match stage {
        Pack::Stage1 => match env.clear_down().await {
            Ok(()) => vec!["test data cleared down before stage 1".to_owned()],
            Err(e) => vec![format!("clear-down before stage 1 failed: {e}")],
        }
        .into(),
        Pack::Stage2 => return start_stage2(env, opts, issued, log, console).await,
        Pack::Reporting => {
            let session = &env.reporting;
            session.attach_log(log.clone());
            // On the simulator the journal belongs to the run; against the real API it is kept
            // beside the target file, so a rerun the same day resumes without duplicates.
            let journal = match (&session.simulator, &config.path) {
                (None, Some(_)) => config.base_dir().join(crate::reporting::JOURNAL_FILE),
                _ => run_dir.join(crate::reporting::JOURNAL_FILE),
            };
            session.default_journal(&journal);
            session.start_window();
            let mut notes = vec![format!(
                "reporting to {} ({}); journal {}; data counted from {}",
                session.client.base_url,
                if session.simulator.is_some() {
                    "the harness's reporting simulator"
                } else {
                    "the reporting API of the target file"
                },
                session
                    .journal_path()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default(),
                crate::reporting::model::ts(&session.window_start())
            )];
            if !session.stub {
                notes.push(
                    "scenarios tagged @stub are not run: the reporting API does not take the MaPS stub's /configuration ([reporting] stub = false)"
                        .to_owned(),
                );
            }
            notes.into()
        }
        Pack::ReportingReceived => {
            let session = &env.reporting;
            let day = session.clock.now().date_naive();
            match &session.settings.received_journal {
                Some(path) => match crate::reporting::received::load(path) {
                    Ok(all) => vec![format!(
                        "judging what serve's reporting simulator received on {day} (UTC): {} of the {} requests in {}",
                        all.iter().filter(|r| r.at.date_naive() == day).count(),
                        all.len(),
                        path.display()
                    )],
                    Err(e) => vec![e.to_string()],
                },
                None => Vec::new(),
            }
            .into()
        }
        _ => Vec::<String>::new().into(),
    })
}

/// The end of a stage: every `/rreguri` call not yet judged and the C&A's live registrations
/// are judged against the pack. Findings are logged (amending the scenario that caused them)
/// and shown on the console at once. Calls keep being logged across stages (and clear-downs),
/// so a call still in flight is judged at the next stage's end; only the run's last stage
/// waits for a quiet period, counted from the last find or `/rreguri` call, so it overlaps
/// the stage's own work (after `--pack all` it is long over).
pub(super) async fn audit_stage(
    env: &Environment,
    audit: &audit::Audit,
    stage: Pack,
    last: bool,
    log: &RunLog,
    console: &writer::SharedConsole,
) -> Result<(), RunError> {
    audit
        .await_expected(
            &env.cas,
            std::time::Duration::from_millis(env.limits.registration_ms),
        )
        .await;
    if last {
        let quiet = std::time::Duration::from_millis(
            env.limits
                .registration_settle_ms
                .max(env.limits.no_match_watch_ms),
        );
        let max = std::time::Duration::from_millis(env.limits.registration_ms).max(quiet);
        audit.settle(&env.cas, quiet, max).await;
    }
    let updates = env.applied_match_updates();
    // Stage 1 leaves the registrations stage 2 checks, and stage 2 the updated ones; the
    // reporting stage registers to view and is judged call by call only.
    let state_check = matches!(stage, Pack::ConnectionProving | Pack::Stage1 | Pack::Stage2).then(
        || match stage {
            Pack::ConnectionProving => "connection proving",
            Pack::Stage1 => "stage 1",
            _ => "stage 2",
        },
    );
    let findings = audit.judge(&env.cas, updates.as_ref(), state_check);
    let name = stage.name().to_owned();
    if findings.is_empty() {
        log.append(&LogEvent::Note {
            at: Utc::now(),
            stage: name,
            text: format!(
                "registration audit after {}: every /rreguri call judged against the test pack; nothing unexpected",
                stage.name()
            ),
        })?;
        return Ok(());
    }
    for f in findings {
        let label = f
            .scenario
            .as_ref()
            .map(ScenarioKey::label)
            .unwrap_or_else(|| "run-level check: registration audit".to_owned());
        if let Ok(mut c) = console.lock() {
            c.line(&format!(
                "  FAILED  {label} (amended by the registration audit)"
            ));
            c.line(&format!("          -> {}", f.message));
            c.line("          class: system under test; to act: technical contact");
        }
        log.append(&LogEvent::AuditFinding {
            at: Utc::now(),
            stage: name.clone(),
            scenario: f.scenario,
            message: f.message,
        })?;
    }
    Ok(())
}
