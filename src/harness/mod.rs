//! What wires a run together: the target file, the test packs, the environment a run is played in
//! (servers, keys, provider), the match-update command, and the doctor and init commands.

pub mod bundled;
pub mod config;
pub mod doctor;
pub mod environment;
pub mod init;
pub mod provider_service;
pub mod testpack;
pub mod updates;
