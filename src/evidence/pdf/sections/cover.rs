//! The cover: what the run was pointed at, the framing and re-seal boxes, the verdict, and the
//! run's facts; a reader who stops here knows what was tested and how it went.

use super::super::fonts::*;
use super::super::layout::*;
use super::super::style::*;
use crate::evidence::present;
use crate::record::run::*;

pub(crate) fn cover(l: &mut Layout, record: &RunRecord, manifest_sha256: Option<&str>) {
    let h = &record.header;
    l.rect(MARGIN, l.y + 4.0, 36.0, 4.0, NAVY);
    l.y += 22.0;
    let title = Style::new(Weight::Bold, 21.0, NAVY);
    l.block(
        MARGIN,
        CONTENT_W,
        &[para("Pensions Dashboards connection evidence", title)],
        None,
        None,
    );
    l.y += 4.0;
    let framing = present::framing(record);
    l.paragraph(para(
        format!("{} - {} pack", framing.title, h.selection.pack),
        Style::new(Weight::Regular, 12.0, MUTED),
    ));
    l.y += 6.0;
    framing_box(l, &framing);
    resealed_box(l, record);
    l.y += 8.0;
    verdict_box(l, record);
    stage2_box(l, record);

    let mut rows: Vec<(String, Vec<Span>)> = present::cover_facts(record)
        .into_iter()
        .map(|f| {
            let style = match f.emphasis {
                present::Emphasis::Plain => BODY,
                present::Emphasis::Strong => BODY.bold(),
                present::Emphasis::Alarm => BODY.bold().colored(RED),
                present::Emphasis::Caution => BODY.bold().colored(DARK_AMBER),
                present::Emphasis::Small => SMALL,
            };
            (f.label.to_owned(), para(f.value, style))
        })
        .collect();
    // The inputs by digest: an edited pack still calls itself "integration 1.0.0".
    if let Some(cell) = inputs_cell(record) {
        rows.push(("Inputs (SHA-256)".to_owned(), cell));
    }
    rows.push((
        "Manifest SHA-256".to_owned(),
        para(manifest_sha256.unwrap_or("not sealed"), CODE),
    ));
    l.key_values(mm(40.0), rows);
}

/// The test pack and feature files by SHA-256, one per line.
pub(crate) fn inputs_cell(record: &RunRecord) -> Option<Vec<Span>> {
    let inputs = present::input_lines(record);
    if inputs.is_empty() {
        return None;
    }
    let mut cell: Vec<Span> = Vec::new();
    for (i, (name, sha)) in inputs.iter().enumerate() {
        if i > 0 {
            cell.push(span("\n", CODE));
        }
        cell.push(span(
            format!("{name}  "),
            Style::new(Weight::Bold, 6.5, TEXT),
        ));
        cell.push(span(sha.as_str(), Style::new(Weight::Regular, 6.0, TEXT)));
    }
    Some(cell)
}

/// What the run is evidence of, boxed under the cover's title.
pub(crate) fn framing_box(l: &mut Layout, framing: &present::Framing) {
    let accent = if framing.reference_provider {
        DARK_AMBER
    } else {
        NAVY
    };
    let mut paras = vec![para(framing.header.as_str(), BODY.bold().colored(accent))];
    paras.extend(framing.explanation.iter().map(|t| para(t.as_str(), SMALL)));
    l.block(
        MARGIN,
        CONTENT_W,
        &paras,
        None,
        Some(BoxStyle {
            bg: PALE_GREY,
            accent: Some(accent),
            inset_left: 0.0,
            inset_right: 0.0,
            pad: 5.0,
        }),
    );
}

