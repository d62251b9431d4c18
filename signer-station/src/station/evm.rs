//! EVM: the facts of an unsigned transaction, decoded by the station itself. The network
//! is the one its chain id names; the signer must be the station's key; ERC-20 transfers
//! and approvals are decoded into typed transfers; any other call names its contract as a
//! destination.

use airgap_protocol::network::Network;
use airgap_protocol::summary::evm::{decode_unsigned, Erc20Call, EvmTx};
use airgap_protocol::summary::evm_native_symbol;
use alloy_primitives::{keccak256, Address, U256};

use super::facts::{check_label, AssetId, Class, Facts, Feature, Transfer, TransferKind};
use super::refusal::Refusal;
use super::Context;
use crate::hsm::{KeyInfo, SigningBackend};
use crate::sign::sign_secp256k1;

/// A transaction ready to sign.
#[derive(Debug, Clone)]
pub struct EvmPrepared {
    /// The decoded transaction.
    pub tx: EvmTx,
    /// keccak-256 of the unsigned bytes.
    pub signing_hash: [u8; 32],
}

/// The address of a secp256k1 key (SEC1, compressed or not).
pub fn address_of(public_key: &[u8]) -> Option<Address> {
    let pk = k256::PublicKey::from_sec1_bytes(public_key).ok()?;
    let uncompressed = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    Some(Address::from_slice(
        &keccak256(&uncompressed.as_bytes()[1..])[12..],
    ))
}

/// Approvals at or above 2^255 are treated as unlimited (wallets use 2^256 − 1).
fn unlimited(a: U256) -> bool {
    a >= U256::from(1u8) << 255
}

fn u128_of(v: U256) -> u128 {
    u128::try_from(v).unwrap_or(u128::MAX)
}

/// Derives the facts of an EVM payload.
pub fn derive(
    index: usize,
    chain_id: u64,
    signer: &[u8; 20],
    bytes: &[u8],
    label: &str,
    ctx: &Context<'_>,
) -> Result<(Facts, EvmPrepared), Refusal> {
    let tx = decode_unsigned(bytes).map_err(|e| Refusal::Undecodable {
        index,
        reason: e.to_string(),
    })?;
    let Some(derived) = tx.chain_id else {
        return Err(Refusal::Disallowed {
            index,
            what: "a pre-EIP-155 transaction (replayable on every chain)".into(),
        });
    };
    let network = Network::Evm(derived);
    if chain_id != derived {
        return Err(Refusal::NetworkMismatch {
            index,
            label: format!("chain id {chain_id} in the request"),
            derived: network.to_string(),
        });
    }
    check_label(index, label, network)?;
    let ours = address_of(&ctx.keys.evm.public_key).ok_or(Refusal::NotOurs {
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
    let native = evm_native_symbol(derived).to_string();
    let class = |a: &Address| {
        if *a == ours {
            Class::Own {
                proof: "the station's own address".into(),
            }
        } else {
            ctx.class_of(network, &a.to_checksum(None))
        }
    };
    let mut transfers = Vec::new();
    let mut features = Vec::new();
    let value = u128::try_from(tx.value).map_err(|_| Refusal::Undecodable {
        index,
        reason: "value above 2^128 wei".into(),
    })?;
    match tx.to {
        None => features.push(Feature::ContractCreation),
        Some(to) => {
            let call = (!tx.data.is_empty()).then(|| Erc20Call::decode(&tx.data));
            // Native value (or a plain transfer of nothing) goes to `to`; an undecoded
            // call makes `to` a destination even without value.
            if value > 0 || tx.data.is_empty() || matches!(call, Some(None)) {
                transfers.push(Transfer {
                    index: 0,
                    kind: if matches!(call, Some(None)) {
                        TransferKind::Call
                    } else {
                        TransferKind::Payment
                    },
                    asset: AssetId::Native,
                    amount: value,
                    to: to.to_checksum(None),
                    class: class(&to),
                    decimals: Some(18),
                    symbol: native.clone(),
                });
            }
            let contract = to.to_checksum(None);
            let token = ctx
                .tokens
                .find(airgap_protocol::envelope::Chain::Evm, &contract);
            let (decimals, symbol) = token.map_or((None, contract.clone()), |t| {
                (Some(t.decimals), t.symbol.clone())
            });
            match call {
                None => {}
                Some(Some(Erc20Call::Transfer { to: r, amount })) => transfers.push(Transfer {
                    index: 0,
                    kind: TransferKind::Payment,
                    asset: AssetId::Token(contract),
                    amount: u128_of(amount),
                    to: r.to_checksum(None),
                    class: class(&r),
                    decimals,
                    symbol,
                }),
                Some(Some(Erc20Call::Approve { spender, amount })) => {
                    if unlimited(amount) {
                        features.push(Feature::UnlimitedApproval {
                            spender: spender.to_checksum(None),
                        });
                    }
                    transfers.push(Transfer {
                        index: 0,
                        kind: TransferKind::Approval,
                        asset: AssetId::Token(contract),
                        amount: u128_of(amount),
                        to: spender.to_checksum(None),
                        class: class(&spender),
                        decimals,
                        symbol,
                    });
                }
                Some(None) => features.push(Feature::UnknownCall {
                    contract,
                    selector: hex::encode(tx.data.get(..4).unwrap_or(&tx.data)),
                }),
            }
        }
    }
    let fee = u128::from(tx.gas_limit)
        .checked_mul(tx.max_fee_per_gas)
        .ok_or(Refusal::Undecodable {
            index,
            reason: "fee overflows".into(),
        })?;
    // The nonce is the resource; the call (recipient, value, data) its content. A second
    // transaction at a signed nonce is refused unless it makes the very same call (a fee
    // bump): only one of them can land, and either pays the same. Or unless it is a
    // cancel: nothing (no value, no data) to the station's own address, which moves no
    // funds whichever lands; see `verdict::spend_conflict`.
    let is_cancel = tx.to == Some(ours) && tx.value.is_zero() && tx.data.is_empty();
    let content = if is_cancel {
        CANCEL.to_string()
    } else {
        let mut call = Vec::new();
        if let Some(to) = &tx.to {
            call.extend_from_slice(to.as_slice());
        }
        call.extend_from_slice(&tx.value.to_be_bytes::<32>());
        call.extend_from_slice(&tx.data);
        format!("call:{}", hex::encode(&keccak256(&call)[..12]))
    };
    let spends = vec![format!(
        "evm:{derived}:{}:nonce:{}#{content}",
        ours.to_checksum(None),
        tx.nonce,
    )];
    let signing_hash = keccak256(bytes).0;
    let facts = Facts {
        index,
        network,
        inputs: Vec::new(),
        transfers,
        fee,
        fee_detail: "the most it can be: gas limit x max fee per gas".into(),
        features,
        spends,
        digest: hex::encode(signing_hash),
    };
    Ok((facts, EvmPrepared { tx, signing_hash }))
}

/// The content of a cancel's spend key: a zero-value transfer with no data to the
/// station's own address at a nonce.
pub const CANCEL: &str = "cancel";

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
