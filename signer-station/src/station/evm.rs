//! EVM: the station decodes the unsigned transaction itself, checks the signer is its
//! key, and signs the keccak-256 signing hash.

use airgap_protocol::summary::evm::{decode_unsigned, EvmTx};
use alloy_primitives::{keccak256, Address};

use super::refusal::Refusal;
use crate::hsm::{KeyInfo, SigningBackend};
use crate::sign::sign_secp256k1;

/// A transaction ready to sign.
#[derive(Debug, Clone)]
pub struct EvmPrepared {
    /// The decoded transaction.
    pub tx: EvmTx,
    /// keccak-256 of the unsigned bytes.
    pub signing_hash: [u8; 32],
    /// The nonce consumed, as a replay key.
    pub spends: Vec<String>,
}

/// The address of a secp256k1 key (SEC1, compressed or not).
pub fn address_of(public_key: &[u8]) -> Option<Address> {
    let pk = k256::PublicKey::from_sec1_bytes(public_key).ok()?;
    let uncompressed = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    Some(Address::from_slice(
        &keccak256(&uncompressed.as_bytes()[1..])[12..],
    ))
}

/// Checks an EVM payload.
pub fn prepare(
    index: usize,
    chain_id: u64,
    signer: &[u8; 20],
    bytes: &[u8],
    key: &KeyInfo,
) -> Result<EvmPrepared, Refusal> {
    let tx = decode_unsigned(bytes).map_err(|e| Refusal::Undecodable {
        index,
        reason: e.to_string(),
    })?;
    match tx.chain_id {
        None => {
            return Err(Refusal::Disallowed {
                index,
                what: "a pre-EIP-155 transaction (replayable on every chain)".into(),
            })
        }
        Some(c) if c != chain_id => {
            return Err(Refusal::Disallowed {
                index,
                what: format!("chain id {c} in the transaction but {chain_id} in the request"),
            })
        }
        Some(_) => {}
    }
    let ours = address_of(&key.public_key).ok_or(Refusal::NotOurs {
        index,
        why: "station EVM key unreadable".into(),
    })?;
    if ours.as_slice() != signer {
        return Err(Refusal::NotOurs {
            index,
            why: format!(
                "signer {} is not the station's EVM address {}",
                Address::from(*signer),
                ours.to_checksum(None)
            ),
        });
    }
    // The nonce is the resource; the call (recipient, value, data) its content. A second
    // transaction at a signed nonce is refused unless it makes the very same call (a fee
    // bump): only one of them can land, and either pays the same.
    let mut call = Vec::new();
    if let Some(to) = &tx.to {
        call.extend_from_slice(to.as_slice());
    }
    call.extend_from_slice(&tx.value.to_be_bytes::<32>());
    call.extend_from_slice(&tx.data);
    let spends = vec![format!(
        "evm:{chain_id}:{}:nonce:{}#call:{}",
        ours.to_checksum(None),
        tx.nonce,
        hex::encode(&keccak256(&call)[..12])
    )];
    Ok(EvmPrepared {
        signing_hash: keccak256(bytes).0,
        tx,
        spends,
    })
}

/// Signs: 65 bytes `r || s || y-parity`, low-S.
pub fn sign<B: SigningBackend + ?Sized>(
    p: &EvmPrepared,
    backend: &B,
    key: &KeyInfo,
) -> Result<[u8; 65], Refusal> {
    sign_secp256k1(backend, key, &p.signing_hash)
        .map(|s| s.to_rsv())
        .map_err(Refusal::Hsm)
}
