//! PSBT version 2 (BIP-370) for signers that want it: conversion from and to the
//! version 0 PSBTs the vaults build, with psbt-v2's own encoder and parser. Fields this
//! coordinator never produces (taproot, preimages, proprietary and unknown keys) are not
//! carried: a PSBT holding one is refused rather than silently stripped.

use bdk_wallet::bitcoin::psbt::{Input as V0Input, Output as V0Output, Psbt as V0};
use bdk_wallet::bitcoin::{
    OutPoint, PublicKey, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use psbt_v2::v2::{Global, Input, Output, Psbt as V2};
use psbt_v2::PsbtSighashType;

/// Runs a psbt-v2 call on untrusted input. psbt-v2 0.3 still has `todo!()` in places
/// (its decode errors cannot even be displayed), so a panic there is contained and
/// reported as an invalid PSBT; its errors are shown with `Debug` only.
fn guarded<T>(f: impl FnOnce() -> Result<T, V2Error>) -> Result<T, V2Error> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(V2Error::Invalid(
            "the PSBT v2 parser failed on this input".into(),
        ))
    })
}

/// Parses PSBT v2 bytes.
pub fn parse_v2(bytes: &[u8]) -> Result<V2, V2Error> {
    let p = guarded(|| V2::deserialize(bytes).map_err(|e| V2Error::Invalid(format!("{e:?}"))))?;
    // BIP-370: a required height lock time is a block height, at least 1 (psbt-v2 0.3
    // lets 0 through).
    if p.inputs
        .iter()
        .any(|i| i.min_height.is_some_and(|h| h.to_consensus_u32() == 0))
    {
        return Err(V2Error::Invalid(
            "PSBT_IN_REQUIRED_HEIGHT_LOCKTIME of 0".into(),
        ));
    }
    Ok(p)
}

/// Why a conversion was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum V2Error {
    /// A field not carried across.
    #[error("{0} is not carried between PSBT versions here")]
    Unsupported(&'static str),
    /// psbt-v2 refused the PSBT.
    #[error("PSBT v2: {0}")]
    Invalid(String),
}

fn check_v0_input(i: &V0Input) -> Result<(), V2Error> {
    if i.tap_key_sig.is_some()
        || !i.tap_script_sigs.is_empty()
        || !i.tap_scripts.is_empty()
        || !i.tap_key_origins.is_empty()
        || i.tap_internal_key.is_some()
        || i.tap_merkle_root.is_some()
    {
        return Err(V2Error::Unsupported("taproot input data"));
    }
    if !i.ripemd160_preimages.is_empty()
        || !i.sha256_preimages.is_empty()
        || !i.hash160_preimages.is_empty()
        || !i.hash256_preimages.is_empty()
    {
        return Err(V2Error::Unsupported("hash preimages"));
    }
    if !i.proprietary.is_empty() || !i.unknown.is_empty() {
        return Err(V2Error::Unsupported("proprietary or unknown input keys"));
    }
    Ok(())
}

/// Version 0 → version 2.
pub fn to_v2(p: &V0) -> Result<V2, V2Error> {
    if !p.proprietary.is_empty() || !p.unknown.is_empty() {
        return Err(V2Error::Unsupported("proprietary or unknown global keys"));
    }
    let tx = &p.unsigned_tx;
    let global = Global {
        tx_version: tx.version,
        fallback_lock_time: Some(tx.lock_time),
        input_count: tx.input.len(),
        output_count: tx.output.len(),
        xpubs: p.xpub.clone(),
        ..Global::default()
    };
    let mut inputs = Vec::new();
    for (txin, i) in tx.input.iter().zip(&p.inputs) {
        check_v0_input(i)?;
        let mut v = Input::new(&txin.previous_output);
        v.sequence = Some(txin.sequence);
        v.non_witness_utxo = i.non_witness_utxo.clone();
        v.witness_utxo = i.witness_utxo.clone();
        v.partial_sigs = i.partial_sigs.clone();
        v.sighash_type = i
            .sighash_type
            .map(|t| PsbtSighashType::from_u32(t.to_u32()));
        v.redeem_script = i.redeem_script.clone();
        v.witness_script = i.witness_script.clone();
        v.bip32_derivations = derivations(&i.bip32_derivation);
        v.final_script_sig = i.final_script_sig.clone();
        v.final_script_witness = i.final_script_witness.clone();
        inputs.push(v);
    }
    let mut outputs = Vec::new();
    for (txout, o) in tx.output.iter().zip(&p.outputs) {
        if o.tap_internal_key.is_some() || o.tap_tree.is_some() || !o.tap_key_origins.is_empty() {
            return Err(V2Error::Unsupported("taproot output data"));
        }
        if !o.proprietary.is_empty() || !o.unknown.is_empty() {
            return Err(V2Error::Unsupported("proprietary or unknown output keys"));
        }
        let mut v = Output::new(txout.clone());
        v.redeem_script = o.redeem_script.clone();
        v.witness_script = o.witness_script.clone();
        v.bip32_derivations = derivations(&o.bip32_derivation);
        outputs.push(v);
    }
    Ok(V2 {
        global,
        inputs,
        outputs,
    })
}

