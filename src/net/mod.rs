//! The network layer: run-time PKI, mTLS clients and servers with their limits, JWT signing and
//! checking, and the recorder that writes every exchange to the run log.

pub mod jwt;
pub mod pem;
pub mod pki;
pub mod recorder;
pub mod secret;
pub mod server;
pub mod tls;
