//! Timings against their limits (table and logarithmic chart) and a load test's figures.

use super::super::layout::*;
use super::super::style::*;
use super::*;
use crate::evidence::present;
use crate::record::run::*;

/// p50/p95/max of each measure against its limit.
pub(crate) fn timings(l: &mut Layout, record: &RunRecord) {
    if record.timing_summary.is_empty() {
        return;
    }
    l.gap(8.0);
    l.section("Timings");
    l.paragraph(para(
        "Acknowledgement: find request to 202. Registration: find request to each PeI registration at the C&A. View response: view request with the RPT to its response.",
        NOTE,
    ));
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Measure", 0.0, Align::Left),
        ("Count", 16.0, Align::Right),
        ("p50 ms", 20.0, Align::Right),
        ("p95 ms", 20.0, Align::Right),
        ("Max ms", 20.0, Align::Right),
        ("Limit ms", 22.0, Align::Right),
        ("Verdict", 25.0, Align::Left),
    ]));
    for t in &record.timing_summary {
        let verdict = if t.over_limit == 0 {
            status_badge(Status::Passed)
        } else {
            Cell::text(format!("{} over", t.over_limit), BODY.bold().colored(RED))
        };
        l.row(vec![
            Cell::text(t.measure.as_str(), BODY),
            Cell::text(t.count.to_string(), BODY),
            Cell::text(format!("{:.0}", t.p50_ms), BODY),
            Cell::text(format!("{:.0}", t.p95_ms), BODY),
            Cell::text(format!("{:.0}", t.max_ms), BODY),
            Cell::text(format!("{:.0}", t.limit_ms), BODY),
            verdict,
        ]);
    }
    l.end_table();
    timing_chart(l, record);
}

/// A bar chart of each measure's p50, p95 and max against its limit (the red line) on a
/// logarithmic scale from 1 ms, values printed: a 3 ms bar stays visible beside a 30 s limit.
pub(crate) fn timing_chart(l: &mut Layout, record: &RunRecord) {
    const ROW_H: f32 = 34.0;
    const BAR_H: f32 = 7.0;
    let label_w = mm(38.0);
    let track_x = MARGIN + label_w;
    let track_w = CONTENT_W - label_w - mm(28.0);
    l.gap(8.0);
    l.ensure(22.0 + ROW_H * record.timing_summary.len() as f32);
    l.paragraph(para(
        "Each measure against its limit (red line), logarithmic scale from 1 ms; bars: p50, p95, max",
        BODY.bold(),
    ));
    l.gap(4.0);
    for t in &record.timing_summary {
        let axis = present::log_axis(t.limit_ms, t.max_ms);
        let at = |ms: f64| axis.fraction(ms) as f32 * track_w;
        let top = l.y;
        l.text_at(MARGIN, top + 14.0, &span(t.measure.as_str(), BODY.bold()));
        l.text_at(
            MARGIN,
            top + 24.0,
            &span(format!("limit {:.0} ms", t.limit_ms), NOTE),
        );
        l.rect(track_x, top + 2.0, track_w, 3.0 * BAR_H + 4.0, PALE_GREY);
        for (i, (name, ms, color)) in [
            ("p50", t.p50_ms, NAVY),
            ("p95", t.p95_ms, Rgb3(0.30, 0.45, 0.68)),
            (
                "max",
                t.max_ms,
                if t.max_ms > t.limit_ms { RED } else { GREEN },
            ),
        ]
        .into_iter()
        .enumerate()
        {
            let bar_top = top + 3.0 + i as f32 * (BAR_H + 1.0);
            l.rect(track_x, bar_top, at(ms).max(3.0), BAR_H, color);
            l.text_at(
                track_x + track_w + 4.0,
                bar_top + BAR_H - 1.0,
                &span(format!("{name} {ms:.0} ms"), SMALL),
            );
        }
        let limit_x = track_x + at(t.limit_ms);
        push_line(
            &mut l.ops,
            (limit_x, top),
            (limit_x, top + 3.0 * BAR_H + 8.0),
            1.2,
            RED,
        );
        l.y = top + ROW_H;
    }
}

/// A load test's figures (`pdp-harness load`): rates, counts, and each latency measure's
/// percentiles as a table and a chart on one axis.
pub(crate) fn load_figures(l: &mut Layout, record: &RunRecord) {
    let Some(s) = &record.load else {
        return;
    };
    l.gap(8.0);
    l.section("Load");
    for line in present::load_lines(record).unwrap_or_default() {
        l.paragraph(para(line, BODY));
    }
    l.paragraph(para(present::LOAD_NOTE, NOTE));
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Measure", 0.0, Align::Left),
        ("Count", 16.0, Align::Right),
        ("p50 ms", 18.0, Align::Right),
        ("p90 ms", 18.0, Align::Right),
        ("p99 ms", 18.0, Align::Right),
        ("p99.9 ms", 20.0, Align::Right),
        ("Max ms", 18.0, Align::Right),
    ]));
    for t in &s.latencies {
        l.row(vec![
            Cell::text(t.measure.as_str(), BODY),
            Cell::text(t.count.to_string(), BODY),
            Cell::text(format!("{:.1}", t.p50_ms), BODY),
            Cell::text(format!("{:.1}", t.p90_ms), BODY),
            Cell::text(format!("{:.1}", t.p99_ms), BODY),
            Cell::text(format!("{:.1}", t.p999_ms), BODY),
            Cell::text(format!("{:.1}", t.max_ms), BODY),
        ]);
    }
    l.end_table();

    // The chart: one row per measure, a bar per percentile, all on the axis of the largest max.
    const ROW_H: f32 = 52.0;
    const BAR_H: f32 = 7.0;
    let shown: Vec<_> = s.latencies.iter().filter(|t| t.count > 0).collect();
    let axis = shown.iter().map(|t| t.max_ms).fold(0.0_f64, f64::max);
    if shown.is_empty() || axis <= 0.0 {
        return;
    }
    let label_w = mm(38.0);
    let track_x = MARGIN + label_w;
    let track_w = CONTENT_W - label_w - mm(30.0);
    l.gap(8.0);
    l.ensure(22.0 + ROW_H * shown.len() as f32);
    l.paragraph(para(
        format!("Latency percentiles (ms; the axis runs to {axis:.1} ms, the largest max)"),
        BODY.bold(),
    ));
    l.gap(4.0);
    for t in shown {
        let top = l.y;
        l.text_at(MARGIN, top + 14.0, &span(t.measure.as_str(), BODY.bold()));
        l.text_at(
            MARGIN,
            top + 24.0,
            &span(format!("{} samples", t.count), NOTE),
        );
        l.rect(
            track_x,
            top + 2.0,
            track_w,
            5.0 * (BAR_H + 1.0) + 3.0,
            PALE_GREY,
        );
        for (i, (name, ms, color)) in [
            ("p50", t.p50_ms, NAVY),
            ("p90", t.p90_ms, Rgb3(0.30, 0.45, 0.68)),
            ("p99", t.p99_ms, DARK_AMBER),
            ("p99.9", t.p999_ms, AMBER),
            ("max", t.max_ms, RED),
        ]
        .into_iter()
        .enumerate()
        {
            let bar_top = top + 3.0 + i as f32 * (BAR_H + 1.0);
            let w = ((ms / axis).clamp(0.0, 1.0) as f32 * track_w).max(0.8);
            l.rect(track_x, bar_top, w, BAR_H, color);
            l.text_at(
                track_x + track_w + 4.0,
                bar_top + BAR_H - 1.0,
                &span(format!("{name} {ms:.1}"), SMALL),
            );
        }
        l.y = top + ROW_H;
    }
}
