//! Earlier runs read back: one run's record (for `rerun` and `diff`), every run under the
//! output directory (`history`), and what changed between two runs (`diff`).
//!
//! A run directory is read from its `run.json` when that parses, else folded from its
//! `run.log.jsonl` exactly as `report` does, so a run that was killed before `run.json` was
//! written can still be re-run, listed and compared.

use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};

use super::{RUN_JSON, load_record, runlog};
use crate::record::events::LogEvent;
use crate::record::run::{RunRecord, ScenarioKey, Status, Verdict};

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("could not read the runs directory {path}: {source}")]
    ReadDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "no run under {0} (a run is a directory holding run.log.jsonl); `pdp-harness run --out {0}` makes one"
    )]
    NoRuns(PathBuf),
    #[error("no run {id}: {path} is not a run directory (and {id} is not a path to one)")]
    NoSuchRun { id: String, path: PathBuf },
    #[error("{path}: the run record cannot be read: {reason}")]
    Unreadable { path: PathBuf, reason: String },
    #[error("not a run: no {} or {RUN_JSON}", runlog::RUN_LOG)]
    NotARun(PathBuf),
}

impl HistoryError {
    /// Why a listed directory has no record, in the few words the history table has room for.
    pub fn reason(&self) -> String {
        match self {
            HistoryError::Unreadable { reason, .. } => reason.clone(),
            other => other.to_string(),
        }
    }
}

/// A run directory holds a run log or a run record.
fn is_run_dir(dir: &Path) -> bool {
    dir.join(runlog::RUN_LOG).is_file() || dir.join(RUN_JSON).is_file()
}

/// Read a run's record: `run.json` when it parses, else the record folded from the run log.
pub fn read_run(dir: &Path) -> Result<RunRecord, HistoryError> {
    let json_path = dir.join(RUN_JSON);
    let json_problem = match std::fs::read(&json_path) {
        Ok(bytes) => match serde_json::from_slice::<RunRecord>(&bytes) {
            Ok(mut record) => {
                if record.header.inputs.is_empty()
                    && let Ok(used) = std::fs::read(dir.join(super::seal::INPUTS_USED))
                {
                    record.header.inputs = serde_json::from_slice(&used).unwrap_or_default();
                }
                return Ok(record);
            }
            Err(e) => Some(format!("{RUN_JSON} does not parse ({e})")),
        },
        Err(_) => None,
    };
    load_record(dir).map_err(|e| HistoryError::Unreadable {
        path: dir.to_owned(),
        reason: match json_problem {
            Some(p) => format!("{p}; and {e}"),
            None => e.to_string(),
        },
    })
}

/// A run given as a directory name under `out`, or as a path to the run directory.
pub fn resolve(out: &Path, id_or_path: &str) -> Result<PathBuf, HistoryError> {
    let under_out = out.join(id_or_path);
    if is_run_dir(&under_out) {
        return Ok(under_out);
    }
    let as_path = PathBuf::from(id_or_path);
    if is_run_dir(&as_path) {
        return Ok(as_path);
    }
    Err(HistoryError::NoSuchRun {
        id: id_or_path.to_owned(),
        path: under_out,
    })
}

/// When a run started: from the first line of its run log (cheap: the header only), else from
/// its directory name (run ids begin with the UTC start, to the second).
fn started_at(dir: &Path) -> Option<DateTime<Utc>> {
    let from_log = std::fs::File::open(dir.join(runlog::RUN_LOG))
        .ok()
        .and_then(|f| {
            let mut line = String::new();
            std::io::BufReader::new(f).read_line(&mut line).ok()?;
            match serde_json::from_str::<LogEvent>(&line).ok()? {
                LogEvent::RunStarted(h) => Some(h.started_at),
                _ => None,
            }
        });
    from_log.or_else(|| {
        let name = dir.file_name()?.to_str()?;
        NaiveDateTime::parse_from_str(name.get(..16)?, "%Y%m%dT%H%M%SZ")
            .ok()
            .map(|t| t.and_utc())
    })
}

/// Every directory under `out`, newest first (by start time; the name breaks ties).
fn run_dirs(out: &Path) -> Result<Vec<PathBuf>, HistoryError> {
    let entries = std::fs::read_dir(out).map_err(|source| HistoryError::ReadDir {
        path: out.to_owned(),
        source,
    })?;
    let mut dirs: Vec<(Option<DateTime<Utc>>, PathBuf)> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_dir())
        .map(|p| (started_at(&p), p))
        .collect();
    dirs.sort_by(|a, b| b.cmp(a));
    Ok(dirs.into_iter().map(|(_, p)| p).collect())
}

