//! `report.html`: the evidence as one self-contained page (inline style and SVG, no scripts,
//! nothing fetched), for browsing a run in a CI artefact. Same content as the PDF, rendered
//! from the same record.

use std::fmt::Write as _;

use super::record::{Exchange, RunRecord, ScenarioRecord, Status, attempt_history_text};

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
        status.as_str().to_uppercase()
    )
}

fn anchor(i: usize) -> String {
    format!("scenario-{}", i + 1)
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Helvetica,Arial,sans-serif;color:#22242a;\
margin:0 auto;max-width:60rem;padding:1.5rem;line-height:1.4}\
h1,h2,h3{color:#1b3a6b}h2{border-bottom:2px solid #1b3a6b;padding-bottom:.2rem;margin-top:2rem}\
table{border-collapse:collapse;width:100%;margin:.5rem 0 1rem;font-size:.9rem}\
th{background:#e2e4e8;text-align:left}th,td{padding:.3rem .5rem;border-bottom:1px solid #dcdee2;vertical-align:top}\
td.num,th.num{text-align:right}.badge{font-size:.75rem;font-weight:bold;padding:.1rem .4rem;border-radius:.2rem}\
.passed{background:#dcefe1;color:#1b7a3e}.failed{background:#fce7e6;color:#b8211f}\
.skipped{background:#e8e9eb;color:#595e66}.interrupted{background:#fff2d5;color:#995d00}\
.verdict{padding:1rem;font-size:1.2rem;font-weight:bold;border-radius:.3rem}\
.verdict.passed{background:#1b7a3e;color:#fff}.verdict.failed,.verdict.incomplete,.verdict.no_scenarios{background:#b8211f;color:#fff}\
.muted{color:#666b75;font-size:.85rem}pre{background:#eceef0;padding:.5rem;overflow-x:auto;font-size:.8rem;white-space:pre-wrap}\
.sign td{height:2.2rem}.sign td:last-child{border-bottom:1px solid #22242a;width:70%}";

/// The record as a single HTML page.
pub fn render_html(record: &RunRecord) -> String {
    let h = &record.header;
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>Pensions Dashboards connection evidence - {run}</title><style>{STYLE}</style></head><body>\
<h1>Pensions Dashboards connection evidence</h1>",
        run = esc(&h.run_id)
    );
    let verdict_class = serde_json::to_value(record.verdict)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let _ = write!(
        o,
        "<p class=\"verdict {verdict_class}\">{}</p>",
        esc(record.verdict.plain_words())
    );
    let rows: Vec<(&str, String)> = vec![
        ("Run id", h.run_id.clone()),
        ("Organisation", h.target.organisation.clone()),
        ("Environment", h.target.environment.clone()),
        ("Holdername GUID", h.target.holdername_guid.clone()),
        ("Find URL", h.target.find_url.clone()),
        ("View URL", h.target.view_url.clone()),
        (
            "Target file",
            h.target
                .target_file
                .clone()
                .unwrap_or_else(|| "none - embedded default".to_owned()),
        ),
        (
            "Started (UTC)",
            h.started_at.format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        (
            "Finished (UTC)",
            record.ended_at.map_or_else(
                || "not finished - run interrupted".to_owned(),
                |t| t.format("%Y-%m-%d %H:%M:%S").to_string(),
            ),
        ),
        ("Harness version", h.harness_version.clone()),
        ("Technical standards", h.standards.technical.clone()),
        ("Data standards", h.standards.data.clone()),
        ("Reporting standards", h.standards.reporting.clone()),
        ("Find/view contract", h.standards.find_view_contract.clone()),
        ("View data schema", h.standards.view_data_schema.clone()),
        (
            "Test pack",
            h.test_pack
                .clone()
                .unwrap_or_else(|| "not recorded".to_owned()),
        ),
        (
            "Selection",
            format!(
                "pack {}, tags {}",
                h.selection.pack,
                h.selection.tags.as_deref().unwrap_or("none")
            ),
        ),
        (
            "Personal data",
            if h.personal_data_revealed {
                "REVEALED at the user's request".to_owned()
            } else {
                "redacted".to_owned()
            },
        ),
    ];
    let mut rows = rows;
    if let Some(rerun) = &h.rerun {
        rows.push((
            "Re-run of",
            format!(
                "run {} (the scenarios that did not pass; runs in the chain: {})",
                rerun.rerun_of,
                rerun.chain.join(", ")
            ),
        ));
    }
    o.push_str("<table>");
    for (k, v) in rows {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(&v));
    }
    o.push_str("</table>");

    summary(&mut o, record);
    attempt_history(&mut o, record);
    timings(&mut o, record);
    warnings(&mut o, record);
    reporting(&mut o, record);
    o.push_str("<h2>Scenario detail</h2>");
    for (i, s) in record.scenarios.iter().enumerate() {
        scenario(&mut o, i, s);
    }
    appendix(&mut o, record);
    o.push_str(
        "<h2>Sign-off</h2><p>I have reviewed the evidence in this report.</p>\
<table class=\"sign\"><tr><th>Name</th><td></td></tr><tr><th>Role</th><td></td></tr>\
<tr><th>Date</th><td></td></tr><tr><th>Signature</th><td></td></tr></table></body></html>\n",
    );
    o
}

fn summary(o: &mut String, record: &RunRecord) {
    o.push_str("<h2>Results summary</h2>");
    let c = record.counts;
    let _ = write!(
        o,
        "<p>{} scenarios: {} passed, {} failed, {} skipped, {} interrupted.</p>",
        c.total(),
        c.passed,
        c.failed,
        c.skipped,
        c.interrupted
    );
    o.push_str(
        "<h2>Coverage matrix</h2><table><tr><th>Case</th><th>Stage</th><th>Scenario</th>\
<th>Result</th><th class=\"num\">Seconds</th></tr>",
    );
    for (i, s) in record.scenarios.iter().enumerate() {
        let secs = s.ended_at.map_or_else(
            || "-".to_owned(),
            |end| {
                format!(
                    "{:.2}",
                    (end - s.started_at).num_milliseconds() as f64 / 1000.0
                )
            },
        );
        let _ = write!(
            o,
            "<tr><td><b>{}</b></td><td>{}</td><td><a href=\"#{}\">{}</a></td><td>{}</td>\
<td class=\"num\">{secs}</td></tr>",
            esc(s.case_id.as_deref().unwrap_or("-")),
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
        "<h2>Attempt history</h2><p>This run re-ran the scenarios of run {} that did not pass, with the scenarios they depend on.</p><table><tr><th>Case</th><th>Scenario</th><th>Re-run because</th><th>Attempts</th></tr>",
        esc(&rerun.rerun_of)
    );
    for s in &record.scenarios {
        if let Some(h) = rerun.history_of(s) {
            let _ = write!(
                o,
                "<tr><td><b>{}</b></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(s.case_id.as_deref().unwrap_or("-")),
                esc(&s.name),
                esc(&h.reason),
                esc(&attempt_history_text(h, s.status))
            );
        }
    }
    o.push_str("</table>");
}

/// The timing table and, per measure, an SVG bar chart of p50/p95/max as a share of the limit.
/// Each reporting submission, the same-UTC-day check and the reconciliation.
fn reporting(o: &mut String, record: &RunRecord) {
    let r = &record.reporting;
    if r.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Reporting submissions</h2><table><tr><th>UTC time</th><th>Endpoint</th>\
<th>Record id</th><th>Reason</th><th>Status</th><th>Outcome</th><th class=\"num\">Attempts</th>\
<th>Detail</th></tr>",
    );
    for s in &r.submissions {
        let ok = matches!(
            s.outcome.as_str(),
            "accepted" | "already_accepted" | "dry_run"
        );
        let _ = write!(
            o,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td>\
<td><span class=\"badge {}\">{}{}</span>{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&s.at.format("%Y-%m-%d %H:%M:%S%.3f").to_string()),
            esc(&s.endpoint),
            esc(&s.record_id),
            esc(&s.submission_reason),
            esc(&s.submission_status),
            if ok { "passed" } else { "failed" },
            esc(&s.outcome.replace('_', " ")),
            s.http_status.map(|h| format!(" {h}")).unwrap_or_default(),
            if s.codes.is_empty() {
                String::new()
            } else {
                format!(" <code>{}</code>", esc(&s.codes.join(", ")))
            },
            s.attempts,
            esc(&s.detail),
        );
    }
    o.push_str("</table>");
    for d in &r.day_checks {
        let _ = write!(
            o,
            "<p><strong>Same UTC day:</strong> <span class=\"badge {}\">{}</span></p>",
            if d.complete { "passed" } else { "failed" },
            esc(&d.description)
        );
    }
    for rec in &r.reconciliations {
        let _ = write!(
            o,
            "<h3>Reconciliation: reported against observed ({} to {} UTC)</h3><table><tr>\
<th>Measure</th><th class=\"num\">Reported</th><th class=\"num\">Observed</th><th>Verdict</th></tr>",
            esc(&rec.window_from.format("%H:%M:%S").to_string()),
            esc(&rec.window_to.format("%H:%M:%S").to_string()),
        );
        for f in &rec.findings {
            let _ = write!(
                o,
                "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(&f.measure),
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
    let mut rows = String::new();
    for s in &record.scenarios {
        let case = s.case_id.clone().unwrap_or_else(|| s.name.clone());
        for w in s.warnings() {
            let _ = write!(rows, "<tr><td>{}</td><td>{}</td></tr>", esc(&case), esc(w));
        }
    }
    if rows.is_empty() {
        return;
    }
    let _ = write!(
        o,
        "<h2>Warnings</h2><p>Where the public sources disagree the harness warns instead of failing; each warning gives its reason. <code>[contract] strict = true</code> makes them failures.</p><table><tr><th>Case</th><th>Warning</th></tr>{rows}</table>"
    );
}

fn timings(o: &mut String, record: &RunRecord) {
    if record.timing_summary.is_empty() {
        return;
    }
    o.push_str(
        "<h2>Timings</h2><table><tr><th>Measure</th><th class=\"num\">Count</th>\
<th class=\"num\">p50 ms</th><th class=\"num\">p95 ms</th><th class=\"num\">Max ms</th>\
<th class=\"num\">Limit ms</th><th>Verdict</th><th>Share of the limit (red line)</th></tr>",
    );
    for t in &record.timing_summary {
        let verdict = if t.over_limit == 0 {
            badge(Status::Passed)
        } else {
            format!("<span class=\"badge failed\">{} OVER</span>", t.over_limit)
        };
        let bar = |ms: f64| ((ms / t.limit_ms.max(1.0)).clamp(0.0, 1.2) / 1.2 * 200.0).max(0.5);
        let _ = write!(
            o,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{:.0}</td>\
<td class=\"num\">{:.0}</td><td class=\"num\">{:.0}</td><td class=\"num\">{:.0}</td><td>{verdict}</td>\
<td><svg width=\"204\" height=\"28\" role=\"img\" aria-label=\"p50, p95 and max against the limit\">\
<rect x=\"0\" y=\"0\" width=\"200\" height=\"28\" fill=\"#e8e9eb\"/>\
<rect x=\"0\" y=\"2\" width=\"{:.1}\" height=\"7\" fill=\"#1b3a6b\"/>\
<rect x=\"0\" y=\"10\" width=\"{:.1}\" height=\"7\" fill=\"#4d73ad\"/>\
<rect x=\"0\" y=\"18\" width=\"{:.1}\" height=\"7\" fill=\"{}\"/>\
<line x1=\"166.7\" y1=\"0\" x2=\"166.7\" y2=\"28\" stroke=\"#b8211f\" stroke-width=\"2\"/></svg></td></tr>",
            esc(&t.measure),
            t.count,
            t.p50_ms,
            t.p95_ms,
            t.max_ms,
            t.limit_ms,
            bar(t.p50_ms),
            bar(t.p95_ms),
            bar(t.max_ms),
            if t.max_ms > t.limit_ms {
                "#b8211f"
            } else {
                "#1b7a3e"
            }
        );
    }
    o.push_str("</table>");
}

fn exchange(o: &mut String, ex: &Exchange) {
    let status = ex
        .status
        .map_or_else(|| "no response".to_owned(), |s| s.to_string());
    let _ = write!(
        o,
        "<p class=\"muted\">{} - <b>{} {}</b> → {status} ({:.0} ms){}</p>",
        esc(&ex.party),
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
                "<details><summary>{what}</summary><pre>{}</pre></details>",
                esc(&text)
            );
        }
    }
}

fn scenario(o: &mut String, i: usize, s: &ScenarioRecord) {
    let title = match &s.case_id {
        Some(c) => format!("{c} {}", s.name),
        None => s.name.clone(),
    };
    let _ = write!(
        o,
        "<h3 id=\"{}\">{} {}</h3><p class=\"muted\">{} ({}) - tags {}</p>\
<table><tr><th>Step</th><th>Result</th><th class=\"num\">Duration</th></tr>",
        anchor(i),
        esc(&title),
        badge(s.status),
        esc(&s.location),
        esc(&s.feature),
        esc(&s
            .tags
            .iter()
            .map(|t| format!("@{}", t.trim_start_matches('@')))
            .collect::<Vec<_>>()
            .join(" "))
    );
    for step in &s.steps {
        let _ = write!(
            o,
            "<tr><td><b>{}</b> {}",
            esc(step.keyword.trim()),
            esc(&step.text)
        );
        if let Some(m) = &step.message {
            let _ = write!(o, "<br><span class=\"muted\">{}</span>", esc(m));
        }
        if let Some(class) = step.failure_class {
            let _ = write!(
                o,
                "<br><span class=\"muted\">class: {}; to act: {}</span>",
                esc(class.label()),
                esc(class.owner())
            );
        }
        if step.status == Status::Failed {
            for ex in &step.exchanges {
                exchange(o, ex);
            }
        } else if !step.exchanges.is_empty() {
            let _ = write!(
                o,
                "<br><span class=\"muted\">{} HTTP exchange(s) recorded</span>",
                step.exchanges.len()
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

fn appendix(o: &mut String, record: &RunRecord) {
    let h = &record.header;
    o.push_str(
        "<h2>Appendix A - Configuration used</h2><p class=\"muted\">Secrets removed.</p><table>",
    );
    for (k, v) in &h.configuration {
        let _ = write!(o, "<tr><th>{}</th><td>{}</td></tr>", esc(k), esc(v));
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
        "</table><h2>Appendix C - Run log</h2><p>Run log SHA-256: <code>{}</code></p>\
<p class=\"muted\">This page was rendered from the run log alone; manifest.json and seal.json \
beside it pin every evidence file (check with <code>pdp-harness verify</code>).</p>",
        esc(&record.run_log_sha256)
    );
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
