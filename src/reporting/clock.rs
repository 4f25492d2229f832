//! Time for reporting: an injectable clock (so the midnight rules are tested with a fake one,
//! not by waiting) and the UTC-day guard. PDP's pipeline "processes only current day
//! submissions (UTC calendar day)", so all six endpoints must be submitted between one
//! 00:00 UTC and the next.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::Endpoint;

/// The current time, injectable.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> DateTime<Utc>;
}

#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to (tests), optionally by a fixed step on every read.
#[derive(Debug, Clone)]
pub struct FakeClock {
    now: Arc<Mutex<DateTime<Utc>>>,
    step: Arc<Mutex<chrono::Duration>>,
}

impl FakeClock {
    pub fn at(t: DateTime<Utc>) -> FakeClock {
        FakeClock {
            now: Arc::new(Mutex::new(t)),
            step: Arc::new(Mutex::new(chrono::Duration::zero())),
        }
    }

    pub fn set(&self, t: DateTime<Utc>) {
        if let Ok(mut n) = self.now.lock() {
            *n = t;
        }
    }

    /// Every later read returns the time and then moves it on by `d`.
    pub fn tick_on_read(&self, d: chrono::Duration) {
        if let Ok(mut s) = self.step.lock() {
            *s = d;
        }
    }
}

impl Clock for FakeClock {
    fn now(&self) -> DateTime<Utc> {
        let step = self.step.lock().map(|s| *s).unwrap_or_default();
        match self.now.lock() {
            Ok(mut n) => {
                let t = *n;
                *n += step;
                t
            }
            Err(_) => Utc::now(),
        }
    }
}

/// The next 00:00 UTC after `t`.
pub fn next_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = t.date_naive().succ_opt().unwrap_or(NaiveDate::MAX);
    day.and_time(chrono::NaiveTime::MIN).and_utc()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DayGuardError {
    #[error(
        "only {} remain before 00:00 UTC ({}) and the reporting submissions may take up to {}: all six must fall on one UTC day for PDP's pipeline. Wait {} (start after {} UTC), or lower [reporting] expected_minutes if the run is faster",
        human(*midnight - *now),
        super::model::ts(midnight),
        human(*needed),
        human(*resume - *now),
        resume.format("%H:%M")
    )]
    TooCloseToMidnight {
        now: DateTime<Utc>,
        midnight: DateTime<Utc>,
        needed: chrono::Duration,
        /// When to start instead: a minute after midnight, for clock skew.
        resume: DateTime<Utc>,
    },
}

fn human(d: chrono::Duration) -> String {
    let secs = d.num_seconds().max(0);
    let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
    match (h, m) {
        (0, 0) => format!("{s} s"),
        (0, _) => format!("{m} min {s} s"),
        _ => format!("{h} h {m} min"),
    }
}

/// What the UTC-day guard does when the submissions could straddle 00:00 UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NearMidnight {
    /// Refuse to start, saying when to come back: toward a real reporting API, whose day is
    /// PDP's and whose run time the user knows best.
    Refuse,
    /// Wait for the new day: toward the harness's own simulator, which shares the clock and
    /// takes seconds, so a rehearsal started near midnight still runs.
    Wait,
}

/// What the UTC-day guard says before the reporting submissions start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DayStart {
    /// The budget fits before 00:00 UTC.
    Go,
    /// Toward the simulator only: start at this time (just after 00:00 UTC).
    WaitUntil(DateTime<Utc>),
}

/// Refuse to start if the submissions, taking up to `expected`, could straddle 00:00 UTC.
pub fn check_day(now: DateTime<Utc>, expected: Duration) -> Result<(), DayGuardError> {
    let midnight = next_midnight(now);
    let left = midnight - now;
    let needed = chrono::Duration::from_std(expected).unwrap_or(chrono::Duration::hours(24));
    if needed < left {
        return Ok(());
    }
    Err(DayGuardError::TooCloseToMidnight {
        now,
        midnight,
        needed,
        resume: midnight + chrono::Duration::minutes(1),
    })
}

/// Which endpoints were submitted (accepted) on which UTC day.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DaySpread {
    pub days: BTreeMap<NaiveDate, Vec<Endpoint>>,
}

impl DaySpread {
    pub fn from_submissions(accepted: impl IntoIterator<Item = (Endpoint, DateTime<Utc>)>) -> Self {
        let mut days: BTreeMap<NaiveDate, Vec<Endpoint>> = BTreeMap::new();
        for (e, at) in accepted {
            let list = days.entry(at.date_naive()).or_default();
            if !list.contains(&e) {
                list.push(e);
                list.sort();
            }
        }
        DaySpread { days }
    }

    /// The day on which all six endpoints were submitted, if any.
    pub fn complete_day(&self) -> Option<NaiveDate> {
        self.days
            .iter()
            .find(|(_, e)| Endpoint::ALL.iter().all(|x| e.contains(x)))
            .map(|(d, _)| *d)
    }

    /// One sentence for consoles and the evidence.
    pub fn describe(&self) -> String {
        if self.days.is_empty() {
            return "no submission was accepted".to_owned();
        }
        let parts: Vec<String> = self
            .days
            .iter()
            .map(|(d, e)| {
                format!(
                    "{d}: {}",
                    e.iter().map(|x| x.path()).collect::<Vec<_>>().join(", ")
                )
            })
            .collect();
        match (self.complete_day(), self.days.len()) {
            (Some(d), 1) => format!("all six endpoints were submitted on {d} (UTC)"),
            (Some(d), _) => format!(
                "all six endpoints were submitted on {d} (UTC); other days: {}",
                parts.join("; ")
            ),
            (None, 1) => {
                let missing: Vec<&str> = Endpoint::ALL
                    .iter()
                    .filter(|x| !self.days.values().any(|e| e.contains(x)))
                    .map(|x| x.path())
                    .collect();
                format!(
                    "INCOMPLETE: {}; not submitted: {}",
                    parts.join("; "),
                    missing.join(", ")
                )
            }
            (None, _) => format!(
                "INCOMPLETE: the UTC day changed during the submissions, so no single day has all six endpoints: {}",
                parts.join("; ")
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s)
            .expect("time")
            .with_timezone(&Utc)
    }

    #[test]
    fn fake_clock_ticks() {
        let c = FakeClock::at(t("2026-11-23T10:00:00Z"));
        c.tick_on_read(chrono::Duration::seconds(5));
        assert_eq!(c.now(), t("2026-11-23T10:00:00Z"));
        assert_eq!(c.now(), t("2026-11-23T10:00:05Z"));
    }
}
