//! The standards' wire contracts and rules, in one place: the find and view contracts (configurable
//! where the live service differs from the documents), the view-data rules, and the wire
//! vocabulary the MaPS OpenAPI files spell as strings (grant and token types, match status and
//! deletion reasons, request ids), typed once so no layer compares strings; and what both sides agree on below every party that
//! speaks it (the match-update file, member data, served views).

pub mod contract;
pub mod match_status;
pub mod match_updates;
pub mod members;
pub mod request_id;
pub mod rules;
pub mod served_views;
pub mod tokens;
