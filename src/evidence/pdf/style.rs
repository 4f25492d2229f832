//! The report's look: palette, font weights, text styles and styled runs of text. Kept apart so
//! that sections name a style ("NOTE", "CODE") rather than a size and colour.

use printpdf::{Color, Rgb};

/// Line height as a multiple of the font size.
pub(crate) const LEADING: f32 = 1.32;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb3(pub(crate) f32, pub(crate) f32, pub(crate) f32);

impl Rgb3 {
    pub(crate) fn color(self) -> Color {
        Color::Rgb(Rgb {
            r: self.0,
            g: self.1,
            b: self.2,
            icc_profile: None,
        })
    }
}

pub(crate) const NAVY: Rgb3 = Rgb3(0.106, 0.227, 0.420);
pub(crate) const TEXT: Rgb3 = Rgb3(0.13, 0.14, 0.16);
pub(crate) const MUTED: Rgb3 = Rgb3(0.40, 0.42, 0.46);
pub(crate) const RULE: Rgb3 = Rgb3(0.70, 0.72, 0.76);
pub(crate) const HAIRLINE: Rgb3 = Rgb3(0.86, 0.87, 0.89);
pub(crate) const TABLE_HEAD: Rgb3 = Rgb3(0.886, 0.894, 0.910);
pub(crate) const ZEBRA: Rgb3 = Rgb3(0.961, 0.969, 0.980);
pub(crate) const CODE_BG: Rgb3 = Rgb3(0.925, 0.929, 0.937);
pub(crate) const WHITE: Rgb3 = Rgb3(1.0, 1.0, 1.0);

pub(crate) const GREEN: Rgb3 = Rgb3(0.106, 0.478, 0.243);
pub(crate) const PALE_GREEN: Rgb3 = Rgb3(0.863, 0.937, 0.882);
pub(crate) const RED: Rgb3 = Rgb3(0.722, 0.129, 0.122);
pub(crate) const PALE_RED: Rgb3 = Rgb3(0.988, 0.906, 0.902);
pub(crate) const AMBER: Rgb3 = Rgb3(0.925, 0.604, 0.063);
pub(crate) const DARK_AMBER: Rgb3 = Rgb3(0.600, 0.365, 0.0);
pub(crate) const PALE_AMBER: Rgb3 = Rgb3(1.0, 0.949, 0.835);
pub(crate) const GREY_STATUS: Rgb3 = Rgb3(0.35, 0.37, 0.40);
pub(crate) const PALE_GREY: Rgb3 = Rgb3(0.910, 0.914, 0.922);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weight {
    Regular,
    Bold,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Style {
    pub(crate) weight: Weight,
    pub(crate) size: f32,
    pub(crate) color: Rgb3,
}

impl Style {
    pub(crate) const fn new(weight: Weight, size: f32, color: Rgb3) -> Style {
        Style {
            weight,
            size,
            color,
        }
    }
    pub(crate) const fn bold(self) -> Style {
        Style::new(Weight::Bold, self.size, self.color)
    }
    pub(crate) const fn colored(self, color: Rgb3) -> Style {
        Style::new(self.weight, self.size, color)
    }
}

pub(crate) const BODY: Style = Style::new(Weight::Regular, 9.0, TEXT);
pub(crate) const SMALL: Style = Style::new(Weight::Regular, 8.0, TEXT);
pub(crate) const NOTE: Style = Style::new(Weight::Regular, 8.0, MUTED);
pub(crate) const CODE: Style = Style::new(Weight::Regular, 7.5, TEXT);
pub(crate) const LABEL: Style = Style::new(Weight::Bold, 7.5, MUTED);
pub(crate) const TABLE_HEAD_TEXT: Style = Style::new(Weight::Bold, 8.0, TEXT);
pub(crate) const RUNNING: Style = Style::new(Weight::Regular, 7.5, MUTED);

/// A run of text in one style.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Span {
    pub(crate) text: String,
    pub(crate) style: Style,
}

pub(crate) fn span(text: impl Into<String>, style: Style) -> Span {
    Span {
        text: text.into(),
        style,
    }
}

/// A paragraph made of a single span.
pub(crate) fn para(text: impl Into<String>, style: Style) -> Vec<Span> {
    vec![span(text, style)]
}
