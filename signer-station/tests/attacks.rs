//! The compromised coordinator against the station.
//!
//! The attacker holds the coordinator's code, database and request key, and the keys of
//! approvers it controls (two of the three pinned ones here): every request below carries
//! a valid coordinator signature and, unless the attack is about approvals, two valid
//! approvals. Each case is one attack, named for it; each asserts the station refused it
//! with its stable reason code, released no signature, and recorded the refusal in its
//! ledger. Control cases at the end must sign. See docs/THREAT-MODEL.md.

mod common;

#[path = "attacks/build.rs"]
mod build;
#[path = "attacks/rig.rs"]
mod rig;
#[macro_use]
#[path = "attacks/cases.rs"]
mod cases;
#[path = "attacks/first_evm.rs"]
mod evm_attacks;
#[path = "attacks/evm_replacement.rs"]
mod evm_replacement;
#[path = "attacks/first_solana.rs"]
mod solana_attacks;

use airgap_protocol::envelope::*;
use airgap_protocol::network::{BitcoinNetwork, SolanaCluster};
use alloy_primitives::U256;
use bitcoin::ScriptBuf;
use build::*;
use cases::*;
use common::NOW;
use rig::*;

attacks! {
    // ---------------- Bitcoin: ownership of inputs and change ----------------

    // The attack of record: a vault coin and a bait coin at a 1-of-2 {station, attacker}
    // multisig; 10,000 to an allow-listed address, 189,000 "back" to the bait script.
    btc_change_hijack_with_bait_input => FOREIGN_INPUT; |r| {
        let vault = r.vault_coin(0, 100_000);
        let (bait, ws) = r.bait();
        let bait_coin = r.coin(bait.clone(), 100_000);
        let mut psbt = r.psbt(&[(&vault, Some((0, 0))), (&bait_coin, None)],
            &[(pay(2), 10_000, None), (bait, 189_000, None)]);
        psbt.inputs[1].witness_script = Some(ws);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_bait_script_posing_as_change => NOT_ALLOW_LISTED; |r| {
        let vault = r.vault_coin(1, 100_000);
        let (bait, _) = r.bait();
        let psbt = r.psbt(&[(&vault, Some((0, 1)))],
            &[(pay(2), 10_000, None), (bait, 89_000, None)]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_bait_input_alone_with_its_witness_script => FOREIGN_INPUT; |r| {
        let (bait, ws) = r.bait();
        let coin = r.coin(bait.clone(), 100_000);
        let mut psbt = r.psbt(&[(&coin, None)], &[(pay(2), 10_000, None), (bait, 89_000, None)]);
        psbt.inputs[0].witness_script = Some(ws);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_change_on_the_receive_branch => NOT_ALLOW_LISTED; |r| {
        let vault = r.vault_coin(2, 100_000);
        let to = r.vault_script(0, 7);
        let psbt = r.psbt(&[(&vault, Some((0, 2)))],
            &[(pay(2), 10_000, None), (to, 89_000, Some((0, 7)))]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // Change goes back to the vault the coins come from: the 2-of-3 vault's coins "back"
    // to the station's single-key wallet would leave the multisig's protection unlimited.
    btc_vault_coins_moved_to_another_vault_as_change => NOT_ALLOW_LISTED; |r| {
        let vault = r.vault_coin(5, 100_000);
        let single = r.single(REGTEST);
        let psbt = r.psbt(&[(&vault, Some((0, 5)))],
            &[(pay(2), 10_000, None), (single, 89_000, None)]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_change_beyond_the_index_limit => NOT_ALLOW_LISTED; |r| {
        let vault = r.vault_coin(3, 100_000);
        let to = r.vault_script(1, 5_000);
        let psbt = r.psbt(&[(&vault, Some((0, 3)))],
            &[(pay(2), 10_000, None), (to, 89_000, Some((1, 5_000)))]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_change_with_a_lying_derivation_path => NOT_ALLOW_LISTED; |r| {
        let vault = r.vault_coin(4, 100_000);
        let psbt = r.psbt(&[(&vault, Some((0, 4)))],
            &[(pay(2), 10_000, None), (pay(66), 89_000, Some((1, 3)))]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_change_to_the_station_key_of_another_network => NOT_ALLOW_LISTED; |r| {
        let to = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        let mut psbt = psbt;
        psbt.unsigned_tx.output[1].script_pubkey = to;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_input_with_a_lying_derivation_path => FOREIGN_INPUT; |r| {
        let coin = r.coin(pay(66), 100_000);
        let change = r.vault_script(1, 0);
        let mut psbt = r.psbt(&[(&coin, None)], &[(pay(2), 10_000, None), (change, 89_000, Some((1, 0)))]);
        psbt.inputs[0].bip32_derivation = r.derivations(0, 2);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_no_input_of_the_station => FOREIGN_INPUT; |r| {
        let coin = r.coin(pay(66), 100_000);
        let psbt = r.psbt(&[(&coin, None)], &[(pay(2), 99_000, None)]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_inputs_of_two_networks => NETWORK_MISMATCH; |r| {
        let a = r.single_coin(50_000);
        let testnet = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let b = r.coin(testnet, 50_000);
        let psbt = r.psbt(&[(&a, None), (&b, None)], &[(pay(2), 99_000, None)]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_non_standard_output_script => NOT_ALLOW_LISTED; |r| {
        let psbt = single_spend(r, ScriptBuf::from_bytes(vec![0x51, 0x51]), 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };

    // ---------------- Bitcoin: networks ----------------

    btc_regtest_psbt_labelled_testnet => NETWORK_MISMATCH; |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "testnet")])
    };
    btc_unknown_network_label => NETWORK_MISMATCH; |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "litecoin")])
    };
    // Signed under regtest; the same outpoint again under testnet (both allowed).
    btc_spent_outpoint_relabelled_for_another_network => NETWORK_MISMATCH; |r| {
        let again = spent_then_again(r);
        r.send(vec![btc_payload(&again, "testnet")])
    };
    btc_spent_outpoint_spent_again => DOUBLE_SPEND; |r| {
        let again = spent_then_again(r);
        let req = btc(r, &again);
        r.attempt(&req)
    };
    // 90,000 sat labelled `bitcoin`, then 70,000 labelled `mainnet`: one network, one
    // 150,000 budget.
    btc_mainnet_alias_splits_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let main = BitcoinNetwork::Mainnet;
        let ours = r.single(main);
        let dest = addr(2, bitcoin::Network::Bitcoin).script_pubkey();
        let c1 = r.coin(ours.clone(), 100_000);
        let p1 = r.psbt(&[(&c1, None)], &[(dest.clone(), 90_000, None), (ours.clone(), 9_000, None)]);
        let req = r.request(vec![btc_payload(&p1, "bitcoin")]);
        r.sign_ok(&req);
        let c2 = r.coin(ours.clone(), 100_000);
        let p2 = r.psbt(&[(&c2, None)], &[(dest, 70_000, None), (ours, 29_000, None)]);
        r.send(vec![btc_payload(&p2, "mainnet")])
    };

    // ---------------- Bitcoin: amounts, fees, signatures ----------------

    btc_missing_previous_transaction => MISSING_PREV_TX; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.inputs[0].non_witness_utxo = None;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_witness_utxo_lies_about_the_amount => PREVOUT_MISMATCH; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.inputs[0].witness_utxo.as_mut().unwrap().value = bitcoin::Amount::from_sat(11_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_sighash_single_anyone_can_pay => SIGHASH; |r| with_sighash(r, bitcoin::EcdsaSighashType::SinglePlusAnyoneCanPay.into());
    btc_fee_over_the_cap => FEE; |r| {
        let psbt = single_spend(r, pay(2), 50_000, 30_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_fee_share_over_policy => FEE; |r| {
        let psbt = single_spend(r, pay(2), 1_000, 15_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_over_the_transaction_limit => OVER_TX_LIMIT; |r| {
        let coin = r.single_coin(300_000);
        let change = r.single(REGTEST);
        let psbt = r.psbt(&[(&coin, None)], &[(pay(2), 150_000, None), (change, 149_000, None)]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_destination_off_the_allow_list => NOT_ALLOW_LISTED; |r| {
        let psbt = single_spend(r, pay(9), 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_over_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let psbt = single_spend(r, pay(2), 90_000, 1_000);
        let req = btc(r, &psbt);
        r.sign_ok(&req);
        let psbt = single_spend(r, pay(2), 70_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_unsupported_psbt_version => UNDECODABLE; |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        let mut p = btc_payload(&psbt, "regtest");
        if let PayloadBody::Psbt { version, .. } = &mut p.body { *version = 2; }
        r.send(vec![p])
    };
    btc_two_payloads_spend_one_coin => DOUBLE_SPEND; |r| {
        let coin = r.single_coin(100_000);
        let change = r.single(REGTEST);
        let a = r.psbt(&[(&coin, None)], &[(pay(2), 10_000, None), (change.clone(), 89_000, None)]);
        let b = r.psbt(&[(&coin, None)], &[(pay(2), 11_000, None), (change, 88_000, None)]);
        r.send(vec![btc_payload(&a, "regtest"), btc_payload(&b, "regtest")])
    };
    // Two requests reviewed while neither is signed; the second must not be signed once
    // the first is.
    btc_second_review_of_one_coin_signed_later => DOUBLE_SPEND; |r| {
        let coin = r.single_coin(100_000);
        let change = r.single(REGTEST);
        let a = r.psbt(&[(&coin, None)], &[(pay(2), 10_000, None), (change.clone(), 89_000, None)]);
        let b = r.psbt(&[(&coin, None)], &[(pay(2), 11_000, None), (change, 88_000, None)]);
        let (ra, rb) = (btc(r, &a), btc(r, &b));
        second_review_signed_later(r, &ra, &rb)
    };

    // ---------------- Bitcoin: purpose from effects ----------------

    btc_payment_labelled_consolidation_with_one_approval => APPROVALS; |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        let req = r.request_as(vec![btc_payload(&psbt, "regtest")], Purpose::Consolidation, &[10]);
        r.attempt(&req)
    };
    btc_payment_labelled_refill_with_one_approval => APPROVALS; |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        let req = r.request_as(vec![btc_payload(&psbt, "regtest")], Purpose::Refill, &[10]);
        r.attempt(&req)
    };


    // ---------------- The envelope ----------------

    env_expired => ENVELOPE; |r| {
        let mut req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH))]);
        req.expires = NOW - 1;
        req.created = NOW - 100;
        rig_resign(&mut req);
        r.attempt(&req)
    };
    env_unknown_coordinator_key => ENVELOPE; |r| {
        let mut req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH))]);
        req.sign_with(&common::key(99));
        r.attempt(&req)
    };
    env_payload_changed_after_approval => ENVELOPE; |r| {
        let mut req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH))]);
        req.payloads[0] = evm(r, "evm:1", &Evm::pay(1, 0, EVM_ATTACKER, ETH));
        req.sign_with(&common::key(1));
        r.attempt(&req)
    };
    env_unknown_approver => ENVELOPE; |r| {
        let p = evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH));
        let req = r.request_as(vec![p], Purpose::Withdrawal, &[10, 99]);
        r.attempt(&req)
    };
    env_one_approval_for_a_withdrawal => ENVELOPE; |r| {
        let p = evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH));
        let req = r.request_as(vec![p], Purpose::Withdrawal, &[10]);
        r.attempt(&req)
    };
    env_one_approver_twice => ENVELOPE; |r| {
        let p = evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH));
        let req = r.request_as(vec![p], Purpose::Withdrawal, &[10, 10]);
        r.attempt(&req)
    };
    env_valid_for_longer_than_policy_allows => VALIDITY; |r| {
        let mut req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH))]);
        req.expires = NOW + 30 * 86_400;
        rig_resign(&mut req);
        r.attempt(&req)
    };

    // ---------------- The ledger ----------------

    // The station's disk is writable by the attacker: cut the ledger's tail to reset the
    // 24 h budget.
    ledger_tail_cut_to_reset_the_budget => LEDGER_ANCHOR; |r| {
        let req = payout(r, 90_000);
        r.sign_ok(&req);
        cut_and_restart(r);
        let psbt = single_spend(r, pay(2), 70_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // Rewrite the ledger with every hash recomputed: the signing replaced by another entry.
    ledger_rewritten_with_recomputed_hashes => LEDGER_ANCHOR; |r| {
        let req = payout(r, 90_000);
        r.sign_ok(&req);
        cut_before_signing(r);
        {
            // The attacker appends an innocuous entry with a valid hash where the signing was.
            let mut l = signer_station::ledger::Ledger::open(&r.h.ledger_path).unwrap();
            l.append(NOW, signer_station::ledger::Record::Ceremony { step: "nothing".into(), detail: String::new() }).unwrap();
        }
        reopen(r);
        let psbt = single_spend(r, pay(2), 70_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
}

/// Reviews two requests before either is signed, signs the first, then tries the second.
fn second_review_signed_later(r: &mut Rig, ra: &SignRequest, rb: &SignRequest) -> Attempt {
    let review_a = r.station().review(ra, NOW).unwrap();
    let review_b = r.station().review(rb, NOW).unwrap();
    review_b.verdict.clone().unwrap();
    r.h.station.sign(&review_a, &r.h.hsm, NOW).unwrap();
    r.expect(rb);
    r.h.station.sign(&review_b, &r.h.hsm, NOW)
}

/// Re-signs a request after a change, as the compromised coordinator (with the approver
/// keys it holds) would.
fn rig_resign(req: &mut SignRequest) {
    req.approvals.clear();
    req.approve_with(&common::key(10));
    req.approve_with(&common::key(11));
    req.sign_with(&common::key(1));
}

controls! {
    control_btc_single_key_payment_with_change; |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        let req = btc(r, &psbt);
        let review = r.station().review(&req, NOW).unwrap();
        assert_eq!(review.payloads[0].change_outputs(), vec![1]);
        r.attempt(&req)
    };
    control_btc_vault_payment_with_proven_change; |r| {
        let coin = r.vault_coin(4, 100_000);
        let change = r.vault_script(1, 3);
        let psbt = r.psbt(&[(&coin, Some((0, 4)))], &[(pay(2), 10_000, None), (change, 89_000, Some((1, 3)))]);
        let req = btc(r, &psbt);
        let review = r.station().review(&req, NOW).unwrap();
        assert_eq!(review.payloads[0].change_outputs(), vec![1]);
        let resp = r.attempt(&req);
        if let Ok(resp) = &resp {
            verify_vault_spend(r, resp, &coin, 4);
        }
        resp
    };
    control_btc_consolidation_with_one_approval; |r| {
        let a = r.vault_coin(1, 50_000);
        let b = r.vault_coin(2, 50_000);
        let change = r.vault_script(1, 9);
        let psbt = r.psbt(&[(&a, Some((0, 1))), (&b, Some((0, 2)))], &[(change, 99_000, Some((1, 9)))]);
        let req = r.request_as(vec![btc_payload(&psbt, "regtest")], Purpose::Consolidation, &[10]);
        r.attempt(&req)
    };
    control_btc_refill_of_an_internal_wallet_with_one_approval; |r| {
        let psbt = single_spend(r, pay(4), 10_000, 1_000);
        let req = r.request_as(vec![btc_payload(&psbt, "regtest")], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    control_evm_payment; |r| {
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH))])
    };
    control_evm_token_transfer; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_transfer(EVM_TO, U256::from(1_000u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    control_evm_fee_bump_of_the_same_call; |r| {
        let req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 4, EVM_TO, ETH))]);
        r.sign_ok(&req);
        let mut bump = Evm::pay(1, 4, EVM_TO, ETH);
        bump.max_fee = 40_000_000_000;
        r.send(vec![evm(r, "evm:1", &bump)])
    };
    control_evm_undecoded_call_to_an_allow_listed_contract,
        policy: |p| p.allow_unknown_calldata = true; |r| {
        let tx = Evm::call(1, 0, EVM_OK_CONTRACT, vec![0xde, 0xad, 0xbe, 0xef]);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    control_sol_payment; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![transfer(ours, [2; 32], SOL)], 1)])
    };
    control_sol_token_payment_with_an_account_for_an_allow_listed_owner; |r| {
        let ours = devnet(r);
        let ixs = vec![
            create_ata(ours, [3; 32], [2; 32], SOL_MINT, TOKEN),
            transfer_checked([30; 32], SOL_MINT, [3; 32], ours, 1_000_000, 6),
        ];
        r.send(vec![sol(r, ixs, 1)])
    };
    control_sol_priority_fee_within_the_cap; |r| {
        let ours = devnet(r);
        let ixs = vec![memo("invoice 7"), cu_limit(50_000), cu_price(100_000), transfer(ours, [2; 32], SOL)];
        let req = r.request(vec![sol(r, ixs, 1)]);
        let review = r.station().review(&req, NOW).unwrap();
        // 2 signatures? no: one signer; 5,000 + 50,000 x 0.1 = 10,000 lamports.
        assert_eq!(review.payloads[0].facts.as_ref().unwrap().fee, 10_000);
        r.attempt(&req)
    };
}

