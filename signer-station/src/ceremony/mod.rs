//! Ceremonies: once per station, each step recorded in the ledger by the caller.

pub mod backup;
mod descriptor;
mod init;
mod keys;

pub use descriptor::{export_descriptor, policy_digest};

pub use init::{init, OPERATING_KEY_ID};
pub use keys::{
    bitcoin_key_id, generate_station_keys, solana_key_id, station_key_ids, StationKeys,
    KEY_BITCOIN, KEY_EVM, KEY_IDENTITY, KEY_SOLANA,
};