/// Version 2 → version 0 (the unsigned transaction rebuilt from the v2 fields, with the
/// lock time BIP-370 determines, which satisfies every input's requirement).
pub fn from_v2(p: &V2) -> Result<V0, V2Error> {
    let lock_time = guarded(|| {
        p.determine_lock_time()
            .map_err(|e| V2Error::Invalid(format!("lock time: {e:?}")))
    })?;
    let tx = Transaction {
        version: p.global.tx_version,
        lock_time,
        input: p
            .inputs
            .iter()
            .map(|i| TxIn {
                previous_output: OutPoint {
                    txid: i.previous_txid,
                    vout: i.spent_output_index,
                },
                script_sig: ScriptBuf::new(),
                sequence: i.sequence.unwrap_or(Sequence::MAX),
                witness: Witness::new(),
            })
            .collect(),
        output: p
            .outputs
            .iter()
            .map(|o| TxOut {
                value: o.amount,
                script_pubkey: o.script_pubkey.clone(),
            })
            .collect(),
    };
    let mut v0 = V0::from_unsigned_tx(tx).map_err(|e| V2Error::Invalid(e.to_string()))?;
    v0.xpub = p.global.xpubs.clone();
    for (i, v) in v0.inputs.iter_mut().zip(&p.inputs) {
        if v.tap_key_sig.is_some() || !v.tap_script_sigs.is_empty() || v.tap_internal_key.is_some()
        {
            return Err(V2Error::Unsupported("taproot input data"));
        }
        i.non_witness_utxo = v.non_witness_utxo.clone();
        i.witness_utxo = v.witness_utxo.clone();
        i.partial_sigs = v.partial_sigs.clone();
        i.sighash_type = v
            .sighash_type
            .map(|t| bdk_wallet::bitcoin::psbt::PsbtSighashType::from_u32(t.to_u32()));
        i.redeem_script = v.redeem_script.clone();
        i.witness_script = v.witness_script.clone();
        i.bip32_derivation = v
            .bip32_derivations
            .iter()
            .map(|(k, s)| (k.inner, s.clone()))
            .collect();
        i.final_script_sig = v.final_script_sig.clone();
        i.final_script_witness = v.final_script_witness.clone();
    }
    for (o, v) in v0.outputs.iter_mut().zip(&p.outputs) {
        *o = V0Output {
            redeem_script: v.redeem_script.clone(),
            witness_script: v.witness_script.clone(),
            bip32_derivation: v
                .bip32_derivations
                .iter()
                .map(|(k, s)| (k.inner, s.clone()))
                .collect(),
            ..V0Output::default()
        };
    }
    Ok(v0)
}

/// Encodes as PSBT v2 bytes.
pub fn serialize_v2(p: &V0) -> Result<Vec<u8>, V2Error> {
    let v = to_v2(p)?;
    guarded(|| Ok(v.serialize()))
}

/// Decodes PSBT bytes of either version into version 0.
pub fn deserialize_any(bytes: &[u8]) -> Result<V0, V2Error> {
    match V0::deserialize(bytes) {
        Ok(p) => Ok(p),
        Err(v0_err) => {
            let v2 = parse_v2(bytes)
                .map_err(|e| V2Error::Invalid(format!("{e} (as version 0: {v0_err})")))?;
            from_v2(&v2)
        }
    }
}

/// Key origins keyed by the v2 crate's public key type.
fn derivations<S: Clone, T: FromIterator<(PublicKey, S)>>(
    map: &std::collections::BTreeMap<bitcoin::secp256k1::PublicKey, S>,
) -> T {
    map.iter()
        .map(|(k, s)| (PublicKey::new(*k), s.clone()))
        .collect()
}
