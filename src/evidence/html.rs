//! `report.html`: the evidence as one self-contained page (inline style and SVG, no scripts,
//! nothing fetched), for browsing a run in a CI artefact. Same content as the PDF, rendered
//! from the same record.

use std::fmt::Write as _;

use super::present;
use crate::record::run::{
    Exchange, RunRecord, ScenarioRecord, Status, attempt_history_text, reading_order,
};

/// Escape text for HTML element content and attribute values.
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn badge(status: Status) -> String {
    format!(
        "<span class=\"badge {}\">{}</span>",
        status.as_str(),
        present::status_word(status)
    )
}

fn anchor(i: usize) -> String {
    format!("scenario-{}", i + 1)
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#22242a;\
margin:0 auto;max-width:60rem;padding:1.5rem;line-height:1.4}\
h1,h2,h3{color:#1b3a6b}h2{border-bottom:2px solid #1b3a6b;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem;table-layout:fixed}\
th{background:#e2e4e8;text-align:left}th,td{padding:.3rem .5rem;border-bottom:1px solid #dcdee2;vertical-align:top;overflow-wrap:anywhere}\
td.num,th.num{text-align:right}.case,.nowrap{white-space:nowrap;overflow-wrap:normal}\
.badge{font-size:.75rem;font-weight:bold;padding:.1rem .4rem;border-radius:.2rem;white-space:nowrap}\
.passed{background:#dcefe1;color:#1b7a3e}.failed{background:#fce7e6;color:#b8211f}\
.skipped{background:#e8e9eb;color:#595e66}.interrupted{background:#fff2d5;color:#995d00}\
.expected{background:#e2e4e8;color:#1b3a6b}\
.framing{background:#1b3a6b;color:#fff;padding:.4rem .8rem;font-weight:bold;font-size:.85rem}\
.resealed{background:#fff2d5;border-left:4px solid #995d00;padding:.5rem .8rem}\
.verdict{padding:1rem;font-size:1.2rem;font-weight:bold;border-radius:.3rem}\
.verdict.passed{background:#1b7a3e;color:#fff}.verdict.pending{background:#b36b00;color:#fff}.verdict.failed,.verdict.incomplete,.verdict.no_scenarios{background:#b8211f;color:#fff}\
.failure{background:#fce7e6;border-left:4px solid #b8211f;padding:.4rem .6rem;margin:.3rem 0}\
.observed{color:#1b7a3e;font-size:.85rem}.timing{color:#666b75;font-size:.85rem}.timing.over{color:#b8211f}\
.muted{color:#666b75;font-size:.85rem}pre{background:#eceef0;padding:.5rem;overflow-x:auto;font-size:.8rem;white-space:pre-wrap;overflow-wrap:anywhere;max-width:100%}\
.sign td{height:2.2rem}.sign td:last-child{border-bottom:1px solid #22242a;width:70%}";

/// The record as a single HTML page (well-formed XML as well as HTML, so it can be checked
/// by parsing). `manifest_sha256`: the digest of the bundle's `manifest.json`, as on the PDF.
pub fn render_html(record: &RunRecord, manifest_sha256: Option<&str>) -> String {
    let h = &record.header;
    let framing = present::framing(record);
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\"/>\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"/>\
<title>Pensions Dashboards connection evidence - {run}</title><style>{STYLE}</style></head><body>\
<p class=\"framing\" id=\"framing\">{framing_header}</p>\
<h1>Pensions Dashboards connection evidence</h1><p><strong>{title}</strong></p>",
        run = esc(&h.run_id),
        framing_header = esc(&framing.header),
        title = esc(&framing.title),
    );
    for line in &framing.explanation {
        let _ = write!(o, "<p class=\"muted\">{}</p>", esc(line));
    }
    for r in &record.resealed {
        let _ = write!(
            o,
            "<p class=\"resealed\" id=\"resealed\"><strong>Re-rendered from a changed log</strong> on {}: the bundle no longer matched its seal and was re-sealed with --reseal. What had changed: {}</p>",
            esc(&r.at.format("%Y-%m-%d %H:%M:%S UTC").to_string()),
            esc(&r.problems.join("; "))
        );
    }
    let verdict_class = serde_json::to_value(record.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = write!(
        o,
        "<p class=\"verdict {verdict_class}\">{}</p>",
        esc(record.verdict.plain_words())
    );
    if let Some(issued) = &record.match_updates {
        let _ = write!(
            o,
            "<p class=\"issued\" id=\"match-updates\"><strong>Match-update file issued at the end of stage 1</strong> ({} updates): <code>{}</code><br/>Next: {}</p>",
            issued.updates,
            esc(&issued.file),
            esc(&issued.next)
        );
    }
    for p in &record.pending {
        let _ = write!(
            o,
            "<p class=\"pending\" id=\"stage2-pending\"><strong>Stage 2 not run - pending</strong>: {}</p>",
            esc(&p.text)
        );
    }
    o.push_str("<table id=\"cover\"><colgroup><col style=\"width:14rem\"/><col/></colgroup>");
    for f in present::cover_facts(record) {
        let value = match f.emphasis {
            present::Emphasis::Alarm | present::Emphasis::Caution => {
                format!("<strong>{}</strong>", esc(&f.value))
            }
            _ => esc(&f.value),
        };
        let _ = write!(o, "<tr><th>{}</th><td>{value}</td></tr>", esc(f.label));
    }
    for (name, sha) in present::input_lines(record) {
        let _ = write!(
            o,
            "<tr><th>SHA-256 {}</th><td><code>{}</code></td></tr>",
            esc(&name),
            esc(&sha)
        );
    }
    let _ = write!(
        o,
        "<tr><th>Manifest SHA-256</th><td><code id=\"manifest-sha256\">{}</code></td></tr></table>",
        esc(manifest_sha256.unwrap_or("not sealed"))
    );

    findings(&mut o, record);
    summary(&mut o, record);
    attempt_history(&mut o, record);
    catalogue_coverage(&mut o, record);
    timings(&mut o, record);
    warnings(&mut o, record);
    reporting(&mut o, record);
    load(&mut o, record);
    o.push_str("<h2>Scenario detail</h2>");
    for i in reading_order(&record.scenarios) {
        scenario(&mut o, i, &record.scenarios[i]);
    }
    appendix(&mut o, record, manifest_sha256);
    sign_off(&mut o, record);
    o.push_str("</body></html>\n");
    o
}

/// Every failure and warning, first, with a link to its detail.
fn findings(o: &mut String, record: &RunRecord) {
    let all = present::findings(record);
    o.push_str("<h2 id=\"findings\">Failures and warnings</h2>");
    if all.is_empty() {
        o.push_str("<p>No failures and no warnings.</p>");
        return;
    }
    o.push_str(
        "<table><colgroup><col style=\"width:5rem\"/><col style=\"width:5rem\"/><col style=\"width:14rem\"/><col/><col style=\"width:10rem\"/></colgroup>\
<tr><th>Case</th><th>Kind</th><th>Step</th><th>Reason</th><th>Class: who acts</th></tr>",
    );
    for f in &all {
        let case = match f.scenario {
            Some(i) => format!("<a href=\"#{}\">{}</a>", anchor(i), esc(&f.case)),
            None => esc(&f.case),
        };
        let _ = write!(
            o,
            "<tr class=\"finding\"><td class=\"case\">{case}</td><td><span class=\"badge {}\">{}</span></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if f.kind == "failure" {
                "failed"
            } else {
                "interrupted"
            },
            esc(&f.kind.to_uppercase()),
            esc(&f.step),
            esc(&f.reason),
            esc(&f.class)
        );
    }
    o.push_str("</table>");
}

fn summary(o: &mut String, record: &RunRecord) {
    o.push_str("<h2>Results summary</h2>");
    let c = record.counts;
    let _ = write!(
        o,
        "<p>{} scenarios: {} passed, {} failed, {} skipped, {} interrupted{}.{}</p>",
        c.total(),
        c.passed,
        c.failed,
        c.skipped,
        c.interrupted,
        crate::evidence::not_started_text(&c),
        record
            .interrupted
            .as_ref()
            .map(|r| format!(" The run was stopped: {}.", esc(r)))
            .unwrap_or_default()
    );
    let stages = super::present::stage_counts(record);
    o.push_str(
        "<table id=\"stages\"><tr><th>Stage</th><th class=\"num\">Passed</th><th class=\"num\">Failed</th>\
<th class=\"num\">Skipped</th><th class=\"num\">Interrupted</th></tr>",
    );
    for (name, n) in &stages {
        let _ = write!(
            o,
            "<tr><td><b>{}</b></td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>",
            esc(name),
            n[0],
            n[1],
            n[2],
            n[3]
        );
    }
    o.push_str("</table>");
    o.push_str(
        "<h2>Coverage matrix</h2><table id=\"coverage\"><colgroup><col style=\"width:5.5rem\"/>\
<col style=\"width:8rem\"/><col style=\"width:9rem\"/><col/><col style=\"width:7rem\"/><col style=\"width:5rem\"/></colgroup>\
<tr><th>Case</th><th>Your ref</th><th>Stage</th><th>Scenario</th><th>Result</th><th class=\"num\">Seconds</th></tr>",
    );
    for i in reading_order(&record.scenarios) {
        let s = &record.scenarios[i];
        let secs = present::seconds_text(s);
        let refs = s.refs();
        let _ = write!(
            o,
            "<tr><td class=\"case\"><b>{}</b></td><td class=\"ref\">{}</td><td>{}</td><td><a href=\"#{}\">{}</a></td><td>{}</td>\
<td class=\"num\">{secs}</td></tr>",
            esc(s.case_id.as_deref().unwrap_or("-")),
            if refs.is_empty() {
                "-".to_owned()
            } else {
                esc(&refs.join(", "))
            },
            esc(s.stage.as_deref().unwrap_or("-")),
            anchor(i),
            esc(&s.name),
            badge(s.status)
        );
    }
    o.push_str("</table>");
}

/// For a re-run: every scenario's earlier attempts and its result in this run.
fn attempt_history(o: &mut String, record: &RunRecord) {
    let Some(rerun) = &record.header.rerun else {
        return;
    };
    let _ = write!(
        o,
        "<h2>Attempt history</h2><p>This run re-ran the scenarios of run {} that did not pass, with the scenarios they depend on.</p>",
        esc(&rerun.rerun_of)
    );
    if !rerun.inputs_changed.is_empty() {
        let _ = write!(
            o,
            "<p class=\"failure\"><strong>Inputs changed since run {}:</strong> {}</p>",
            esc(&rerun.rerun_of),
            esc(&rerun.inputs_changed.join("; "))
        );
    }
    o.push_str(
        "<table><tr><th>Case</th><th>Scenario</th><th>Re-run because</th><th>Attempts</th></tr>",
    );
    for s in &record.scenarios {
        if let Some(h) = rerun.history_of(s) {
            let _ = write!(
                o,
                "<tr><td class=\"case\"><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(s.case_id.as_deref().unwrap_or("-")),
                esc(&s.name),
                esc(&h.reason),
                esc(&attempt_history_text(h, s.status))
            );
        }
    }
    o.push_str("</table>");
}

/// The error catalogue's cases with what each mirrors and its result, linked to the detail.
fn catalogue_coverage(o: &mut String, record: &RunRecord) {
    let rows = present::coverage(record);
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<h2 id=\"catalogue-coverage\">{}</h2><p class=\"muted\">{} {}.</p><table>\
<colgroup><col style=\"width:8rem\"/><col/><col style=\"width:7rem\"/></colgroup>\
<tr><th>Case</th><th>Mirrors</th><th>Result</th></tr>",
        esc(present::COVERAGE_TITLE),
        esc(present::COVERAGE_NOTE),
        esc(&present::coverage_counts(&rows))
    );
    for r in &rows {
        let _ = write!(
            o,
            "<tr class=\"catalogue-case\"><td class=\"case\"><a href=\"#{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
            anchor(r.scenario),
            esc(&r.case),
            esc(&r.mirror.text()),
            badge(r.status)
        );
    }
    o.push_str("</table>");
}

/// Each reporting submission, the same-UTC-day check and the reconciliation.
fn reporting(o: &mut String, record: &RunRecord) {
    let r = &record.reporting;
    if r.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Reporting submissions</h2><table id=\"reporting\"><colgroup><col style=\"width:6rem\"/><col style=\"width:13rem\"/>\
<col style=\"width:9rem\"/><col style=\"width:6rem\"/><col style=\"width:10rem\"/><col style=\"width:4rem\"/><col/></colgroup>\
<tr><th>UTC time</th><th>Endpoint</th><th>Record id</th><th>Reason</th><th>Outcome</th><th class=\"num\">Tries</th>\
<th>Detail</th></tr>",
    );
    for s in &r.submissions {
        let standing = present::standing(record, s);
        let (class, expected) = match &standing {
            present::Standing::Accepted => ("passed", None),
            present::Standing::Expected(case) => ("expected", Some(case)),
            present::Standing::Refused => ("failed", None),
        };
        let _ = write!(
            o,
            "<tr><td class=\"nowrap\">{}</td><td class=\"nowrap\">{}</td><td><code>{}</code></td><td>{}</td>\
<td><span class=\"badge {class}\">{}</span>{}{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&s.at.format("%H:%M:%S%.3f").to_string()),
            esc(&s.endpoint),
            esc(&s.record_id),
            esc(&s.submission_reason),
            esc(&present::submission_outcome(s)),
            if s.codes.is_empty() {
                String::new()
            } else {
                format!("<br/><code>{}</code>", esc(&s.codes.join(", ")))
            },
            expected
                .map(|c| format!(
                    "<br/><span class=\"muted\">expected: the purpose of {}</span>",
                    esc(c)
                ))
                .unwrap_or_default(),
            s.attempts,
            esc(&present::plain(&s.detail)),
        );
    }
    o.push_str("</table>");
    if !r.submissions.is_empty() {
        let days = present::accepted_days(record);
        let text = if days.is_empty() {
            "no submission in the table above was accepted".to_owned()
        } else {
            days.iter()
                .map(|(d, e)| format!("{d}: {} endpoint(s) accepted ({})", e.len(), e.join(", ")))
                .collect::<Vec<_>>()
                .join("; ")
        };
        let _ = write!(
            o,
            "<p><strong>Accepted, by UTC day (from the rows above):</strong> {}</p>",
            esc(&text)
        );
    }
    for d in &r.day_checks {
        let _ = write!(
            o,
            "<p><strong>Same-UTC-day check at {}:</strong> <span class=\"badge {}\">{}</span></p>",
            esc(&d.at.format("%H:%M:%S").to_string()),
            if d.complete { "passed" } else { "failed" },
            esc(&d.description)
        );
    }
    for rec in &r.reconciliations {
        let _ = write!(
            o,
            "<h3>Reconciliation: reported against observed</h3><p class=\"muted\">{}</p>",
            esc(&present::window_text(rec))
        );
        if rec.findings.is_empty() {
            o.push_str("<p class=\"muted\">No measure was compared: the organisation's reporting data for this window had no view-response counts for this holdername GUID.</p>");
            continue;
        }
        o.push_str(
            "<table><tr><th>Measure</th><th>Meaning</th><th class=\"num\">Reported</th><th class=\"num\">Observed</th><th>Verdict</th></tr>",
        );
        for f in &rec.findings {
            let _ = write!(
                o,
                "<tr><td><code>{}</code></td><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&f.measure),
                esc(present::meaning(&f.measure).unwrap_or("")),
                f.reported,
                f.observed,
                if f.agrees {
                    "<span class=\"badge passed\">agrees</span>"
                } else {
                    "<span class=\"badge failed\">DIFFERS</span>"
                }
            );
        }
        o.push_str("</table>");
    }
}

/// Doubts that did not fail a step (where the public sources disagree), with their case.
fn warnings(o: &mut String, record: &RunRecord) {
    let rows = present::warning_rows(record);
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<h2>Warnings</h2><p>{}</p><table><tr><th>Case</th><th>Warning</th></tr>",
        esc(present::WARNINGS_NOTE)
    );
    for (case, w) in rows {
        let _ = write!(o, "<tr><td>{}</td><td>{}</td></tr>", esc(&case), esc(w));
    }
    o.push_str("</table>");
}

/// The timing table with, per measure, p50/p95/max on a logarithmic scale (1 ms to the
/// larger of the limit and the max) so a 3 ms bar is visible beside a 30 s limit.
fn timings(o: &mut String, record: &RunRecord) {
    if record.timing_summary.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Timings</h2><p class=\"muted\">Bars on a logarithmic scale from 1 ms; the red line is the limit.</p>\
<table><tr><th>Measure</th><th class=\"num\">Count</th>\
<th class=\"num\">p50 ms</th><th class=\"num\">p95 ms</th><th class=\"num\">Max ms</th>\
<th class=\"num\">Limit ms</th><th>Verdict</th><th>Against the limit</th></tr>",
    );
    for t in &record.timing_summary {
        let verdict = if t.over_limit == 0 {
            badge(Status::Passed)
        } else {
            format!("<span class=\"badge failed\">{} OVER</span>", t.over_limit)
        };
        let axis = present::log_axis(t.limit_ms, t.max_ms);
        let x = |ms: f64| (axis.fraction(ms) * 200.0).max(1.0);
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td>\
<td class=\"num\">{:.0}</td><td class=\"num\">{:.0}</td><td class=\"num\">{:.0}</td><td>{verdict}</td>\
<td><svg width=\"204\" height=\"28\" role=\"img\" aria-label=\"p50, p95 and max against the limit, logarithmic\">\
<rect x=\"0\" y=\"0\" width=\"200\" height=\"28\" fill=\"#e8e9eb\"/>\
<rect x=\"0\" y=\"2\" width=\"{:.1}\" height=\"7\" fill=\"#1b3a6b\"/>\
<rect x=\"0\" y=\"10\" width=\"{:.1}\" height=\"7\" fill=\"#4d73ad\"/>\
<rect x=\"0\" y=\"18\" width=\"{:.1}\" height=\"7\" fill=\"{}\"/>\
<line x1=\"{:.1}\" y1=\"0\" x2=\"{:.1}\" y2=\"28\" stroke=\"#b8211f\" stroke-width=\"2\"/></svg></td></tr>",
            esc(&t.measure),
            t.count,
            t.p50_ms,
            t.p95_ms,
            t.max_ms,
            t.limit_ms,
            x(t.p50_ms),
            x(t.p95_ms),
            x(t.max_ms),
            if t.max_ms > t.limit_ms {
                "#b8211f"
            } else {
                "#1b7a3e"
            },
            x(t.limit_ms),
            x(t.limit_ms),
        );
    }
    o.push_str("</table>");
}

/// A load test's figures (`pdp-harness load`), as the PDF gives them: rates, counts, each
/// latency measure's percentiles, and a chart of them on one axis.
fn load(o: &mut String, record: &RunRecord) {
    let Some(s) = &record.load else {
        return;
    };
    let [sent, outcome] = present::load_lines(record).unwrap_or_default();
    let _ = write!(
        o,
        "<h2 id=\"load\">Load</h2><p>{}</p><p>{}</p><p class=\"muted\">{}</p>",
        esc(&sent),
        esc(&outcome),
        esc(present::LOAD_NOTE)
    );
    let axis = s
        .latencies
        .iter()
        .filter(|t| t.count > 0)
        .map(|t| t.max_ms)
        .fold(0.0_f64, f64::max);
    o.push_str(
        "<table id=\"load-latencies\"><tr><th>Measure</th><th class=\"num\">Count</th>\
<th class=\"num\">p50 ms</th><th class=\"num\">p90 ms</th><th class=\"num\">p99 ms</th>\
<th class=\"num\">p99.9 ms</th><th class=\"num\">Max ms</th><th>Percentiles</th></tr>",
    );
    for t in &s.latencies {
        // Bars for p50, p90, p99, p99.9 and max on the axis of the largest max (linear).
        let x = |ms: f64| {
            if axis > 0.0 {
                (ms / axis * 200.0).clamp(1.0, 200.0)
            } else {
                1.0
            }
        };
        let bars: String = [t.p50_ms, t.p90_ms, t.p99_ms, t.p999_ms, t.max_ms]
            .iter()
            .zip(["#1b3a6b", "#2f5590", "#4d73ad", "#7d9bc9", "#b8211f"])
            .enumerate()
            .map(|(i, (ms, colour))| {
                format!(
                    "<rect x=\"0\" y=\"{}\" width=\"{:.1}\" height=\"5\" fill=\"{colour}\"/>",
                    1 + i * 6,
                    x(*ms)
                )
            })
            .collect();
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.1}</td>\
<td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td>\
<td class=\"num\">{:.1}</td><td><svg width=\"204\" height=\"31\" role=\"img\" \
aria-label=\"p50, p90, p99, p99.9 and max, linear, axis to {axis:.1} ms\">\
<rect x=\"0\" y=\"0\" width=\"200\" height=\"31\" fill=\"#e8e9eb\"/>{bars}</svg></td></tr>",
            esc(&t.measure),
            t.count,
            t.p50_ms,
            t.p90_ms,
            t.p99_ms,
            t.p999_ms,
            t.max_ms
        );
    }
    let _ = write!(
        o,
        "</table><p class=\"muted\">Bars: p50, p90, p99, p99.9 and max, on one linear axis to {axis:.1} ms (the largest max).</p>"
    );
}

fn exchange(o: &mut String, ex: &Exchange) {
    let status = present::outcome_text(ex);
    let _ = write!(
        o,
        "<p class=\"muted\">{} - at {} - <b>{} {}</b> → {status} ({:.0} ms){}</p>",
        esc(&ex.party),
        esc(&ex.at.format("%H:%M:%S%.3f UTC").to_string()),
        esc(&ex.method),
        esc(&ex.url),
        ex.duration_ms,
        ex.error
            .as_deref()
            .map(|e| format!(" - transport error: {}", esc(e)))
            .unwrap_or_default()
    );
    let headers = |hs: &[(String, String)]| {
        hs.iter()
            .map(|(k, v)| format!("{k}: {v}"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    for (what, text) in [
        ("Request headers", headers(&ex.request_headers)),
        ("Request body", ex.request_body.clone().unwrap_or_default()),
        ("Response headers", headers(&ex.response_headers)),
        (
            "Response body",
            ex.response_body.clone().unwrap_or_default(),
        ),
    ] {
        if !text.is_empty() {
            let _ = write!(
                o,
                "<p class=\"muted\"><b>{what}</b></p><pre>{}</pre>",
                esc(&text)
            );
        }
    }
}

fn scenario(o: &mut String, i: usize, s: &ScenarioRecord) {
    let title = present::scenario_title(s);
    let refs = s.refs();
    let _ = write!(
        o,
        "<h3 id=\"{}\">{} {}</h3><p class=\"muted\">{} ({}) - tags {}{}</p>\
<table class=\"steps\"><colgroup><col/><col style=\"width:7rem\"/><col style=\"width:6rem\"/></colgroup>\
<tr><th>Step</th><th>Result</th><th class=\"num\">Duration</th></tr>",
        anchor(i),
        esc(&title),
        badge(s.status),
        esc(&s.location),
        esc(&s.feature),
        esc(&present::tags_text(s)),
        if refs.is_empty() {
            String::new()
        } else {
            format!(" - your ref {}", esc(&refs.join(", ")))
        }
    );
    for (k, step) in s.steps.iter().enumerate() {
        let _ = write!(
            o,
            "<tr class=\"step\"><td><b>{}</b> {}",
            esc(step.keyword.trim()),
            esc(&step.text)
        );
        for t in &step.timings {
            let over = t.millis > t.limit_millis;
            let _ = write!(
                o,
                "<br/><span class=\"timing{}\">{} {:.0} ms (limit {:.0} ms){}</span>",
                if over { " over" } else { "" },
                esc(&t.measure),
                t.millis,
                t.limit_millis,
                if over { " - over the limit" } else { "" }
            );
        }
        if step.status == Status::Passed
            && let Some(line) = present::observed_line(step)
        {
            let _ = write!(
                o,
                "<br/><span class=\"observed\">Observed: {}</span>",
                esc(&line)
            );
        }
        if step.status == Status::Failed {
            let _ = write!(
                o,
                "<div class=\"failure\"><p>{}</p>",
                esc(&present::plain(
                    step.message
                        .as_deref()
                        .unwrap_or("No failure message was recorded.")
                ))
            );
            if let Some(class) = step.failure_class {
                let _ = write!(
                    o,
                    "<p><b>Class: {}. To act: {}.</b></p>",
                    esc(class.label()),
                    esc(class.owner())
                );
            }
            if let Some((ex, whence)) = present::judged_exchange(s, k) {
                let _ = write!(
                    o,
                    "<details class=\"judged\"><summary>Judged exchange ({}): {} {} → {}</summary>",
                    esc(whence),
                    esc(&ex.method),
                    esc(&ex.url),
                    present::outcome_text(ex)
                );
                exchange(o, ex);
                o.push_str("</details>");
            }
            o.push_str("</div>");
        } else if let Some(m) = &step.message {
            let _ = write!(
                o,
                "<br/><span class=\"muted\">{}</span>",
                esc(&present::plain(m))
            );
        }
        for v in &step.view_data {
            let _ = write!(
                o,
                "<details class=\"view-data\"><summary>View data of {} (decoded, verified, personal data masked)</summary><pre>{}</pre></details>",
                esc(&v.pei),
                esc(&v.claims)
            );
        }
        let _ = write!(
            o,
            "</td><td>{}</td><td class=\"num\">{:.0} ms</td></tr>",
            badge(step.status),
            step.duration_ms
        );
    }
    o.push_str("</table>");
}

fn appendix(o: &mut String, record: &RunRecord, manifest_sha256: Option<&str>) {
    let h = &record.header;
    o.push_str(
        "<h2>Appendix A - Configuration used</h2><p class=\"muted\">Secrets removed.</p><table>\
<colgroup><col style=\"width:16rem\"/><col/><col/></colgroup><tr><th>Setting</th><th>Value</th><th>Meaning</th></tr>",
    );
    for (k, v) in &h.configuration {
        let _ = write!(
            o,
            "<tr><td><code>{}</code></td><td>{}</td><td class=\"muted\">{}</td></tr>",
            esc(k),
            esc(v),
            esc(present::meaning(k).unwrap_or(""))
        );
    }
    o.push_str("</table><h2>Appendix B - Certificates</h2><table><tr><th>Role</th><th>Subject</th><th>SHA-256 fingerprint</th><th>Expires (UTC)</th></tr>");
    for c in &h.certificates {
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
            esc(&c.role),
            esc(&c.subject),
            esc(&c.sha256_fingerprint),
            c.not_after.format("%Y-%m-%d %H:%M")
        );
    }
    let _ = write!(
        o,
        "</table><h2>Appendix C - Run log and evidence manifest</h2><p>Run log SHA-256: <code>{}</code></p>\
<p>Manifest SHA-256: <code>{}</code></p>\
<p class=\"muted\">This page was rendered from the run log alone; manifest.json and seal.json \
beside it pin every evidence file (check with <code>pdp-harness verify</code>).</p>",
        esc(&record.run_log_sha256),
        esc(manifest_sha256.unwrap_or("not sealed"))
    );
}

fn sign_off(o: &mut String, record: &RunRecord) {
    let scope = present::scope(record);
    let so = record.sign_off.clone().unwrap_or_default();
    let _ = write!(
        o,
        "<h2 id=\"sign-off\">Sign-off</h2><p><b>What is attested:</b> {}</p><p><b>In scope:</b></p><ul>",
        esc(&scope.attested)
    );
    for i in &scope.included {
        let _ = write!(o, "<li>{}</li>", esc(i));
    }
    o.push_str("</ul><p><b>Excluded:</b></p><ul>");
    for e in &scope.excluded {
        let _ = write!(o, "<li>{}</li>", esc(e));
    }
    o.push_str("</ul><table><tr><th>Input</th><th>SHA-256</th></tr>");
    for (name, sha) in present::input_lines(record) {
        let _ = write!(
            o,
            "<tr><td>{}</td><td><code>{}</code></td></tr>",
            esc(&name),
            esc(&sha)
        );
    }
    let _ = write!(
        o,
        "</table><p><b>Ticket reference:</b> {}</p><p><b>Notes and deviations:</b></p><pre>{}</pre>",
        esc(so.ticket.as_deref().unwrap_or("none given")),
        esc(so.notes.as_deref().unwrap_or("none given"))
    );
    for (role, name) in [("Reviewed by", &so.reviewer), ("Approved by", &so.approver)] {
        let _ = write!(
            o,
            "<h3>{role}</h3><table class=\"sign\"><tr><th>Name</th><td>{}</td></tr><tr><th>Role</th><td></td></tr>\
<tr><th>Date</th><td></td></tr><tr><th>Signature</th><td></td></tr></table>",
            esc(name.as_deref().unwrap_or(""))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::esc;

    #[test]
    fn markup_in_recorded_text_is_escaped() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
    }
}
