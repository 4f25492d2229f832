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

use chrono::{DateTime, Utc};
use printpdf::{
    Color, FontId, Line, LinePoint, Mm, OffsetDateTime, Op, PaintMode, ParsedFont, PdfDocument,
    PdfFont, PdfFontHandle, PdfPage, PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

use super::present;
use crate::record::run::{
    CertificateInfo, Exchange, RunRecord, ScenarioRecord, Status, StepRecord, Verdict,
    attempt_history_text, reading_order,
};

#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font could not be loaded: {0}")]
    Font(String),
    #[error("PDF could not be written: {0}")]
    Write(String),
}

const FONT_REGULAR: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const FONT_BOLD: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");

/// Bodies longer than this many bytes are cut, with "… (N more bytes)".
const BODY_EXCERPT_BYTES: usize = 1200;

// ---------------------------------------------------------------------------------------------
// Page geometry. Everything is in points, with y measured DOWN from the top of the page; the
// conversion to PDF's bottom-up coordinates happens only when an op is emitted.
// ---------------------------------------------------------------------------------------------

const PT_PER_MM: f32 = 72.0 / 25.4;

const fn mm(v: f32) -> f32 {
    v * PT_PER_MM
}

const PAGE_W: f32 = mm(210.0);
const PAGE_H: f32 = mm(297.0);
const MARGIN: f32 = mm(20.0);
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
const BODY_TOP: f32 = mm(22.0);
const BODY_BOTTOM: f32 = PAGE_H - mm(20.0);
const HEADER_BASELINE: f32 = mm(13.0);
const HEADER_RULE: f32 = mm(15.0);
const FOOTER_RULE: f32 = PAGE_H - mm(15.5);
const FOOTER_BASELINE: f32 = PAGE_H - mm(11.0);

/// Line height as a multiple of the font size.
const LEADING: f32 = 1.32;
/// Horizontal and vertical padding inside a table cell.
const CELL_PAD_X: f32 = 4.0;
const CELL_PAD_Y: f32 = 3.0;

// ---------------------------------------------------------------------------------------------
// Palette and text styles.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
struct Rgb3(f32, f32, f32);

impl Rgb3 {
    fn color(self) -> Color {
        Color::Rgb(Rgb {
            r: self.0,
            g: self.1,
            b: self.2,
            icc_profile: None,
        })
    }
}

const NAVY: Rgb3 = Rgb3(0.106, 0.227, 0.420);
const TEXT: Rgb3 = Rgb3(0.13, 0.14, 0.16);
const MUTED: Rgb3 = Rgb3(0.40, 0.42, 0.46);
const RULE: Rgb3 = Rgb3(0.70, 0.72, 0.76);
const HAIRLINE: Rgb3 = Rgb3(0.86, 0.87, 0.89);
const TABLE_HEAD: Rgb3 = Rgb3(0.886, 0.894, 0.910);
const ZEBRA: Rgb3 = Rgb3(0.961, 0.969, 0.980);
const CODE_BG: Rgb3 = Rgb3(0.925, 0.929, 0.937);
const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);

const GREEN: Rgb3 = Rgb3(0.106, 0.478, 0.243);
const PALE_GREEN: Rgb3 = Rgb3(0.863, 0.937, 0.882);
const RED: Rgb3 = Rgb3(0.722, 0.129, 0.122);
const PALE_RED: Rgb3 = Rgb3(0.988, 0.906, 0.902);
const AMBER: Rgb3 = Rgb3(0.925, 0.604, 0.063);
const DARK_AMBER: Rgb3 = Rgb3(0.600, 0.365, 0.0);
const PALE_AMBER: Rgb3 = Rgb3(1.0, 0.949, 0.835);
const GREY_STATUS: Rgb3 = Rgb3(0.35, 0.37, 0.40);
const PALE_GREY: Rgb3 = Rgb3(0.910, 0.914, 0.922);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Weight {
    Regular,
    Bold,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    weight: Weight,
    size: f32,
    color: Rgb3,
}

impl Style {
    const fn new(weight: Weight, size: f32, color: Rgb3) -> Style {
        Style {
            weight,
            size,
            color,
        }
    }
    const fn bold(self) -> Style {
        Style::new(Weight::Bold, self.size, self.color)
    }
    const fn colored(self, color: Rgb3) -> Style {
        Style::new(self.weight, self.size, color)
    }
}

const BODY: Style = Style::new(Weight::Regular, 9.0, TEXT);
const SMALL: Style = Style::new(Weight::Regular, 8.0, TEXT);
const NOTE: Style = Style::new(Weight::Regular, 8.0, MUTED);
const CODE: Style = Style::new(Weight::Regular, 7.5, TEXT);
const LABEL: Style = Style::new(Weight::Bold, 7.5, MUTED);
const TABLE_HEAD_TEXT: Style = Style::new(Weight::Bold, 8.0, TEXT);
const RUNNING: Style = Style::new(Weight::Regular, 7.5, MUTED);

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq)]
struct Span {
    text: String,
    style: Style,
}

fn span(text: impl Into<String>, style: Style) -> Span {
    Span {
        text: text.into(),
        style,
    }
}

/// A paragraph made of a single span.
fn para(text: impl Into<String>, style: Style) -> Vec<Span> {
    vec![span(text, style)]
}

// ---------------------------------------------------------------------------------------------
// Fonts and text measurement.
// ---------------------------------------------------------------------------------------------

struct Face {
    id: FontId,
    parsed: ParsedFont,
    /// Advance widths of ASCII characters, in em.
    ascii: [f32; 128],
    units_per_em: f32,
    /// Advance of glyph 0 (.notdef), in em, for characters the font lacks.
    missing: f32,
}

impl Face {
    fn load(bytes: &[u8], resource_name: &str) -> Result<Face, PdfError> {
        let mut warnings = Vec::new();
        let parsed = ParsedFont::from_bytes(bytes, 0, &mut warnings).ok_or_else(|| {
            PdfError::Font(format!("{resource_name}: not a usable TrueType font"))
        })?;
        if parsed.units_per_em == 0 {
            return Err(PdfError::Font(format!(
                "{resource_name}: units per em is 0"
            )));
        }
        let units_per_em = f32::from(parsed.units_per_em);
        let missing = parsed
            .get_glyph_width(0)
            .map_or(0.6, |w| f32::from(w) / units_per_em);
        let mut face = Face {
            id: FontId(resource_name.to_owned()),
            parsed,
            ascii: [missing; 128],
            units_per_em,
            missing,
        };
        for (code, slot) in (0u32..).zip(face.ascii.iter_mut()) {
            if let Some(w) = face
                .parsed
                .lookup_glyph_index(code)
                .and_then(|g| face.parsed.get_glyph_width(g))
            {
                *slot = f32::from(w) / face.units_per_em;
            }
        }
        Ok(face)
    }

