//! The layout engine. printpdf 0.12 (without `text_layout`) only places glyphs, so this small
//! cursor-based engine flows headings, wrapped paragraphs, key/value blocks, boxed notes and
//! tables down the page. Tables have fixed column widths, wrap text inside cells, stripe
//! alternate rows, repeat their header after a page break and never split a row across pages
//! unless the row is taller than a page. The running header and the "Page i of N" footer are
//! added after the body is laid out, when N is known.

use printpdf::{Line, LinePoint, Op, PaintMode, PdfFontHandle, Point, Pt, Rect, TextItem};

use super::fonts::*;
use super::style::*;

// Page geometry. Everything is in points, with y measured DOWN from the top of the page; the
// conversion to PDF's bottom-up coordinates happens only when an op is emitted.

pub(crate) const PT_PER_MM: f32 = 72.0 / 25.4;

pub(crate) const fn mm(v: f32) -> f32 {
    v * PT_PER_MM
}

pub(crate) const PAGE_W: f32 = mm(210.0);
pub(crate) const PAGE_H: f32 = mm(297.0);
pub(crate) const MARGIN: f32 = mm(20.0);
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN;
pub(crate) const BODY_TOP: f32 = mm(22.0);
pub(crate) const BODY_BOTTOM: f32 = PAGE_H - mm(20.0);
pub(crate) const HEADER_BASELINE: f32 = mm(13.0);
pub(crate) const HEADER_RULE: f32 = mm(15.0);
pub(crate) const FOOTER_RULE: f32 = PAGE_H - mm(15.5);
pub(crate) const FOOTER_BASELINE: f32 = PAGE_H - mm(11.0);

/// Horizontal and vertical padding inside a table cell.
pub(crate) const CELL_PAD_X: f32 = 4.0;
pub(crate) const CELL_PAD_Y: f32 = 3.0;

// Drawing primitives (top-down coordinates in, PDF ops out).

pub(crate) fn push_text(ops: &mut Vec<Op>, fonts: &Fonts, x: f32, baseline: f32, s: &Span) {
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

pub(crate) fn push_spans(ops: &mut Vec<Op>, fonts: &Fonts, x: f32, baseline: f32, spans: &[Span]) {
    let mut x = x;
    for s in spans {
        push_text(ops, fonts, x, baseline, s);
        x += fonts.text_width(s.style, &s.text);
    }
}

pub(crate) fn push_rect(ops: &mut Vec<Op>, x: f32, top: f32, w: f32, h: f32, fill: Rgb3) {
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

pub(crate) fn push_line(
    ops: &mut Vec<Op>,
    from: (f32, f32),
    to: (f32, f32),
    thickness: f32,
    color: Rgb3,
) {
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

// The layout engine.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    Left,
    Right,
}

#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) title: String,
    pub(crate) width: f32,
    pub(crate) align: Align,
}

/// Columns from `(title, width in mm, align)`; a width of 0 takes what the others leave.
pub(crate) fn columns(spec: &[(&str, f32, Align)]) -> Vec<Column> {
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
pub(crate) struct Cell {
    pub(crate) paras: Vec<Vec<Span>>,
    pub(crate) badge: Option<Rgb3>,
}

impl Cell {
    pub(crate) fn text(text: impl Into<String>, style: Style) -> Cell {
        Cell {
            paras: vec![para(text, style)],
            badge: None,
        }
    }
    pub(crate) fn rich(spans: Vec<Span>) -> Cell {
        Cell {
            paras: vec![spans],
            badge: None,
        }
    }
    pub(crate) fn badge(text: impl Into<String>, fg: Rgb3, bg: Rgb3) -> Cell {
        Cell {
            paras: vec![para(text, Style::new(Weight::Bold, 7.0, fg))],
            badge: Some(bg),
        }
    }
    pub(crate) fn with(mut self, spans: Vec<Span>) -> Cell {
        self.paras.push(spans);
        self
    }
}

/// A coloured box drawn behind a block of lines, with an optional accent bar on its left.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BoxStyle {
    pub(crate) bg: Rgb3,
    pub(crate) accent: Option<Rgb3>,
    /// Distance of the box from the left and right of the block.
    pub(crate) inset_left: f32,
    pub(crate) inset_right: f32,
    pub(crate) pad: f32,
}

pub(crate) struct Layout<'f> {
    pub(crate) fonts: &'f Fonts,
    pub(crate) finished: Vec<Vec<Op>>,
    pub(crate) ops: Vec<Op>,
    /// Top of the next thing to draw.
    pub(crate) y: f32,
    /// Where content starts on the current page (below a repeated table header).
    pub(crate) page_start: f32,
    /// The open table, whose header is repeated after a page break.
    pub(crate) table: Option<Vec<Column>>,
    pub(crate) zebra: bool,
}

