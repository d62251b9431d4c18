//! Transactions and requests for rehearsal, the demo, tests and benchmarks (feature
//! `rehearsal`): coins and a PSBT spending them, an unsigned request. Nothing here
//! decides anything.

use airgap_protocol::envelope::{KeyId, Payload, Purpose, SignRequest};
use bitcoin::psbt::Psbt;
use bitcoin::{
    absolute, transaction, Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
};
use sha2::{Digest, Sha256};

/// The witness script of `wsh(sortedmulti(2, …))` over three keys.
pub fn sortedmulti_2_of_3(mut keys: [bitcoin::PublicKey; 3]) -> ScriptBuf {
    use bitcoin::blockdata::opcodes::all::{OP_CHECKMULTISIG, OP_PUSHNUM_2, OP_PUSHNUM_3};
    keys.sort_by_key(|k| k.to_bytes());
    let b = keys.iter().fold(
        bitcoin::script::Builder::new().push_opcode(OP_PUSHNUM_2),
        |b, k| b.push_key(k),
    );
    b.push_opcode(OP_PUSHNUM_3)
        .push_opcode(OP_CHECKMULTISIG)
        .into_script()
}

/// A coin of `value` sat at `script` (its funding transaction made unique by `salt`, its
/// lock time) and a version-0 PSBT spending it to `outputs` (script, sat), with the
/// coin's output and whole transaction on the input.
pub fn coin_and_spend(
    script: &ScriptBuf,
    value: u64,
    salt: u32,
    outputs: &[(ScriptBuf, u64)],
) -> Psbt {
    coins_and_spend(script, &[value], salt, outputs)
}

/// As [`coin_and_spend`] with one coin per value (salts `salt`, `salt + 1`, …), spent
/// in that order.
pub fn coins_and_spend(
    script: &ScriptBuf,
    values: &[u64],
    salt: u32,
    outputs: &[(ScriptBuf, u64)],
) -> Psbt {
    let txin = |previous_output| TxIn {
        previous_output,
        script_sig: ScriptBuf::new(),
        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
        witness: Witness::new(),
    };
    let coins: Vec<Transaction> = (salt..)
        .zip(values)
        .map(|(salt, value)| Transaction {
            version: transaction::Version::TWO,
            lock_time: absolute::LockTime::from_consensus(salt),
            input: vec![txin(OutPoint::null())],
            output: vec![TxOut {
                value: Amount::from_sat(*value),
                script_pubkey: script.clone(),
            }],
        })
        .collect();
    let spend = Transaction {
        version: transaction::Version::TWO,
        lock_time: absolute::LockTime::ZERO,
        input: coins
            .iter()
            .map(|c| {
                txin(OutPoint {
                    txid: c.compute_txid(),
                    vout: 0,
                })
            })
            .collect(),
        output: outputs
            .iter()
            .map(|(script_pubkey, sat)| TxOut {
                value: Amount::from_sat(*sat),
                script_pubkey: script_pubkey.clone(),
            })
            .collect(),
    };
    Psbt {
        unsigned_tx: spend,
        version: 0,
        xpub: Default::default(),
        proprietary: Default::default(),
        unknown: Default::default(),
        inputs: coins
            .into_iter()
            .map(|c| bitcoin::psbt::Input {
                witness_utxo: Some(c.output[0].clone()),
                non_witness_utxo: Some(c),
                ..Default::default()
            })
            .collect(),
        outputs: vec![Default::default(); outputs.len()],
    }
}

/// The funding transaction of the first coin of a PSBT made by [`coin_and_spend`].
pub fn coin_of(psbt: &Psbt) -> Option<&Transaction> {
    psbt.inputs.first()?.non_witness_utxo.as_ref()
}

/// An unsigned request for `payloads`: a withdrawal by `treasury`, created a minute
/// before `now` and valid for an hour, its id a digest of the payloads. Callers set what
/// differs, then approve and sign it.
pub fn request(payloads: Vec<Payload>, now: u64) -> SignRequest {
    let mut h = Sha256::new();
    for p in &payloads {
        h.update(format!("{p:?}"));
    }
    let mut request_id = [0; 16];
    request_id.copy_from_slice(&h.finalize()[..16]);
    SignRequest {
        request_id,
        created: now.saturating_sub(60),
        expires: now.saturating_add(3600),
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::Withdrawal,
        requester: "treasury".into(),
        memo: String::new(),
        payloads,
        approvals: vec![],
        coordinator_signature: [0; 64],
    }
}

/// A version-0 PSBT as a payload for `network`, signed by `signer` (a label).
pub fn psbt_payload(network: &str, signer: &str, psbt: &Psbt) -> Payload {
    Payload {
        network: network.into(),
        signer: signer.into(),
        body: airgap_protocol::envelope::PayloadBody::Psbt {
            version: 0,
            bytes: psbt.serialize(),
        },
        hints: Default::default(),
    }
}

/// The station's keys imported into `hsm` from secrets fixed by their ids (the same
/// keys `hsm::software::SoftwareBackend` makes): a test device whose addresses do not
/// change from run to run. Never for funds: anyone can compute these keys.
pub fn known_station_keys(
    hsm: &crate::hsm::YubiHsm,
) -> Result<crate::keys::StationKeys, crate::hsm::HsmError> {
    crate::ceremony::make_station_keys(hsm, |key| {
        let mut secret = [0u8; 32];
        secret[..2].copy_from_slice(&key.id.to_be_bytes());
        secret[31] = 1;
        hsm.put_key(key, &secret)
    })
}
