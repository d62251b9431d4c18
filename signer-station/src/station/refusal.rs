//! Why the station refuses: typed, shown to custodians, and carried with a stable code
//! in the signed refusal response so the coordinator learns why.

use airgap_protocol::envelope::VerifyError;

use crate::hsm::HsmError;

/// A refusal.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// The envelope failed verification.
    #[error("envelope refused: {0}")]
    Envelope(VerifyError),
    /// This request was signed before.
    #[error("this request was already signed (request {0})")]
    RequestReplayed(String),
    /// A payload was signed before.
    #[error("payload {} was already signed in request {previous}", .index + 1)]
    PayloadReplayed {
        /// Payload index.
        index: usize,
        /// Request that signed it.
        previous: String,
    },
    /// A payload spends what an already-signed, different transaction spends.
    #[error("payload {} spends {what}, already spent by another signed transaction", .index + 1)]
    DoubleSpend {
        /// Payload index.
        index: usize,
        /// Nonce, outpoint or durable nonce.
        what: String,
    },
    /// Network not allowed.
    #[error("payload {}: network {network} is not allowed by station policy", .index + 1)]
    NetworkNotAllowed {
        /// Payload index.
        index: usize,
        /// Network.
        network: String,
    },
    /// Over the per-transaction limit.
    #[error("payload {}: {amount} of {asset} exceeds the per-transaction limit of {limit}", .index + 1)]
    OverTransactionLimit {
        /// Payload index.
        index: usize,
        /// Asset.
        asset: String,
        /// Amount (base units).
        amount: u128,
        /// Limit.
        limit: u128,
    },
    /// Over the rolling 24 h limit.
    #[error("payload {}: {amount} of {asset} would bring the last 24 h to {total}, over the limit of {limit}", .index + 1)]
    OverDailyLimit {
        /// Payload index.
        index: usize,
        /// Asset.
        asset: String,
        /// This payload's amount.
        amount: u128,
        /// Total with this payload.
        total: u128,
        /// Limit.
        limit: u128,
    },
    /// No limit configured for an asset: nothing moves that policy does not name.
    #[error("payload {}: station policy has no limit for {asset} on {network}", .index + 1)]
    UnlistedAsset {
        /// Payload index.
        index: usize,
        /// Network.
        network: String,
        /// Asset.
        asset: String,
    },
    /// Destination not allow-listed (and not enough approvals to send elsewhere).
    #[error("payload {}: destination {address} is not allow-listed", .index + 1)]
    NotAllowListed {
        /// Payload index.
        index: usize,
        /// Address.
        address: String,
    },
    /// Fee over policy.
    #[error("payload {}: fee {fee} exceeds station policy ({limit})", .index + 1)]
    FeeTooHigh {
        /// Payload index.
        index: usize,
        /// Fee (base units).
        fee: u128,
        /// The limit that applied.
        limit: String,
    },
    /// Something policy does not allow (unknown call data, unknown program ...).
    #[error("payload {}: {what}, which station policy does not allow", .index + 1)]
    Disallowed {
        /// Payload index.
        index: usize,
        /// What.
        what: String,
    },
    /// The request is valid for longer than policy allows.
    #[error("request is valid for {secs} s, station policy allows at most {max} s")]
    ValidityTooLong {
        /// Seconds between creation and expiry.
        secs: u64,
        /// Policy maximum.
        max: u64,
    },
    /// The payload's network label disagrees with the network the station derives from
    /// the transaction (EVM chain id) or from the station key it needs (Bitcoin, Solana).
    #[error("payload {}: labelled {label} but the transaction is for {derived}", .index + 1)]
    NetworkMismatch {
        /// Payload index.
        index: usize,
        /// What the coordinator said.
        label: String,
        /// What the station derived.
        derived: String,
    },
    /// Fewer approvals than the transfers the station found need (the strictest class
    /// present decides, whatever purpose the request states).
    #[error(
        "{have} approvals, but a {class} needs {need}: the station classifies transfers itself"
    )]
    InsufficientApprovals {
        /// Valid distinct approvals.
        have: usize,
        /// Required.
        need: usize,
        /// The purpose whose count applied (`withdrawal`, `refill`, …).
        class: String,
    },
    /// A Bitcoin input the station cannot prove to be a coin of one of its vaults.
    #[error("payload {} input {input}: not a coin of this station's vaults ({why})", .index + 1)]
    ForeignInput {
        /// Payload index.
        index: usize,
        /// Input.
        input: usize,
        /// Why.
        why: String,
    },
    /// A Bitcoin input without its previous transaction (segwit v0 fee attack).
    #[error("payload {} input {input}: previous transaction missing", .index + 1)]
    MissingPreviousTx {
        /// Payload index.
        index: usize,
        /// Input.
        input: usize,
    },
    /// Witness UTXO and previous transaction disagree.
    #[error("payload {} input {input}: the amount or script claimed for the coin does not match its previous transaction", .index + 1)]
    PrevoutMismatch {
        /// Payload index.
        index: usize,
        /// Input.
        input: usize,
    },
    /// A sighash type other than ALL.
    #[error("payload {} input {input}: sighash type {sighash} refused (only ALL is signed)", .index + 1)]
    ForeignSighash {
        /// Payload index.
        index: usize,
        /// Input.
        input: usize,
        /// Type.
        sighash: String,
    },
    /// Nothing in the payload is for this station's keys.
    #[error("payload {}: {why}", .index + 1)]
    NotOurs {
        /// Payload index.
        index: usize,
        /// Why.
        why: String,
    },
    /// A durable nonce whose account or authority the station does not control.
    #[error("payload {}: durable nonce {what} is not controlled by this station", .index + 1)]
    ForeignNonce {
        /// Payload index.
        index: usize,
        /// What.
        what: String,
    },
    /// The payload does not decode.
    #[error("payload {} does not decode: {reason}", .index + 1)]
    Undecodable {
        /// Payload index.
        index: usize,
        /// Why.
        reason: String,
    },
    /// Custodians refused.
    #[error("refused by custodians: {0}")]
    Custodians(String),
    /// The HSM failed.
    #[error("HSM: {0}")]
    Hsm(HsmError),
    /// The ledger could not be written: nothing is released.
    #[error("ledger: {0}")]
    Ledger(String),
    /// The ledger does not hold the entry the HSM anchored: it was cut or rewritten.
    /// Nothing is signed until custodians resolve it.
    #[error(
        "ledger does not match the HSM's anchor: {0}; signing stops until custodians re-anchor it"
    )]
    LedgerAnchor(String),
    /// The HSM's own audit log could not be read, recorded or consumed, or its chain
    /// breaks. Nothing is signed until custodians investigate.
    #[error("HSM audit log: {0}; signing stops until custodians investigate")]
    HsmLog(String),
}

