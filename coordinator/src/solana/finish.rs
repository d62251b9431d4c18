//! Finishing: the station's signatures placed and verified, then status tracking.

use ed25519_dalek::{Signature, VerifyingKey};
use serde::{Deserialize, Serialize};
use solana_address::Address;

use super::{SolBuilder, SolRpc, UnsignedSolTx};
use crate::rpc::RpcError;

/// Why signatures were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SolFinishError {
    /// A required signer has no signature.
    #[error("no signature from required signer {0}")]
    Missing(String),
    /// A signature does not verify over the message.
    #[error("signature of {0} does not verify over the message")]
    Invalid(String),
    /// A signature from a key the message does not require.
    #[error("signature from {0}, which the message does not require")]
    Foreign(String),
}

fn shortvec(n: usize, out: &mut Vec<u8>) {
    let mut n = n;
    loop {
        let mut b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        b |= 0x80;
        out.push(b);
    }
}

/// The wire transaction: every required signature, in order, each verified.
pub fn assemble(
    tx: &UnsignedSolTx,
    sigs: &[([u8; 32], [u8; 64])],
) -> Result<Vec<u8>, SolFinishError> {
    for (k, _) in sigs {
        if !tx.signers.iter().any(|s| s.to_bytes() == *k) {
            return Err(SolFinishError::Foreign(
                Address::new_from_array(*k).to_string(),
            ));
        }
    }
    let mut out = Vec::new();
    shortvec(tx.signers.len(), &mut out);
    for signer in &tx.signers {
        let (_, sig) = sigs
            .iter()
            .find(|(k, _)| *k == signer.to_bytes())
            .ok_or_else(|| SolFinishError::Missing(signer.to_string()))?;
        let ok = VerifyingKey::from_bytes(&signer.to_bytes())
            .map(|vk| {
                vk.verify_strict(&tx.message, &Signature::from_bytes(sig))
                    .is_ok()
            })
            .unwrap_or(false);
        if !ok {
            return Err(SolFinishError::Invalid(signer.to_string()));
        }
        out.extend_from_slice(sig);
    }
    out.extend_from_slice(&tx.message);
    Ok(out)
}

/// Where a sent transaction stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SolState {
    /// Seen, below the commitment asked for.
    Processing {
        /// Slot.
        slot: u64,
    },
    /// At the commitment asked for, executed successfully.
    Landed {
        /// Slot.
        slot: u64,
    },
    /// Landed and failed (the fee was paid; the transfer did not happen).
    Failed {
        /// The runtime's error.
        err: String,
    },
    /// Not seen; its blockhash or nonce is still valid, so sending the same bytes again is
    /// safe.
    NotFound,
    /// Its durable nonce was advanced by another transaction: it can never land. Mark
    /// the request failed; never rebuild it silently.
    NonceAdvanced,
}

/// Tracks one transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolTracker {
    /// The first signature (the transaction id), base58.
    pub signature: String,
    /// The message (for its nonce account and value).
    pub tx: UnsignedSolTx,
    /// `confirmed` or `finalized`.
    pub commitment: String,
}

impl SolTracker {
    /// Tracks `tx` whose wire form is `wire`.
    pub fn new(tx: &UnsignedSolTx, wire: &[u8], commitment: &str) -> Self {
        let sig = wire
            .get(1..65)
            .map(|s| bs58::encode(s).into_string())
            .unwrap_or_default();
        Self {
            signature: sig,
            tx: tx.clone(),
            commitment: commitment.into(),
        }
    }

    /// Asks the node.
    pub fn poll(&self, node: &SolRpc) -> Result<SolState, RpcError> {
        let s = node.statuses(std::slice::from_ref(&self.signature))?;
        match s.into_iter().next().flatten() {
            Some(st) if st.err.is_some() => Ok(SolState::Failed {
                err: st.err.unwrap_or_default(),
            }),
            Some(st) => {
                let reached = match self.commitment.as_str() {
                    "finalized" => st.confirmation == "finalized",
                    _ => st.confirmation == "confirmed" || st.confirmation == "finalized",
                };
                Ok(if reached {
                    SolState::Landed { slot: st.slot }
                } else {
                    SolState::Processing { slot: st.slot }
                })
            }
            None => {
                if let Some(account) = &self.tx.nonce_account {
                    let now =
                        SolBuilder { node }
                            .nonce(account)
                            .map_err(|e| RpcError::BadAnswer {
                                method: "getAccountInfo".into(),
                                reason: e.to_string(),
                            })?;
                    if now.nonce != self.tx.blockhash {
                        return Ok(SolState::NonceAdvanced);
                    }
                }
                Ok(SolState::NotFound)
            }
        }
    }
}
