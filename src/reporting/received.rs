//! What `pdp-harness serve`'s reporting simulator received from the organisation's own
//! reporting client, kept in a file (one JSON line per request) so that it outlives `serve` and
//! a later `run --pack reporting-received` can judge it; and that judgement, as PDP's pipeline
//! gives it: only the submissions of one UTC calendar day count, all six endpoints need an
//! accepted valid one, and every refusal is shown with its codes.
//!
//! The file is bounded: when an append would take it over [`MAX_JOURNAL_BYTES`], the days
//! before yesterday are dropped first (the check needs today, and yesterday to say that
//! submissions straddled midnight); if that is not enough, the request is still answered but
//! not recorded, and a warning says so.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use chrono::{Days, NaiveDate};

use super::Endpoint;
use super::simulator::Received;

/// The journal's size bound (about 25,000 requests).
pub const MAX_JOURNAL_BYTES: u64 = 8 * 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ReceivedError {
    #[error("reporting simulator journal {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("reporting simulator journal {path}, line {line}: not a received request: {message}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error(
        "reporting simulator journal {path} is full ({max} bytes even after dropping the days before yesterday): this request was answered but not recorded"
    )]
    Full { path: PathBuf, max: u64 },
}

/// Read every received request; a torn last line (the process died mid-write) is skipped.
pub fn load(path: &Path) -> Result<Vec<Received>, ReceivedError> {
    let text = std::fs::read_to_string(path).map_err(|source| ReceivedError::Io {
        path: path.to_owned(),
        source,
    })?;
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Received>(line) {
            Ok(r) => out.push(r),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => {}
            Err(e) => {
                return Err(ReceivedError::Corrupt {
                    path: path.to_owned(),
                    line: i + 1,
                    message: e.to_string(),
                });
            }
        }
    }
    Ok(out)
}

/// The append-only file the simulator records into.
#[derive(Debug)]
pub struct ReceivedJournal {
    path: PathBuf,
    max_bytes: u64,
    file: Mutex<File>,
}

