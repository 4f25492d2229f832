//! The evidence report: a [`RunRecord`] rendered as the A4 PDF a test manager reads and signs.
//!
//! printpdf 0.12 (without `text_layout`) only places glyphs, so the layout is done here by a
//! small cursor-based engine, [`Layout`]. It flows headings, wrapped paragraphs, key/value
//! blocks, boxed notes and tables down the page. Tables have fixed column widths, wrap text
//! inside cells, stripe alternate rows, repeat their header after a page break and never split a
//! row across pages unless the row is taller than a page. Text is measured with the glyph widths
//! of the embedded DejaVu fonts, so wrapping and right alignment are exact. The running header and
//! the "Page i of N" footer are added after the body is laid out, when N is known.
//!
//! The output is deterministic: the font resources have fixed names, the document dates come from
//! the run's start, and the trailer ID is derived from the record, so the same record always gives
//! the same bytes.

mod fonts;
mod layout;
mod sections;
mod style;
#[cfg(test)]
mod tests;

use printpdf::{Mm, OffsetDateTime, Op, PdfDocument, PdfFont, PdfPage, PdfSaveOptions};

use super::present;
use crate::record::run::RunRecord;
use fonts::Fonts;
use layout::Layout;
use sections::*;

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font could not be loaded: {0}")]
    Font(String),
    #[error("PDF could not be written: {0}")]
    Write(String),
}

/// Render the evidence PDF. Deterministic: the same record gives the same bytes (set the document info dates from record.header.started_at, not from the clock; no random ids).
/// `manifest_sha256`: the digest of the bundle's `manifest.json`, printed on the cover and in
/// the appendix so the signed PDF pins every other evidence file.
pub fn render_pdf(
    record: &crate::record::run::RunRecord,
    manifest_sha256: Option<&str>,
) -> Result<Vec<u8>, PdfError> {
    let fonts = Fonts::load()?;
    // Two passes: the coverage matrix gives each scenario's page, known once the detail is
    // laid out. The matrix's page column has the same width in both passes, so the second
    // pass lays out exactly as the first.
    let (_, pages) = lay_out(&fonts, record, manifest_sha256, None);
    let (layout, _) = lay_out(&fonts, record, manifest_sha256, Some(&pages));

    let header = format!(
        "{} - {}",
        present::framing(record).header,
        record.header.run_id
    );
    let sha_prefix: String = record.run_log_sha256.chars().take(16).collect();
    let footer = format!(
        "pdp-harness {} - run log SHA-256 {}…",
        record.header.harness_version, sha_prefix
    );
    let pages = layout.finish(&header, &footer);
    write_document(record, &fonts, pages)
}

/// The whole report; returns the layout and the page each scenario's detail starts on.
fn lay_out<'f>(
    fonts: &'f Fonts,
    record: &RunRecord,
    manifest_sha256: Option<&str>,
    pages: Option<&[usize]>,
) -> (Layout<'f>, Vec<usize>) {
    let mut layout = Layout::new(fonts);
    cover(&mut layout, record, manifest_sha256);
    layout.new_page();
    findings(&mut layout, record, pages);
    layout.page_break();
    summary(&mut layout, record, pages);
    attempt_history(&mut layout, record);
    catalogue_coverage(&mut layout, record, pages);
    timings(&mut layout, record);
    load_figures(&mut layout, record);
    warnings(&mut layout, record);
    reporting(&mut layout, record);
    let detail_pages = detail(&mut layout, record);
    layout.page_break();
    appendix(&mut layout, record, manifest_sha256);
    sign_off(&mut layout, record);
    (layout, detail_pages)
}

