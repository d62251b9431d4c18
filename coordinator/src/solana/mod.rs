//! Solana: vault accounts from the station descriptor's Ed25519 key, durable nonce
//! accounts per vault, SOL and SPL `transfer_checked` transfers (recipient's associated
//! token account created idempotently), compute budget, legacy and v0 messages;
//! finishing with the station's signatures, sending, and status tracking that marks a
//! transaction whose nonce was advanced by something else as failed, never rebuilt.

mod adapter;
mod build;
mod client;
mod config;
mod finish;
pub mod provision;

pub use adapter::SolChain;
pub use build::{
    associated_token_address, ix, Blockhash, BuildError, MessageVersion, NonceInfo, SolBuilder,
    TxOptions, UnsignedSolTx, MAX_SOL_RECIPIENTS, MAX_TOKEN_RECIPIENTS,
};
pub use client::{AccountInfo, SignatureStatus, SolRpc};
pub use config::{SolConfig, SolToken};
pub use finish::{assemble, SolFinishError, SolState, SolTracker};

/// Program ids.
pub mod program {
    use solana_address::Address;

    /// System program.
    pub const SYSTEM: Address = Address::new_from_array([0; 32]);
    /// SPL Token.
    pub const TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
    /// Associated token account program.
    pub const ATA: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
    /// Compute budget program.
    pub const COMPUTE_BUDGET: &str = "ComputeBudget111111111111111111111111111111";
    /// Recent blockhashes sysvar (nonce instructions).
    pub const RECENT_BLOCKHASHES: &str = "SysvarRecentB1ockHashes11111111111111111111";
    /// Rent sysvar.
    pub const RENT: &str = "SysvarRent111111111111111111111111111111111";

    /// Parses a constant id.
    pub fn id(s: &str) -> Address {
        s.parse().unwrap_or(SYSTEM)
    }
}

/// Size of a nonce account.
pub const NONCE_ACCOUNT_SIZE: u64 = 80;
