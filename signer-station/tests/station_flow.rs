//! The station's decision flow on MockHsm: signing each chain, and every refusal the
//! station core must make even when the coordinator is compromised.

mod common;

use airgap_protocol::envelope::{verify_response, Outcome, PayloadSignature, VerifyError};
use bitcoin::psbt::Psbt;
use common::*;
use signer_station::station::Refusal;

fn refusal(
    station: &mut signer_station::station::Station,
    payloads: Vec<airgap_protocol::envelope::Payload>,
) -> Refusal {
    let r = request(payloads);
    station.review(&r, NOW).unwrap().verdict.unwrap_err()
}

/// Reviews `req` (allowed, output 1 its proven change, `why`) and signs it.
fn sign_with_change(
    h: &mut Harness,
    req: &airgap_protocol::envelope::SignRequest,
    why: &str,
) -> airgap_protocol::envelope::SignResponse {
    let review = h.station.review(req, NOW).unwrap();
    review.verdict.clone().unwrap();
    assert_eq!(review.payloads[0].change_outputs(), vec![1], "{why}");
    h.station.sign(&review, &h.hsm, NOW).unwrap()
}

#[test]
fn bitcoin_signature_passes_bitcoin_core_script_verification() {
    let mut h = station("btc");
    let case = btc_case(&h.keys, 60_000, 1_000, 1);
    let req = request(vec![btc_payload(&case.psbt)]);
    let resp = sign_with_change(&mut h, &req, "change verified against the station key");
    let identity = h.keys.identity.ed25519().unwrap();
    verify_response(&resp, &req, &identity).unwrap();
    let Outcome::Signed(sigs) = &resp.outcome else {
        panic!("signed expected")
    };
    let PayloadSignature::Psbt(bytes) = &sigs[0] else {
        panic!()
    };
    let mut psbt = Psbt::deserialize(bytes).unwrap();
    let (pk, sig) = psbt.inputs[0]
        .partial_sigs
        .iter()
        .next()
        .map(|(k, s)| (*k, *s))
        .unwrap();
    assert_eq!(pk.to_bytes(), btc_key(&h.keys).public_key);
    // Finalise the P2WPKH input and run Bitcoin Core's interpreter over it.
    psbt.inputs[0].final_script_witness = Some(bitcoin::Witness::p2wpkh(&sig, &pk.inner));
    let tx = psbt.extract_tx_unchecked_fee_rate();
    let prev = case.prev.clone();
    tx.verify(|op| (op.txid == prev.compute_txid()).then(|| prev.output[op.vout as usize].clone()))
        .unwrap();
    // The ledger recorded the signing before the response existed.
    assert!(std::fs::read_to_string(&h.ledger_path)
        .unwrap()
        .contains("\"kind\":\"signed\""));
    // The response carries the ledger since the previous response (here: since the
    // start), the device's audit log included, ending with this signing.
    let entries: Vec<signer_station::ledger::Entry> = resp
        .ledger_entries
        .iter()
        .map(|e| serde_json::from_slice(e).unwrap())
        .collect();
    assert_eq!(entries.first().unwrap().seq, 0);
    assert!(matches!(
        entries.last().unwrap().record,
        signer_station::ledger::Record::Signed { .. }
    ));
    assert!(entries
        .iter()
        .any(|e| matches!(e.record, signer_station::ledger::Record::HsmLog { .. })));
    for pair in entries.windows(2) {
        assert_eq!(pair[1].prev, pair[0].hash);
    }
}

#[test]
fn evm_signature_recovers_the_station_address() {
    let mut h = station("evm");
    let p = evm_payload(&h.keys, 1, 0, 1_000_000_000_000_000_000, vec![]);
    let airgap_protocol::envelope::PayloadBody::EvmTx { tx, .. } = &p.body else {
        panic!()
    };
    let hash = alloy_primitives::keccak256(tx);
    let req = request(vec![p.clone()]);
    let review = h.station.review(&req, NOW).unwrap();
    let resp = h.station.sign(&review, &h.hsm, NOW).unwrap();
    let Outcome::Signed(sigs) = &resp.outcome else {
        panic!()
    };
    let PayloadSignature::Evm(rsv) = sigs[0] else {
        panic!()
    };
    let sig = k256::ecdsa::Signature::from_slice(&rsv[..64]).unwrap();
    let rid = k256::ecdsa::RecoveryId::from_byte(rsv[64]).unwrap();
    let vk = k256::ecdsa::VerifyingKey::recover_from_prehash(hash.as_slice(), &sig, rid).unwrap();
    let addr = signer_station::station::evm::address_of(&vk.to_sec1_bytes()).unwrap();
    assert_eq!(addr.0 .0, evm_address(&h.keys));
    assert!(rsv[32..64] <= hex_n_half()[..], "low-S");
}