    /// Advance width of `c` in em.
    fn em(&self, c: char) -> f32 {
        let code = u32::from(c);
        if let Some(w) = usize::try_from(code).ok().and_then(|i| self.ascii.get(i)) {
            return *w;
        }
        self.parsed
            .lookup_glyph_index(code)
            .and_then(|g| self.parsed.get_glyph_width(g))
            .map_or(self.missing, |w| f32::from(w) / self.units_per_em)
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn load() -> Result<Fonts, PdfError> {
        Ok(Fonts {
            regular: Face::load(FONT_REGULAR, "F1")?,
            bold: Face::load(FONT_BOLD, "F2")?,
        })
    }

    fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    fn char_width(&self, style: Style, c: char) -> f32 {
        self.face(style.weight).em(c) * style.size
    }

    fn text_width(&self, style: Style, text: &str) -> f32 {
        text.chars().map(|c| self.char_width(style, c)).sum()
    }

    /// `text` cut (with "…") so that it fits in `max_w`.
    fn fit(&self, style: Style, text: &str, max_w: f32) -> String {
        if self.text_width(style, text) <= max_w {
            return text.to_owned();
        }
        let budget = max_w - self.char_width(style, '…');
        let mut out = String::new();
        let mut w = 0.0;
        for c in text.chars() {
            w += self.char_width(style, c);
            if w > budget {
                break;
            }
            out.push(c);
        }
        out.push('…');
        out
    }

    /// Wrap a paragraph of styled spans to `max_w`. Breaks at spaces, or after `/ , ; & ? = -`,
    /// or, for a token longer than the line, anywhere. Newlines in the text start a new line and
    /// tabs become four spaces; a line's leading indentation is kept, and its continuation lines
    /// hang at the same indentation.
    fn wrap(&self, spans: &[Span], max_w: f32) -> Vec<WrappedLine> {
        let default_size = spans.first().map_or(BODY.size, |s| s.style.size);
        let mut glyphs: Vec<(char, usize, f32)> = Vec::new();
        for (i, s) in spans.iter().enumerate() {
            for c in s.text.chars() {
                match c {
                    '\n' => glyphs.push(('\n', i, 0.0)),
                    '\t' => {
                        let w = self.char_width(s.style, ' ');
                        glyphs.extend(std::iter::repeat_n((' ', i, w), 4));
                    }
                    c if c.is_control() => {}
                    c => glyphs.push((c, i, self.char_width(s.style, c))),
                }
            }
        }
        let mut lines = Vec::new();
        for paragraph in glyphs.split(|g| g.0 == '\n') {
            let lead: f32 = paragraph
                .iter()
                .take_while(|g| g.0 == ' ')
                .map(|g| g.2)
                .sum::<f32>()
                .min(max_w / 2.0);
            for (k, range) in break_lines(paragraph, max_w, lead).into_iter().enumerate() {
                let indent = if k == 0 { 0.0 } else { lead };
                lines.push(self.line_from(spans, &paragraph[range], default_size, indent));
            }
        }
        lines
    }

    fn line_from(
        &self,
        spans: &[Span],
        glyphs: &[(char, usize, f32)],
        default_size: f32,
        indent: f32,
    ) -> WrappedLine {
        let mut out: Vec<Span> = Vec::new();
        let mut current: Option<usize> = None;
        let mut width = indent;
        for &(c, i, w) in glyphs {
            width += w;
            if current != Some(i) {
                if let Some(s) = spans.get(i) {
                    out.push(span(String::new(), s.style));
                }
                current = Some(i);
            }
            if let Some(last) = out.last_mut() {
                last.text.push(c);
            }
        }
        let size = out
            .iter()
            .map(|s| s.style.size)
            .fold(None, |m: Option<f32>, s| Some(m.map_or(s, |m| m.max(s))))
            .unwrap_or(default_size);
        WrappedLine {
            spans: out,
            width,
            indent,
            size,
        }
    }
}

/// Greedy line breaking over measured glyphs; returns the glyph range of each line. Lines after
/// the first are `hang` narrower (they are drawn indented by that much).
fn break_lines(
    glyphs: &[(char, usize, f32)],
    max_w: f32,
    hang: f32,
) -> Vec<std::ops::Range<usize>> {
    const BREAK_AFTER: [char; 7] = ['/', ',', ';', '&', '?', '=', '-'];
    let n = glyphs.len();
    if n == 0 {
        // One empty line for an empty paragraph.
        return std::iter::once(0..0).collect();
    }
    let mut out = Vec::new();
    let mut start = 0;
    while start < n {
        let max_w = if start == 0 { max_w } else { max_w - hang };
        let mut w = 0.0;
        let mut i = start;
        // (end of this line, start of the next)
        let mut brk: Option<(usize, usize)> = None;
        while i < n {
            let (c, _, cw) = glyphs[i];
            if c == ' ' {
                if i > start {
                    brk = Some((i, i + 1));
                }
            } else if w + cw > max_w && i > start {
                break;
            }
            w += cw;
            if BREAK_AFTER.contains(&c) && i + 1 < n {
                brk = Some((i + 1, i + 1));
            }
            i += 1;
        }
        if i >= n {
            out.push(start..n);
            break;
        }
        let (mut end, mut next) = match brk {
            Some((end, next)) if end > start => (end, next),
            _ => (i, i),
        };
        while end > start + 1 && glyphs[end - 1].0 == ' ' {
            end -= 1;
        }
        while next < n && glyphs[next].0 == ' ' {
            next += 1;
        }
        out.push(start..end);
        start = next;
    }
    out
}

#[derive(Debug, Clone)]
struct WrappedLine {
    spans: Vec<Span>,
    /// Width including `indent`.
    width: f32,
    /// Hanging indent of a continuation line.
    indent: f32,
    /// Largest font size on the line.
    size: f32,
}

impl WrappedLine {
    fn height(&self) -> f32 {
        self.size * LEADING
    }
}

/// Baseline of a line of `size` set in a line box of height `h` whose top is `top`.
fn baseline(top: f32, h: f32, size: f32) -> f32 {
    top + h / 2.0 + 0.30 * size
}

// ---------------------------------------------------------------------------------------------
// Drawing primitives (top-down coordinates in, PDF ops out).
// ---------------------------------------------------------------------------------------------

fn push_text(ops: &mut Vec<Op>, fonts: &Fonts, x: f32, baseline: f32, s: &Span) {
    if s.text.is_empty() {
        return;
    }
    ops.push(Op::SetFillColor {
        col: s.style.color.color(),
    });
    ops.push(Op::StartTextSection);
    ops.push(Op::SetFont {
        font: PdfFontHandle::External(fonts.face(s.style.weight).id.clone()),
        size: Pt(s.style.size),
    });
    ops.push(Op::SetTextCursor {
        pos: Point {
            x: Pt(x),
            y: Pt(PAGE_H - baseline),
        },
    });
    ops.push(Op::ShowText {
        items: vec![TextItem::Text(s.text.clone())],
    });
    ops.push(Op::EndTextSection);
}

fn push_spans(ops: &mut Vec<Op>, fonts: &Fonts, x: f32, baseline: f32, spans: &[Span]) {
    let mut x = x;
    for s in spans {
        push_text(ops, fonts, x, baseline, s);
        x += fonts.text_width(s.style, &s.text);
    }
}

fn push_rect(ops: &mut Vec<Op>, x: f32, top: f32, w: f32, h: f32, fill: Rgb3) {
    if w <= 0.0 || h <= 0.0 {
        return;
    }
    ops.push(Op::SetFillColor { col: fill.color() });
    ops.push(Op::DrawRectangle {
        rectangle: Rect {
            mode: Some(PaintMode::Fill),
            ..Rect::from_xywh(Pt(x), Pt(PAGE_H - top - h), Pt(w), Pt(h))
        },
    });
}

fn push_line(ops: &mut Vec<Op>, from: (f32, f32), to: (f32, f32), thickness: f32, color: Rgb3) {
    let point = |(x, y): (f32, f32)| LinePoint {
        p: Point {
            x: Pt(x),
            y: Pt(PAGE_H - y),
        },
        bezier: false,
    };
    ops.push(Op::SetOutlineColor { col: color.color() });
    ops.push(Op::SetOutlineThickness { pt: Pt(thickness) });
    ops.push(Op::DrawLine {
        line: Line {
            points: vec![point(from), point(to)],
            is_closed: false,
        },
    });
}

// ---------------------------------------------------------------------------------------------
// The layout engine.
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone)]
struct Column {
    title: String,
    width: f32,
    align: Align,
}