/// The latest run under `out`.
pub fn latest(out: &Path) -> Result<PathBuf, HistoryError> {
    run_dirs(out)?
        .into_iter()
        .find(|d| is_run_dir(d))
        .ok_or_else(|| HistoryError::NoRuns(out.to_owned()))
}

/// One directory under the output directory, with its record or why it cannot be read.
#[derive(Debug)]
pub struct RunEntry {
    pub dir: PathBuf,
    pub record: Result<RunRecord, HistoryError>,
}

impl RunEntry {
    pub fn name(&self) -> String {
        self.dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| self.dir.display().to_string())
    }
}

/// The runs under `out`, newest first, at most `limit`. A directory whose record cannot be
/// read is listed with the reason: a silently missing run would look like one never made.
pub fn list(out: &Path, limit: Option<usize>) -> Result<Vec<RunEntry>, HistoryError> {
    Ok(run_dirs(out)?
        .into_iter()
        .take(limit.unwrap_or(usize::MAX))
        .map(|dir| {
            let record = if is_run_dir(&dir) {
                read_run(&dir)
            } else {
                Err(HistoryError::NotARun(dir.clone()))
            };
            RunEntry { dir, record }
        })
        .collect())
}

fn verdict_word(v: Verdict) -> &'static str {
    match v {
        Verdict::Passed => "PASSED",
        Verdict::Failed => "FAILED",
        Verdict::Incomplete => "INCOMPLETE",
        Verdict::Interrupted => "INTERRUPTED",
        Verdict::NoScenarios => "NO SCENARIOS",
        Verdict::Pending => "STAGE 2 PENDING",
    }
}

/// "pack all", "pack connection-proving, tags @case:CP-01".
fn selection_text(r: &RunRecord) -> String {
    let s = &r.header.selection;
    match &s.tags {
        Some(t) => format!("{}, tags {t}", s.pack),
        None => s.pack.clone(),
    }
}

/// The organisation and target file, or "embedded default".
fn target_text(r: &RunRecord) -> String {
    let t = &r.header.target;
    match &t.target_file {
        Some(file) if t.organisation.is_empty() => file.clone(),
        Some(file) => format!("{} ({file})", t.organisation),
        None => "embedded default".to_owned(),
    }
}

/// The `history` table: one line per run, newest first.
pub fn history_lines(entries: &[RunEntry]) -> Vec<String> {
    let mut lines = vec![
        format!(
            "{:<24} {:<17} {:<22} {:<28} {:>6} {:>6} {:>7}  {:<12} {}",
            "RUN",
            "STARTED (UTC)",
            "PACK/TAGS",
            "TARGET",
            "PASSED",
            "FAILED",
            "SKIPPED",
            "VERDICT",
            ""
        )
        .trim_end()
        .to_owned(),
    ];
    for e in entries {
        let r = match &e.record {
            Ok(r) => r,
            Err(problem) => {
                let reason = problem.reason();
                lines.push(format!("{:<24} cannot be read: {reason}", e.name()));
                continue;
            }
        };
        let c = r.counts;
        let mut notes = Vec::new();
        if let Some(rerun) = &r.header.rerun {
            notes.push(format!("rerun of {}", rerun.rerun_of));
        }
        if c.interrupted > 0 {
            notes.push(format!("{} interrupted", c.interrupted));
        }
        if c.not_started > 0 {
            notes.push(format!("{} not started", c.not_started));
        }
        lines.push(
            format!(
                "{:<24} {:<17} {:<22} {:<28} {:>6} {:>6} {:>7}  {:<12} {}",
                r.header.run_id,
                r.header.started_at.format("%Y-%m-%d %H:%M"),
                selection_text(r),
                target_text(r),
                c.passed,
                c.failed,
                c.skipped,
                verdict_word(r.verdict),
                notes.join("; ")
            )
            .trim_end()
            .to_owned(),
        );
    }
    lines
}

/// How a scenario changed from one run to the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// It did not pass before and passes now.
    Fixed,
    /// It passed before and does not now.
    Broken,
    /// Another change between statuses that are not a pass (e.g. failed -> interrupted).
    StatusChanged,
    /// Only in the second run.
    New,
    /// Only in the first run.
    Missing,
    /// The same status, but a different first failure message.
    MessageChanged,
    Unchanged,
}

/// One scenario's status and first failure message in a run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub status: Status,
    pub message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioDiff {
    pub key: ScenarioKey,
    pub before: Option<Outcome>,
    pub after: Option<Outcome>,
    pub change: Change,
}

/// A measure's p95 in each run (None: not measured in that run).
#[derive(Debug, Clone, PartialEq)]
pub struct TimingMove {
    pub measure: String,
    pub before: Option<f64>,
    pub after: Option<f64>,
}