fn hex_n_half() -> [u8; 32] {
    // secp256k1 n / 2
    let h = "7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0";
    let mut out = [0u8; 32];
    for i in 0..32 {
        out[i] = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn solana_signature_verifies_over_the_message() {
    let mut h = station("sol");
    let ours: [u8; 32] = sol_key(&h.keys);
    let msg = sol_message(&h.keys, ours, 1_000_000_000, 1);
    let req = request(vec![sol_payload(msg.clone(), Some([5; 32]))]);
    let review = h.station.review(&req, NOW).unwrap();
    review.verdict.clone().unwrap();
    let resp = h.station.sign(&review, &h.hsm, NOW).unwrap();
    let Outcome::Signed(sigs) = &resp.outcome else {
        panic!()
    };
    let PayloadSignature::Solana(list) = &sigs[0] else {
        panic!()
    };
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&list[0].0).unwrap();
    vk.verify_strict(&msg, &ed25519_dalek::Signature::from_bytes(&list[0].1))
        .unwrap();
}

#[test]
fn fail_replay_and_double_spend() {
    let mut h = station("replay");
    const ETH: u128 = 1_000_000_000_000_000_000;
    let req = request(vec![evm_payload(&h.keys, 1, 5, ETH, vec![])]);
    let review = h.station.review(&req, NOW).unwrap();
    h.station.sign(&review, &h.hsm, NOW).unwrap();
    assert!(matches!(
        h.station.review(&req, NOW).unwrap().verdict,
        Err(Refusal::RequestReplayed(_))
    ));
    // Same nonce, different transaction: a double spend.
    let e = refusal(
        &mut h.station,
        vec![evm_payload(&h.keys, 1, 5, ETH + 1, vec![])],
    );
    assert!(matches!(e, Refusal::DoubleSpend { .. }), "{e}");
    // The replay index survives a restart of the station.
    let ledger = signer_station::ledger::Ledger::open(&h.ledger_path).unwrap();
    assert_eq!(ledger.index().spends.len(), 1);
}

#[test]
fn fail_velocity_window() {
    let mut h = station("velocity");
    // 90,000 sat signed (91,000 with its fee); 70,000 more (71,000) would make 162,000 in
    // 24 h, over 150,000: fees leave the vault too.
    let first = request(vec![btc_payload(
        &btc_case(&h.keys, 90_000, 1_000, 10).psbt,
    )]);
    let review = h.station.review(&first, NOW).unwrap();
    h.station.sign(&review, &h.hsm, NOW).unwrap();
    let second = request(vec![btc_payload(
        &btc_case(&h.keys, 70_000, 1_000, 11).psbt,
    )]);
    let verdict = h.station.review(&second, NOW).unwrap().verdict;
    assert!(
        matches!(
            verdict,
            Err(Refusal::OverDailyLimit {
                total: 162_000,
                limit: 150_000,
                ..
            })
        ),
        "{verdict:?}"
    );
    // A day later the window has moved on.
    let case = btc_case(&h.keys, 70_000, 1_000, 30);
    let mut req = request(vec![btc_payload(&case.psbt)]);
    req.created = NOW + 86_400;
    req.expires = NOW + 90_000;
    req.approvals.clear();
    req.approve_with(&key(10));
    req.approve_with(&key(11));
    req.sign_with(&key(1));
    h.station
        .review(&req, NOW + 86_401)
        .unwrap()
        .verdict
        .unwrap();
}

#[test]
fn fail_limits_allow_list_and_change_to_a_foreign_key() {
    let mut h = station("limits");
    let e = refusal(
        &mut h.station,
        vec![evm_payload(
            &h.keys,
            1,
            0,
            2_500_000_000_000_000_000,
            vec![],
        )],
    );
    assert!(matches!(e, Refusal::OverTransactionLimit { .. }), "{e}");
    // "Change" to a key that is not the station's is an outgoing payment off the list.
    let mut case = btc_case(&h.keys, 60_000, 1_000, 2);
    case.psbt.unsigned_tx.output[1].script_pubkey = btc_addr(9).script_pubkey();
    let e = refusal(&mut h.station, vec![btc_payload(&case.psbt)]);
    assert!(
        matches!(&e, Refusal::NotAllowListed { address, .. } if *address == btc_addr(9).to_string()),
        "{e}"
    );
}

#[test]
fn fail_bitcoin_fee_attack_and_sighash() {
    let mut h = station("feeattack");
    let mut case = btc_case(&h.keys, 60_000, 1_000, 3);
    case.psbt.inputs[0].non_witness_utxo = None;
    assert!(matches!(
        refusal(&mut h.station, vec![btc_payload(&case.psbt)]),
        Refusal::MissingPreviousTx { input: 0, .. }
    ));
    let mut case = btc_case(&h.keys, 60_000, 1_000, 4);
    case.psbt.inputs[0].witness_utxo.as_mut().unwrap().value = bitcoin::Amount::from_sat(50_000);
    assert!(matches!(
        refusal(&mut h.station, vec![btc_payload(&case.psbt)]),
        Refusal::PrevoutMismatch { .. }
    ));
    let mut case = btc_case(&h.keys, 60_000, 1_000, 5);
    case.psbt.inputs[0].sighash_type =
        Some(bitcoin::EcdsaSighashType::SinglePlusAnyoneCanPay.into());
    assert!(matches!(
        refusal(&mut h.station, vec![btc_payload(&case.psbt)]),
        Refusal::ForeignSighash { .. }
    ));
    let case = btc_case(&h.keys, 60_000, 30_000, 6);
    assert!(matches!(
        refusal(&mut h.station, vec![btc_payload(&case.psbt)]),
        Refusal::FeeTooHigh { .. }
    ));
}

#[test]
fn fail_envelope_expired_and_unknown_approver() {
    let mut h = station("envelope");
    let req = request(vec![evm_payload(&h.keys, 1, 0, 1, vec![])]);
    assert!(matches!(
        h.station.review(&req, NOW + 7200),
        Err(Refusal::Envelope(VerifyError::Expired { .. }))
    ));
    let mut req = request(vec![evm_payload(&h.keys, 1, 0, 1, vec![])]);
    req.approvals.pop();
    req.approve_with(&key(66));
    req.sign_with(&key(1));
    assert!(matches!(
        h.station.review(&req, NOW),
        Err(Refusal::Envelope(VerifyError::UnknownApprover(_)))
    ));
}

#[test]
fn fail_chain_specific_refusals() {
    let mut h = station("chains");
    let e = refusal(&mut h.station, vec![evm_payload(&h.keys, 56, 0, 1, vec![])]);
    assert!(matches!(e, Refusal::NetworkNotAllowed { .. }), "{e}");
    let e = refusal(
        &mut h.station,
        vec![evm_payload(&h.keys, 1, 0, 0, vec![0xde, 0xad, 0xbe, 0xef])],
    );
    assert!(matches!(e, Refusal::Disallowed { .. }), "{e}");
    let e = refusal(
        &mut h.station,
        vec![sol_payload(
            sol_message(&h.keys, [7; 32], 1, 2),
            Some([5; 32]),
        )],
    );
    assert!(matches!(e, Refusal::ForeignNonce { .. }), "{e}");
    let ours: [u8; 32] = sol_key(&h.keys);
    let e = refusal(
        &mut h.station,
        vec![sol_payload(sol_message(&h.keys, ours, 1, 3), Some([6; 32]))],
    );
    assert!(
        matches!(e, Refusal::ForeignNonce { .. }),
        "swapped nonce account: {e}"
    );
}

#[test]
fn refusal_is_signed_and_recorded() {
    let mut h = station("refuse");
    let req = request(vec![evm_payload(&h.keys, 1, 0, 1, vec![])]);
    let review = h.station.review(&req, NOW).unwrap();
    let why = Refusal::Custodians("destination not recognised by the custodians".into());
    let resp = h.station.refuse(&review, &why, &h.hsm, NOW).unwrap();
    let identity = h.keys.identity.ed25519().unwrap();
    verify_response(&resp, &req, &identity).unwrap();
    assert!(
        matches!(&resp.outcome, Outcome::Refused { code: 60, reason } if reason.contains("custodians"))
    );
    assert!(std::fs::read_to_string(&h.ledger_path)
        .unwrap()
        .contains("\"kind\":\"refused\""));
}

#[test]
fn more_than_one_change_output_is_flagged() {
    let mut h = station("twochange");
    let mut case = btc_case(&h.keys, 60_000, 1_000, 7);
    let change = case.psbt.unsigned_tx.output[1].clone();
    case.psbt.unsigned_tx.output[1].value = bitcoin::Amount::from_sat(20_000);
    case.psbt.unsigned_tx.output.push(bitcoin::TxOut {
        value: bitcoin::Amount::from_sat(19_000),
        script_pubkey: change.script_pubkey,
    });
    case.psbt.outputs.push(Default::default());
    let review = h
        .station
        .review(&request(vec![btc_payload(&case.psbt)]), NOW)
        .unwrap();
    review.verdict.clone().unwrap();
    assert_eq!(review.payloads[0].change_outputs(), vec![1, 2]);
    assert!(review.payloads[0].warnings[0].contains("2 change outputs"));
}

/// A 2-of-3 P2WSH multisig coin: the station signs its share, a second cosigner signs
/// with its own key, and Bitcoin Core's interpreter accepts the finalised spend. Change
/// back to the same multisig script is recognised as change.
#[test]
fn p2wsh_multisig_share_signed_and_verified_with_a_cosigner() {
    use bitcoin::hashes::Hash;
    use bitcoin::secp256k1::{Message, Secp256k1, SecretKey};
    use bitcoin::sighash::{EcdsaSighashType, SighashCache};
    use bitcoin::*;

    let secp = Secp256k1::new();
    let cosigner = SecretKey::from_slice(&[21; 32]).unwrap();
    let third = SecretKey::from_slice(&[22; 32]).unwrap();
    let cosigner_pk = PublicKey::new(cosigner.public_key(&secp));
    let third_pk = PublicKey::new(third.public_key(&secp));
    // The custodians registered the vault in the station's signed policy.
    let mut h = station_with("multisig", |keys| {
        let station_pk = PublicKey::from_slice(&btc_key(keys).public_key).unwrap();
        let mut p = policy();
        p.vaults
            .push(signer_station::station::policy::RegisteredVault {
                name: "cold 2-of-3".into(),
                network: "regtest".into(),
                descriptor: format!("wsh(sortedmulti(2,{station_pk},{cosigner_pk},{third_pk}))"),
                deposit: false,
            });
        p
    });
    let station_pk = PublicKey::from_slice(&btc_key(&h.keys).public_key).unwrap();
    let mut keys = [station_pk, cosigner_pk, third_pk];
    keys.sort_by_key(|k| k.to_bytes()); // sortedmulti: signatures go in key order
    let witness_script = signer_station::fixtures::sortedmulti_2_of_3(keys);
    let vault_spk = ScriptBuf::new_p2wsh(&witness_script.wscript_hash());
    let mut psbt = signer_station::fixtures::coin_and_spend(
        &vault_spk,
        100_000,
        77,
        &[
            (btc_addr(2).script_pubkey(), 50_000),
            (vault_spk.clone(), 48_000),
        ],
    );
    let prev = signer_station::fixtures::coin_of(&psbt).unwrap().clone();
    psbt.inputs[0].witness_script = Some(witness_script.clone());

    let req = request(vec![btc_payload(&psbt)]);
    let resp = sign_with_change(&mut h, &req, "change to the same multisig is change");
    let Outcome::Signed(sigs) = &resp.outcome else {
        panic!()
    };
    let PayloadSignature::Psbt(bytes) = &sigs[0] else {
        panic!()
    };
    let mut signed = Psbt::deserialize(bytes).unwrap();
    let station_sig = *signed.inputs[0].partial_sigs.get(&station_pk).unwrap();

    // The cosigner signs the same BIP-143 sighash with its own key.
    let sighash = SighashCache::new(&signed.unsigned_tx)
        .p2wsh_signature_hash(
            0,
            &witness_script,
            Amount::from_sat(100_000),
            EcdsaSighashType::All,
        )
        .unwrap();
    let cosig = ecdsa::Signature {
        signature: secp.sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &cosigner),
        sighash_type: EcdsaSighashType::All,
    };
    // CHECKMULTISIG takes the signatures in key order.
    let mut parts: Vec<(PublicKey, ecdsa::Signature)> =
        vec![(station_pk, station_sig), (cosigner_pk, cosig)];
    parts.sort_by_key(|(k, _)| keys.iter().position(|x| x == k));
    let mut w = Witness::new();
    w.push(Vec::<u8>::new());
    for (_, s) in &parts {
        w.push(s.to_vec());
    }
    w.push(witness_script.as_bytes());
    signed.inputs[0].final_script_witness = Some(w);
    let tx = signed.extract_tx_unchecked_fee_rate();
    tx.verify(|op| (op.txid == prev.compute_txid()).then(|| prev.output[op.vout as usize].clone()))
        .unwrap();
}
