//! Bitcoin: checks the station makes on a PSBT before signing, and signing every input
//! its key can sign (P2WPKH, and P2WSH scripts naming the key), SIGHASH_ALL only, low-S.

use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bitcoin::{CompressedPublicKey, PublicKey, ScriptBuf};

use super::refusal::Refusal;
use crate::hsm::{KeyInfo, SigningBackend};
use crate::sign::sign_secp256k1;

/// What to sign in a PSBT.
#[derive(Debug, Clone)]
pub struct BtcPrepared {
    psbt: Psbt,
    /// (input index, script code for the sighash, is P2WSH).
    inputs: Vec<(usize, ScriptBuf, bool)>,
    /// Outputs paying back to the station's wallet scripts.
    pub change_outputs: Vec<usize>,
    /// Outpoints spent, as replay keys.
    pub spends: Vec<String>,
    /// Unsigned txid, the payload digest.
    pub txid: String,
}

/// Checks a PSBT and finds what the station's key signs in it.
pub fn prepare(
    index: usize,
    version: u8,
    bytes: &[u8],
    network: &str,
    key: &KeyInfo,
) -> Result<BtcPrepared, Refusal> {
    let undecodable = |reason: String| Refusal::Undecodable { index, reason };
    if version != 0 {
        return Err(undecodable("PSBT v2 signing is not supported yet".into()));
    }
    let psbt = Psbt::deserialize(bytes).map_err(|e| undecodable(e.to_string()))?;
    let pk =
        CompressedPublicKey::from_slice(&key.public_key).map_err(|e| undecodable(e.to_string()))?;
    let our_p2wpkh = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash());
    let our_key = PublicKey::from(pk);
    let tx = &psbt.unsigned_tx;
    let mut inputs = Vec::new();
    let mut wallet_scripts = vec![our_p2wpkh.clone()];
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
        if out.script_pubkey == our_p2wpkh {
            inputs.push((i, our_p2wpkh.clone(), false));
        } else if let Some(ws) = &input.witness_script {
            let names_us = ws.instructions().flatten().any(|ins| {
                ins.push_bytes()
                    .is_some_and(|b| b.as_bytes() == our_key.to_bytes())
            });
            if names_us && out.script_pubkey == ScriptBuf::new_p2wsh(&ws.wscript_hash()) {
                inputs.push((i, ws.clone(), true));
                wallet_scripts.push(out.script_pubkey.clone());
            }
        }
    }
    if inputs.is_empty() {
        return Err(Refusal::NotOurs {
            index,
            why: format!("no input of this PSBT is for the station's {network} key"),
        });
    }
    let change_outputs = tx
        .output
        .iter()
        .enumerate()
        .filter(|(_, o)| wallet_scripts.contains(&o.script_pubkey))
        .map(|(i, _)| i)
        .collect();
    let spends = tx
        .input
        .iter()
        .map(|i| format!("btc:{network}:{}", i.previous_output))
        .collect();
    Ok(BtcPrepared {
        txid: tx.compute_txid().to_string(),
        psbt,
        inputs,
        change_outputs,
        spends,
    })
}

/// Signs the prepared inputs, adding partial signatures; returns the serialized PSBT.
pub fn sign<B: SigningBackend + ?Sized>(
    p: &BtcPrepared,
    backend: &B,
    key: &KeyInfo,
) -> Result<Vec<u8>, Refusal> {
    let mut psbt = p.psbt.clone();
    let pk = PublicKey::from_slice(&key.public_key).map_err(|e| Refusal::Undecodable {
        index: 0,
        reason: e.to_string(),
    })?;
    let mut cache = SighashCache::new(&p.psbt.unsigned_tx);
    for (i, script, p2wsh) in &p.inputs {
        let value = psbt.inputs[*i]
            .witness_utxo
            .as_ref()
            .map(|o| o.value)
            .or_else(|| {
                let prev = psbt.inputs[*i].non_witness_utxo.as_ref()?;
                prev.output
                    .get(psbt.unsigned_tx.input[*i].previous_output.vout as usize)
                    .map(|o| o.value)
            })
            .ok_or(Refusal::MissingPreviousTx {
                index: 0,
                input: *i,
            })?;
        let bad = |e: String| Refusal::Undecodable {
            index: 0,
            reason: e,
        };
        let sighash = if *p2wsh {
            cache
                .p2wsh_signature_hash(*i, script, value, EcdsaSighashType::All)
                .map_err(|e| bad(e.to_string()))?
        } else {
            cache
                .p2wpkh_signature_hash(*i, script, value, EcdsaSighashType::All)
                .map_err(|e| bad(e.to_string()))?
        };
        let sig = sign_secp256k1(backend, key, &sighash.to_byte_array()).map_err(Refusal::Hsm)?;
        let mut compact = [0u8; 64];
        compact[..32].copy_from_slice(&sig.r);
        compact[32..].copy_from_slice(&sig.s);
        let signature =
            bitcoin::secp256k1::ecdsa::Signature::from_compact(&compact).map_err(|e| {
                Refusal::Undecodable {
                    index: 0,
                    reason: e.to_string(),
                }
            })?;
        psbt.inputs[*i].partial_sigs.insert(
            pk,
            bitcoin::ecdsa::Signature {
                signature,
                sighash_type: EcdsaSighashType::All,
            },
        );
    }
    Ok(psbt.serialize())
}