impl Refusal {
    /// The payload a refusal is about, when it is about one.
    pub fn payload_index(&self) -> Option<usize> {
        match self {
            Self::PayloadReplayed { index, .. }
            | Self::DoubleSpend { index, .. }
            | Self::NetworkNotAllowed { index, .. }
            | Self::OverTransactionLimit { index, .. }
            | Self::OverDailyLimit { index, .. }
            | Self::UnlistedAsset { index, .. }
            | Self::NotAllowListed { index, .. }
            | Self::FeeTooHigh { index, .. }
            | Self::Disallowed { index, .. }
            | Self::NetworkMismatch { index, .. }
            | Self::ForeignInput { index, .. }
            | Self::MissingPreviousTx { index, .. }
            | Self::PrevoutMismatch { index, .. }
            | Self::ForeignSighash { index, .. }
            | Self::NotOurs { index, .. }
            | Self::ForeignNonce { index, .. }
            | Self::Undecodable { index, .. } => Some(*index),
            _ => None,
        }
    }

    /// Stable code for the response (see docs/PROTOCOL.md).
    pub fn code(&self) -> u16 {
        match self {
            Self::Envelope(_) => 10,
            Self::RequestReplayed(_) => 20,
            Self::PayloadReplayed { .. } => 21,
            Self::DoubleSpend { .. } => 22,
            Self::NetworkNotAllowed { .. } => 30,
            Self::OverTransactionLimit { .. } => 31,
            Self::OverDailyLimit { .. } => 32,
            Self::NotAllowListed { .. } => 33,
            Self::FeeTooHigh { .. } => 34,
            Self::Disallowed { .. } => 35,
            Self::UnlistedAsset { .. } => 36,
            Self::ValidityTooLong { .. } => 37,
            Self::NetworkMismatch { .. } => 38,
            Self::InsufficientApprovals { .. } => 39,
            Self::MissingPreviousTx { .. } => 40,
            Self::PrevoutMismatch { .. } => 41,
            Self::ForeignSighash { .. } => 42,
            Self::NotOurs { .. } => 43,
            Self::ForeignNonce { .. } => 44,
            Self::ForeignInput { .. } => 45,
            Self::Undecodable { .. } => 50,
            Self::Custodians(_) => 60,
            Self::Hsm(_) => 70,
            Self::Ledger(_) => 71,
            Self::LedgerAnchor(_) => 72,
            Self::HsmLog(_) => 73,
        }
    }
}
