//! `X-Request-ID`, which every CDA operation and reporting call requires as `format: uuid`.

/// A canonical hyphenated UUID, as JSON Schema's `uuid` format takes it: braces, `urn:uuid:`
/// and bare hex are not.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}