/// Under the verdict: the match-update file stage 1 issued and what to do next, and a stage 2
/// that was not run (pending).
pub(crate) fn stage2_box(l: &mut Layout, record: &RunRecord) {
    let mut paras = Vec::new();
    if let Some(issued) = &record.match_updates {
        paras.push(para(
            format!(
                "Match-update file issued at the end of stage 1 ({} updates)",
                issued.updates
            ),
            BODY.bold().colored(NAVY),
        ));
        paras.push(para(issued.file.as_str(), CODE));
        paras.push(para(format!("Next: {}", issued.next), SMALL));
    }
    for p in &record.pending {
        paras.push(para(
            "STAGE 2 NOT RUN - pending",
            BODY.bold().colored(DARK_AMBER),
        ));
        paras.push(para(p.text.as_str(), SMALL));
    }
    if paras.is_empty() {
        return;
    }
    l.y += 4.0;
    l.block(
        MARGIN,
        CONTENT_W,
        &paras,
        None,
        Some(BoxStyle {
            bg: PALE_GREY,
            accent: Some(if record.pending.is_empty() {
                NAVY
            } else {
                DARK_AMBER
            }),
            inset_left: 0.0,
            inset_right: 0.0,
            pad: 5.0,
        }),
    );
}

/// Said on the cover when `report --reseal` re-rendered the bundle from a changed log.
pub(crate) fn resealed_box(l: &mut Layout, record: &RunRecord) {
    for r in &record.resealed {
        l.y += 4.0;
        l.block(
            MARGIN,
            CONTENT_W,
            &[
                para(
                    format!(
                        "RE-RENDERED FROM A CHANGED LOG on {}: the bundle no longer matched its seal and was re-sealed with --reseal.",
                        present::utc(&r.at)
                    ),
                    BODY.bold().colored(RED),
                ),
                para(format!("What had changed: {}", r.problems.join("; ")), SMALL),
            ],
            None,
            Some(BoxStyle {
                bg: PALE_RED,
                accent: Some(RED),
                inset_left: 0.0,
                inset_right: 0.0,
                pad: 5.0,
            }),
        );
    }
}

pub(crate) fn verdict_box(l: &mut Layout, record: &RunRecord) {
    let (fill, ink) = match record.verdict {
        Verdict::Passed => (GREEN, WHITE),
        Verdict::Failed => (RED, WHITE),
        Verdict::Incomplete | Verdict::Interrupted | Verdict::NoScenarios | Verdict::Pending => {
            (AMBER, Rgb3(0.20, 0.12, 0.0))
        }
    };
    let pad = 14.0;
    let label = span("OVERALL VERDICT", Style::new(Weight::Bold, 8.0, ink));
    let words = record.verdict.plain_words();
    let mut words_style = Style::new(Weight::Bold, 16.0, ink);
    while words_style.size > 9.0 && l.fonts.text_width(words_style, words) > CONTENT_W - 2.0 * pad {
        words_style.size -= 0.5;
    }
    let c = &record.counts;
    let counts = format!(
        "{} passed, {} failed, {} skipped, {} interrupted{} of {} scenarios{}",
        c.passed,
        c.failed,
        c.skipped,
        c.interrupted,
        crate::evidence::not_started_text(c),
        c.total(),
        record
            .interrupted
            .as_ref()
            .map(|r| format!(" (stopped: {r})"))
            .unwrap_or_default()
    );
    let counts_lines = l.fonts.wrap(
        &para(counts, Style::new(Weight::Regular, 10.5, ink)),
        CONTENT_W - 2.0 * pad,
    );
    let counts_h: f32 = counts_lines.iter().map(WrappedLine::height).sum();
    let box_h = pad + 12.0 + words_style.size * LEADING + 4.0 + counts_h + pad;
    l.ensure(box_h);
    let top = l.y;
    l.rect(MARGIN, top, CONTENT_W, box_h, fill);
    l.text_at(MARGIN + pad, top + pad + 7.0, &label);
    let mut y = top + pad + 12.0;
    let lh = words_style.size * LEADING;
    l.text_at(
        MARGIN + pad,
        baseline(y, lh, words_style.size),
        &span(words, words_style),
    );
    y += lh + 4.0;
    for line in &counts_lines {
        let lh = line.height();
        l.spans_at(
            MARGIN + pad + line.indent,
            baseline(y, lh, line.size),
            &line.spans,
        );
        y += lh;
    }
    l.y = top + box_h + 10.0;
    if record.ended_at.is_none() {
        l.paragraph(para(
            "The run log has no end: the run was stopped or the process died. Everything \
             recorded up to that point is shown; scenarios that never finished are marked \
             INTERRUPTED.",
            NOTE,
        ));
    }
}
