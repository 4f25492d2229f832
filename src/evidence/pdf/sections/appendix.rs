//! The appendices (configuration, certificates, run log and manifest digests) and the sign-off
//! page a test manager signs.

use super::super::layout::*;
use super::super::style::*;
use super::cover::inputs_cell;
use crate::evidence::present;
use crate::record::run::*;

pub(crate) fn appendix(l: &mut Layout, record: &RunRecord, manifest_sha256: Option<&str>) {
    let h = &record.header;
    l.section("Appendix A - Configuration used");
    if h.configuration.is_empty() {
        l.paragraph(para("No configuration was recorded.", BODY));
    } else {
        l.paragraph(para(
            "The configuration in force for this run, with secrets removed.",
            NOTE,
        ));
        l.gap(4.0);
        l.begin_table(columns(&[
            ("Setting", 62.0, Align::Left),
            ("Value", 0.0, Align::Left),
        ]));
        for (k, v) in &h.configuration {
            let mut key = Cell::text(k.as_str(), SMALL.bold());
            if let Some(m) = present::meaning(k) {
                key = key.with(para(m, NOTE));
            }
            l.row(vec![key, Cell::text(v.as_str(), SMALL)]);
        }
        l.end_table();
    }

    l.section("Appendix B - Certificates");
    certificates(l, &h.certificates);

    l.section("Appendix C - Run log and evidence manifest");
    l.paragraph(vec![
        span("Run log SHA-256: ", BODY.bold()),
        span(record.run_log_sha256.as_str(), BODY),
    ]);
    if let Some(digest) = manifest_sha256 {
        l.paragraph(vec![
            span("Manifest SHA-256: ", BODY.bold()),
            span(digest, BODY),
        ]);
    }
    l.gap(3.0);
    l.paragraph(para(
        "This report was rendered from the run log alone. manifest.json lists the SHA-256 of \
         every other file of the evidence bundle (run log, run.json, junit.xml, cucumber.json, \
         and the feature files, test pack and configuration the run used); its own SHA-256 is \
         printed above, and seal.json adds this PDF's. \"pdp-harness verify <run directory>\" \
         recomputes them all and names any file that changed.",
        NOTE,
    ));
}

pub(crate) fn certificates(l: &mut Layout, certs: &[CertificateInfo]) {
    if certs.is_empty() {
        l.paragraph(para("No certificates were recorded.", BODY));
        return;
    }
    l.paragraph(para(
        "Certificates the harness presented or trusted (public facts only; keys are never \
         recorded).",
        NOTE,
    ));
    l.gap(4.0);
    l.begin_table(columns(&[
        ("Role", 28.0, Align::Left),
        ("Subject", 0.0, Align::Left),
        ("SHA-256 fingerprint", 58.0, Align::Left),
        ("Expires (UTC)", 26.0, Align::Left),
    ]));
    for c in certs {
        l.row(vec![
            Cell::text(c.role.as_str(), SMALL.bold()),
            Cell::text(c.subject.as_str(), SMALL),
            Cell::text(c.sha256_fingerprint.as_str(), CODE),
            Cell::text(c.not_after.format("%Y-%m-%d %H:%M").to_string(), SMALL),
        ]);
    }
    l.end_table();
}

/// What is attested, the scope and what was excluded, the inputs by digest, the
/// organisation's ticket, the test manager's notes, and a block each for reviewer and approver.
pub(crate) fn sign_off(l: &mut Layout, record: &RunRecord) {
    let scope = present::scope(record);
    let so = record.sign_off.clone().unwrap_or_default();
    l.page_break();
    l.section("Sign-off");
    l.paragraph(vec![
        span("What is attested: ", BODY.bold()),
        span(scope.attested.as_str(), BODY),
    ]);
    l.gap(4.0);
    l.paragraph(para("In scope", BODY.bold()));
    for i in &scope.included {
        l.paragraph(para(format!("•  {i}"), SMALL));
    }
    l.gap(3.0);
    l.paragraph(para("Excluded", BODY.bold()));
    for e in &scope.excluded {
        l.paragraph(para(format!("•  {e}"), SMALL));
    }
    l.gap(4.0);
    let mut rows: Vec<(String, Vec<Span>)> = vec![(
        "Inputs (SHA-256)".to_owned(),
        inputs_cell(record).unwrap_or_else(|| {
            para(
                "the test pack and feature file digests were not recorded",
                SMALL,
            )
        }),
    )];
    rows.push((
        "Ticket reference".to_owned(),
        para(
            so.ticket.as_deref().unwrap_or("none given (--ticket REF)"),
            BODY,
        ),
    ));
    l.key_values(mm(45.0), rows);
    l.gap(4.0);
    l.paragraph(para("Notes and deviations", BODY.bold()));
    match &so.notes {
        Some(notes) => {
            let paras: Vec<Vec<Span>> = notes.lines().map(|line| para(line, SMALL)).collect();
            l.block(
                MARGIN,
                CONTENT_W,
                &paras,
                None,
                Some(BoxStyle {
                    bg: PALE_GREY,
                    accent: Some(NAVY),
                    inset_left: 0.0,
                    inset_right: 0.0,
                    pad: 4.0,
                }),
            );
        }
        None => l.paragraph(para(
            "none given (--notes FILE at run or report time)",
            NOTE,
        )),
    }
    let fields = [
        ("Name", 24.0),
        ("Role", 24.0),
        ("Date", 24.0),
        ("Signature", 34.0),
    ];
    let block_h: f32 = fields.iter().map(|f| f.1).sum::<f32>() + 24.0;
    for (title, name) in [("Reviewed by", &so.reviewer), ("Approved by", &so.approver)] {
        l.gap(8.0);
        l.ensure(block_h);
        l.paragraph(para(title, Style::new(Weight::Bold, 10.0, NAVY)));
        l.gap(2.0);
        let label_w = mm(28.0);
        let line_end = MARGIN + mm(130.0);
        for (label, h) in fields {
            let top = l.y;
            let line_y = top + h - 6.0;
            l.text_at(
                MARGIN,
                line_y - 3.0,
                &span(label, BODY.bold().colored(MUTED)),
            );
            if label == "Name"
                && let Some(n) = name
            {
                l.text_at(
                    MARGIN + label_w + 2.0,
                    line_y - 3.0,
                    &span(n.as_str(), BODY),
                );
            }
            l.hline(MARGIN + label_w, line_end, line_y, 0.6, TEXT);
            l.y = top + h;
        }
    }
}
