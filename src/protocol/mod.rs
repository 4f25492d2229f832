//! The standards' wire contracts and rules, in one place: the find and view contracts (configurable
//! where the live service differs from the documents), the view-data rules, and what both sides
//! of a connection agree on below every party that speaks it (the match-update file, member
//! data, served views, identifiers).

pub mod contract;
pub mod ids;
pub mod match_updates;
pub mod members;
pub mod rules;
pub mod served_views;
