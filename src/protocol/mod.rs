//! The standards' wire contracts and rules, in one place: the find and view contracts (configurable
//! where the live service differs from the documents) and the view-data rules.

pub mod contract;
pub mod rules;
