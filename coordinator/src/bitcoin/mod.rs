//! Bitcoin: watch-only vaults from station keys (`wpkh(K)` and
//! `wsh(sortedmulti(m, K1..Kn))` across stations), built on bdk_wallet / miniscript for
//! descriptors, addresses, UTXO tracking and coin selection; PSBTs for payments (one or
//! many recipients), consolidation and sweeps with RBF signalled and every input's previous
//! transaction; partial signatures from several stations combined and checked; finalised,
//! extracted, and verified input by input with Bitcoin Core's script interpreter before
//! anything is broadcast.
//!
//! Station keys live in an HSM that does not derive BIP-32 children, so a vault is one
//! script (one address) per key set; deposit addresses for the warm tier come from an
//! xpub instead.

mod adapter;
pub mod chain;
mod config;
mod deposit;
mod psbt_check;
pub mod sweep;
pub mod v2;
mod vault;

pub use adapter::{decode_psbt, BtcChain};
pub use config::{btc_network, BtcConfig, Cosigner};
pub use deposit::DepositPool;
pub use psbt_check::{combine, fee_of, standardness, verify_with_core, CombineError};
pub use vault::{with_origin, BuildError, Vault};
