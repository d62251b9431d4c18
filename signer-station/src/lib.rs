//! The offline signer station: capture, review, station policy, custodian quorum,
//! YubiHSM signing, ceremonies and the station ledger.
//!
//! This crate must never depend, directly or through features, on a crate that opens
//! sockets; `tests/no_network.rs` checks the dependency tree.
//!
//! Not built yet beyond capture (which lives in `airgap-protocol`); see
//! docs/ARCHITECTURE.md for what lands where.
#![warn(missing_docs)]

pub use airgap_protocol::scanner::Scanner;
