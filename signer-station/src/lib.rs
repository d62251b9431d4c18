//! The offline signer station: capture, review, station policy, custodian quorum,
//! YubiHSM signing, ceremonies and the station ledger.
//!
//! This crate must never depend, directly or through features, on a crate that opens
//! sockets; `tests/no_network.rs` checks the dependency tree.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod capture;
pub mod ceremony;
#[cfg(feature = "rehearsal")]
pub mod fixtures;
pub mod hsm;
pub mod keys;
pub mod ledger;
pub mod quorum;
pub mod sign;
pub mod station;
pub mod tui;

pub use airgap_protocol::scanner::Scanner;
