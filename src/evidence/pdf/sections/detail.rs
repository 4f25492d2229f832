//! Every scenario's steps and, for failures, the exchange each check judged, with headers and
//! body excerpts and decoded view data.

use super::super::layout::*;
use super::super::style::*;
use super::*;
use crate::evidence::present;
use crate::record::run::*;

/// Bodies longer than this many bytes are cut, with "… (N more bytes)".
pub(crate) const BODY_EXCERPT_BYTES: usize = 1200;

/// Every scenario's detail; returns the page each one starts on.
pub(crate) fn detail(l: &mut Layout, record: &RunRecord) -> Vec<usize> {
    if record.scenarios.is_empty() {
        return Vec::new();
    }
    // The section heading goes with its first scenario's heading and first rows.
    l.ensure(220.0);
    l.section("Scenario detail");
    let mut pages = vec![0; record.scenarios.len()];
    for i in reading_order(&record.scenarios) {
        pages[i] = scenario_detail(l, &record.scenarios[i]);
    }
    pages
}

/// One scenario's steps and, for failures, the exchange each check judged; returns the page
/// it starts on.
pub(crate) fn scenario_detail(l: &mut Layout, s: &ScenarioRecord) -> usize {
    let (fg, bg) = status_colors(s.status);
    let label = present::status_word(s.status);
    let cols = columns(&[
        ("Step", 0.0, Align::Left),
        ("Result", 25.0, Align::Left),
        ("Duration", 21.0, Align::Right),
    ]);
    // Keep the heading with its three lines of facts, the table head and the whole first
    // step row, so neither a heading nor a bare table head is left at a page foot.
    let first_row = s
        .steps
        .first()
        .map_or(20.0, |st| l.row_height(&cols, &step_cells(st)));
    let keep = 3.0 * NOTE.size * LEADING + 4.0 + Layout::table_head_height() + first_row + 4.0;
    l.subheading(&present::scenario_title(s), Some((&label, fg, bg)), keep);
    let page = l.page();
    let tags = if s.tags.is_empty() {
        "none".to_owned()
    } else {
        present::tags_text(s)
    };
    let timing = match present::scenario_seconds(s) {
        Some(d) => format!("started {} - took {d:.2} s", present::utc(&s.started_at)),
        None => format!("started {} - did not finish", present::utc(&s.started_at)),
    };
    l.paragraph(vec![
        span("Location ", NOTE.bold()),
        span(format!("{} ({})", s.location, s.feature), NOTE),
    ]);
    l.paragraph(vec![span("Tags ", NOTE.bold()), span(tags, NOTE)]);
    l.paragraph(vec![span("Run ", NOTE.bold()), span(timing, NOTE)]);
    l.gap(4.0);

    l.begin_table(cols);
    if s.steps.is_empty() {
        l.row(vec![Cell::text("No steps were recorded.", NOTE)]);
    }
    for (k, step) in s.steps.iter().enumerate() {
        step_rows(l, s, k, step);
    }
    l.end_table();
    l.gap(6.0);
    page
}

/// A step's row: its sentence with timings and what it observed, its verdict, its duration.
pub(crate) fn step_cells(step: &StepRecord) -> Vec<Cell> {
    let mut cell = Cell::rich(vec![
        span(format!("{} ", step.keyword), BODY.bold()),
        span(step.text.as_str(), BODY),
    ]);
    for t in &step.timings {
        let over = t.millis > t.limit_millis;
        let style = if over { SMALL.colored(RED) } else { NOTE };
        let mut text = format!(
            "{} {:.0} ms (limit {:.0} ms)",
            t.measure, t.millis, t.limit_millis
        );
        if over {
            text.push_str(" - over the limit");
        }
        cell = cell.with(para(text, style));
    }
    if step.status == Status::Passed
        && let Some(line) = present::observed_line(step)
    {
        cell = cell.with(vec![
            span("Observed: ", NOTE.bold().colored(GREEN)),
            span(line, NOTE),
        ]);
    }
    vec![
        cell,
        status_badge(step.status),
        Cell::text(format!("{:.0} ms", step.duration_ms), BODY),
    ]
}

pub(crate) fn step_rows(l: &mut Layout, s: &ScenarioRecord, index: usize, step: &StepRecord) {
    let stripe = l.row(step_cells(step));

    if step.status != Status::Passed {
        let (accent, bg) = match step.status {
            Status::Failed => (RED, PALE_RED),
            _ => (AMBER, PALE_AMBER),
        };
        let message = match (&step.message, step.status) {
            (Some(m), _) => Some(present::plain(m)),
            (None, Status::Failed) => Some("No failure message was recorded.".to_owned()),
            (None, _) => None,
        };
        if let Some(message) = message {
            let mut paras = vec![para(message, SMALL)];
            if let Some(class) = step.failure_class {
                paras.push(para(
                    format!("Class: {}. To act: {}.", class.label(), class.owner()),
                    SMALL.bold(),
                ));
            }
            l.row_detail(
                CELL_PAD_X,
                &paras,
                stripe,
                Some(BoxStyle {
                    bg,
                    accent: Some(accent),
                    inset_left: 0.0,
                    inset_right: CELL_PAD_X,
                    pad: 4.0,
                }),
            );
            l.row_gap(CELL_PAD_Y, stripe);
        }
    }
    if step.status == Status::Failed
        && let Some((ex, whence)) = present::judged_exchange(s, index)
    {
        // Kept with the start of the exchange it introduces (which itself keeps 60 points
        // together), not left alone at a page's foot.
        l.ensure(NOTE.size * LEADING + 62.0);
        l.row_detail(
            CELL_PAD_X,
            &[para(
                format!("The exchange behind this verdict ({whence}):"),
                NOTE.bold(),
            )],
            stripe,
            None,
        );
        exchange_detail(l, ex, stripe);
    }
    // The decoded view data explains a failed scenario; a passed one keeps it in run.json and
    // report.html rather than pages of JSON here.
    if s.status != Status::Passed {
        for v in &step.view_data {
            view_data_detail(l, v, stripe);
        }
    }
}

