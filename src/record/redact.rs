//! One redaction policy for every output: tokens, keys, credentials and the personal data of
//! the test personas are masked before anything is recorded, so the run log, `run.json`,
//! `junit.xml` and the PDF can never hold them (unless the user asked to reveal personal data).

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a JWS / JWT.
pub const TOKEN_MASK: &str = "[redacted token]";
/// What replaces a persona's personal value.
pub const PERSONAL_MASK: &str = "[personal data]";
/// What replaces a `[redaction] mask` value.
pub const MASK: &str = "[masked]";

static JWS: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"eyJ[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]+\.[A-Za-z0-9_\-]*").ok());
static PEM_KEY: LazyLock<Option<Regex>> = LazyLock::new(|| {
    Regex::new(r"-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----").ok()
});
/// UK National Insurance number shape (with optional spaces). Deliberately wider than HMRC's
/// prefix rules: the dummy prefix QQ used in test data must be masked too.
static NINO: LazyLock<Option<Regex>> =
    LazyLock::new(|| Regex::new(r"\b[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b").ok());

/// Headers whose values are credentials.
const SECRET_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
];

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Personal values to mask, longest first so a full address line masks before a word of it.
    personal: Vec<String>,
    reveal_personal_data: bool,
    /// `[redaction] mask` values: secrets, masked always, whatever `reveal` says.
    masks: Vec<String>,
}

impl Redactor {
    pub fn new(personal_values: impl IntoIterator<Item = String>, reveal: bool) -> Redactor {
        let mut personal: Vec<String> = personal_values
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| v.chars().count() >= 3)
            .collect();
        personal.sort_by_key(|v| std::cmp::Reverse(v.len()));
        personal.dedup();
        Redactor {
            personal,
            reveal_personal_data: reveal,
            masks: Vec::new(),
        }
    }

    /// Values masked in every output always, `--reveal-personal-data` or not (longest first).
    pub fn with_masks(mut self, masks: impl IntoIterator<Item = String>) -> Redactor {
        self.masks = masks
            .into_iter()
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .collect();
        self.masks.sort_by_key(|v| std::cmp::Reverse(v.len()));
        self.masks.dedup();
        self
    }

    pub fn masks(&self) -> &[String] {
        &self.masks
    }

    /// Only the always-masked values, for text that is otherwise shown as it is (configuration,
    /// console lines).
    pub fn mask(&self, input: &str) -> String {
        mask_all(input, &self.masks)
    }

    pub fn reveals_personal_data(&self) -> bool {
        self.reveal_personal_data
    }

    /// Mask tokens, private keys and (unless revealed) personal data in free text.
    pub fn text(&self, input: &str) -> String {
        let mut out = self.mask(input);
        if let Some(re) = PEM_KEY.as_ref() {
            out = re.replace_all(&out, "[redacted private key]").into_owned();
        }
        if let Some(re) = JWS.as_ref() {
            out = re.replace_all(&out, TOKEN_MASK).into_owned();
        }
        if !self.reveal_personal_data {
            for value in &self.personal {
                out = replace_case_insensitive(&out, value, PERSONAL_MASK);
            }
            if let Some(re) = NINO.as_ref() {
                out = re.replace_all(&out, PERSONAL_MASK).into_owned();
            }
        }
        out
    }

    /// A header value: credentials are masked whole, the rest like text.
    pub fn header(&self, name: &str, value: &str) -> String {
        if SECRET_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            match value.split_once(' ') {
                Some((scheme, _)) => format!("{scheme} [redacted]"),
                None => "[redacted]".to_owned(),
            }
        } else {
            self.text(value)
        }
    }
}

/// Replace every value of `masks` (case-insensitively) with [`MASK`].
pub fn mask_all(input: &str, masks: &[String]) -> String {
    let mut out = input.to_owned();
    for value in masks {
        out = replace_case_insensitive(&out, value, MASK);
    }
    out
}

fn replace_case_insensitive(haystack: &str, needle: &str, with: &str) -> String {
    let lower_hay = haystack.to_lowercase();
    let lower_needle = needle.to_lowercase();
    // Lower-casing can change byte lengths outside ASCII; fall back to exact matching then.
    if lower_hay.len() != haystack.len() || lower_needle.len() != needle.len() {
        return haystack.replace(needle, with);
    }
    let mut out = String::with_capacity(haystack.len());
    let mut last = 0;
    for (start, _) in lower_hay.match_indices(&lower_needle) {
        if start < last {
            continue;
        }
        out.push_str(&haystack[last..start]);
        out.push_str(with);
        last = start + needle.len();
    }
    out.push_str(&haystack[last..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_tokens_keys_and_personal_values() {
        let r = Redactor::new(["ELEANOR".to_owned(), "14 ORCHARD ROW".to_owned()], false);
        let s = r.text(
            "token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln for Eleanor at 14 Orchard Row, NI QQ 12 34 56 C",
        );
        assert!(!s.contains("eyJ"), "{s}");
        assert!(!s.to_lowercase().contains("eleanor"), "{s}");
        assert!(!s.to_lowercase().contains("orchard"), "{s}");
        assert!(!s.contains("QQ 12"), "{s}");
        assert_eq!(r.header("Authorization", "Bearer abc"), "Bearer [redacted]");
        let key = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----";
        assert_eq!(r.text(key), "[redacted private key]");
    }

    #[test]
    fn reveal_keeps_personal_data_but_never_tokens() {
        let r = Redactor::new(["ELEANOR".to_owned()], true);
        let s = r.text("ELEANOR eyJa.eyJb.c");
        assert!(s.contains("ELEANOR"));
        assert!(!s.contains("eyJa"));
    }
}