fn write_document(
    record: &RunRecord,
    fonts: &Fonts,
    pages: Vec<Vec<Op>>,
) -> Result<Vec<u8>, PdfError> {
    let h = &record.header;
    let mut doc = PdfDocument::new(&format!(
        "Pensions Dashboards connection evidence - {}",
        h.run_id
    ));
    let info = &mut doc.metadata.info;
    info.author = "pdp-harness".to_owned();
    info.creator = format!("pdp-harness {}", h.harness_version);
    info.producer = format!("pdp-harness {} (printpdf)", h.harness_version);
    info.subject = format!("Evidence of run {} ({} pack)", h.run_id, h.selection.pack);
    info.identifier = h.run_id.clone();
    info.keywords = vec![
        "Pensions Dashboards".to_owned(),
        "connection evidence".to_owned(),
        h.selection.pack.clone(),
    ];
    if let Ok(started) = OffsetDateTime::from_unix_timestamp(h.started_at.timestamp()) {
        info.creation_date = started;
        info.modification_date = started;
        info.metadata_date = started;
    }
    for face in [&fonts.regular, &fonts.bold] {
        doc.resources
            .fonts
            .map
            .insert(face.id.clone(), PdfFont::new(face.parsed.clone()));
    }
    let pages = pages
        .into_iter()
        .map(|ops| PdfPage::new(Mm(210.0), Mm(297.0), ops))
        .collect();
    doc.with_pages(pages);

    let options = PdfSaveOptions {
        subset_fonts: false,
        ..PdfSaveOptions::default()
    };
    let mut warnings = Vec::new();
    let mut lo = doc.to_lopdf_document(&options, &mut warnings);
    // printpdf puts two pseudo-random strings in the trailer ID; use ones derived from the
    // record instead so that the output is reproducible.
    let id = document_id(record);
    let mut replaced = false;
    if let Ok(array) = lo
        .trailer
        .get_mut(b"ID")
        .and_then(|object| object.as_array_mut())
    {
        replaced = true;
        for item in array.iter_mut() {
            match item.as_str_mut() {
                Ok(bytes) => *bytes = id.clone().into_bytes(),
                Err(_) => replaced = false,
            }
        }
    }
    if !replaced {
        lo.trailer.remove(b"ID");
    }
    compress_streams(&mut lo);
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
}

/// Deflate every stream not yet filtered, as lopdf's `compress` does but not at its best
/// level, which took most of the rendering time: the embedded fonts (1.4 MB, the same in every
/// PDF) get their bytes deflated by build.rs, the rest (page content, small) flate's default.
fn compress_streams(doc: &mut lopdf::Document) {
    use flate2::{Compression, write::ZlibEncoder};
    use std::io::Write as _;
    let deflated_fonts = [
        (fonts::FONT_REGULAR, fonts::FONT_REGULAR_DEFLATED),
        (fonts::FONT_BOLD, fonts::FONT_BOLD_DEFLATED),
    ];
    for object in doc.objects.values_mut() {
        let lopdf::Object::Stream(stream) = object else {
            continue;
        };
        if !stream.allows_compression || stream.dict.get(b"Filter").is_ok() {
            continue;
        }
        let compressed = match deflated_fonts
            .iter()
            .find(|(raw, _)| stream.content == *raw)
        {
            Some((_, deflated)) => deflated.to_vec(),
            None => {
                let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
                match encoder
                    .write_all(&stream.content)
                    .and_then(|()| encoder.finish())
                {
                    Ok(compressed) => compressed,
                    Err(_) => continue, // left as it is: a valid, larger file
                }
            }
        };
        if compressed.len() + 19 < stream.content.len() {
            stream.dict.set("Filter", "FlateDecode");
            stream.set_content(compressed);
        }
    }
}

/// 32 hex digits derived from the record (two FNV-1a hashes), used as the trailer ID.
fn document_id(record: &RunRecord) -> String {
    let h = &record.header;
    let input = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}",
        h.run_id,
        record.run_log_sha256,
        h.harness_version,
        h.started_at.to_rfc3339()
    );
    let fnv = |seed: u64| {
        input.bytes().fold(seed, |acc, b| {
            (acc ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        })
    };
    format!(
        "{:016x}{:016x}",
        fnv(0xcbf2_9ce4_8422_2325),
        fnv(0x6c62_272e_07bb_0142)
    )
}
