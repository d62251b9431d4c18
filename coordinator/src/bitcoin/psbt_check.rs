//! Checking what comes back: partial signatures combined and verified, fees, local
//! standardness, and Bitcoin Core's script interpreter.

use bdk_wallet::bitcoin::blockdata::script::Instruction;
use bdk_wallet::bitcoin::ecdsa::Signature as EcdsaSig;
use bdk_wallet::bitcoin::secp256k1::{Message, Secp256k1};
use bdk_wallet::bitcoin::sighash::{EcdsaSighashType, SighashCache};
use bdk_wallet::bitcoin::{Amount, OutPoint, Psbt, PublicKey, ScriptBuf, Transaction, TxOut};

/// Why partial signatures were not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CombineError {
    /// A PSBT for another transaction.
    #[error("a signed PSBT for another transaction ({0})")]
    OtherTransaction(String),
    /// A signature from a key the input's script does not name.
    #[error("input {input}: signature from {key}, which the input's script does not name")]
    ForeignKey {
        /// Input.
        input: usize,
        /// Key.
        key: String,
    },
    /// A signature that does not verify, or not SIGHASH_ALL.
    #[error("input {input}: signature of {key} {why}")]
    BadSignature {
        /// Input.
        input: usize,
        /// Key.
        key: String,
        /// What is wrong.
        why: String,
    },
    /// An input without the data to check a signature.
    #[error("input {0}: no witness UTXO")]
    NoUtxo(usize),
}

/// The keys an input's script names (P2WPKH from the script, P2WSH from the witness
/// script).
fn keys_of(psbt: &Psbt, i: usize) -> Vec<PublicKey> {
    let input = &psbt.inputs[i];
    if let Some(ws) = &input.witness_script {
        return ws
            .instructions()
            .filter_map(|ins| match ins {
                Ok(Instruction::PushBytes(b)) => PublicKey::from_slice(b.as_bytes()).ok(),
                _ => None,
            })
            .collect();
    }
    input
        .bip32_derivation
        .keys()
        .map(|k| PublicKey::new(*k))
        .chain(input.partial_sigs.keys().copied().filter(|pk| {
            input.witness_utxo.as_ref().is_some_and(|u| {
                pk.wpubkey_hash()
                    .is_ok_and(|h| u.script_pubkey == ScriptBuf::new_p2wpkh(&h))
            })
        }))
        .collect()
}

/// Verifies every partial signature of `psbt` against its input (segwit v0, SIGHASH_ALL).
fn check_sigs(psbt: &Psbt) -> Result<(), CombineError> {
    let secp = Secp256k1::verification_only();
    let mut cache = SighashCache::new(&psbt.unsigned_tx);
    for (i, input) in psbt.inputs.iter().enumerate() {
        if input.partial_sigs.is_empty() {
            continue;
        }
        let utxo = input.witness_utxo.as_ref().ok_or(CombineError::NoUtxo(i))?;
        let allowed = keys_of(psbt, i);
        for (pk, sig) in &input.partial_sigs {
            let key = pk.to_string();
            if !allowed.contains(pk) {
                return Err(CombineError::ForeignKey { input: i, key });
            }
            let bad = |why: &str| CombineError::BadSignature {
                input: i,
                key: pk.to_string(),
                why: why.into(),
            };
            if sig.sighash_type != EcdsaSighashType::All {
                return Err(bad("is not SIGHASH_ALL"));
            }
            let sighash = match &input.witness_script {
                Some(ws) => cache
                    .p2wsh_signature_hash(i, ws, utxo.value, EcdsaSighashType::All)
                    .map_err(|e| bad(&e.to_string()))?,
                None => cache
                    .p2wpkh_signature_hash(
                        i,
                        &utxo.script_pubkey,
                        utxo.value,
                        EcdsaSighashType::All,
                    )
                    .map_err(|e| bad(&e.to_string()))?,
            };
            let msg = Message::from_digest(sighash.to_byte_array());
            let mut low = sig.signature;
            low.normalize_s();
            if low != sig.signature {
                return Err(bad("is high-S"));
            }
            secp.verify_ecdsa(&msg, &sig.signature, &pk.inner)
                .map_err(|_| bad("does not verify"))?;
        }
    }
    Ok(())
}

use bdk_wallet::bitcoin::hashes::Hash;

/// Combines signed PSBTs from stations (or a hardware wallet) into `base`: each must be
/// for the same transaction, and every signature must come from a key the input names,
/// be SIGHASH_ALL, low-S, and verify.
pub fn combine(base: &Psbt, parts: &[Psbt]) -> Result<Psbt, CombineError> {
    let mut out = base.clone();
    for p in parts {
        if p.unsigned_tx != base.unsigned_tx {
            return Err(CombineError::OtherTransaction(
                p.unsigned_tx.compute_txid().to_string(),
            ));
        }
        check_sigs(p)?;
        out.combine(p.clone())
            .map_err(|e| CombineError::OtherTransaction(e.to_string()))?;
    }
    check_sigs(&out)?;
    Ok(out)
}

/// Inputs minus outputs, from the PSBT's own UTXO data.
pub fn fee_of(psbt: &Psbt) -> Option<Amount> {
    let inputs: Option<Amount> = psbt
        .inputs
        .iter()
        .map(|i| i.witness_utxo.as_ref().map(|u| u.value))
        .try_fold(Amount::ZERO, |acc, v| v.and_then(|v| acc.checked_add(v)));
    let outputs = psbt
        .unsigned_tx
        .output
        .iter()
        .try_fold(Amount::ZERO, |acc, o| acc.checked_add(o.value))?;
    inputs?.checked_sub(outputs)
}

/// Every input verified by Bitcoin Core's script interpreter (libbitcoinconsensus).
pub fn verify_with_core(
    tx: &Transaction,
    mut prevout: impl FnMut(&OutPoint) -> Option<TxOut>,
) -> Result<(), String> {
    tx.verify(|o| prevout(o)).map_err(|e| e.to_string())
}

/// Standardness checks that can be made locally: weight, dust outputs, low-S witness
/// signatures. Returns the problems found.
pub fn standardness(tx: &Transaction) -> Vec<String> {
    let mut problems = Vec::new();
    if tx.weight().to_wu() > 400_000 {
        problems.push(format!("weight {} over 400,000", tx.weight().to_wu()));
    }
    for (i, o) in tx.output.iter().enumerate() {
        if o.value < o.script_pubkey.minimal_non_dust() {
            problems.push(format!("output {i}: {} is dust", o.value));
        }
    }
    for (i, input) in tx.input.iter().enumerate() {
        for item in input.witness.iter() {
            if let Ok(sig) = EcdsaSig::from_slice(item) {
                let mut low = sig.signature;
                low.normalize_s();
                if low != sig.signature {
                    problems.push(format!("input {i}: high-S signature"));
                }
            }
        }
    }
    problems
}
