//! Ceremonies: once per station, each step recorded in the ledger by the caller.

pub mod backup;
mod descriptor;
mod init;
mod keys;

pub use descriptor::{export_descriptor, policy_digest};

pub use init::{init, OPERATING_KEY_ID};
pub use keys::{generate_station_keys, make_station_keys};
