//! Wire contracts and constants both sides of a connection agree on, below every party that
//! speaks them (the harness's CDA, the reference provider, reporting).

pub mod ids;
pub mod match_updates;
pub mod members;
pub mod served_views;