/// What changed between run `a` and run `b`.
#[derive(Debug, Clone, PartialEq)]
pub struct RunDiff {
    pub a: String,
    pub b: String,
    pub scenarios: Vec<ScenarioDiff>,
    /// Measures whose p95 moved (by at least a whole millisecond) or that only one run has.
    pub timings: Vec<TimingMove>,
    /// Inputs (test pack, feature files) whose SHA-256 differs between the runs, in words;
    /// None when a run recorded no input digests.
    pub inputs: Option<Vec<String>>,
}

/// The inputs of `b` that differ from `a`'s, matched by file name (runs may be started from
/// different directories): changed, new and no longer used.
pub fn input_changes(a: &[super::seal::FileDigest], b: &[super::seal::FileDigest]) -> Vec<String> {
    let name = |p: &str| {
        Path::new(p)
            .file_name()
            .map_or_else(|| p.to_owned(), |n| n.to_string_lossy().into_owned())
    };
    let short = |d: &str| d.chars().take(12).collect::<String>();
    let mut out = Vec::new();
    for fb in b {
        match a.iter().find(|fa| name(&fa.path) == name(&fb.path)) {
            Some(fa) if fa.sha256 != fb.sha256 => out.push(format!(
                "{} changed (SHA-256 {}… → {}…)",
                fb.path,
                short(&fa.sha256),
                short(&fb.sha256)
            )),
            Some(_) => {}
            None => out.push(format!(
                "{} is new (SHA-256 {}…)",
                fb.path,
                short(&fb.sha256)
            )),
        }
    }
    for fa in a {
        if !b.iter().any(|fb| name(&fa.path) == name(&fb.path)) {
            out.push(format!("{} is no longer used", fa.path));
        }
    }
    out
}

fn outcome(s: &crate::record::run::ScenarioRecord) -> Outcome {
    Outcome {
        status: s.status,
        message: s.first_failure().map(str::to_owned),
    }
}

/// Compare two runs, scenario by scenario (case id, else feature and name), in `a`'s order
/// with `b`'s new scenarios after.
pub fn diff(a: &RunRecord, b: &RunRecord) -> RunDiff {
    let mut scenarios = Vec::new();
    for sa in &a.scenarios {
        let key = ScenarioKey::of(sa);
        let before = outcome(sa);
        let after = b
            .scenarios
            .iter()
            .find(|sb| ScenarioKey::of(sb).matches(&key))
            .map(outcome);
        let change = match &after {
            None => Change::Missing,
            Some(now) if now.status == before.status => {
                if now.message != before.message {
                    Change::MessageChanged
                } else {
                    Change::Unchanged
                }
            }
            Some(now) if now.status == Status::Passed => Change::Fixed,
            Some(_) if before.status == Status::Passed => Change::Broken,
            Some(_) => Change::StatusChanged,
        };
        scenarios.push(ScenarioDiff {
            key,
            before: Some(before),
            after,
            change,
        });
    }
    for sb in &b.scenarios {
        let key = ScenarioKey::of(sb);
        if !a
            .scenarios
            .iter()
            .any(|sa| ScenarioKey::of(sa).matches(&key))
        {
            scenarios.push(ScenarioDiff {
                key,
                before: None,
                after: Some(outcome(sb)),
                change: Change::New,
            });
        }
    }
    let mut measures: Vec<&str> = a
        .timing_summary
        .iter()
        .map(|t| t.measure.as_str())
        .collect();
    for t in &b.timing_summary {
        if !measures.contains(&t.measure.as_str()) {
            measures.push(&t.measure);
        }
    }
    let p95 = |r: &RunRecord, m: &str| {
        r.timing_summary
            .iter()
            .find(|t| t.measure == m)
            .map(|t| t.p95_ms)
    };
    let timings = measures
        .into_iter()
        .map(|m| TimingMove {
            measure: m.to_owned(),
            before: p95(a, m),
            after: p95(b, m),
        })
        .filter(|t| match (t.before, t.after) {
            (Some(x), Some(y)) => x.round() != y.round(),
            _ => true,
        })
        .collect();
    RunDiff {
        a: a.header.run_id.clone(),
        b: b.header.run_id.clone(),
        scenarios,
        timings,
        inputs: (!a.header.inputs.is_empty() && !b.header.inputs.is_empty())
            .then(|| input_changes(&a.header.inputs, &b.header.inputs)),
    }
}

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "not measured".to_owned(), |v| format!("{v:.0} ms"))
}

impl RunDiff {
    pub fn count(&self, change: Change) -> usize {
        self.scenarios.iter().filter(|s| s.change == change).count()
    }

