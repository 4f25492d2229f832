//! pdp-harness: rehearse, pass and evidence a connection to the UK Pensions Dashboards
//! central digital architecture (CDA).
//!
//! Layers, each importing only those before it (checked by `tests/integration/layers.rs`):
//! - [`record`]: the run log's vocabulary: events, the run record, failure classes, redaction;
//! - [`net`]: run-time PKI, mTLS clients and servers, JWTs, the exchange recorder;
//! - [`protocol`]: the wire contracts and the standards' rules (find and view contracts, view-data rules);
//! - [`cda`], [`provider`], [`reporting`]: the CDA side the harness plays, the reference provider,
//!   and the reporting API client and simulator;
//! - [`harness`]: configuration, test packs, the environment a run is wired into, doctor, init;
//! - [`runner`]: the Gherkin runner and its step definitions;
//! - [`app`]: what the commands do: one run (shared by `run` and `serve`), serve, load, bench;
//! - [`evidence`]: the outputs rendered from the run record alone (it imports [`record`] only).

pub mod app;
pub mod cda;
pub mod evidence;
pub mod harness;
pub mod net;
pub mod protocol;
pub mod provider;
pub mod record;
pub mod reporting;
pub mod runner;
