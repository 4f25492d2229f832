//! Failures and warnings first, then the per-stage counts and the coverage matrix, and for a
//! re-run each scenario's earlier attempts.

use super::super::layout::*;
use super::super::style::*;
use super::*;
use crate::evidence::present;
use crate::record::run::*;

/// Every failure and warning on one page after the cover: case, step, one-line reason, class
/// and who acts, and the page of the detail. A real target's failures are not left to be
/// found in the detail pages.
pub(crate) fn findings(l: &mut Layout, record: &RunRecord, pages: Option<&[usize]>) {
    l.section("Failures and warnings");
    let all = present::findings(record);
    if all.is_empty() {
        l.paragraph(para(
            "No failures and no warnings: every selected scenario passed, every timing was within its limit, and every reporting submission was accepted or refused as its scenario intended.",
            BODY,
        ));
        return;
    }
    let failures = all.iter().filter(|f| f.kind == "failure").count();
    l.paragraph(para(
        format!(
            "{failures} failed step(s) and {} warning(s). Each row names who acts; the page is where the scenario's detail, with the exchange its check judged, starts.",
            all.len() - failures
        ),
        NOTE,
    ));
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Case", 20.0, Align::Left),
        ("Step", 36.0, Align::Left),
        ("Reason", 0.0, Align::Left),
        ("Class, who acts", 28.0, Align::Left),
        ("Page", 11.0, Align::Right),
    ]));
    for f in &all {
        let page = f
            .scenario
            .map(|i| {
                pages
                    .and_then(|p| p.get(i))
                    .map_or_else(|| "00".to_owned(), usize::to_string)
            })
            .unwrap_or_else(|| "-".to_owned());
        let kind = if f.kind == "failure" {
            NOTE.bold().colored(RED)
        } else {
            NOTE.bold().colored(DARK_AMBER)
        };
        let tiny = Style::new(Weight::Regular, 7.0, TEXT);
        l.row(vec![
            Cell::text(f.case.as_str(), SMALL.bold()).with(para(f.kind.to_uppercase(), kind)),
            Cell::text(f.step.as_str(), tiny.colored(MUTED)),
            Cell::text(f.reason.as_str(), tiny),
            Cell::text(f.class.as_str(), tiny),
            Cell::text(page, SMALL),
        ]);
    }
    l.end_table();
}

/// Per-stage counts, then the coverage matrix: case id, stage, scenario, verdict, page.
pub(crate) fn summary(l: &mut Layout, record: &RunRecord, pages: Option<&[usize]>) {
    l.section("Results summary");
    if record.scenarios.is_empty() {
        l.paragraph(para("No scenarios matched the selection.", BODY));
        return;
    }
    let stages = present::stage_counts(record);
    l.begin_table(columns(&[
        ("Stage", 0.0, Align::Left),
        ("Passed", 22.0, Align::Right),
        ("Failed", 22.0, Align::Right),
        ("Skipped", 22.0, Align::Right),
        ("Interrupted", 24.0, Align::Right),
    ]));
    for (name, c) in &stages {
        let count = |n: usize, style: Style| Cell::text(n.to_string(), style);
        l.row(vec![
            Cell::text(name.as_str(), BODY.bold()),
            count(c[0], BODY),
            count(
                c[1],
                if c[1] > 0 {
                    BODY.bold().colored(RED)
                } else {
                    BODY
                },
            ),
            count(c[2], BODY),
            count(c[3], BODY),
        ]);
    }
    l.end_table();

    l.gap(8.0);
    l.section("Coverage matrix");
    l.paragraph(para(
        format!(
            "{} scenarios in stage and case order: each case id (with the organisation's own reference, from an @ref tag), its scenario, its verdict and the page of its detail. \
             Durations are wall-clock seconds from the scenario's start to its end.",
            record.scenarios.len()
        ),
        NOTE,
    ));
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Case", 17.0, Align::Left),
        ("Stage", 30.0, Align::Left),
        ("Scenario", 0.0, Align::Left),
        ("Result", 25.0, Align::Left),
        ("Seconds", 17.0, Align::Right),
        ("Page", 12.0, Align::Right),
    ]));
    for i in reading_order(&record.scenarios) {
        let s = &record.scenarios[i];
        let duration = present::seconds_text(s);
        let page = pages
            .and_then(|p| p.get(i))
            .map_or_else(|| "00".to_owned(), usize::to_string);
        // The organisation's own references (@ref:<id>) under the scenario's name.
        let mut name = Cell::text(s.name.as_str(), BODY);
        let refs = s.refs();
        if !refs.is_empty() {
            name = name.with(para(
                format!("your ref {}", refs.join(", ")),
                SMALL.bold().colored(NAVY),
            ));
        }
        l.row(vec![
            Cell::text(s.case_id.as_deref().unwrap_or("-"), BODY.bold()),
            Cell::text(s.stage.as_deref().unwrap_or("-"), BODY),
            name,
            status_badge(s.status),
            Cell::text(duration, BODY),
            Cell::text(page, BODY),
        ]);
    }
    l.end_table();
}