impl<'f> Layout<'f> {
    pub(crate) fn new(fonts: &'f Fonts) -> Layout<'f> {
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
    pub(crate) fn page(&self) -> usize {
        self.finished.len() + 1
    }

    pub(crate) fn new_page(&mut self) {
        self.finished.push(std::mem::take(&mut self.ops));
        self.y = BODY_TOP;
        if let Some(cols) = self.table.clone() {
            self.draw_table_head(&cols);
        }
        self.page_start = self.y;
    }

    /// Start a new page unless the current one is still empty.
    pub(crate) fn page_break(&mut self) {
        if !self.at_page_start() {
            self.new_page();
        }
    }

    pub(crate) fn at_page_start(&self) -> bool {
        self.y <= self.page_start + 0.01
    }

    /// Make room for `h` points: break the page unless they fit (or the page is empty).
    pub(crate) fn ensure(&mut self, h: f32) {
        if self.y + h > BODY_BOTTOM && !self.at_page_start() {
            self.new_page();
        }
    }

    /// Vertical space; dropped at the top of a page.
    pub(crate) fn gap(&mut self, h: f32) {
        if !self.at_page_start() {
            self.y = (self.y + h).min(BODY_BOTTOM);
        }
    }

    pub(crate) fn text_at(&mut self, x: f32, baseline: f32, s: &Span) {
        push_text(&mut self.ops, self.fonts, x, baseline, s);
    }

    pub(crate) fn spans_at(&mut self, x: f32, baseline: f32, spans: &[Span]) {
        push_spans(&mut self.ops, self.fonts, x, baseline, spans);
    }

    pub(crate) fn rect(&mut self, x: f32, top: f32, w: f32, h: f32, fill: Rgb3) {
        push_rect(&mut self.ops, x, top, w, h, fill);
    }

    pub(crate) fn hline(&mut self, x1: f32, x2: f32, y: f32, thickness: f32, color: Rgb3) {
        push_line(&mut self.ops, (x1, y), (x2, y), thickness, color);
    }

    // --- headings and paragraphs -------------------------------------------------------------

    /// Section heading with a rule under it, kept with the next 60 points.
    pub(crate) fn section(&mut self, title: &str) {
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
    pub(crate) fn subheading(&mut self, title: &str, badge: Option<(&str, Rgb3, Rgb3)>, keep: f32) {
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
    pub(crate) fn paragraph(&mut self, spans: Vec<Span>) {
        self.block(MARGIN, CONTENT_W, &[spans], None, None);
    }

    /// Lines of wrapped paragraphs in the band `x .. x + w`, drawn strip by strip so the block
    /// can continue on the next page. `underlay` fills the whole band (a table row's stripe);
    /// `boxed` draws a coloured box around the text.
    pub(crate) fn block(
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

    pub(crate) fn table_head_height() -> f32 {
        TABLE_HEAD_TEXT.size * LEADING + 2.0 * CELL_PAD_Y + 1.0
    }

    pub(crate) fn draw_table_head(&mut self, cols: &[Column]) {
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
    pub(crate) fn begin_table(&mut self, cols: Vec<Column>) {
        self.ensure(Self::table_head_height() + 2.0 * BODY.size * LEADING);
        self.draw_table_head(&cols);
        self.table = Some(cols);
        self.zebra = false;
    }

    pub(crate) fn end_table(&mut self) {
        if let Some(cols) = self.table.take() {
            let width: f32 = cols.iter().map(|c| c.width).sum();
            self.hline(MARGIN, MARGIN + width, self.y, 0.6, RULE);
        }
        self.y += 4.0;
    }

    pub(crate) fn table_width(&self) -> f32 {
        self.table
            .as_ref()
            .map_or(CONTENT_W, |cols| cols.iter().map(|c| c.width).sum())
    }

    /// A row of the open table, striped; returns the stripe colour so that detail blocks
    /// under the row can continue it.
    pub(crate) fn row(&mut self, cells: Vec<Cell>) -> Option<Rgb3> {
        let cols = self.table.clone().unwrap_or_default();
        let bg = if self.zebra { Some(ZEBRA) } else { None };
        self.zebra = !self.zebra;
        self.cells(&cols, &cells, bg, None);
        bg
    }

    /// Full-width lines under the current row of the open table.
    pub(crate) fn row_detail(
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
    pub(crate) fn block_indented(
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
    pub(crate) fn row_gap(&mut self, h: f32, underlay: Option<Rgb3>) {
        self.ensure(h);
        if let Some(bg) = underlay {
            let w = self.table_width();
            self.rect(MARGIN, self.y - 0.25, w, h + 0.25, bg);
        }
        self.y += h;
    }

    /// Cells laid out in `cols`. The row is kept on one page when it fits on one; a taller row
    /// is continued on the next page, line by line.
    pub(crate) fn cells(
        &mut self,
        cols: &[Column],
        cells: &[Cell],
        bg: Option<Rgb3>,
        rule: Option<Rgb3>,
    ) {
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
    pub(crate) fn row_height(&self, cols: &[Column], cells: &[Cell]) -> f32 {
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
    pub(crate) fn key_values(&mut self, key_w: f32, rows: Vec<(String, Vec<Span>)>) {
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
    pub(crate) fn finish(mut self, header_left: &str, footer_left: &str) -> Vec<Vec<Op>> {
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
