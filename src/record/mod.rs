//! The run log's vocabulary, below everything that writes or reads it: the events and their log
//! ([`runlog`]), the run record folded from them ([`run`]), failure classes ([`classify`]) and
//! redaction ([`redact`]).

pub mod classify;
pub mod events;
pub mod load;
pub mod redact;
pub mod run;
pub mod runlog;
pub mod synthetic;
