//! Identifiers as the specs write them.

/// A canonical (hyphenated, 36-character) UUID, as JSON Schema's `uuid` format wants (the
/// specs' request ids, record ids): `Uuid::parse_str` alone would also take braced,
/// `urn:uuid:` and bare-hex forms.
pub fn is_uuid(s: &str) -> bool {
    s.len() == 36 && uuid::Uuid::try_parse(s).is_ok()
}
