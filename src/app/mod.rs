//! What the commands do, above the runner: one run as `run` performs it ([`session`], shared by
//! `run` and `serve`), `serve` with runs attached ([`serve`]), the find volume mode ([`load`]),
//! the speed figures ([`bench`]) and the reporting submission ([`submit`]). The binary's `cli`
//! parses arguments and calls these.

pub mod bench;
pub mod load;
pub mod serve;
pub mod session;
pub mod submit;
