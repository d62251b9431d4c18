//! Bitcoin: the facts of a PSBT, derived from the transaction and the station's vaults,
//! and signing its vault inputs (P2WPKH and P2WSH), SIGHASH_ALL only, low-S.
//!
//! Every input must be a coin of a vault the station knows, proven by deriving the vault's
//! descriptor, and all of one vault; the vault's network is the payload's network. An
//! output is change only when it goes back to that vault, on its change branch at a
//! bounded index; everything else (another vault included) is a payment. The PSBT's own scripts, labels and paths only say where
//! to look.

use airgap_protocol::network::{BitcoinNetwork, Network};
use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{Address, PublicKey, ScriptBuf};

use super::facts::{check_label, AssetId, Class, Facts, Input, Transfer, TransferKind};
use super::refusal::Refusal;
use super::Context;
use crate::hsm::{KeyInfo, SigningBackend};
use crate::sign::sign_secp256k1;

/// One input to sign: its index, the script its signature commits to, whether it is
/// P2WSH, its value in satoshi, and its (branch, index) in a deposit account.
type ToSign = (usize, ScriptBuf, bool, u64, Option<(u32, u32)>);

/// What to sign in a PSBT.
#[derive(Debug, Clone)]
pub struct BtcPrepared {
    psbt: Psbt,
    inputs: Vec<ToSign>,
    network: BitcoinNetwork,
    /// A sweep of deposit coins: the registered deposit account key.
    deposit: Option<bitcoin::bip32::Xpub>,
}

impl BtcPrepared {
    /// The network whose key signs.
    pub fn network(&self) -> BitcoinNetwork {
        self.network
    }
}

/// Derives the facts of a PSBT.
pub fn derive(
    index: usize,
    version: u8,
    bytes: &[u8],
    label: &str,
    ctx: &Context<'_>,
) -> Result<(Facts, BtcPrepared), Refusal> {
    let undecodable = |reason: String| Refusal::Undecodable { index, reason };
    if version != 0 {
        return Err(undecodable("PSBT v2 signing is not supported yet".into()));
    }
    let psbt = Psbt::deserialize(bytes).map_err(|e| undecodable(e.to_string()))?;
    let tx = &psbt.unsigned_tx;
    if tx.input.is_empty() || tx.output.is_empty() {
        return Err(undecodable(
            "a transaction without inputs or without outputs".into(),
        ));
    }
    let mut outpoints: Vec<_> = tx.input.iter().map(|i| i.previous_output).collect();
    outpoints.sort();
    if outpoints.windows(2).any(|w| w[0] == w[1]) {
        return Err(undecodable("a transaction spending one coin twice".into()));
    }
    let mut network: Option<BitcoinNetwork> = None;
    let mut spent_vaults: Vec<usize> = Vec::new();
    let mut inputs = Vec::new();
    let mut sign = Vec::new();
    let mut total_in: u64 = 0;
    for (i, (txin, input)) in tx.input.iter().zip(&psbt.inputs).enumerate() {
        let prev = input
            .non_witness_utxo
            .as_ref()
            .ok_or(Refusal::MissingPreviousTx { index, input: i })?;
        if prev.compute_txid() != txin.previous_output.txid {
            return Err(Refusal::PrevoutMismatch { index, input: i });
        }
        let out = prev
            .output
            .get(txin.previous_output.vout as usize)
            .ok_or(Refusal::PrevoutMismatch { index, input: i })?;
        if input.witness_utxo.as_ref().is_some_and(|w| w != out) {
            return Err(Refusal::PrevoutMismatch { index, input: i });
        }
        if let Some(t) = input.sighash_type {
            if t.ecdsa_hash_ty().ok() != Some(EcdsaSighashType::All) {
                return Err(Refusal::ForeignSighash {
                    index,
                    input: i,
                    sighash: t.to_string(),
                });
            }
        }
        let owned = ctx
            .vaults
            .owns_input(&out.script_pubkey, input)
            .ok_or_else(|| Refusal::ForeignInput {
                index,
                input: i,
                why: "its script is not one of a vault this station registered".into(),
            })?;
        let vault = ctx
            .vaults
            .get(owned.vault)
            .ok_or_else(|| undecodable("vault index".into()))?;
        match network {
            None => network = Some(vault.network),
            Some(n) if n != vault.network => {
                return Err(Refusal::NetworkMismatch {
                    index,
                    label: label.chars().take(64).collect(),
                    derived: format!(
                        "{} and {} at once (coins of both)",
                        n.name(),
                        vault.network.name()
                    ),
                })
            }
            Some(_) => {}
        }
        // One vault per transaction: change is proven back to the vault the coins come
        // from, and with coins of two vaults the value of one could be passed off as the
        // other's change.
        match spent_vaults.first() {
            Some(v) if *v != owned.vault => {
                let other = ctx
                    .vaults
                    .get(*v)
                    .map_or_else(String::new, |v| v.describe(None));
                return Err(Refusal::Disallowed {
                    index,
                    what: format!(
                        "coins of two vaults in one transaction ({other} and {})",
                        vault.describe(None)
                    ),
                });
            }
            Some(_) => {}
            None => spent_vaults.push(owned.vault),
        }
        total_in = total_in
            .checked_add(out.value.to_sat())
            .ok_or_else(|| undecodable("input sum overflows".into()))?;
        inputs.push(Input {
            outpoint: txin.previous_output.to_string(),
            value: out.value.to_sat(),
            proof: vault.describe(owned.at),
            deposit: vault.deposit_account().is_some(),
        });
        let deposit_at = vault.deposit_account().and(owned.at);
        sign.push((
            i,
            owned.script_code,
            owned.p2wsh,
            out.value.to_sat(),
            deposit_at,
        ));
    }
    // Coins of a deposit account are spent only by a sweep into the station's vaults.
    let deposit = spent_vaults
        .first()
        .and_then(|v| ctx.vaults.get(*v))
        .and_then(|v| v.deposit_account().copied());
    let net = network.ok_or_else(|| undecodable("no input".into()))?;
    check_label(index, label, Network::Bitcoin(net))?;
    if ctx.keys.bitcoin(net).is_none() {
        return Err(Refusal::NotOurs {
            index,
            why: format!("this station has no {} key", net.name()),
        });
    }

    let mut transfers = Vec::new();
    let mut total_out: u64 = 0;
    for (o, (out, meta)) in tx.output.iter().zip(&psbt.outputs).enumerate() {
        total_out = total_out
            .checked_add(out.value.to_sat())
            .ok_or_else(|| undecodable("output sum overflows".into()))?;
        let to = Address::from_script(&out.script_pubkey, net.to_bitcoin()).map_or_else(
            |_| format!("script {}", out.script_pubkey.to_hex_string()),
            |a| a.to_string(),
        );
        let limit = ctx.policy.change_index_limit;
        let owned = if deposit.is_some() {
            let into = ctx.vaults.pays_vault(net, &out.script_pubkey, meta, limit);
            Some(into.ok_or_else(|| Refusal::Disallowed {
                index,
                what: format!(
                    "output {o} pays {to}: a sweep of deposit coins pays only this station's vaults"
                ),
            })?)
        } else {
            ctx.vaults
                .owns_change(&spent_vaults, &out.script_pubkey, meta, limit)
        };
        let class = match owned {
            Some(owned) => Class::Own {
                proof: ctx
                    .vaults
                    .get(owned.vault)
                    .map_or_else(String::new, |v| v.describe(owned.at)),
            },
            None => ctx.class_of(Network::Bitcoin(net), &to),
        };
        transfers.push(Transfer {
            index: o,
            kind: TransferKind::Payment,
            asset: AssetId::Native,
            amount: u128::from(out.value.to_sat()),
            to,
            class,
            decimals: Some(8),
            symbol: "BTC".into(),
        });
    }
    let fee = total_in
        .checked_sub(total_out)
        .ok_or_else(|| undecodable("outputs exceed inputs".into()))?;
    // The collection cost rule: a sweep's fee within its share of what it collects.
    let share = ctx.policy.sweep_max_fee_per_mille;
    if deposit.is_some() && u128::from(fee) * 1000 > u128::from(total_in) * u128::from(share) {
        return Err(Refusal::FeeTooHigh {
            index,
            fee: u128::from(fee),
            limit: format!("a sweep pays at most {share}‰ of what it collects ({total_in})"),
        });
    }
    let spends = tx
        .input
        .iter()
        .map(|i| format!("btc:{}:{}", net.name(), i.previous_output))
        .collect();
    let facts = Facts {
        index,
        network: Network::Bitcoin(net),
        inputs,
        transfers,
        fee: u128::from(fee),
        fee_detail: "inputs minus outputs, from the previous transactions".into(),
        features: Vec::new(),
        spends,
        digest: tx.compute_txid().to_string(),
    };
    Ok((
        facts,
        BtcPrepared {
            psbt,
            inputs: sign,
            network: net,
            deposit,
        },
    ))
}

