//! The CDA side the harness plays: the consent and authorisation service (a server), and the
//! pension finder and dashboard (clients of the provider).

pub mod cas;
pub mod dashboard;
pub mod faults;
pub mod finder;
pub mod service;
pub mod store;
