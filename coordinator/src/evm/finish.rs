//! Finishing: the station's signature attached, the sender recovered and compared with
//! the vault, then receipt tracking with reorg and drop detection.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_primitives::{Address, Signature, TxKind, B256, U256};
use serde::{Deserialize, Serialize};

use super::{EvmRpc, Fees, UnsignedEvmTx};
use crate::rpc::RpcError;

/// Half the secp256k1 group order: the largest low-S value.
const HALF_N: U256 = U256::from_be_bytes([
    0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0x5d, 0x57, 0x6e, 0x73, 0x57, 0xa4, 0x50, 0x1d, 0xdf, 0xe9, 0x2f, 0x46, 0x68, 0x1b, 0x20, 0xa0,
]);

/// Why a signature was not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FinishError {
    /// `v` is not a y-parity.
    #[error("recovery id {0} is not 0 or 1")]
    BadRecoveryId(u8),
    /// High-S: every EVM chain rejects it (EIP-2); the station must normalise.
    #[error("high-S signature: the station must return low-S")]
    HighS,
    /// The stored transaction no longer encodes to what was exported.
    #[error("the stored transaction does not match what was exported for signing")]
    Tampered,
    /// Not recoverable.
    #[error("signature does not recover: {0}")]
    Unrecoverable(String),
    /// Recovers to another account.
    #[error("signature recovers to {found}, not the vault {expected}")]
    WrongSigner {
        /// The vault.
        expected: Address,
        /// Recovered.
        found: Address,
    },
}

/// A transaction ready to broadcast.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedEvmTx {
    /// EIP-2718 encoding for `eth_sendRawTransaction`.
    pub raw: Vec<u8>,
    /// Transaction hash.
    pub hash: B256,
    /// Sender (recovered, equal to the vault).
    pub from: Address,
    /// Nonce.
    pub nonce: u64,
}

/// Attaches the station's `r || s || v` to `tx`.
pub fn attach_signature(tx: &UnsignedEvmTx, sig: &[u8; 65]) -> Result<SignedEvmTx, FinishError> {
    let v = sig[64];
    if v > 1 {
        return Err(FinishError::BadRecoveryId(v));
    }
    let r = U256::from_be_slice(&sig[..32]);
    let s = U256::from_be_slice(&sig[32..64]);
    if s > HALF_N {
        return Err(FinishError::HighS);
    }
    let signature = Signature::new(r, s, v == 1);
    let mut again = Vec::new();
    let envelope: TxEnvelope = match tx.fees {
        Fees::Eip1559 {
            max_fee_per_gas,
            max_priority_fee_per_gas,
        } => {
            let t = TxEip1559 {
                chain_id: tx.chain_id,
                nonce: tx.nonce,
                gas_limit: tx.gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to: TxKind::Call(tx.to),
                value: tx.value,
                access_list: Default::default(),
                input: tx.input.clone().into(),
            };
            t.encode_for_signing(&mut again);
            t.into_signed(signature).into()
        }
        Fees::Legacy { gas_price } => {
            let t = TxLegacy {
                chain_id: Some(tx.chain_id),
                nonce: tx.nonce,
                gas_price,
                gas_limit: tx.gas_limit,
                to: TxKind::Call(tx.to),
                value: tx.value,
                input: tx.input.clone().into(),
            };
            t.encode_for_signing(&mut again);
            t.into_signed(signature).into()
        }
    };
    if again != tx.unsigned {
        return Err(FinishError::Tampered);
    }
    let found = envelope
        .recover_signer()
        .map_err(|e| FinishError::Unrecoverable(e.to_string()))?;
    if found != tx.from {
        return Err(FinishError::WrongSigner {
            expected: tx.from,
            found,
        });
    }
    let mut raw = Vec::new();
    alloy_eips::eip2718::Encodable2718::encode_2718(&envelope, &mut raw);
    Ok(SignedEvmTx {
        raw,
        hash: *envelope.tx_hash(),
        from: found,
        nonce: tx.nonce,
    })
}

/// Where a broadcast transaction stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrackState {
    /// Known to the node, not in a block.
    Pending,
    /// In a block, fewer confirmations than required.
    Included {
        /// Block number.
        block: u64,
        /// Confirmations so far.
        confirmations: u64,
        /// Receipt status.
        success: bool,
    },
    /// Confirmed as configured.
    Final {
        /// Block number.
        block: u64,
        /// Receipt status: a reverted transaction is final and failed.
        success: bool,
    },
    /// The block it was in is no longer canonical: back to pending (alert operators).
    Reorged {
        /// The block it had been in.
        was_block: u64,
    },
    /// Not known to the node and its nonce is unused: rebroadcasting the same bytes is safe.
    Missing,
    /// Another transaction used its nonce: it can never land.
    Dropped,
}

/// Tracks one transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tracker {
    /// Hash.
    pub hash: B256,
    /// Sender.
    pub from: Address,
    /// Nonce.
    pub nonce: u64,
    /// Confirmations required.
    pub required: u64,
    /// Block (number, hash) it was last seen in.
    pub seen: Option<(u64, B256)>,
}

impl Tracker {
    /// Tracks `tx`.
    pub fn new(tx: &SignedEvmTx, required: u64) -> Self {
        Self {
            hash: tx.hash,
            from: tx.from,
            nonce: tx.nonce,
            required: required.max(1),
            seen: None,
        }
    }

    /// Asks the node.
    pub fn poll(&mut self, node: &EvmRpc) -> Result<TrackState, RpcError> {
        let receipt = node.receipt(self.hash)?;
        // A receipt only counts if its block is the canonical block at that height.
        let canonical = match &receipt {
            Some(r) => node
                .block(r.block_number.to::<u64>())?
                .is_some_and(|b| b.hash == r.block_hash),
            None => false,
        };
        match (receipt.filter(|_| canonical), self.seen) {
            (Some(r), seen) => {
                let at = (r.block_number.to::<u64>(), r.block_hash);
                self.seen = Some(at);
                if let Some(was) = seen.filter(|s| *s != at) {
                    return Ok(TrackState::Reorged { was_block: was.0 });
                }
                let tip = node.block_number()?;
                let confirmations = tip.saturating_sub(at.0) + 1;
                let success = r.status.to::<u64>() == 1;
                if confirmations >= self.required {
                    Ok(TrackState::Final {
                        block: at.0,
                        success,
                    })
                } else {
                    Ok(TrackState::Included {
                        block: at.0,
                        confirmations,
                        success,
                    })
                }
            }
            (None, Some((was, _))) => {
                self.seen = None;
                Ok(TrackState::Reorged { was_block: was })
            }
            (None, None) => {
                if node.knows(self.hash)? {
                    Ok(TrackState::Pending)
                } else if node.nonce(self.from, "latest")? > self.nonce {
                    Ok(TrackState::Dropped)
                } else {
                    Ok(TrackState::Missing)
                }
            }
        }
    }
}