/// Columns from `(title, width in mm, align)`; a width of 0 takes what the others leave.
fn columns(spec: &[(&str, f32, Align)]) -> Vec<Column> {
    let fixed: f32 = spec.iter().map(|c| mm(c.1)).sum();
    let flexible = spec.iter().filter(|c| c.1 <= 0.0).count().max(1) as f32;
    let rest = ((CONTENT_W - fixed) / flexible).max(mm(15.0));
    spec.iter()
        .map(|&(title, width, align)| Column {
            title: title.to_owned(),
            width: if width > 0.0 { mm(width) } else { rest },
            align,
        })
        .collect()
}

/// A table cell: paragraphs, optionally the first drawn as a coloured badge.
#[derive(Debug, Clone, Default)]
struct Cell {
    paras: Vec<Vec<Span>>,
    badge: Option<Rgb3>,
}

impl Cell {
    fn text(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            paras: vec![para(text, style)],
            badge: None,
        }
    }
    fn rich(spans: Vec<Span>) -> Cell {
        Cell {
            paras: vec![spans],
            badge: None,
        }
    }
    fn badge(text: impl Into<String>, fg: Rgb3, bg: Rgb3) -> Cell {
        Cell {
            paras: vec![para(text, Style::new(Weight::Bold, 7.0, fg))],
            badge: Some(bg),
        }
    }
    fn with(mut self, spans: Vec<Span>) -> Cell {
        self.paras.push(spans);
        self
    }
}

/// A coloured box drawn behind a block of lines, with an optional accent bar on its left.
#[derive(Debug, Clone, Copy)]
struct BoxStyle {
    bg: Rgb3,
    accent: Option<Rgb3>,
    /// Distance of the box from the left and right of the block.
    inset_left: f32,
    inset_right: f32,
    pad: f32,
}

struct Layout<'f> {
    fonts: &'f Fonts,
    finished: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// Top of the next thing to draw.
    y: f32,
    /// Where content starts on the current page (below a repeated table header).
    page_start: f32,
    /// The open table, whose header is repeated after a page break.
    table: Option<Vec<Column>>,
    zebra: bool,
}

impl<'f> Layout<'f> {
    fn new(fonts: &'f Fonts) -> Layout<'f> {
        Layout {
            fonts,
            finished: Vec::new(),
            ops: Vec::new(),
            y: BODY_TOP,
            page_start: BODY_TOP,
            table: None,
            zebra: false,
        }
    }

    /// The 1-based number of the page being laid out.
    fn page(&self) -> usize {
        self.finished.len() + 1
    }

    fn new_page(&mut self) {
        self.finished.push(std::mem::take(&mut self.ops));
        self.y = BODY_TOP;
        if let Some(cols) = self.table.clone() {
            self.draw_table_head(&cols);
        }
        self.page_start = self.y;
    }

    /// Start a new page unless the current one is still empty.
    fn page_break(&mut self) {
        if !self.at_page_start() {
            self.new_page();
        }
    }

    fn at_page_start(&self) -> bool {
        self.y <= self.page_start + 0.01
    }

    /// Make room for `h` points: break the page unless they fit (or the page is empty).
    fn ensure(&mut self, h: f32) {
        if self.y + h > BODY_BOTTOM && !self.at_page_start() {
            self.new_page();
        }
    }

    /// Vertical space; dropped at the top of a page.
    fn gap(&mut self, h: f32) {
        if !self.at_page_start() {
            self.y = (self.y + h).min(BODY_BOTTOM);
        }
    }

    fn text_at(&mut self, x: f32, baseline: f32, s: &Span) {
        push_text(&mut self.ops, self.fonts, x, baseline, s);
    }

    fn spans_at(&mut self, x: f32, baseline: f32, spans: &[Span]) {
        push_spans(&mut self.ops, self.fonts, x, baseline, spans);
    }

    fn rect(&mut self, x: f32, top: f32, w: f32, h: f32, fill: Rgb3) {
        push_rect(&mut self.ops, x, top, w, h, fill);
    }

    fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, color: Rgb3) {
        push_line(&mut self.ops, (x1, y), (x2, y), thickness, color);
    }

    // --- headings and paragraphs -------------------------------------------------------------

    /// Section heading with a rule under it, kept with the next 60 points.
    fn section(&mut self, title: &str) {
        let style = Style::new(Weight::Bold, 14.0, NAVY);
        self.gap(10.0);
        let lines = self.fonts.wrap(&para(title, style), CONTENT_W);
        let h: f32 = lines.iter().map(WrappedLine::height).sum();
        self.ensure(h + 8.0 + 60.0);
        for line in &lines {
            let lh = line.height();
            self.spans_at(
                MARGIN + line.indent,
                baseline(self.y, lh, line.size),
                &line.spans,
            );
            self.y += lh;
        }
        self.y += 2.0;
        self.hline(MARGIN, MARGIN + CONTENT_W, self.y, 0.8, NAVY);
        self.y += 6.0;
    }

    /// Sub-heading, optionally with a status badge at the right, kept with the next `keep`
    /// points.
    fn subheading(&mut self, title: &str, badge: Option<(&str, Rgb3, Rgb3)>, keep: f32) {
        let style = Style::new(Weight::Bold, 11.0, NAVY);
        let badge_style = Style::new(Weight::Bold, 7.5, TEXT);
        let badge_w = badge.map_or(0.0, |(t, _, _)| {
            self.fonts.text_width(badge_style, t) + 2.0 * CELL_PAD_X
        });
        const MAX_LINES: usize = 6;
        let mut lines = self
            .fonts
            .wrap(&para(title, style), CONTENT_W - badge_w - 8.0);
        if lines.len() > MAX_LINES {
            lines.truncate(MAX_LINES);
            if let Some(last) = lines.last_mut() {
                last.spans.push(span("…", style));
            }
        }
        let h: f32 = lines.iter().map(WrappedLine::height).sum();
        self.gap(8.0);
        self.ensure(h + keep);
        if let Some((text, fg, bg)) = badge {
            let lh = style.size * LEADING;
            let bh = badge_style.size * 1.9;
            let x = MARGIN + CONTENT_W - badge_w;
            let top = self.y + (lh - bh) / 2.0;
            self.rect(x, top, badge_w, bh, bg);
            self.text_at(
                x + CELL_PAD_X,
                baseline(top, bh, badge_style.size),
                &span(text, badge_style.colored(fg)),
            );
        }
        for line in &lines {
            let lh = line.height();
            self.spans_at(
                MARGIN + line.indent,
                baseline(self.y, lh, line.size),
                &line.spans,
            );
            self.y += lh;
        }
        self.y += 2.0;
    }

    /// A wrapped paragraph across the content width; may split between lines.
    fn paragraph(&mut self, spans: Vec<Span>) {
        self.block(MARGIN, CONTENT_W, &[spans], None, None);
    }