/// A verified view data token's decoded claims (masked), under the step that verified it.
pub(crate) fn view_data_detail(l: &mut Layout, v: &DecodedToken, stripe: Option<Rgb3>) {
    const INDENT: f32 = 12.0;
    l.ensure(LABEL.size * LEADING + 3.0 + 4.0 * CODE.size * LEADING);
    l.row_gap(2.0, stripe);
    l.row_detail(
        INDENT,
        &[para(
            format!(
                "View data of {} - the token's decoded, verified claims (personal data masked)",
                v.pei
            ),
            LABEL,
        )],
        stripe,
        None,
    );
    // Compact JSON: the pretty form in run.json runs to pages.
    let compact = serde_json::from_str::<serde_json::Value>(&v.claims)
        .map(|j| j.to_string())
        .unwrap_or_else(|_| v.claims.clone());
    let (head, rest) = present::excerpt(&compact, 3 * BODY_EXCERPT_BYTES);
    let mut paras: Vec<Vec<Span>> = vec![para(head, CODE)];
    if rest > 0 {
        paras.push(para(
            format!("… ({rest} more bytes in run.json)"),
            CODE.bold().colored(MUTED),
        ));
    }
    l.row_detail(
        INDENT,
        &paras,
        stripe,
        Some(BoxStyle {
            bg: CODE_BG,
            accent: None,
            inset_left: 0.0,
            inset_right: CELL_PAD_X,
            pad: 3.0,
        }),
    );
    l.row_gap(4.0, stripe);
}

pub(crate) fn exchange_detail(l: &mut Layout, ex: &Exchange, stripe: Option<Rgb3>) {
    const INDENT: f32 = 12.0;
    let code_box = BoxStyle {
        bg: CODE_BG,
        accent: None,
        inset_left: 0.0,
        inset_right: CELL_PAD_X,
        pad: 3.0,
    };
    let outcome = present::outcome_text(ex);
    let title = format!(
        "{} {} -> {} ({:.0} ms)",
        ex.method, ex.url, outcome, ex.duration_ms
    );
    // Keep the exchange's title with the start of its request headers.
    l.ensure(60.0);
    l.row_gap(2.0, stripe);
    l.row_detail(
        INDENT,
        &[vec![
            span("HTTP exchange: ", SMALL.bold().colored(NAVY)),
            span(title, SMALL.bold()),
        ]],
        stripe,
        None,
    );
    let at = ex.at.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string();
    l.row_detail(
        INDENT,
        &[vec![
            span("Party ", NOTE.bold()),
            span(format!("{} - at {at}", ex.party), NOTE),
        ]],
        stripe,
        None,
    );
    if let Some(err) = &ex.error {
        l.row_detail(
            INDENT,
            &[vec![
                span("Transport error ", SMALL.bold().colored(RED)),
                span(err.as_str(), SMALL.colored(RED)),
            ]],
            stripe,
            None,
        );
    }
    let sections: [(&str, Vec<Vec<Span>>); 4] = [
        ("Request headers", headers_paras(&ex.request_headers)),
        ("Request body", body_paras(ex.request_body.as_deref())),
        ("Response headers", headers_paras(&ex.response_headers)),
        ("Response body", body_paras(ex.response_body.as_deref())),
    ];
    for (label, paras) in sections {
        l.ensure(LABEL.size * LEADING + 3.0 + 2.0 * CODE.size * LEADING);
        l.row_gap(2.0, stripe);
        l.row_detail(INDENT, &[para(label, LABEL)], stripe, None);
        l.row_detail(INDENT, &paras, stripe, Some(code_box));
    }
    l.row_gap(4.0, stripe);
}

pub(crate) fn headers_paras(headers: &[(String, String)]) -> Vec<Vec<Span>> {
    if headers.is_empty() {
        return vec![para("(none recorded)", CODE.colored(MUTED))];
    }
    headers
        .iter()
        .map(|(k, v)| vec![span(format!("{k}: "), CODE.bold()), span(v.as_str(), CODE)])
        .collect()
}

pub(crate) fn body_paras(body: Option<&str>) -> Vec<Vec<Span>> {
    match body {
        None => vec![para("(no body)", CODE.colored(MUTED))],
        Some("") => vec![para("(empty body)", CODE.colored(MUTED))],
        Some(b) => {
            let (head, rest) = present::excerpt(b, BODY_EXCERPT_BYTES);
            let mut p = vec![span(head, CODE)];
            if rest > 0 {
                p.push(span(
                    format!("… ({rest} more bytes)"),
                    CODE.bold().colored(MUTED),
                ));
            }
            vec![p]
        }
    }
}