/// Finalises a vault spend with one cosigner's signature beside the station's, and runs
/// Bitcoin Core's interpreter over it.
fn verify_vault_spend(r: &Rig, resp: &SignResponse, coin: &bitcoin::Transaction, index: u32) {
    use bitcoin::hashes::Hash;
    use bitcoin::secp256k1::{Message, Secp256k1};
    use bitcoin::sighash::{EcdsaSighashType, SighashCache};
    let Outcome::Signed(sigs) = &resp.outcome else {
        panic!()
    };
    let PayloadSignature::Psbt(bytes) = &sigs[0] else {
        panic!()
    };
    let mut psbt = bitcoin::psbt::Psbt::deserialize(bytes).unwrap();
    let ws = r.vault_witness_script(0, index);
    let station = r.btc_key(REGTEST);
    let station_sig = *psbt.inputs[0].partial_sigs.get(&station).unwrap();
    let sighash = SighashCache::new(&psbt.unsigned_tx)
        .p2wsh_signature_hash(0, &ws, coin.output[0].value, EcdsaSighashType::All)
        .unwrap();
    let (pk, sk) = r.cosigners[0].child(0, index);
    let cosig = bitcoin::ecdsa::Signature {
        signature: Secp256k1::new().sign_ecdsa(&Message::from_digest(sighash.to_byte_array()), &sk),
        sighash_type: EcdsaSighashType::All,
    };
    let mut parts = vec![(station, station_sig), (bitcoin::PublicKey::new(pk), cosig)];
    parts.sort_by_key(|(k, _)| k.to_bytes());
    let mut w = bitcoin::Witness::new();
    w.push(Vec::<u8>::new());
    for (_, s) in &parts {
        w.push(s.to_vec());
    }
    w.push(ws.as_bytes());
    psbt.inputs[0].final_script_witness = Some(w);
    let tx = psbt.extract_tx_unchecked_fee_rate();
    let prev = coin.clone();
    tx.verify(|op| (op.txid == prev.compute_txid()).then(|| prev.output[op.vout as usize].clone()))
        .expect("Bitcoin Core's interpreter accepts the vault spend");
}