    /// Lines of wrapped paragraphs in the band `x .. x + w`, drawn strip by strip so the block
    /// can continue on the next page. `underlay` fills the whole band (a table row's stripe);
    /// `boxed` draws a coloured box around the text.
    fn block(
        &mut self,
        x: f32,
        w: f32,
        paras: &[Vec<Span>],
        underlay: Option<Rgb3>,
        boxed: Option<BoxStyle>,
    ) {
        const ACCENT_W: f32 = 2.5;
        let (text_x, text_w, pad) = match boxed {
            Some(b) => {
                let accent = if b.accent.is_some() { ACCENT_W } else { 0.0 };
                let left = b.inset_left + accent + b.pad;
                (x + left, w - left - b.inset_right - b.pad, b.pad)
            }
            None => (x, w, 0.0),
        };
        let lines: Vec<WrappedLine> = paras
            .iter()
            .flat_map(|p| self.fonts.wrap(p, text_w))
            .collect();
        let strip = |l: &mut Layout<'_>, h: f32| {
            if let Some(bg) = underlay {
                l.rect(x, l.y - 0.25, w, h + 0.25, bg);
            }
            if let Some(b) = boxed {
                let bx = x + b.inset_left;
                let bw = w - b.inset_left - b.inset_right;
                l.rect(bx, l.y - 0.25, bw, h + 0.25, b.bg);
                if let Some(accent) = b.accent {
                    l.rect(bx, l.y - 0.25, ACCENT_W, h + 0.25, accent);
                }
            }
        };
        let first_h = lines.first().map_or(0.0, WrappedLine::height);
        if pad > 0.0 {
            self.ensure(pad + first_h);
            strip(self, pad);
            self.y += pad;
        }
        let count = lines.len();
        for (i, line) in lines.iter().enumerate() {
            let lh = line.height();
            let tail = if i + 1 == count { pad } else { 0.0 };
            self.ensure(lh + tail);
            strip(self, lh);
            self.spans_at(
                text_x + line.indent,
                baseline(self.y, lh, line.size),
                &line.spans,
            );
            self.y += lh;
        }
        if pad > 0.0 {
            strip(self, pad);
            self.y += pad;
        }
    }

    // --- tables -----------------------------------------------------------------------------

    fn table_head_height() -> f32 {
        TABLE_HEAD_TEXT.size * LEADING + 2.0 * CELL_PAD_Y + 1.0
    }

    fn draw_table_head(&mut self, cols: &[Column]) {
        let h = Self::table_head_height();
        let width: f32 = cols.iter().map(|c| c.width).sum();
        self.rect(MARGIN, self.y, width, h, TABLE_HEAD);
        let mut x = MARGIN;
        for col in cols {
            let title = self
                .fonts
                .fit(TABLE_HEAD_TEXT, &col.title, col.width - 2.0 * CELL_PAD_X);
            let tw = self.fonts.text_width(TABLE_HEAD_TEXT, &title);
            let tx = match col.align {
                Align::Left => x + CELL_PAD_X,
                Align::Right => x + col.width - CELL_PAD_X - tw,
            };
            self.text_at(
                tx,
                baseline(self.y, h, TABLE_HEAD_TEXT.size),
                &span(title, TABLE_HEAD_TEXT),
            );
            x += col.width;
        }
        self.hline(MARGIN, MARGIN + width, self.y + h, 0.6, RULE);
        self.y += h;
    }

    /// Open a table: its header is drawn now and again after every page break until
    /// [`Layout::end_table`].
    fn begin_table(&mut self, cols: Vec<Column>) {
        self.ensure(Self::table_head_height() + 2.0 * BODY.size * LEADING);
        self.draw_table_head(&cols);
        self.table = Some(cols);
        self.zebra = false;
    }

    fn end_table(&mut self) {
        if let Some(cols) = self.table.take() {
            let width: f32 = cols.iter().map(|c| c.width).sum();
            self.hline(MARGIN, MARGIN + width, self.y, 0.6, RULE);
        }
        self.y += 4.0;
    }

    fn table_width(&self) -> f32 {
        self.table
            .as_ref()
            .map_or(CONTENT_W, |cols| cols.iter().map(|c| c.width).sum())
    }

    /// A row of the open table, striped; returns the stripe colour so that detail blocks
    /// under the row can continue it.
    fn row(&mut self, cells: Vec<Cell>) -> Option<Rgb3> {
        let cols = self.table.clone().unwrap_or_default();
        let bg = if self.zebra { Some(ZEBRA) } else { None };
        self.zebra = !self.zebra;
        self.cells(&cols, &cells, bg, None);
        bg
    }

    /// Full-width lines under the current row of the open table.
    fn row_detail(
        &mut self,
        indent: f32,
        paras: &[Vec<Span>],
        underlay: Option<Rgb3>,
        boxed: Option<BoxStyle>,
    ) {
        let w = self.table_width();
        let boxed = boxed.map(|b| BoxStyle {
            inset_left: b.inset_left + indent,
            ..b
        });
        match boxed {
            Some(_) => self.block(MARGIN, w, paras, underlay, boxed),
            None => self.block_indented(MARGIN, w, indent, paras, underlay),
        }
    }

    /// Lines indented by `indent`, with `underlay` filling the whole band.
    fn block_indented(
        &mut self,
        x: f32,
        w: f32,
        indent: f32,
        paras: &[Vec<Span>],
        underlay: Option<Rgb3>,
    ) {
        let lines: Vec<WrappedLine> = paras
            .iter()
            .flat_map(|p| self.fonts.wrap(p, w - indent - CELL_PAD_X))
            .collect();
        for line in &lines {
            let lh = line.height();
            self.ensure(lh);
            if let Some(bg) = underlay {
                self.rect(x, self.y - 0.25, w, lh + 0.25, bg);
            }
            self.spans_at(
                x + indent + line.indent,
                baseline(self.y, lh, line.size),
                &line.spans,
            );
            self.y += lh;
        }
    }

    /// Vertical space inside a table, in the row's stripe.
    fn row_gap(&mut self, h: f32, underlay: Option<Rgb3>) {
        self.ensure(h);
        if let Some(bg) = underlay {
            let w = self.table_width();
            self.rect(MARGIN, self.y - 0.25, w, h + 0.25, bg);
        }
        self.y += h;
    }

    /// Cells laid out in `cols`. The row is kept on one page when it fits on one; a taller row
    /// is continued on the next page, line by line.
    fn cells(&mut self, cols: &[Column], cells: &[Cell], bg: Option<Rgb3>, rule: Option<Rgb3>) {
        let wrapped: Vec<Vec<WrappedLine>> = cols
            .iter()
            .enumerate()
            .map(|(i, col)| {
                cells.get(i).map_or_else(Vec::new, |cell| {
                    cell.paras
                        .iter()
                        .flat_map(|p| self.fonts.wrap(p, col.width - 2.0 * CELL_PAD_X))
                        .collect()
                })
            })
            .collect();
        // Align the first baselines of all cells: shift each cell down by the difference.
        let first_baseline = |line: &WrappedLine| line.height() / 2.0 + 0.30 * line.size;
        let common = wrapped
            .iter()
            .filter_map(|lines| lines.first().map(first_baseline))
            .fold(0.0, f32::max);
        let shift: Vec<f32> = wrapped
            .iter()
            .map(|lines| lines.first().map_or(0.0, |l| common - first_baseline(l)))
            .collect();
        let content_h = |lines: &[WrappedLine]| lines.iter().map(WrappedLine::height).sum::<f32>();
        let full = wrapped
            .iter()
            .zip(&shift)
            .map(|(l, s)| content_h(l) + s)
            .fold(0.0, f32::max)
            + 2.0 * CELL_PAD_Y;
        let capacity = BODY_BOTTOM - BODY_TOP - Self::table_head_height();
        if full <= capacity {
            self.ensure(full);
        } else {
            self.ensure(2.0 * CELL_PAD_Y + 3.0 * BODY.size * LEADING);
        }
        let width: f32 = cols.iter().map(|c| c.width).sum();
        let mut next = vec![0usize; cols.len()];
        loop {
            let avail = BODY_BOTTOM - self.y - 2.0 * CELL_PAD_Y;
            let mut take = next.clone();
            let mut slice_h: f32 = 0.0;
            for (c, lines) in wrapped.iter().enumerate() {
                let mut h = if take[c] == 0 { shift[c] } else { 0.0 };
                while let Some(line) = lines.get(take[c]) {
                    if h + line.height() > avail && !(take[c] == next[c] && self.at_page_start()) {
                        break;
                    }
                    h += line.height();
                    take[c] += 1;
                }
                slice_h = slice_h.max(h);
            }
            let progressed = take != next;
            if !progressed && !self.at_page_start() {
                self.new_page();
                continue;
            }
            let row_h = slice_h + 2.0 * CELL_PAD_Y;
            if let Some(bg) = bg {
                self.rect(MARGIN, self.y - 0.25, width, row_h + 0.25, bg);
            }
            let mut x = MARGIN;
            for (c, col) in cols.iter().enumerate() {
                let mut top = self.y + CELL_PAD_Y + if next[c] == 0 { shift[c] } else { 0.0 };
                for (k, line) in wrapped[c].iter().enumerate().take(take[c]).skip(next[c]) {
                    let lh = line.height();
                    let lx = match col.align {
                        Align::Left => x + CELL_PAD_X,
                        Align::Right => x + col.width - CELL_PAD_X - line.width,
                    };
                    let base = baseline(top, lh, line.size);
                    if k == 0
                        && let Some(badge_bg) = cells.get(c).and_then(|cell| cell.badge)
                    {
                        let (bt, bh) = (base - 0.95 * line.size - 1.0, 1.35 * line.size + 2.0);
                        self.rect(lx - 2.5, bt, line.width + 5.0, bh, badge_bg);
                    }
                    self.spans_at(lx + line.indent, base, &line.spans);
                    top += lh;
                }
                x += col.width;
            }
            self.y += row_h;
            if let Some(rule) = rule {
                self.hline(MARGIN, MARGIN + width, self.y, 0.4, rule);
            }
            next = take;
            let done = wrapped
                .iter()
                .zip(&next)
                .all(|(lines, n)| *n >= lines.len());
            if done || !progressed {
                break;
            }
            self.new_page();
        }
    }

    /// How tall a row of `cells` in `cols` is (to keep a heading with it).
    fn row_height(&self, cols: &[Column], cells: &[Cell]) -> f32 {
        cols.iter()
            .zip(cells)
            .map(|(col, cell)| {
                cell.paras
                    .iter()
                    .flat_map(|p| self.fonts.wrap(p, col.width - 2.0 * CELL_PAD_X))
                    .map(|l| l.height())
                    .sum::<f32>()
            })
            .fold(0.0, f32::max)
            + 2.0 * CELL_PAD_Y
            + 2.0
    }

    /// Label/value rows with hairlines between them.
    fn key_values(&mut self, key_w: f32, rows: Vec<(String, Vec<Span>)>) {
        let cols = vec![
            Column {
                title: String::new(),
                width: key_w,
                align: Align::Left,
            },
            Column {
                title: String::new(),
                width: CONTENT_W - key_w,
                align: Align::Left,
            },
        ];
        for (key, value) in rows {
            let cells = [
                Cell::text(key, BODY.bold().colored(MUTED)),
                Cell::rich(value),
            ];
            self.cells(&cols, &cells, None, Some(HAIRLINE));
        }
    }

    // --- finishing ----------------------------------------------------------------------------

    /// The pages, each with the running header and the "Page i of N" footer.
    fn finish(mut self, header_left: &str, footer_left: &str) -> Vec<Vec<Op>> {
        self.finished.push(std::mem::take(&mut self.ops));
        let fonts = self.fonts;
        let total = self.finished.len();
        let right_header = span("TEST DATA - CONFIDENTIAL", RUNNING.bold().colored(RED));
        let right_header_w = fonts.text_width(right_header.style, &right_header.text);
        for (i, ops) in self.finished.iter_mut().enumerate() {
            let left_w = CONTENT_W - right_header_w - 12.0;
            let left = span(fonts.fit(RUNNING, header_left, left_w), RUNNING);
            push_text(ops, fonts, MARGIN, HEADER_BASELINE, &left);
            push_text(
                ops,
                fonts,
                MARGIN + CONTENT_W - right_header_w,
                HEADER_BASELINE,
                &right_header,
            );
            push_line(
                ops,
                (MARGIN, HEADER_RULE),
                (MARGIN + CONTENT_W, HEADER_RULE),
                0.5,
                RULE,
            );

            let page = span(format!("Page {} of {}", i + 1, total), RUNNING);
            let page_w = fonts.text_width(RUNNING, &page.text);
            push_line(
                ops,
                (MARGIN, FOOTER_RULE),
                (MARGIN + CONTENT_W, FOOTER_RULE),
                0.5,
                RULE,
            );
            let left = span(
                fonts.fit(RUNNING, footer_left, CONTENT_W - page_w - 12.0),
                RUNNING,
            );
            push_text(ops, fonts, MARGIN, FOOTER_BASELINE, &left);
            push_text(
                ops,
                fonts,
                MARGIN + CONTENT_W - page_w,
                FOOTER_BASELINE,
                &page,
            );
        }
        self.finished
    }
}

