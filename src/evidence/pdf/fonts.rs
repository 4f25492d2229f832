//! The embedded DejaVu faces, their glyph metrics and line breaking: text is measured with the
//! fonts' own advance widths, so wrapping and right alignment are exact.

use printpdf::{FontId, ParsedFont};

use super::PdfError;
use super::style::*;

pub(crate) const FONT_REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSans.ttf");
pub(crate) const FONT_BOLD: &[u8] = include_bytes!("../fonts/DejaVuSans-Bold.ttf");
/// The same fonts zlib-deflated by build.rs, for their streams in the PDF.
pub(crate) const FONT_REGULAR_DEFLATED: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSans.ttf.zlib"));
pub(crate) const FONT_BOLD_DEFLATED: &[u8] =
    include_bytes!(concat!(env!("OUT_DIR"), "/DejaVuSans-Bold.ttf.zlib"));

pub(crate) struct Face {
    pub(crate) id: FontId,
    pub(crate) parsed: ParsedFont,
    /// Advance widths of ASCII characters, in em.
    pub(crate) ascii: [f32; 128],
    pub(crate) units_per_em: f32,
    /// Advance of glyph 0 (.notdef), in em, for characters the font lacks.
    pub(crate) missing: f32,
}

impl Face {
    pub(crate) fn load(bytes: &[u8], resource_name: &str) -> Result<Face, PdfError> {
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
    pub(crate) fn em(&self, c: char) -> f32 {
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

pub(crate) struct Fonts {
    pub(crate) regular: Face,
    pub(crate) bold: Face,
}

impl Fonts {
    pub(crate) fn load() -> Result<Fonts, PdfError> {
        Ok(Fonts {
            regular: Face::load(FONT_REGULAR, "F1")?,
            bold: Face::load(FONT_BOLD, "F2")?,
        })
    }

    pub(crate) fn face(&self, weight: Weight) -> &Face {
        match weight {
            Weight::Regular => &self.regular,
            Weight::Bold => &self.bold,
        }
    }

    pub(crate) fn char_width(&self, style: Style, c: char) -> f32 {
        self.face(style.weight).em(c) * style.size
    }

    pub(crate) fn text_width(&self, style: Style, text: &str) -> f32 {
        text.chars().map(|c| self.char_width(style, c)).sum()
    }

    /// `text` cut (with "…") so that it fits in `max_w`.
    pub(crate) fn fit(&self, style: Style, text: &str, max_w: f32) -> String {
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
    pub(crate) fn wrap(&self, spans: &[Span], max_w: f32) -> Vec<WrappedLine> {
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

    pub(crate) fn line_from(
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
pub(crate) fn break_lines(
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
pub(crate) struct WrappedLine {
    pub(crate) spans: Vec<Span>,
    /// Width including `indent`.
    pub(crate) width: f32,
    /// Hanging indent of a continuation line.
    pub(crate) indent: f32,
    /// Largest font size on the line.
    pub(crate) size: f32,
}

impl WrappedLine {
    pub(crate) fn height(&self) -> f32 {
        self.size * LEADING
    }
}

/// Baseline of a line of `size` set in a line box of height `h` whose top is `top`.
pub(crate) fn baseline(top: f32, h: f32, size: f32) -> f32 {
    top + h / 2.0 + 0.30 * size
}