    /// The `diff` output: one line (or three) per changed scenario, the timing moves, and a
    /// summary line of counts.
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("Changes from run {} to run {}:", self.a, self.b)];
        match &self.inputs {
            None => out.push(
                "Inputs: not compared (a run recorded no test pack or feature file digests)"
                    .to_owned(),
            ),
            Some(changes) if changes.is_empty() => {
                out.push("Inputs: the same test pack and feature files (SHA-256)".to_owned())
            }
            Some(changes) => {
                out.push(
                    "Inputs changed between the runs (results may differ because of them):"
                        .to_owned(),
                );
                out.extend(changes.iter().map(|i| format!("  {i}")));
            }
        }
        let status = |o: &Option<Outcome>| o.as_ref().map_or("-", |o| o.status.as_str());
        for s in &self.scenarios {
            let label = s.key.label();
            let head = match s.change {
                Change::Unchanged => continue,
                Change::Fixed | Change::Broken | Change::StatusChanged => {
                    format!("{} → {}", status(&s.before), status(&s.after))
                }
                Change::New => format!("new ({})", status(&s.after)),
                Change::Missing => format!("missing ({} before)", status(&s.before)),
                Change::MessageChanged => format!("message changed ({})", status(&s.after)),
            };
            out.push(format!("  {head:<28} {label}"));
            let msg = |o: &Option<Outcome>| o.as_ref().and_then(|o| o.message.clone());
            match s.change {
                Change::MessageChanged => {
                    out.push(format!(
                        "  {:<28} was: {}",
                        "",
                        msg(&s.before).unwrap_or_default()
                    ));
                    out.push(format!(
                        "  {:<28} now: {}",
                        "",
                        msg(&s.after).unwrap_or_default()
                    ));
                }
                Change::Broken | Change::StatusChanged | Change::New => {
                    if let Some(m) = msg(&s.after) {
                        out.push(format!("  {:<28} -> {m}", ""));
                    }
                }
                _ => {}
            }
        }
        if self.timings.is_empty() {
            out.push("Timings (p95): no measure moved".to_owned());
        } else {
            out.push("Timings (p95) that moved:".to_owned());
            for t in &self.timings {
                let delta = match (t.before, t.after) {
                    (Some(x), Some(y)) => format!("  ({:+.0} ms)", y - x),
                    _ => String::new(),
                };
                out.push(format!(
                    "  {:<16} {} → {}{delta}",
                    t.measure,
                    ms(t.before),
                    ms(t.after)
                ));
            }
        }
        out.push(format!(
            "Summary: {} failed → passed, {} passed → failed, {} other status changes, {} new, {} missing, {} failure messages changed, {} unchanged; {} timing measures moved",
            self.count(Change::Fixed),
            self.count(Change::Broken),
            self.count(Change::StatusChanged),
            self.count(Change::New),
            self.count(Change::Missing),
            self.count(Change::MessageChanged),
            self.count(Change::Unchanged),
            self.timings.len()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::synthetic;

    fn set(r: &mut RunRecord, i: usize, status: Status, message: Option<&str>) {
        let s = &mut r.scenarios[i];
        s.status = status;
        for st in &mut s.steps {
            st.status = Status::Passed;
            st.message = None;
        }
        if let (Some(m), Some(last)) = (message, s.steps.last_mut()) {
            last.status = status;
            last.message = Some(m.to_owned());
        }
    }

    #[test]
    fn diff_names_each_kind_of_change() {
        let mut a = synthetic::record(5);
        let mut b = synthetic::record(5);
        a.header.run_id = "A".to_owned();
        b.header.run_id = "B".to_owned();
        set(&mut a, 0, Status::Failed, Some("expected x, observed y"));
        set(&mut b, 0, Status::Passed, None);
        set(&mut b, 1, Status::Failed, Some("expected x, observed z"));
        set(&mut a, 2, Status::Failed, Some("expected 1, observed 2"));
        set(&mut b, 2, Status::Failed, Some("expected 1, observed 3"));
        b.scenarios.remove(3);
        let mut extra = b.scenarios[0].clone();
        extra.case_id = None;
        extra.name = "a scenario without a case id".to_owned();
        b.scenarios.push(extra);
        b.timing_summary.clear();
        let d = diff(&a, &b);
        let changes: Vec<Change> = d.scenarios.iter().map(|s| s.change).collect();
        assert_eq!(
            changes,
            vec![
                Change::Fixed,
                Change::Broken,
                Change::MessageChanged,
                Change::Missing,
                Change::Unchanged,
                Change::New
            ]
        );
        let text = d.lines().join("\n");
        assert!(text.contains("failed → passed"), "{text}");
        assert!(text.contains("was: expected 1, observed 2"), "{text}");
        assert!(text.contains("now: expected 1, observed 3"), "{text}");
        assert!(
            text.contains("Summary: 1 failed → passed, 1 passed → failed, 0 other status changes, 1 new, 1 missing, 1 failure messages changed, 1 unchanged"),
            "{text}"
        );
    }
}