/// For a re-run: each scenario's earlier attempts (run, time, verdict, first failure) and its
/// result in this run, so the reader sees that a pass came after a failure and where.
pub(crate) fn attempt_history(l: &mut Layout, record: &RunRecord) {
    let Some(rerun) = &record.header.rerun else {
        return;
    };
    l.gap(8.0);
    l.section("Attempt history");
    l.paragraph(para(
        format!(
            "This run re-ran the scenarios of run {} that did not pass, with the scenarios they \
             depend on. Runs in the chain, oldest first: {}.",
            rerun.rerun_of,
            rerun.chain.join(", ")
        ),
        NOTE,
    ));
    if !rerun.inputs_changed.is_empty() {
        l.gap(2.0);
        let mut paras = vec![para(
            format!(
                "Inputs changed since run {}: a pass now is not the same test passing again.",
                rerun.rerun_of
            ),
            SMALL.bold().colored(RED),
        )];
        paras.extend(rerun.inputs_changed.iter().map(|c| para(c.as_str(), SMALL)));
        l.block(
            MARGIN,
            CONTENT_W,
            &paras,
            None,
            Some(BoxStyle {
                bg: PALE_RED,
                accent: Some(RED),
                inset_left: 0.0,
                inset_right: 0.0,
                pad: 4.0,
            }),
        );
    }
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Case", 17.0, Align::Left),
        ("Scenario", 50.0, Align::Left),
        ("Attempts", 0.0, Align::Left),
    ]));
    for s in &record.scenarios {
        let Some(h) = rerun.history_of(s) else {
            continue;
        };
        let mut attempts = Cell::text(attempt_history_text(h, s.status), BODY);
        for a in h.attempts.iter().filter(|a| a.message.is_some()) {
            attempts = attempts.with(para(
                format!(
                    "run {}: {}",
                    a.run_id,
                    a.message.as_deref().unwrap_or_default()
                ),
                SMALL,
            ));
        }
        l.row(vec![
            Cell::text(s.case_id.as_deref().unwrap_or("-"), BODY.bold()),
            Cell::text(format!("{} ({})", s.name, h.reason), BODY),
            attempts,
        ]);
    }
    l.end_table();
}

/// Doubts that did not fail a step (where the public sources disagree), with their case.
pub(crate) fn warnings(l: &mut Layout, record: &RunRecord) {
    let rows = present::warning_rows(record);
    if rows.is_empty() {
        return;
    }
    l.gap(8.0);
    l.section("Warnings");
    l.paragraph(para(present::WARNINGS_NOTE, NOTE));
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Case", 24.0, Align::Left),
        ("Warning", 0.0, Align::Left),
    ]));
    for (case, w) in rows {
        l.row(vec![Cell::text(case, BODY), Cell::text(w, BODY)]);
    }
    l.end_table();
}

/// The error catalogue's cases with the stub scenario or reporting error each mirrors, its
/// result and the page of its detail; only for a run that holds catalogue cases.
pub(crate) fn catalogue_coverage(l: &mut Layout, record: &RunRecord, pages: Option<&[usize]>) {
    let rows = present::coverage(record);
    if rows.is_empty() {
        return;
    }
    l.gap(8.0);
    l.section(present::COVERAGE_TITLE);
    l.paragraph(para(
        format!(
            "{} {}.",
            present::COVERAGE_NOTE,
            present::coverage_counts(&rows)
        ),
        NOTE,
    ));
    l.gap(4.0);
    l.begin_table(columns(&[
        // Wide enough for the longest script id, RS-RESPTIME-08, on one line.
        ("Case", 31.0, Align::Left),
        ("Mirrors", 0.0, Align::Left),
        ("Result", 25.0, Align::Left),
        ("Page", 12.0, Align::Right),
    ]));
    for r in &rows {
        let page = pages
            .and_then(|p| p.get(r.scenario))
            .map_or_else(|| "00".to_owned(), usize::to_string);
        let mirror = match r.mirror {
            present::Mirror::Unnamed => Cell::text(r.mirror.text(), SMALL.colored(MUTED)),
            _ => Cell::text(r.mirror.text(), SMALL),
        };
        l.row(vec![
            Cell::text(r.case.as_str(), SMALL.bold()),
            mirror,
            status_badge(r.status),
            Cell::text(page, SMALL),
        ]);
    }
    l.end_table();
}