/// Signs the prepared inputs with the network's key, adding partial signatures; returns
/// the serialized PSBT.
pub fn sign<B: SigningBackend + ?Sized>(
    p: &BtcPrepared,
    backend: &B,
    key: &KeyInfo,
) -> Result<Vec<u8>, Refusal> {
    let bad = |e: String| Refusal::Undecodable {
        index: 0,
        reason: e,
    };
    let mut psbt = p.psbt.clone();
    let pk = PublicKey::from_slice(&key.public_key).map_err(|e| bad(e.to_string()))?;
    let mut cache = SighashCache::new(&p.psbt.unsigned_tx);
    // The deposit account, opened once for every deposit input.
    let deposit = match &p.deposit {
        Some(registered) if p.inputs.iter().any(|x| x.4.is_some()) => Some(
            super::deposits::Account::open(backend, p.network, registered).map_err(Refusal::Hsm)?,
        ),
        _ => None,
    };
    for (i, script, p2wsh, value, deposit_at) in &p.inputs {
        let value = bitcoin::Amount::from_sat(*value);
        let sighash = if *p2wsh {
            cache
                .p2wsh_signature_hash(*i, script, value, EcdsaSighashType::All)
                .map_err(|e| bad(e.to_string()))?
        } else {
            cache
                .p2wpkh_signature_hash(*i, script, value, EcdsaSighashType::All)
                .map_err(|e| bad(e.to_string()))?
        };
        let (pk, signature) = match (deposit_at, &deposit) {
            (Some(at), Some(account)) => account
                .sign(*at, &sighash.to_byte_array())
                .map_err(Refusal::Hsm)?,
            _ => {
                let sig =
                    sign_secp256k1(backend, key, &sighash.to_byte_array()).map_err(Refusal::Hsm)?;
                let mut compact = [0u8; 64];
                compact[..32].copy_from_slice(&sig.r);
                compact[32..].copy_from_slice(&sig.s);
                let signature = bitcoin::secp256k1::ecdsa::Signature::from_compact(&compact)
                    .map_err(|e| bad(e.to_string()))?;
                (pk, signature)
            }
        };
        let input = psbt
            .inputs
            .get_mut(*i)
            .ok_or_else(|| bad(format!("input {i}")))?;
        input.partial_sigs.insert(
            pk,
            bitcoin::ecdsa::Signature {
                signature,
                sighash_type: EcdsaSighashType::All,
            },
        );
    }
    Ok(psbt.serialize())
}
