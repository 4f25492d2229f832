//! Wire vocabulary shared by the CDA side, the reference provider and the audit: what the MaPS
//! OpenAPI files spell as strings, typed once here so no layer compares strings.

pub mod match_status;
pub mod request_id;
pub mod tokens;
