//! The integration tests, one binary: every module shares `common` and one link of the library.
//! (`tests/memory.rs` stays its own binary: it measures its own process's resident set.)

mod common;

mod body_cap;
mod broken_provider;
mod checks;
mod cli;
mod concurrency;
mod coverage;
mod doctor;
mod durable_cas;
mod errors;
mod evidence;
mod interrupt;
mod layers;
mod load;
mod masks;
mod mtls;
mod openapi;
mod pat;
mod readme;
mod real_target;
mod reporting;
mod reporting_errors;
mod reporting_received;
mod rerun;
mod resilience;
mod seal;
mod server_limits;
mod stage2_later;
mod stages;
mod thin_binary;
mod tokens;
mod typed_failures;
mod view_data_schema;
