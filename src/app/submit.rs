//! `pdp-harness submit-reporting`: plan, check and send (or, on a dry run, only check and show)
//! each reporting endpoint's records through the journal, one line per record. Against the
//! harness's simulator (no `[reporting] base_url`) it is a rehearsal and its journal is thrown
//! away afterwards.

use std::sync::Arc;

use crate::harness::config::TargetConfig;
use crate::harness::testpack::TestPack;
use crate::net::recorder::Recorder;
use crate::record::redact::Redactor;
use crate::reporting::session::Mode;
use crate::reporting::{Endpoint, JOURNAL_FILE};

/// What to submit: the endpoints (in order), and how.
#[derive(Debug, Clone)]
pub struct SubmitOptions {
    pub endpoints: Vec<Endpoint>,
    /// The null submission (the minimal valid set) where the spec has one; zero counts as an
    /// initial submission where it has none.
    pub null: bool,
    /// The data again, deliberately: a resubmission with status correction.
    pub correction: bool,
    /// Validate and show, without sending.
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    #[error("holdernameGuid {guid:?} is not a GUID")]
    HolderGuid {
        guid: String,
        #[source]
        source: uuid::Error,
    },
    #[error(transparent)]
    Setup(#[from] crate::reporting::setup::SetupError),
    #[error(
        "{endpoint}: no data source: set [reporting.sources] {} = \"file:PATH\" (the organisation's export) or \"null\", or use --null",
        .endpoint.slug()
    )]
    NoSource { endpoint: Endpoint },
    #[error(transparent)]
    Day(#[from] crate::reporting::clock::DayGuardError),
}

impl SubmitOptions {
    fn mode(&self) -> Mode {
        match (self.null, self.correction) {
            (true, _) => Mode::Null,
            (_, true) => Mode::Resubmission,
            _ => Mode::Initial,
        }
    }

    /// The endpoint's mode: where the spec has no null variant, a null submission is zero
    /// counts sent as an initial one.
    fn mode_of(&self, e: Endpoint) -> Mode {
        match self.mode() {
            Mode::Null if !e.allows_null_submission() => Mode::Initial,
            mode => mode,
        }
    }
}

/// Submit (or dry-run) every endpoint of `opts` for `pack`'s holdernameGuid, each record's line
/// to `say`; `Ok(true)` when every record was valid (dry run) or accepted.
pub async fn submit(
    mut config: TargetConfig,
    pack: &TestPack,
    redactor: Redactor,
    opts: &SubmitOptions,
    mut say: impl FnMut(&str),
) -> Result<bool, SubmitError> {
    if opts.null {
        for e in &opts.endpoints {
            if !e.allows_null_submission() {
                config
                    .reporting
                    .sources
                    .insert(e.slug().to_owned(), "null".to_owned());
            }
        }
    }
    let holder = uuid::Uuid::parse_str(pack.holdername_guid()).map_err(|source| {
        SubmitError::HolderGuid {
            guid: pack.holdername_guid().to_owned(),
            source,
        }
    })?;
    let recorder = Arc::new(Recorder::new(redactor));
    // The reporting API's timeout: [limits] reporting_response_ms plus the margin.
    config.limits.apply_to(&recorder);
    let session = crate::reporting::setup::start(
        &config.reporting_sections(),
        recorder,
        holder,
        None,
        None,
        None,
    )?;
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
    let outcome = submit_through(&session, opts, &mut say).await;
    session.shutdown();
    if let Some(path) = scratch_journal {
        let _ = std::fs::remove_file(path);
    }
    outcome
}

async fn submit_through(
    session: &crate::reporting::session::ReportingSession,
    opts: &SubmitOptions,
    say: &mut impl FnMut(&str),
) -> Result<bool, SubmitError> {
    if let Some(e) = opts
        .endpoints
        .iter()
        .find(|e| opts.mode_of(**e) != Mode::Null && !session.settings.sources.contains_key(*e))
    {
        return Err(SubmitError::NoSource { endpoint: *e });
    }
    say(&format!(
        "Reporting to {}{} for holdernameGuid {}; journal {}",
        session.client.base_url,
        if session.simulator.is_some() {
            " (the harness's simulator: no [reporting] base_url)"
        } else {
            ""
        },
        session.holder,
        session
            .journal_path()
            .map(|p| p.display().to_string())
            .unwrap_or_default()
    ));
    if !opts.dry_run
        && let crate::reporting::clock::DayStart::WaitUntil(t) = session.day_start()?
    {
        let wait = session.time_until(t);
        say(&format!(
            "Waiting {} s for 00:00 UTC: all six submissions must fall on one UTC day",
            wait.as_secs()
        ));
        session.wait(wait).await;
    }
    let mut all_good = true;
    for &endpoint in &opts.endpoints {
        let mode = opts.mode_of(endpoint);
        if opts.dry_run {
            match session.dry_run(endpoint, mode) {
                Ok(records) => {
                    for (record, errors) in records {
                        all_good &= errors.is_empty();
                        say(&format!(
                            "{endpoint}  record {}  {}  {}: {}",
                            record.header.record_id,
                            record.header.submission_reason.as_str(),
                            record.summary(),
                            if errors.is_empty() {
                                "valid; not sent (dry run)".to_owned()
                            } else {
                                crate::reporting::validate::describe(&errors)
                            }
                        ));
                        say(&format!("  {}", record.to_json()));
                    }
                }
                Err(e) => {
                    all_good = false;
                    say(&format!("{endpoint}  not planned: {e}"));
                }
            }
            continue;
        }
        match session.submit(endpoint, mode).await {
            Ok(sent) => {
                for s in sent {
                    all_good &= matches!(s.outcome.as_str(), "accepted" | "already_accepted");
                    say(&format!(
                        "{}  record {}  {}  {}: {} - {}",
                        s.endpoint,
                        s.record_id,
                        s.submission_reason,
                        s.summary,
                        s.outcome.replace('_', " "),
                        s.detail
                    ));
                }
            }
            Err(e) => {
                all_good = false;
                say(&format!("{endpoint}  not sent: {e}"));
            }
        }
    }
    if !opts.dry_run {
        say(&session.day_check().describe());
    }
    Ok(all_good)
}
