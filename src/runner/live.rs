//! The console of an interactive run: the usual lines on standard output, and below them a
//! live progress bar on standard error (stage, current scenario, passed/failed so far, done of
//! total). A run in CI or piped into a file gets the plain lines only, unchanged, because CI
//! logs and scripts read them and a redrawn bar would only garble a log.

use std::io::IsTerminal as _;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::writer::{Console, Progress, Stdout};
use crate::record::run::Status;

/// Whether to draw a live bar: standard error is a terminal and the environment is not CI
/// (`CI=true`, as GitHub Actions, GitLab and most CI services set it).
pub fn wants_live(stderr_is_terminal: bool, ci: Option<&str>) -> bool {
    stderr_is_terminal && !ci.is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

/// The console for a command-line run: live on a terminal, plain lines otherwise.
pub fn console() -> Box<dyn Console> {
    let ci = std::env::var("CI").ok();
    if wants_live(std::io::stderr().is_terminal(), ci.as_deref()) {
        Box::new(Live::new())
    } else {
        Box::new(Stdout)
    }
}

/// What the bar shows, kept apart from drawing so it can be tested.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    pub stage: String,
    pub current: String,
    pub passed: usize,
    pub failed: usize,
    pub done: usize,
    pub total: usize,
}

impl Tally {
    pub fn apply(&mut self, event: Progress<'_>) {
        match event {
            Progress::Planned { total } => self.total = total,
            Progress::Stage(name) => self.stage = name.to_owned(),
            Progress::ScenarioStarted(label) => self.current = label.to_owned(),
            Progress::ScenarioFinished { status, .. } => {
                self.done += 1;
                if status == Status::Passed {
                    self.passed += 1;
                } else {
                    self.failed += 1;
                }
                self.current.clear();
            }
            Progress::Finished => self.current.clear(),
        }
    }

    /// The text beside the bar, e.g. "stage1 | 2 passed, 1 failed | S1-03 Match on a previous address".
    pub fn message(&self) -> String {
        let mut m = format!(
            "{} | {} passed, {} failed",
            self.stage, self.passed, self.failed
        );
        if !self.current.is_empty() {
            m.push_str(" | ");
            m.push_str(&self.current);
        }
        m
    }
}

/// Lines above, a progress bar below (on standard error). The bar appears when the scenarios
/// are planned (not during the doctor's checks) and is cleared when they have run.
#[derive(Default)]
pub struct Live {
    bar: Option<ProgressBar>,
    tally: Tally,
}

impl Live {
    pub fn new() -> Live {
        Live::default()
    }

    fn start_bar(total: usize) -> ProgressBar {
        let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template("{spinner} [{pos}/{len}] {bar:24.cyan/blue} {wide_msg}")
        {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        bar
    }
}

impl Console for Live {
    fn line(&mut self, text: &str) {
        // Hide the bar while the line is printed, so lines never interleave with it.
        match &self.bar {
            Some(bar) => bar.suspend(|| super::writer::print_line(text)),
            None => super::writer::print_line(text),
        }
    }

    fn progress(&mut self, event: Progress<'_>) {
        self.tally.apply(event);
        if let Progress::Planned { total } = event {
            self.bar = Some(Live::start_bar(total));
        }
        let Some(bar) = &self.bar else {
            return;
        };
        bar.set_length(self.tally.total as u64);
        bar.set_position(self.tally.done as u64);
        bar.set_message(self.tally.message());
        if event == Progress::Finished {
            bar.finish_and_clear();
            self.bar = None;
        }
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        // A run that stopped early must not leave a half-drawn bar on the terminal.
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_only_on_a_terminal_outside_ci() {
        assert!(wants_live(true, None));
        assert!(wants_live(true, Some("false")));
        assert!(!wants_live(true, Some("true")));
        assert!(!wants_live(true, Some("1")));
        assert!(!wants_live(false, None));
    }

    #[test]
    fn the_tally_counts_and_names_the_current_scenario() {
        let mut t = Tally::default();
        t.apply(Progress::Planned { total: 3 });
        t.apply(Progress::Stage("connection-proving"));
        t.apply(Progress::ScenarioStarted("CP-01 A known member"));
        assert_eq!(
            t.message(),
            "connection-proving | 0 passed, 0 failed | CP-01 A known member"
        );
        t.apply(Progress::ScenarioFinished {
            label: "CP-01 A known member",
            status: Status::Failed,
        });
        t.apply(Progress::ScenarioStarted("CP-02 No token"));
        t.apply(Progress::ScenarioFinished {
            label: "CP-02 No token",
            status: Status::Passed,
        });
        assert_eq!((t.done, t.total, t.passed, t.failed), (2, 3, 1, 1));
        assert_eq!(t.message(), "connection-proving | 1 passed, 1 failed");
    }
}