/// Weak approver and coordinator keys are refused when custodians register them.
#[test]
fn registration_refuses_weak_keys() {
    use signer_station::station::registration::{
        self, RegisteredApprover, Registration, RegistrationError,
    };
    let h = common::station("weak-keys");
    for weak in [[0u8; 32], {
        let mut id = [0u8; 32];
        id[0] = 1; // the identity point
        id
    }] {
        let approver = Registration {
            coordinator_keys: vec![hex::encode(common::key(1).verifying_key().to_bytes())],
            approvers: vec![RegisteredApprover {
                name: "mallory".into(),
                role: "treasury".into(),
                key: hex::encode(weak),
            }],
        };
        let e = registration::sign(&h.hsm, &h.keys.identity, approver).unwrap_err();
        assert!(matches!(e, RegistrationError::WeakKey(_)), "{e}");
        let coordinator = Registration {
            coordinator_keys: vec![hex::encode(weak)],
            approvers: vec![],
        };
        let e = registration::sign(&h.hsm, &h.keys.identity, coordinator).unwrap_err();
        assert!(matches!(e, RegistrationError::WeakKey(_)), "{e}");
    }
}

/// After an anchor mismatch, custodians who accept the ledger as it is re-anchor it, and
/// the station signs again; the re-anchoring is in the ledger.
#[test]
fn ledger_reanchored_by_custodians_signs_again() {
    let mut r = signed_then_cut("reanchor", 10_000);
    let req = payout(&mut r, 10_000);
    r.refuses(&req, LEDGER_ANCHOR);
    r.h.station
        .reanchor(
            &r.h.hsm,
            NOW,
            "custodians restored the ledger from the coordinator's copy",
        )
        .unwrap();
    let req = payout(&mut r, 10_000);
    let signed = r.attempt(&req);
    r.assert_signed(signed);
    assert!(r.entries().iter().any(|e| matches!(&e.record,
        signer_station::ledger::Record::Ceremony { step, .. } if step == "ledger re-anchored")));
}

/// A coin of the station spent in a signing, and a second spend of the same coin.
fn spent_then_again(r: &mut Rig) -> bitcoin::psbt::Psbt {
    let coin = r.single_coin(100_000);
    let change = r.single(REGTEST);
    let first = r.psbt(
        &[(&coin, None)],
        &[(pay(2), 10_000, None), (change.clone(), 89_000, None)],
    );
    let req = btc(r, &first);
    r.sign_ok(&req);
    r.psbt(
        &[(&coin, None)],
        &[(pay(2), 20_000, None), (change, 79_000, None)],
    )
}