// ---------------------------------------------------------------------------------------------
// The report.
// ---------------------------------------------------------------------------------------------

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
    lo.compress();
    let mut out = Vec::new();
    lo.save_to(&mut out)
        .map_err(|e| PdfError::Write(e.to_string()))?;
    Ok(out)
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

fn utc(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

fn status_colors(status: Status) -> (Rgb3, Rgb3) {
    match status {
        Status::Passed => (GREEN, PALE_GREEN),
        Status::Failed => (RED, PALE_RED),
        Status::Skipped => (GREY_STATUS, PALE_GREY),
        Status::Interrupted => (DARK_AMBER, PALE_AMBER),
    }
}

fn status_label(status: Status) -> String {
    status.as_str().to_uppercase()
}

fn status_badge(status: Status) -> Cell {
    let (fg, bg) = status_colors(status);
    Cell::badge(status_label(status), fg, bg)
}

fn scenario_seconds(s: &ScenarioRecord) -> Option<f64> {
    s.ended_at
        .map(|end| (end - s.started_at).num_milliseconds() as f64 / 1000.0)
}

fn scenario_title(s: &ScenarioRecord) -> String {
    match &s.case_id {
        Some(case) => format!("{case} {}", s.name),
        None => s.name.clone(),
    }
}

fn cover(l: &mut Layout, record: &RunRecord, manifest_sha256: Option<&str>) {
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

    let value = |s: &str| para(s, BODY);
    let selection = {
        let mut s = format!(
            "pack {}, tags {}",
            h.selection.pack,
            h.selection.tags.as_deref().unwrap_or("none")
        );
        if !h.selection.features.is_empty() {
            let names: Vec<String> = h
                .selection
                .features
                .iter()
                .map(|f| {
                    std::path::Path::new(f)
                        .file_name()
                        .map_or_else(|| f.clone(), |n| n.to_string_lossy().into_owned())
                })
                .collect();
            s.push_str(&format!(", features {}", names.join(", ")));
        }
        s
    };
    let personal = if h.personal_data_revealed {
        para("REVEALED at the user's request", BODY.bold().colored(RED))
    } else {
        value("redacted")
    };
    let mut rows: Vec<(String, Vec<Span>)> = vec![
        ("Run id".to_owned(), para(h.run_id.as_str(), BODY.bold())),
        ("Organisation".to_owned(), value(&h.target.organisation)),
        ("Environment".to_owned(), value(&h.target.environment)),
        (
            "Holdername GUID".to_owned(),
            value(&h.target.holdername_guid),
        ),
        ("Find URL".to_owned(), value(&h.target.find_url)),
        ("View URL".to_owned(), value(&h.target.view_url)),
        (
            "Target file".to_owned(),
            value(
                h.target
                    .target_file
                    .as_deref()
                    .unwrap_or("none - embedded default"),
            ),
        ),
        ("Started (UTC)".to_owned(), value(&utc(&h.started_at))),
        (
            "Finished (UTC)".to_owned(),
            match &record.ended_at {
                Some(end) => value(&utc(end)),
                None => para(
                    "not finished - run interrupted",
                    BODY.bold().colored(DARK_AMBER),
                ),
            },
        ),
        ("Harness version".to_owned(), value(&h.harness_version)),
        (
            "Technical standards".to_owned(),
            value(&h.standards.technical),
        ),
        ("Data standards".to_owned(), value(&h.standards.data)),
        (
            "Reporting standards".to_owned(),
            value(&h.standards.reporting),
        ),
        (
            "Find/view contract".to_owned(),
            value(&h.standards.find_view_contract),
        ),
        (
            "View data schema".to_owned(),
            para(
                if h.standards.view_data_schema.is_empty() {
                    "not recorded"
                } else {
                    &h.standards.view_data_schema
                },
                SMALL,
            ),
        ),
        (
            "Test pack".to_owned(),
            value(h.test_pack.as_deref().unwrap_or("not recorded")),
        ),
        ("Selection".to_owned(), value(&selection)),
        ("Personal data".to_owned(), personal),
    ];
    // The inputs by digest: an edited pack still calls itself "integration 1.0.0".
    if let Some(cell) = inputs_cell(record) {
        rows.push(("Inputs (SHA-256)".to_owned(), cell));
    }
    rows.extend([(
        "Manifest SHA-256".to_owned(),
        para(manifest_sha256.unwrap_or("not sealed"), CODE),
    )]);
    if let Some(after) = &h.after {
        rows.insert(
            rows.len() - 1,
            (
                "Stage 2 of".to_owned(),
                value(&format!(
                    "stage-1 run {after}: its match-update file and the registrations it left at the C&A"
                )),
            ),
        );
    }
    if let Some(rerun) = &h.rerun {
        rows.insert(
            rows.len() - 1,
            (
                "Re-run of".to_owned(),
                value(&format!(
                    "run {}: its scenarios that did not pass (attempt history after the coverage matrix)",
                    rerun.rerun_of
                )),
            ),
        );
    }
    l.key_values(mm(40.0), rows);
}

/// The test pack and feature files by SHA-256, one per line.
fn inputs_cell(record: &RunRecord) -> Option<Vec<Span>> {
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
fn framing_box(l: &mut Layout, framing: &present::Framing) {
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
fn stage2_box(l: &mut Layout, record: &RunRecord) {
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
fn resealed_box(l: &mut Layout, record: &RunRecord) {
    for r in &record.resealed {
        l.y += 4.0;
        l.block(
            MARGIN,
            CONTENT_W,
            &[
                para(
                    format!(
                        "RE-RENDERED FROM A CHANGED LOG on {}: the bundle no longer matched its seal and was re-sealed with --reseal.",
                        utc(&r.at)
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

fn verdict_box(l: &mut Layout, record: &RunRecord) {
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

/// Every failure and warning on one page after the cover: case, step, one-line reason, class
/// and who acts, and the page of the detail. A real target's failures are not left to be
/// found in the detail pages.
fn findings(l: &mut Layout, record: &RunRecord, pages: Option<&[usize]>) {
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
fn summary(l: &mut Layout, record: &RunRecord, pages: Option<&[usize]>) {
    l.section("Results summary");
    if record.scenarios.is_empty() {
        l.paragraph(para("No scenarios matched the selection.", BODY));
        return;
    }
    let stages = super::present::stage_counts(record);
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
        let duration = scenario_seconds(s).map_or_else(|| "-".to_owned(), |d| format!("{d:.2}"));
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
fn attempt_history(l: &mut Layout, record: &RunRecord) {
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

/// p50/p95/max of each measure against its limit.
fn timings(l: &mut Layout, record: &RunRecord) {
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

/// Doubts that did not fail a step (where the public sources disagree), with their case.
fn warnings(l: &mut Layout, record: &RunRecord) {
    let rows: Vec<(String, &str)> = record
        .scenarios
        .iter()
        .flat_map(|s| {
            let case = s.case_id.clone().unwrap_or_else(|| s.name.clone());
            s.warnings().map(move |w| (case.clone(), w))
        })
        .collect();
    if rows.is_empty() {
        return;
    }
    l.gap(8.0);
    l.section("Warnings");
    l.paragraph(para(
        "Where the public sources disagree the harness warns instead of failing; each warning gives its reason. [contract] strict = true makes them failures.",
        NOTE,
    ));
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

/// Every reporting submission (endpoint, record id, UTC time, outcome), the same-UTC-day check
/// and the reconciliation of what was reported with what the harness observed.
fn reporting(l: &mut Layout, record: &RunRecord) {
    let r = &record.reporting;
    if r.is_empty() {
        return;
    }
    l.gap(8.0);
    l.section("Reporting submissions");
    let days: std::collections::BTreeSet<String> = r
        .submissions
        .iter()
        .map(|s| s.at.format("%Y-%m-%d").to_string())
        .collect();
    l.paragraph(para(
        format!(
            "Each record sent to the reporting API, in order; times are UTC on {}. \"already accepted\" and \"held in doubt\" records were not sent again: the journal shows the same data was accepted earlier, or may have been.",
            days.into_iter().collect::<Vec<_>>().join(" and ")
        ),
        NOTE,
    ));
    l.gap(4.0);
    // Fixed widths: the longest endpoint path and a record id each on one line (the reason
    // under the endpoint), codes on a line of their own.
    l.begin_table(columns(&[
        ("UTC", 16.5, Align::Left),
        ("Endpoint, reason", 50.0, Align::Left),
        ("Record id", 0.0, Align::Left),
        ("Outcome", 42.0, Align::Left),
    ]));
    for s in &r.submissions {
        let expected = present::expected_by(record, s);
        let style = if present::submission_ok(s) {
            SMALL.colored(GREEN)
        } else if expected.is_some() {
            SMALL.bold().colored(NAVY)
        } else {
            SMALL.bold().colored(RED)
        };
        let mut outcome = Cell::text(
            format!(
                "{}{}",
                s.outcome.replace('_', " "),
                s.http_status.map(|h| format!(" {h}")).unwrap_or_default()
            ),
            style,
        );
        for code in &s.codes {
            outcome = outcome.with(para(code.as_str(), Style::new(Weight::Regular, 6.5, TEXT)));
        }
        if let Some(case) = expected {
            outcome = outcome.with(para(format!("expected: the purpose of {case}"), NOTE));
        }
        l.row(vec![
            Cell::text(s.at.format("%H:%M:%S").to_string(), SMALL),
            Cell::text(s.endpoint.as_str(), SMALL).with(para(s.submission_reason.as_str(), NOTE)),
            Cell::text(s.record_id.as_str(), Style::new(Weight::Regular, 7.0, TEXT)),
            outcome,
        ]);
    }
    l.end_table();
    if !r.submissions.is_empty() {
        let days = present::accepted_days(record);
        let text = if days.is_empty() {
            "no submission in the table above was accepted".to_owned()
        } else {
            days.iter()
                .map(|(d, e)| format!("{d}: {} endpoint(s) accepted", e.len()))
                .collect::<Vec<_>>()
                .join("; ")
        };
        l.gap(4.0);
        l.paragraph(vec![
            span("Accepted, by UTC day (from the rows above): ", BODY.bold()),
            span(text, BODY),
        ]);
    }
    for d in &r.day_checks {
        l.gap(2.0);
        l.paragraph(vec![
            span(
                format!("Same-UTC-day check at {}: ", d.at.format("%H:%M:%S")),
                BODY.bold(),
            ),
            span(
                present::plain(&d.description),
                if d.complete {
                    BODY
                } else {
                    BODY.bold().colored(RED)
                },
            ),
        ]);
    }
    for rec in &r.reconciliations {
        l.gap(6.0);
        l.subheading("Reconciliation: reported against observed", None, 60.0);
        l.paragraph(para(present::window_text(rec), NOTE));
        l.gap(2.0);
        if rec.findings.is_empty() {
            l.paragraph(para(
                "No measure was compared: the organisation's reporting data for this window held no view-response counts for this holdername GUID, so there was nothing to set against what the harness observed.",
                BODY,
            ));
            continue;
        }
        l.begin_table(columns(&[
            ("Measure", 0.0, Align::Left),
            ("Reported", 20.0, Align::Right),
            ("Observed", 20.0, Align::Right),
            ("Verdict", 22.0, Align::Left),
        ]));
        for f in &rec.findings {
            let mut measure = Cell::text(f.measure.as_str(), SMALL.bold());
            if let Some(m) = present::meaning(&f.measure) {
                measure = measure.with(para(m, NOTE));
            }
            l.row(vec![
                measure,
                Cell::text(f.reported.to_string(), SMALL),
                Cell::text(f.observed.to_string(), SMALL),
                if f.agrees {
                    Cell::text("agrees", SMALL.colored(GREEN))
                } else {
                    Cell::text("DIFFERS", SMALL.bold().colored(RED))
                },
            ]);
        }
        l.end_table();
    }
}

/// A bar chart of each measure's p50, p95 and max against its limit (the red line) on a
/// logarithmic scale from 1 ms, values printed: a 3 ms bar stays visible beside a 30 s limit.
fn timing_chart(l: &mut Layout, record: &RunRecord) {
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
fn load_figures(l: &mut Layout, record: &RunRecord) {
    let Some(s) = &record.load else {
        return;
    };
    l.gap(8.0);
    l.section("Load");
    l.paragraph(para(
        format!(
            "{} finds to {} at {} per second requested, {:.1} per second achieved, over {} s; {} for people the provider holds; at most {} in flight; timeout {} ms.",
            s.finds_sent,
            s.find_url,
            s.requested_rate,
            s.achieved_rate,
            s.duration_secs,
            s.matching_finds,
            s.max_in_flight,
            s.timeout_ms
        ),
        BODY,
    ));
    l.paragraph(para(
        format!(
            "Acknowledged {}, errors {}, timeouts {}. Registrations: {} expected, {} seen, {} missing, {} unexpected.{}",
            s.acknowledged,
            s.errors,
            s.timeouts,
            s.registrations_expected,
            s.registrations_observed,
            s.registrations_missing,
            s.registrations_unexpected,
            if s.views_ok + s.view_errors > 0 {
                format!(" Views: {} served, {} failed.", s.views_ok, s.view_errors)
            } else {
                String::new()
            }
        ),
        BODY,
    ));
    l.paragraph(para(
        "Latencies run from each find's intended send time (its slot in the schedule), so time spent queueing behind a slow answer counts (no coordinated omission); 'service' alone runs from the actual send. HDR histograms, 3 significant digits.",
        NOTE,
    ));
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

/// Every scenario's detail; returns the page each one starts on.
fn detail(l: &mut Layout, record: &RunRecord) -> Vec<usize> {
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
fn scenario_detail(l: &mut Layout, s: &ScenarioRecord) -> usize {
    let (fg, bg) = status_colors(s.status);
    let label = status_label(s.status);
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
    l.subheading(&scenario_title(s), Some((&label, fg, bg)), keep);
    let page = l.page();
    let tags = if s.tags.is_empty() {
        "none".to_owned()
    } else {
        s.tags
            .iter()
            .map(|t| format!("@{}", t.trim_start_matches('@')))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let timing = match scenario_seconds(s) {
        Some(d) => format!("started {} - took {d:.2} s", utc(&s.started_at)),
        None => format!("started {} - did not finish", utc(&s.started_at)),
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
fn step_cells(step: &StepRecord) -> Vec<Cell> {
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

fn step_rows(l: &mut Layout, s: &ScenarioRecord, index: usize, step: &StepRecord) {
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
fn view_data_detail(l: &mut Layout, v: &crate::record::run::DecodedToken, stripe: Option<Rgb3>) {
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
    let (head, rest) = excerpt(&compact, 3 * BODY_EXCERPT_BYTES);
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

fn exchange_detail(l: &mut Layout, ex: &Exchange, stripe: Option<Rgb3>) {
    const INDENT: f32 = 12.0;
    let code_box = BoxStyle {
        bg: CODE_BG,
        accent: None,
        inset_left: 0.0,
        inset_right: CELL_PAD_X,
        pad: 3.0,
    };
    let outcome = match ex.status {
        Some(code) => code.to_string(),
        None => "no response".to_owned(),
    };
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

fn headers_paras(headers: &[(String, String)]) -> Vec<Vec<Span>> {
    if headers.is_empty() {
        return vec![para("(none recorded)", CODE.colored(MUTED))];
    }
    headers
        .iter()
        .map(|(k, v)| vec![span(format!("{k}: "), CODE.bold()), span(v.as_str(), CODE)])
        .collect()
}

fn body_paras(body: Option<&str>) -> Vec<Vec<Span>> {
    match body {
        None => vec![para("(no body)", CODE.colored(MUTED))],
        Some("") => vec![para("(empty body)", CODE.colored(MUTED))],
        Some(b) => {
            let (head, rest) = excerpt(b, BODY_EXCERPT_BYTES);
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

/// The first `limit` bytes of `body` (cut at a character boundary) and how many bytes were left
/// out.
fn excerpt(body: &str, limit: usize) -> (&str, usize) {
    if body.len() <= limit {
        return (body, 0);
    }
    let mut cut = limit;
    while cut > 0 && !body.is_char_boundary(cut) {
        cut -= 1;
    }
    (&body[..cut], body.len() - cut)
}

fn appendix(l: &mut Layout, record: &RunRecord, manifest_sha256: Option<&str>) {
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

fn certificates(l: &mut Layout, certs: &[CertificateInfo]) {
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
fn sign_off(l: &mut Layout, record: &RunRecord) {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::run::{
        CertificateInfo, Counts, Exchange, RunHeader, RunRecord, ScenarioRecord, Selection,
        Standards, Status, StepRecord, TargetInfo, Timing, Verdict,
    };
    use chrono::TimeZone;

    fn at(secs: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_795_000_000 + secs, 0)
            .single()
            .expect("valid time")
    }

    fn step(keyword: &str, text: &str, status: Status) -> StepRecord {
        StepRecord {
            keyword: keyword.to_owned(),
            text: text.to_owned(),
            status,
            duration_ms: 12.5,
            message: None,
            failure_class: None,
            exchanges: Vec::new(),
            timings: Vec::new(),
            warnings: Vec::new(),
            observed: None,
            judged: None,
            view_data: Vec::new(),
        }
    }

    fn exchange(status: Option<u16>, body: String) -> Exchange {
        Exchange {
            party: "pension finder -> provider find".to_owned(),
            at: at(5),
            method: "POST".to_owned(),
            url: "https://provider.example/find/v1/requests".to_owned(),
            request_headers: vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("authorization".to_owned(), "[redacted]".to_owned()),
            ],
            request_body: Some(body.clone()),
            status,
            response_headers: vec![("content-type".to_owned(), "application/json".to_owned())],
            response_body: Some(body),
            duration_ms: 143.0,
            error: None,
        }
    }

    fn scenario(case: &str, name: &str, status: Status, steps: Vec<StepRecord>) -> ScenarioRecord {
        ScenarioRecord {
            feature: "Find requests".to_owned(),
            name: name.to_owned(),
            tags: vec![format!("case:{case}"), "connection-proving".to_owned()],
            case_id: Some(case.to_owned()),
            stage: Some("connection proving".to_owned()),
            location: "features/find.feature:12".to_owned(),
            started_at: at(0),
            ended_at: (status != Status::Interrupted).then(|| at(2)),
            status,
            steps,
        }
    }

    fn sample() -> RunRecord {
        let long = format!(
            "{{\"name\":\"Zoë Müller → test\",\"token\":\"{}\"}}",
            "A1b2C3d4".repeat(200)
        );
        let mut failed = step(
            "Then",
            "the provider acknowledges within 2 seconds",
            Status::Failed,
        );
        failed.message = Some("expected HTTP 202, got 400: invalid request_id".to_owned());
        failed.exchanges = vec![exchange(Some(400), long.clone()), exchange(None, long)];
        failed.timings = vec![Timing {
            measure: "acknowledgement".to_owned(),
            millis: 2400.0,
            limit_millis: 2000.0,
        }];
        let mut interrupted = step("When", "the view request is sent", Status::Interrupted);
        interrupted.message = Some("the run was stopped here".to_owned());
        let mut passed_with_exchange = step("When", "a find request is sent", Status::Passed);
        passed_with_exchange.exchanges = vec![exchange(Some(202), "{}".to_owned())];
        let scenarios = vec![
            scenario(
                "CP-01",
                "Find request is acknowledged",
                Status::Passed,
                vec![
                    step("Given", "a registered provider", Status::Passed),
                    passed_with_exchange,
                ],
            ),
            scenario(
                "CP-02",
                "Bad request is rejected",
                Status::Failed,
                vec![
                    step("Given", "a registered provider", Status::Passed),
                    failed,
                ],
            ),
            scenario(
                "CP-03",
                "View request times out",
                Status::Interrupted,
                vec![interrupted],
            ),
        ];
        RunRecord {
            header: RunHeader {
                run_id: "run-20261122-0001".to_owned(),
                started_at: at(0),
                harness_version: "0.1.0".to_owned(),
                standards: Standards {
                    technical: "1.3".to_owned(),
                    data: "1.2".to_owned(),
                    reporting: "1.0".to_owned(),
                    find_view_contract: "documented default".to_owned(),
                    view_data_schema: String::new(),
                },
                target: TargetInfo {
                    organisation: "Northwind Pensions Administration".to_owned(),
                    environment: "embedded default (reference provider)".to_owned(),
                    holdername_guid: "3fa85f64-5717-4562-b3fc-2c963f66afa6".to_owned(),
                    find_url: "https://provider.example/find".to_owned(),
                    view_url: "https://provider.example/view".to_owned(),
                    target_file: None,
                    reporting_simulated: None,
                },
                selection: Selection {
                    pack: "connection-proving".to_owned(),
                    tags: None,
                    features: Vec::new(),
                },
                certificates: vec![CertificateInfo {
                    role: "client".to_owned(),
                    subject: "CN=harness-client-1".to_owned(),
                    sha256_fingerprint: "ab".repeat(32),
                    not_after: at(86_400 * 365),
                }],
                configuration: vec![("timeout_ms".to_owned(), "2000".to_owned())],
                personal_data_revealed: false,
                test_pack: Some("integration 1.0.0".to_owned()),
                rerun: None,
                inputs: Vec::new(),
                after: None,
            },
            ended_at: None,
            verdict: Verdict::Incomplete,
            counts: Counts {
                passed: 1,
                failed: 1,
                skipped: 0,
                interrupted: 1,
                not_started: 0,
            },
            scenarios,
            run_log_sha256: "0123456789abcdef".repeat(4),
            notes: Vec::new(),
            timing_summary: Vec::new(),
            reporting: Default::default(),
            load: None,
            interrupted: None,
            not_started: Vec::new(),
            sign_off: None,
            resealed: Vec::new(),
            match_updates: None,
            pending: Vec::new(),
        }
    }

    fn pdf_text(bytes: &[u8], name: &str) -> String {
        let path = std::env::temp_dir().join(format!(
            "pdp-harness-pdf-test-{}-{name}.pdf",
            std::process::id()
        ));
        std::fs::write(&path, bytes).expect("write temp PDF");
        let out = std::process::Command::new("pdftotext")
            .arg("-layout")
            .arg(&path)
            .arg("-")
            .output();
        let _ = std::fs::remove_file(&path);
        let out = out.expect("pdftotext must be installed (poppler-utils) to check the PDF");
        assert!(out.status.success(), "pdftotext failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    #[test]
    fn renders_the_evidence_that_a_reviewer_needs() {
        let record = sample();
        let bytes = render_pdf(&record, None).expect("render");
        assert!(bytes.starts_with(b"%PDF-"));
        let text = pdf_text(&bytes, "content");
        assert!(text.contains("run-20261122-0001"), "{text}");
        assert!(text.contains("Page 1 of"), "{text}");
        assert!(text.contains(Verdict::Incomplete.plain_words()), "{text}");
        for s in &record.scenarios {
            let line = text
                .lines()
                .find(|l| l.contains(&s.name) && l.contains(s.case_id.as_deref().unwrap_or("")))
                .unwrap_or_else(|| panic!("no summary line for {}:\n{text}", s.name));
            assert!(
                line.contains(&s.status.as_str().to_uppercase()),
                "{} without its verdict: {line}",
                s.name
            );
            for step in s.steps.iter().filter(|st| st.status != Status::Passed) {
                if let Some(m) = &step.message {
                    assert!(text.contains(m.as_str()), "missing message {m}:\n{text}");
                }
            }
        }
        assert!(
            text.contains("Zoë Müller → test"),
            "non-ASCII lost:\n{text}"
        );
        assert!(text.contains("more bytes)"), "body not truncated:\n{text}");
        assert!(
            text.contains("acknowledgement 2400 ms (limit 2000 ms)"),
            "{text}"
        );
        // A passing step says what it observed (here, its one exchange) rather than
        // "1 HTTP exchange recorded" (issue 18).
        assert!(
            text.contains("Observed: POST /find/v1/requests -> 202"),
            "{text}"
        );
        assert!(text.contains("not finished - run interrupted"), "{text}");
        assert!(text.contains(&record.run_log_sha256), "{text}");
        assert!(text.contains("Reviewed by"), "{text}");
    }

    #[test]
    fn the_coverage_matrix_gives_the_page_each_scenario_is_on() {
        let record = sample();
        let fonts = Fonts::load().expect("fonts");
        let (_, pages) = lay_out(&fonts, &record, None, None);
        assert_eq!(pages.len(), record.scenarios.len());
        let text = pdf_text(&render_pdf(&record, None).expect("render"), "pages");
        let by_page: Vec<&str> = text.split('\x0c').collect();
        for (s, page) in record.scenarios.iter().zip(&pages) {
            let title = scenario_title(s);
            let first_words: String = title
                .split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ");
            let on_page = by_page.get(page - 1).copied().unwrap_or_default();
            assert!(
                on_page.contains(&first_words),
                "{first_words:?} expected on page {page}: {on_page}"
            );
        }
    }

    #[test]
    fn same_record_same_bytes() {
        let record = sample();
        let a = render_pdf(&record, None).expect("render");
        let b = render_pdf(&record, None).expect("render");
        assert_eq!(a, b);
    }

    #[test]
    fn renders_a_run_with_no_scenarios() {
        let mut record = sample();
        record.scenarios.clear();
        record.counts = Counts::default();
        record.verdict = Verdict::NoScenarios;
        record.header.certificates.clear();
        record.header.configuration.clear();
        let text = pdf_text(&render_pdf(&record, None).expect("render"), "empty");
        assert!(text.contains(Verdict::NoScenarios.plain_words()), "{text}");
        assert!(
            text.contains("No scenarios matched the selection."),
            "{text}"
        );
    }

    #[test]
    fn lines_break_at_spaces_and_inside_long_tokens() {
        let fonts = Fonts::load().expect("fonts");
        let text = format!("short words then {}", "x".repeat(300));
        let lines = fonts.wrap(&para(text.clone(), CODE), 200.0);
        assert!(lines.len() > 2);
        assert!(lines.iter().all(|l| l.width <= 200.0 + 0.01));
        let joined: String = lines
            .iter()
            .flat_map(|l| l.spans.iter().map(|s| s.text.as_str()))
            .collect::<Vec<_>>()
            .join(" ");
        assert_eq!(joined.replace(' ', ""), text.replace(' ', ""));
        assert_eq!(excerpt("héllo", 2), ("h", 5));
    }
}
