//! pdp-harness: rehearse, pass and evidence a connection to the UK Pensions Dashboards
//! central digital architecture (CDA).
//!
//! Layout:
//! - [`cda`]: the CDA side the harness plays (C&A server, pension finder, dashboard);
//! - [`provider`]: the reference provider, the system under test on the embedded default;
//! - [`contract`]: the find and view wire contracts, configurable in one place;
//! - [`runner`]: the Gherkin runner and its step definitions;
//! - [`reporting`]: submissions to the six reporting API endpoints, the reporting simulator,
//!   the UTC-day guard and reconciliation;
//! - [`evidence`]: run log, run record, redaction, JUnit, JSON and PDF outputs;
//! - [`environment`], [`pki`], [`tls`], [`jwt`]: wiring, run-time PKI, mTLS and token checks.

pub mod bench;
pub mod bundled;
pub mod cda;
pub mod config;
pub mod contract;
pub mod doctor;
pub mod environment;
pub mod evidence;
pub mod init;
pub mod jwt;
pub mod keyfiles;
pub mod load;
pub mod pki;
pub mod protocol;
pub mod provider;
pub mod provider_service;
pub mod recorder;
pub mod reporting;
pub mod rules;
pub mod runner;
pub mod serve;
pub mod server;
pub mod session;
pub mod testpack;
pub mod tls;
pub mod updates;
