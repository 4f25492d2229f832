// TEMPORARY until the PDF renderer lands; not committed.
#[derive(Debug, thiserror::Error)]
pub enum PdfError {
    #[error("font: {0}")]
    Font(String),
    #[error("write: {0}")]
    Write(String),
}
pub fn render_pdf(_r: &super::record::RunRecord) -> Result<Vec<u8>, PdfError> {
    Ok(b"%PDF-pending".to_vec())
}