impl ReceivedJournal {
    /// Open (creating) the journal at `path`, bounded to `max_bytes`.
    pub fn open(path: &Path, max_bytes: u64) -> Result<ReceivedJournal, ReceivedError> {
        let io = |source| ReceivedError::Io {
            path: path.to_owned(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        Ok(ReceivedJournal {
            path: path.to_owned(),
            max_bytes,
            file: Mutex::new(file),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Append one request and flush it to the operating system.
    pub fn append(&self, r: &Received) -> Result<(), ReceivedError> {
        let io = |source| ReceivedError::Io {
            path: self.path.clone(),
            source,
        };
        let mut line = serde_json::to_vec(r).map_err(|e| io(std::io::Error::other(e)))?;
        line.push(b'\n');
        let mut file = self
            .file
            .lock()
            .map_err(|_| io(std::io::Error::other("journal lock poisoned")))?;
        let size = file.metadata().map_err(io)?.len();
        if size + line.len() as u64 > self.max_bytes {
            // Keep yesterday and today (of the request's own clock), rewritten in place so the
            // append handle stays valid.
            let keep_from =
                r.at.date_naive()
                    .checked_sub_days(Days::new(1))
                    .unwrap_or(NaiveDate::MIN);
            let kept: Vec<Received> = load(&self.path)?
                .into_iter()
                .filter(|x| x.at.date_naive() >= keep_from)
                .collect();
            let mut text = Vec::new();
            for x in &kept {
                serde_json::to_writer(&mut text, x).map_err(|e| io(std::io::Error::other(e)))?;
                text.push(b'\n');
            }
            if text.len() as u64 + line.len() as u64 > self.max_bytes {
                return Err(ReceivedError::Full {
                    path: self.path.clone(),
                    max: self.max_bytes,
                });
            }
            file.set_len(0).map_err(io)?;
            file.write_all(&text).map_err(io)?;
        }
        file.write_all(&line)
            .and_then(|()| file.sync_data())
            .map_err(io)
    }
}

/// One endpoint's requests on the judged day.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointDay {
    /// Valid submissions answered 202.
    pub accepted: usize,
    /// Requests refused (or failed) with their status and codes.
    pub refused: Vec<Received>,
    /// Null submissions where the specification has no null variant (refused or not).
    pub null_not_allowed: Vec<Received>,
}

/// The day's verdict, per endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DayVerdict {
    pub day: NaiveDate,
    pub endpoints: BTreeMap<Endpoint, EndpointDay>,
    /// The other UTC days on which each endpoint had an accepted submission.
    pub other_days: BTreeMap<Endpoint, Vec<NaiveDate>>,
}

/// Judge the requests of UTC day `day` as PDP's pipeline does.
pub fn judge(received: &[Received], day: NaiveDate) -> DayVerdict {
    let mut endpoints: BTreeMap<Endpoint, EndpointDay> = Endpoint::ALL
        .into_iter()
        .map(|e| (e, EndpointDay::default()))
        .collect();
    let mut other_days: BTreeMap<Endpoint, Vec<NaiveDate>> = BTreeMap::new();
    for r in received {
        let accepted = r.status == 202 && r.schema_valid;
        let on = r.at.date_naive();
        if on != day {
            if accepted {
                let days = other_days.entry(r.endpoint).or_default();
                if !days.contains(&on) {
                    days.push(on);
                }
            }
            continue;
        }
        let e = endpoints.entry(r.endpoint).or_default();
        // A null submission where the spec has none is named as such, refused or not.
        let wrong_null = !r.endpoint.allows_null_submission()
            && r.submission_reason.as_deref() == Some("null submission");
        if wrong_null {
            e.null_not_allowed.push(r.clone());
        }
        if !accepted {
            e.refused.push(r.clone());
        } else if !wrong_null {
            e.accepted += 1;
        }
    }
    for days in other_days.values_mut() {
        days.sort();
    }
    DayVerdict {
        day,
        endpoints,
        other_days,
    }
}

impl DayVerdict {
    /// Endpoints without an accepted valid submission on the day.
    pub fn missing(&self) -> Vec<Endpoint> {
        self.endpoints
            .iter()
            .filter(|(_, d)| d.accepted == 0)
            .map(|(e, _)| *e)
            .collect()
    }

    /// Why `endpoint` has nothing that counts on the day, in the organisation's terms.
    pub fn why_missing(&self, endpoint: Endpoint) -> String {
        let d = self.endpoints.get(&endpoint).cloned().unwrap_or_default();
        let mut parts = Vec::new();
        if d.refused.is_empty() && d.null_not_allowed.is_empty() {
            parts.push(format!("nothing received on {}", self.day));
        }
        parts.extend(d.refused.iter().map(describe));
        parts.extend(d.null_not_allowed.iter().map(null_not_allowed));
        if let Some(days) = self.other_days.get(&endpoint) {
            parts.push(format!(
                "accepted on {} instead: PDP's pipeline counts one UTC calendar day only",
                days.iter()
                    .map(NaiveDate::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        format!("{endpoint}: {}", parts.join("; "))
    }

    /// Every refused request of the day, described.
    pub fn refusals(&self) -> Vec<String> {
        self.endpoints
            .values()
            .flat_map(|d| d.refused.iter())
            .map(describe)
            .collect()
    }
}

/// A null submission sent where the specification has none, and what to send instead.
pub fn null_not_allowed(r: &Received) -> String {
    format!(
        "{}: a null submission at {} (the specification has no null variant here: send zero counts as an initial submission)",
        r.endpoint,
        super::model::ts(&r.at)
    )
}

/// `/view-response/request-number at 2026-12-01T10:00:00.000Z: 400 [INVALID_REQ_COUNT] (req_count: ...)`
pub fn describe(r: &Received) -> String {
    format!(
        "{} at {} (X-Request-ID {}): refused with {}{}{}",
        r.endpoint,
        super::model::ts(&r.at),
        r.request_id.as_deref().unwrap_or("none"),
        r.status,
        if r.codes.is_empty() {
            String::new()
        } else {
            format!(" {}", r.codes.join(", "))
        },
        if r.problems.is_empty() {
            String::new()
        } else {
            format!(" ({})", r.problems.join("; "))
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, TimeZone, Utc};

    fn received(endpoint: Endpoint, at: DateTime<Utc>, status: u16, codes: &[&str]) -> Received {
        Received {
            at,
            endpoint,
            request_id: Some(uuid::Uuid::new_v4().to_string()),
            record_id: None,
            submission_id: None,
            submission_reason: Some("initial submission".to_owned()),
            status,
            codes: codes.iter().map(|c| (*c).to_owned()).collect(),
            problems: Vec::new(),
            schema_valid: status == 202,
        }
    }

    #[test]
    fn a_day_needs_all_six_and_names_refusals_and_other_days() {
        let today = Utc
            .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .single()
            .expect("t");
        let yesterday = today - chrono::Duration::days(1);
        let mut all: Vec<Received> = Endpoint::ALL
            .into_iter()
            .map(|e| received(e, today, 202, &[]))
            .collect();
        let v = judge(&all, today.date_naive());
        assert!(v.missing().is_empty() && v.refusals().is_empty());

        all[2] = received(
            Endpoint::ViewResponseRequestNumber,
            today,
            400,
            &["INVALID_REQ_COUNT"],
        );
        all[0].at = yesterday;
        let v = judge(&all, today.date_naive());
        assert_eq!(
            v.missing(),
            vec![
                Endpoint::ServiceAvailabilityFind,
                Endpoint::ViewResponseRequestNumber
            ]
        );
        assert!(
            v.why_missing(Endpoint::ServiceAvailabilityFind)
                .contains("accepted on 2026-11-30 instead"),
            "{}",
            v.why_missing(Endpoint::ServiceAvailabilityFind)
        );
        assert!(
            v.why_missing(Endpoint::ViewResponseRequestNumber)
                .contains("400 INVALID_REQ_COUNT")
        );
        assert_eq!(v.refusals().len(), 1);

        // A null submission to /view-response/unavailable (no null variant): named, not counted.
        let mut null = received(
            Endpoint::ViewResponseUnavailable,
            today,
            400,
            &["INVALID_SUBMISSION_REASON"],
        );
        null.submission_reason = Some("null submission".to_owned());
        all[5] = null;
        let v = judge(&all, today.date_naive());
        let d = &v.endpoints[&Endpoint::ViewResponseUnavailable];
        assert_eq!(
            (d.accepted, d.refused.len(), d.null_not_allowed.len()),
            (0, 1, 1)
        );
        assert!(
            v.why_missing(Endpoint::ViewResponseUnavailable)
                .contains("send zero counts")
        );
    }

    #[test]
    fn the_journal_reads_back_and_stays_within_its_bound() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("r.jsonl");
        let old = Utc
            .with_ymd_and_hms(2026, 11, 20, 10, 0, 0)
            .single()
            .expect("t");
        let today = Utc
            .with_ymd_and_hms(2026, 12, 1, 10, 0, 0)
            .single()
            .expect("t");
        let one = serde_json::to_vec(&received(Endpoint::ViewResponseUnavailable, old, 202, &[]))
            .expect("json")
            .len() as u64
            + 1;
        let j = ReceivedJournal::open(&path, one * 3).expect("open");
        for _ in 0..3 {
            j.append(&received(Endpoint::ViewResponseUnavailable, old, 202, &[]))
                .expect("append");
        }
        // Over the bound: the old day goes, today's request is kept.
        j.append(&received(
            Endpoint::ViewResponseUnavailable,
            today,
            202,
            &[],
        ))
        .expect("append after compaction");
        let back = load(&path).expect("load");
        assert_eq!(back.len(), 1);
        assert_eq!(back[0].at, today);
        // Today's requests alone over the bound: refused, not silently lost.
        for _ in 0..2 {
            j.append(&received(
                Endpoint::ViewResponseUnavailable,
                today,
                202,
                &[],
            ))
            .expect("append");
        }
        assert!(matches!(
            j.append(&received(
                Endpoint::ViewResponseUnavailable,
                today,
                202,
                &[]
            )),
            Err(ReceivedError::Full { .. })
        ));
        // A torn last line is skipped.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(b"{\"at\":"))
            .expect("torn");
        assert_eq!(load(&path).expect("load").len(), 3);
    }
}
