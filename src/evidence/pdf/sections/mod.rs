//! The report's sections, in reading order: the cover, the findings and summary, timings and
//! load, reporting, the scenario detail, and the appendix with the sign-off. Each draws onto
//! a [`Layout`](super::layout::Layout) from the record alone.

mod appendix;
mod cover;
mod detail;
mod findings;
mod reporting;
mod timings;

pub(crate) use appendix::{appendix, sign_off};
pub(crate) use cover::cover;
pub(crate) use detail::detail;
pub(crate) use findings::{attempt_history, catalogue_coverage, findings, summary, warnings};
pub(crate) use reporting::reporting;
pub(crate) use timings::{load_figures, timings};

use super::layout::*;
use super::style::*;
use crate::evidence::present::status_word;
use crate::record::run::Status;

/// A status's badge colours: ink and background.
pub(crate) fn status_colors(status: Status) -> (Rgb3, Rgb3) {
    match status {
        Status::Passed => (GREEN, PALE_GREEN),
        Status::Failed => (RED, PALE_RED),
        Status::Skipped => (GREY_STATUS, PALE_GREY),
        Status::Interrupted => (DARK_AMBER, PALE_AMBER),
    }
}

pub(crate) fn status_badge(status: Status) -> Cell {
    let (fg, bg) = status_colors(status);
    Cell::badge(status_word(status), fg, bg)
}
