//! A second round of attacks by a compromised coordinator, made independently of
//! `attacks.rs` and of the station's code: the cases at the top signed before the station
//! was fixed (a bait coin passing a vault's coins off as change, calls into unlisted
//! contracts "paying the station", fees outside the budget, fee caps failing open or
//! rounding down); the rest were refused from the start.
//!
//! - `attacks!` cases assert the station refused with the code given, released nothing
//!   and recorded the refusal (as in `attacks.rs`).
//! - `controls!` cases must sign (they show what is, correctly, allowed).

mod common;

#[allow(dead_code)]
#[path = "attacks/build.rs"]
mod build;
#[allow(dead_code)]
#[path = "attacks/rig.rs"]
mod rig;
#[macro_use]
#[path = "attacks/cases.rs"]
mod cases;

use airgap_protocol::envelope::*;
use airgap_protocol::network::{BitcoinNetwork, SolanaCluster};
use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{TxKind, U256};
use bitcoin::ScriptBuf;
use build::*;
use cases::*;
use common::NOW;
use rig::*;
use signer_station::station::standard::{StandardAnswer, StandardRequest};
use signer_station::station::Refusal;

fn consolidation(r: &Rig, payloads: Vec<Payload>) -> SignRequest {
    r.request_as(payloads, Purpose::Consolidation, &[10])
}

fn legacy155(chain_id: u64, nonce: u64, to: &str, value: u128, data: Vec<u8>) -> Vec<u8> {
    let tx = TxLegacy {
        chain_id: Some(chain_id),
        nonce,
        gas_price: 30_000_000_000,
        gas_limit: 100_000,
        to: TxKind::Call(a(to)),
        value: U256::from(value),
        input: data.into(),
    };
    let mut buf = Vec::new();
    tx.encode_for_signing(&mut buf);
    buf
}

fn eip1559_raw(chain_id: u64, to: &str, value: U256, gas_limit: u64, max_fee: u128) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce: 0,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(a(to)),
        value,
        access_list: Default::default(),
        input: Default::default(),
    };
    let mut buf = Vec::new();
    tx.encode_for_signing(&mut buf);
    buf
}

fn selector_call(sel: [u8; 4], words: &[[u8; 32]]) -> Vec<u8> {
    let mut d = sel.to_vec();
    for w in words {
        d.extend_from_slice(w);
    }
    d
}

fn addr_word(s: &str) -> [u8; 32] {
    let mut w = [0u8; 32];
    w[12..].copy_from_slice(a(s).as_slice());
    w
}

fn u256_word(v: U256) -> [u8; 32] {
    v.to_be_bytes::<32>()
}

/// A system instruction with raw data.
fn system_raw(
    accounts: Vec<solana_instruction::AccountMeta>,
    data: Vec<u8>,
) -> solana_instruction::Instruction {
    solana_instruction::Instruction {
        program_id: sa(SYSTEM),
        accounts,
        data,
    }
}

fn compute_budget_raw(data: Vec<u8>) -> solana_instruction::Instruction {
    solana_instruction::Instruction {
        program_id: program(COMPUTE_BUDGET),
        accounts: vec![],
        data,
    }
}

/// A hand-made legacy message: header, keys, blockhash, instructions as
/// (program index, account indexes, data).
fn raw_message(
    header: [u8; 3],
    keys: &[[u8; 32]],
    blockhash: u8,
    ixs: &[(u8, Vec<u8>, Vec<u8>)],
) -> Vec<u8> {
    let mut m = header.to_vec();
    m.push(keys.len() as u8);
    for k in keys {
        m.extend_from_slice(k);
    }
    m.extend_from_slice(&[blockhash; 32]);
    m.push(ixs.len() as u8);
    for (p, acc, data) in ixs {
        m.push(*p);
        m.push(acc.len() as u8);
        m.extend_from_slice(acc);
        m.push(data.len() as u8);
        m.extend_from_slice(data);
    }
    m
}

fn sys_transfer_data(lamports: u64) -> Vec<u8> {
    let mut d = 2u32.to_le_bytes().to_vec();
    d.extend_from_slice(&lamports.to_le_bytes());
    d
}

// ---------------------------------------------------------------------------------
// Signed before the fix: the station's rules now refuse them.
// ---------------------------------------------------------------------------------

attacks! {
    // Was F1. The threat model: "change only back to a vault the inputs come from", and
    // `btc_vault_coins_moved_to_another_vault_as_change` refuses the 2-of-3 vault's coins
    // "back" to the station's single-key wallet ("would leave the multisig's protection
    // unlimited"). Add ONE tiny coin of the single-key wallet as a second input and the
    // whole vault coin (500,000 sat: 5x the per-transaction limit, 3x the daily budget)
    // moves to the single-key wallet as "change" (class Own): no allow-list, no limit,
    // nothing counted in the 24 h budget, and ONE approval (consolidation).
    btc_vault_coins_passed_off_as_change_beside_a_bait_coin => DISALLOWED; |r| {
        let bait = r.single_coin(1_000);
        let vault = r.vault_coin(6, 500_000);
        let single = r.single(REGTEST);
        let psbt = r.psbt(&[(&bait, None), (&vault, Some((0, 6)))],
            &[(single, 500_000, None)]);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };

    // F1b. The same mix the other way round is also "change": single-key coins into the
    // cold vault's change branch, and in one transaction both — the classes of a mixed
    // transaction are the union of the vaults spent.
    btc_coins_of_two_vaults_split_between_them_as_change => DISALLOWED; |r| {
        let bait = r.single_coin(1_000);
        let vault = r.vault_coin(7, 300_000);
        let single = r.single(REGTEST);
        let cold_change = r.vault_script(1, 2);
        let psbt = r.psbt(&[(&bait, None), (&vault, Some((0, 7)))],
            &[(single, 250_000, None), (cold_change, 50_000, Some((1, 2)))]);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };

    // F2. An ERC-20 `transfer(station, x)` sent to ANY contract (here one the policy names
    // nowhere, not allow-listed, not a listed token) is classed "back to the station":
    // no allow-list check on the contract called, no UnlistedAsset, no Disallowed
    // (undecoded calls are off), and ONE approval (consolidation). The station signs a
    // call into an attacker-chosen contract with msg.sender = tx.origin = its key; the
    // 4-byte selector is only an ERC-20 transfer if the contract says so.
    evm_token_call_into_an_unlisted_contract_paying_the_station => UNLISTED_ASSET; |r| {
        let ours = ours_evm(r);
        let tx = Evm::call(1, 0, EVM_ATTACKER, erc20_transfer(&ours, U256::from(10u64).pow(U256::from(30u64))));
        let req = consolidation(r, vec![evm(r, "evm:1", &tx)]);
        r.attempt(&req)
    };

    // F2b. The same with `approve(station, x)` (x below 2^255, so not "unlimited").
    evm_token_approval_in_an_unlisted_contract_for_the_station => UNLISTED_ASSET; |r| {
        let ours = ours_evm(r);
        let tx = Evm::call(1, 1, EVM_ATTACKER, erc20_approve(&ours, U256::from(1u64) << 254));
        let req = consolidation(r, vec![evm(r, "evm:1", &tx)]);
        r.attempt(&req)
    };

    // F3. Fees are outside the 24 h budget and, when nothing native leaves, outside the
    // per-mille cap: eight single-key "consolidations" each paying the maximum fee
    // (20,000 sat) with ONE approval burn 160,000 sat in a day — over the 150,000 daily
    // budget for the network — and the ledger's velocity total stays at 0.
    btc_fees_burned_past_the_daily_budget_with_one_approval => OVER_DAY_LIMIT; |r| {
        for _ in 0..7 {
            let coin = r.single_coin(100_000);
            let single = r.single(REGTEST);
            let psbt = r.psbt(&[(&coin, None)], &[(single, 80_000, None)]);
            let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
            let res = r.attempt(&req);
            r.assert_signed(res);
        }
        // The eighth: 160,000 sat of fees in the window, budget 150,000.
        let coin = r.single_coin(100_000);
        let single = r.single(REGTEST);
        let psbt = r.psbt(&[(&coin, None)], &[(single, 80_000, None)]);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };

    // F5. Fee caps fail OPEN: a network the policy allows (with limits and an allow-list)
    // but for which it names no fee limit gets no fee check at all. Here regtest's fee
    // entry is absent: a 10,000 sat payment with a 89,000 sat fee (fee = 8.9x the amount,
    // nothing of it counted in the daily budget) is signed. Limits fail closed
    // (UnlistedAsset); fees do not.
    btc_network_without_a_fee_limit => FEE,
        policy: |p| p.fees.retain(|f| f.network != "regtest"); |r| {
        let psbt = single_spend(r, pay(2), 10_000, 89_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };

    // F4. The per-mille fee cap rounds down: 1,000 sat of fee on a 9,990 sat payment is
    // 100.1 ‰, over the 100 ‰ the policy allows; 1,000,000 / 9,990 = 100 (integer) passes.
    btc_fee_share_just_over_policy => FEE; |r| {
        let psbt = single_spend(r, pay(2), 9_990, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
}

// ---------------------------------------------------------------------------------
// Standard wallet requests (policy.standard_requests = true)
// ---------------------------------------------------------------------------------

fn eth_request(
    sign_data: Vec<u8>,
    data_type: airgap_protocol::registry::EthDataType,
    chain_id: Option<i64>,
    id: u8,
) -> StandardRequest {
    use airgap_protocol::registry::{EthSignRequest, KeyPath};
    StandardRequest::Eth(EthSignRequest {
        request_id: Some([id; 16]),
        sign_data,
        data_type,
        chain_id,
        derivation_path: KeyPath {
            components: vec![],
            source_fingerprint: None,
            depth: None,
            tag: 304,
        },
        address: None,
        origin: Some("mallory".into()),
    })
}

fn sol_request(sign_data: Vec<u8>, id: u8) -> StandardRequest {
    use airgap_protocol::registry::{KeyPath, SolSignRequest};
    StandardRequest::Sol(SolSignRequest {
        request_id: Some([id; 16]),
        sign_data,
        derivation_path: KeyPath {
            components: vec![],
            source_fingerprint: None,
            depth: None,
            tag: 304,
        },
        address: None,
        origin: Some("mallory".into()),
        sign_type: Some(1),
    })
}

fn standard(r: &mut Rig, req: &StandardRequest) -> Result<StandardAnswer, Refusal> {
    let review = r.h.station.review_standard(req, NOW)?;
    review.verdict.clone()?;
    r.h.station.sign_standard(req, &review, &r.h.hsm, NOW)
}

fn std_rig(name: &str) -> Rig {
    Rig::with(name, |p| p.standard_requests = true)
}

fn refused_code(res: Result<StandardAnswer, Refusal>) -> u16 {
    match res {
        Ok(a) => panic!("SIGNED a standard request that must be refused: {a:?}"),
        Err(e) => e.code(),
    }
}

/// The token-call attack through a standard wallet request: no coordinator, no approvals at all — only the
/// custodians' screen, which says "BACK TO THIS STATION".
#[test]
fn std_eth_token_call_into_an_unlisted_contract_paying_the_station() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-erc20-self");
    let ours = ours_evm(&r);
    let tx = Evm::call(1, 0, EVM_ATTACKER, erc20_transfer(&ours, U256::from(5u64)));
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, Some(1), 1);
    assert_eq!(refused_code(standard(&mut r, &req)), UNLISTED_ASSET);
}

#[test]
fn std_eth_off_list_payment_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-off-list");
    let tx = Evm::pay(1, 0, EVM_ATTACKER, ETH / 10);
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, Some(1), 1);
    assert_eq!(refused_code(standard(&mut r, &req)), NOT_ALLOW_LISTED);
}

#[test]
fn std_eth_approval_to_attacker_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-approve");
    let tx = Evm::call(
        1,
        0,
        EVM_TOKEN,
        erc20_approve(EVM_ATTACKER, U256::from(1u64)),
    );
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, Some(1), 1);
    assert_eq!(refused_code(standard(&mut r, &req)), NOT_ALLOW_LISTED);
}

#[test]
fn std_eth_chain_id_disagrees_with_tx_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-chain");
    // A Polygon-limit label (1000 ETH) on an Ethereum tx.
    let tx = Evm::pay(1, 0, EVM_TO, 500 * ETH);
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, Some(137), 1);
    assert_eq!(refused_code(standard(&mut r, &req)), NETWORK_MISMATCH);
}

#[test]
fn std_eth_legacy_type_claimed_for_typed_tx_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-kind");
    let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
    let req = eth_request(tx.bytes(), EthDataType::LegacyTransaction, Some(1), 1);
    assert_eq!(refused_code(standard(&mut r, &req)), UNDECODABLE);
}

#[test]
fn std_eth_legacy_without_chain_id_but_request_chain_id_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-pre155");
    let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
    let req = eth_request(
        tx.legacy_without_chain_id(),
        EthDataType::LegacyTransaction,
        Some(1),
        1,
    );
    assert_eq!(refused_code(standard(&mut r, &req)), DISALLOWED);
}

#[test]
fn std_eth_over_budget_across_standard_and_envelope_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-budget");
    let req = r.request(vec![evm(
        &r,
        "evm:1",
        &Evm::pay(1, 0, EVM_TO, 19 * ETH / 10),
    )]);
    r.sign_ok(&req);
    let tx = Evm::pay(1, 1, EVM_TO, 19 * ETH / 10);
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, None, 2);
    assert_eq!(refused_code(standard(&mut r, &req)), OVER_DAY_LIMIT);
}

#[test]
fn std_eth_same_sign_data_new_request_id_refused() {
    use airgap_protocol::registry::EthDataType;
    let mut r = std_rig("std-replay");
    let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, Some(1), 1);
    assert!(standard(&mut r, &req).is_ok());
    assert_eq!(refused_code(standard(&mut r, &req)), REQUEST_REPLAYED);
    let again = eth_request(tx.bytes(), EthDataType::TypedTransaction, None, 2);
    assert_eq!(refused_code(standard(&mut r, &again)), PAYLOAD_REPLAYED);
}

#[test]
fn std_requests_off_by_default() {
    use airgap_protocol::registry::EthDataType;
    let mut r = Rig::new("std-off");
    let tx = Evm::pay(1, 0, EVM_TO, ETH / 10);
    let req = eth_request(tx.bytes(), EthDataType::TypedTransaction, Some(1), 1);
    assert_eq!(refused_code(standard(&mut r, &req)), DISALLOWED);
}

#[test]
fn std_sol_nonce_account_of_another_authority_refused() {
    let mut r = std_rig("std-sol-nonce");
    let ours = devnet(&r);
    let m = message(
        ours,
        &[
            advance_nonce([5; 32], [66; 32]),
            transfer(ours, [2; 32], SOL),
        ],
        1,
    );
    assert_eq!(
        refused_code(standard(&mut r, &sol_request(m, 1))),
        FOREIGN_NONCE
    );
}

#[test]
fn std_sol_off_list_refused() {
    let mut r = std_rig("std-sol-off");
    let ours = devnet(&r);
    let m = message(ours, &[transfer(ours, [66; 32], SOL)], 1);
    assert_eq!(
        refused_code(standard(&mut r, &sol_request(m, 1))),
        NOT_ALLOW_LISTED
    );
}

// ---------------------------------------------------------------------------------
// Attacks the station refuses (correctly)
// ---------------------------------------------------------------------------------

attacks! {
    // ---- Bitcoin

    // Single-key coins into the cold vault's change branch (the cold vault is not spent).
    btc_single_key_coins_to_the_cold_vault_change_branch => NOT_ALLOW_LISTED; |r| {
        let coin = r.single_coin(100_000);
        let cold = r.vault_script(1, 3);
        let psbt = r.psbt(&[(&coin, None)], &[(cold, 99_000, Some((1, 3)))]);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };
    // The change proof is buried behind 16 decoy derivations: proof is capped, so the
    // output is a payment.
    btc_change_proof_behind_sixteen_decoy_paths => NOT_ALLOW_LISTED; |r| {
        let coin = r.vault_coin(8, 100_000);
        let change = r.vault_script(1, 4);
        let mut psbt = r.psbt(&[(&coin, Some((0, 8)))], &[(pay(2), 10_000, None), (change, 89_000, None)]);
        // 16 decoy keys that sort before any real key (BTreeMap order is by key bytes:
        // 0x02 prefix; pick decoys whose serialisation is smallest among many).
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let mut decoys: Vec<_> = (1..=200u8)
            .map(|i| bitcoin::secp256k1::SecretKey::from_slice(&[i; 32]).unwrap().public_key(&secp))
            .collect();
        decoys.sort();
        let real = r.derivations(1, 4);
        let min_real = *real.keys().min().unwrap();
        let decoys: Vec<_> = decoys.into_iter().filter(|k| *k < min_real).take(16).collect();
        assert_eq!(decoys.len(), 16, "not enough decoys sorting first");
        let mut map = real.clone();
        for (n, k) in decoys.into_iter().enumerate() {
            let path: bitcoin::bip32::DerivationPath = format!("m/1/{}", 500 + n).parse().unwrap();
            map.insert(k, (bitcoin::bip32::Fingerprint::default(), path));
        }
        psbt.outputs[1].bip32_derivation = map;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_sighash_all_anyone_can_pay => SIGHASH; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.inputs[0].sighash_type = Some(bitcoin::EcdsaSighashType::AllPlusAnyoneCanPay.into());
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_sighash_none => SIGHASH; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.inputs[0].sighash_type = Some(bitcoin::EcdsaSighashType::None.into());
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_taproot_sighash_default => SIGHASH; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.inputs[0].sighash_type = Some(bitcoin::TapSighashType::Default.into());
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_prevout_index_past_the_previous_transaction => PREVOUT_MISMATCH; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.unsigned_tx.input[0].previous_output.vout = 1;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // A previous transaction with two outputs: the vault's and the attacker's; the input
    // names the attacker's.
    btc_input_naming_the_foreign_output_of_a_vault_previous_tx => FOREIGN_INPUT; |r| {
        let mut prev = r.single_coin(100_000);
        prev.output.push(bitcoin::TxOut { value: bitcoin::Amount::from_sat(900_000), script_pubkey: pay(66) });
        let mut psbt = r.psbt(&[(&prev, None)], &[(pay(2), 10_000, None)]);
        psbt.unsigned_tx.input[0].previous_output.vout = 1;
        psbt.inputs[0].witness_utxo = Some(prev.output[1].clone());
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_taproot_output_to_the_attacker => NOT_ALLOW_LISTED; |r| {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&[66; 32]).unwrap();
        let (x, _) = sk.public_key(&secp).x_only_public_key();
        let tr = ScriptBuf::new_p2tr(&secp, x, None);
        let psbt = single_spend(r, tr, 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_zero_value_op_return => NOT_ALLOW_LISTED; |r| {
        let psbt = single_spend(r, ScriptBuf::new_op_return([1u8; 20]), 0, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_output_sum_overflows => UNDECODABLE; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.unsigned_tx.output[0].value = bitcoin::Amount::from_sat(u64::MAX);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_outputs_exceed_inputs => UNDECODABLE; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.unsigned_tx.output[1].value = bitcoin::Amount::from_sat(95_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // A vault input claiming a hardened-range index (2^31 + 6).
    btc_vault_input_at_a_hardened_index => FOREIGN_INPUT; |r| {
        let coin = r.vault_coin(6, 100_000);
        let mut psbt = r.psbt(&[(&coin, None)], &[(pay(2), 10_000, None)]);
        let mut map = std::collections::BTreeMap::new();
        for c in &r.cosigners {
            let (pk, _) = c.child(0, 6);
            let path = c.path.extend([bitcoin::bip32::ChildNumber::Normal { index: 0 }, bitcoin::bip32::ChildNumber::Hardened { index: 6 }]);
            map.insert(pk, (c.master_fp, path));
        }
        psbt.inputs[0].bip32_derivation = map;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // Internal destination (refill, one approval) that is the station's OWN key of
    // another network: still just internal/external by address, and not on the allow-list.
    btc_payment_to_the_testnet_key_script_with_one_approval => NOT_ALLOW_LISTED; |r| {
        let to = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let psbt = single_spend(r, to, 10_000, 1_000);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };
    // One approval for a request whose second payload pays (refill to internal #4 is
    // fine, but a withdrawal in another payload needs two).
    btc_payment_hidden_in_second_payload_with_one_approval => APPROVALS; |r| {
        let a = single_spend(r, pay(4), 10_000, 1_000);
        let b = single_spend(r, pay(2), 10_000, 1_000);
        let req = r.request_as(vec![btc_payload(&a, "regtest"), btc_payload(&b, "regtest")], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    // Two payloads in one request, each within the per-tx limit, over the daily budget.
    btc_two_payloads_over_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let a = single_spend(r, pay(2), 80_000, 1_000);
        let b = single_spend(r, pay(2), 80_000, 1_000);
        r.send(vec![btc_payload(&a, "regtest"), btc_payload(&b, "regtest")])
    };
    // Label alias `bitcoin:regtest` is the same network for history.
    btc_alias_bitcoin_regtest_splits_the_budget => OVER_DAY_LIMIT; |r| {
        let a = single_spend(r, pay(2), 90_000, 1_000);
        let req = btc(r, &a);
        r.sign_ok(&req);
        let b = single_spend(r, pay(2), 70_000, 1_000);
        r.send(vec![btc_payload(&b, " Bitcoin:RegTest ")])
    };

    // Coins of the station's signet key: the network is not in the policy.
    btc_signet_coin_network_not_allowed => NETWORK_NOT_ALLOWED; |r| {
        let ours = single_of(&r.h.keys, BitcoinNetwork::Signet);
        let coin = r.coin(ours.clone(), 100_000);
        let psbt = r.psbt(&[(&coin, None)], &[(ours, 99_000, None)]);
        let req = consolidation(r, vec![btc_payload(&psbt, "signet")]);
        r.attempt(&req)
    };
    // A testnet coin labelled testnet4 (same address format).
    btc_testnet_coin_labelled_testnet4 => NETWORK_MISMATCH; |r| {
        let ours = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let coin = r.coin(ours.clone(), 100_000);
        let psbt = r.psbt(&[(&coin, None)], &[(ours, 99_000, None)]);
        r.send(vec![btc_payload(&psbt, "testnet4")])
    };
    // A network allowed without a native limit: nothing moves (fail closed).
    btc_network_without_a_limit => UNLISTED_ASSET,
        policy: |p| p.limits.retain(|l| l.network != "regtest"); |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };

    // ---- EVM

    evm_erc20_transfer_with_trailing_data => DISALLOWED; |r| {
        let mut d = erc20_transfer(EVM_TO, U256::from(1_000u64));
        d.push(0);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_transfer_from_the_station_to_the_attacker => DISALLOWED; |r| {
        let ours = ours_evm(r);
        let d = selector_call([0x23, 0xb8, 0x72, 0xdd], &[addr_word(&ours), addr_word(EVM_ATTACKER), u256_word(U256::from(1u64))]);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_increase_allowance_to_the_attacker_on_an_unlisted_contract => NOT_ALLOW_LISTED,
        policy: |p| p.allow_unknown_calldata = true; |r| {
        let d = selector_call([0x39, 0x50, 0x93, 0x51], &[addr_word(EVM_ATTACKER), u256_word(U256::MAX)]);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // An approve whose address word has dirty upper bytes is not decoded as approve.
    evm_approve_with_dirty_address_word => DISALLOWED; |r| {
        let mut w = addr_word(EVM_TO);
        w[0] = 1;
        let d = selector_call([0x09, 0x5e, 0xa7, 0xb3], &[w, u256_word(U256::MAX)]);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // An approval just below the "unlimited" line (2^255 - 1): an amount over u128 is
    // saturated and over the limit.
    evm_huge_but_not_unlimited_approval => OVER_TX_LIMIT; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_approve(EVM_TO, (U256::from(1u64) << 255) - U256::from(1u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // Call data on a plain payment to the station's own address (undecoded).
    evm_self_call_with_undecoded_data => DISALLOWED; |r| {
        let ours = ours_evm(r);
        let tx = Evm::call(1, 0, &ours, vec![0xde, 0xad, 0xbe, 0xef]);
        let req = consolidation(r, vec![evm(r, "evm:1", &tx)]);
        r.attempt(&req)
    };
    // Self "transfer" selector, but value to the contract.
    evm_self_transfer_selector_with_value_to_the_contract => NOT_ALLOW_LISTED; |r| {
        let ours = ours_evm(r);
        let mut tx = Evm::call(1, 0, EVM_ATTACKER, erc20_transfer(&ours, U256::from(1u64)));
        tx.value = 1;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_legacy_eip155_chain_zero => NETWORK_NOT_ALLOWED; |r| {
        let p = evm_payload(r.evm_address(), "evm:0", 0, legacy155(0, 0, EVM_TO, ETH, vec![]));
        r.send(vec![p])
    };
    evm_legacy_eip155_bsc_labelled_ethereum => NETWORK_MISMATCH; |r| {
        let p = evm_payload(r.evm_address(), "evm:1", 56, legacy155(56, 0, EVM_TO, ETH, vec![]));
        r.send(vec![p])
    };
    evm_legacy_eip155_with_nonzero_r => UNDECODABLE; |r| {
        let mut b = legacy155(1, 0, EVM_TO, ETH, vec![]);
        // The last field (s = 0x80) becomes 0x01.
        let n = b.len();
        b[n - 1] = 0x01;
        let p = evm_payload(r.evm_address(), "evm:1", 1, b);
        r.send(vec![p])
    };
    evm_chain_id_u64_max => NETWORK_NOT_ALLOWED; |r| {
        let b = eip1559_raw(u64::MAX, EVM_TO, U256::from(1u64), 21_000, 1);
        let p = evm_payload(r.evm_address(), &format!("eip155:{}", u64::MAX), u64::MAX, b);
        r.send(vec![p])
    };
    evm_value_above_u128 => UNDECODABLE; |r| {
        let b = eip1559_raw(1, EVM_TO, U256::from(1u64) << 130, 21_000, 1);
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, b)])
    };
    evm_fee_overflows => UNDECODABLE; |r| {
        let b = eip1559_raw(1, EVM_TO, U256::from(1u64), u64::MAX, u128::MAX);
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, b)])
    };
    // A refill of the internal address (one approval) with an allow-listed token
    // withdrawal in a second payload: the strictest class needs two approvals.
    evm_refill_hides_a_withdrawal_in_a_second_payload => APPROVALS; |r| {
        let p1 = evm(r, "evm:1", &Evm::pay(1, 0, EVM_INTERNAL, ETH / 10));
        let p2 = evm(r, "evm:1", &Evm::call(1, 1, EVM_TOKEN, erc20_transfer(EVM_TO, U256::from(1u64))));
        let req = r.request_as(vec![p1, p2], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    // Two payloads at one nonce: a payment and its "fee bump" that changes the call.
    evm_two_payloads_one_nonce_different_calls => DOUBLE_SPEND; |r| {
        let p1 = evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH / 10));
        let p2 = evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH / 5));
        r.send(vec![p1, p2])
    };
    // A legacy and a typed transaction at one nonce with the same call count twice
    // against the budget.
    evm_same_call_two_types_counted_twice => OVER_DAY_LIMIT; |r| {
        let tx = Evm::pay(1, 3, EVM_TO, 16 * ETH / 10);
        let req = r.request(vec![evm(r, "evm:1", &tx)]);
        r.sign_ok(&req);
        let b = legacy155(1, 3, EVM_TO, 16 * ETH / 10, vec![]);
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, b)])
    };

    // ---- Solana

    sol_two_advance_nonce_instructions => DISALLOWED; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![advance_nonce([6; 32], ours), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_advance_nonce_not_first => DISALLOWED; |r| {
        let ours = devnet(r);
        let m = message(ours, &[transfer(ours, [2; 32], SOL), advance_nonce([5; 32], ours)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // Advance nonce with a trailing byte: the runtime still treats it as a durable-nonce
    // transaction (bincode allows trailing bytes); the station refuses it.
    sol_advance_nonce_with_trailing_byte => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut adv = advance_nonce([5; 32], ours);
        adv.data.push(0);
        let m = message(ours, &[adv, transfer(ours, [66; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    sol_request_heap_frame => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = vec![1];
        d.extend_from_slice(&(256u32 * 1024).to_le_bytes());
        r.send(vec![sol(r, vec![compute_budget_raw(d), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_loaded_accounts_data_size_limit => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = vec![4];
        d.extend_from_slice(&1u32.to_le_bytes());
        r.send(vec![sol(r, vec![compute_budget_raw(d), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_two_compute_unit_prices => DISALLOWED; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![cu_price(1), cu_price(1), transfer(ours, [2; 32], SOL)], 1)])
    };
    // A limit of 1.4M units at a price that makes the priority fee 1.4 SOL.
    sol_huge_priority_fee => FEE; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![cu_limit(u32::MAX), cu_price(1_000_000_000), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_create_account_with_seed => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 3u32.to_le_bytes().to_vec();
        d.extend_from_slice(&ours);
        d.extend_from_slice(&1u64.to_le_bytes());
        d.extend_from_slice(b"a");
        d.extend_from_slice(&[0; 7]);
        d.extend_from_slice(&SOL.to_le_bytes());
        d.extend_from_slice(&0u64.to_le_bytes());
        d.extend_from_slice(&[0; 32]);
        let ix = system_raw(vec![solana_instruction::AccountMeta::new(sa(ours), true), solana_instruction::AccountMeta::new(sa([66; 32]), false)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_transfer_with_seed => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 11u32.to_le_bytes().to_vec();
        d.extend_from_slice(&SOL.to_le_bytes());
        d.extend_from_slice(&1u64.to_le_bytes());
        d.extend_from_slice(b"a");
        d.extend_from_slice(&[0; 32]);
        let ix = system_raw(vec![
            solana_instruction::AccountMeta::new(sa([70; 32]), false),
            solana_instruction::AccountMeta::new_readonly(sa(ours), true),
            solana_instruction::AccountMeta::new(sa([66; 32]), false)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_assign_station_account => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 1u32.to_le_bytes().to_vec();
        d.extend_from_slice(&[66; 32]);
        let ix = system_raw(vec![solana_instruction::AccountMeta::new(sa(ours), true)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_authorize_nonce_to_attacker => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 7u32.to_le_bytes().to_vec();
        d.extend_from_slice(&[66; 32]);
        let ix = system_raw(vec![
            solana_instruction::AccountMeta::new(sa([5; 32]), false),
            solana_instruction::AccountMeta::new_readonly(sa(ours), true)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    // A system transfer with a 13th byte: the runtime's bincode still reads a transfer.
    sol_transfer_with_trailing_byte => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut ix = transfer(ours, [66; 32], SOL);
        ix.data.push(0);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    // Another signer pays the attacker: counted as outflow (conservative).
    sol_transfer_from_another_signer => NOT_ALLOW_LISTED; |r| {
        r.send(vec![sol(r, vec![transfer([66; 32], [67; 32], 1)], 1)])
    };
    // A token transfer to the station's own wallet address is not "own" (it is a token
    // account address that is not registered).
    sol_token_transfer_to_station_wallet_address => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![transfer_checked([30; 32], SOL_MINT, ours, ours, 1_000, 6)], 1)])
    };
    sol_token_close_account_to_attacker => DISALLOWED; |r| {
        let ours = devnet(r);
        let ix = solana_instruction::Instruction {
            program_id: program(TOKEN),
            accounts: vec![
                solana_instruction::AccountMeta::new(sa([30; 32]), false),
                solana_instruction::AccountMeta::new(sa([66; 32]), false),
                solana_instruction::AccountMeta::new_readonly(sa(ours), true)],
            data: vec![9],
        };
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_token_2022_transfer_checked_of_an_unlisted_mint => UNLISTED_ASSET; |r| {
        let ours = devnet(r);
        let mut ix = transfer_checked([30; 32], [31; 32], [3; 32], ours, 1_000, 6);
        ix.program_id = program(TOKEN_2022);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_ata_recover_nested => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut ix = create_ata(ours, [67; 32], [2; 32], SOL_MINT, TOKEN);
        ix.data = vec![2];
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_ata_create_without_token_program_account => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut ix = create_ata(ours, [67; 32], [2; 32], SOL_MINT, TOKEN);
        ix.accounts.truncate(5);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_ed25519_precompile => DISALLOWED; |r| {
        let ours = devnet(r);
        let ix = solana_instruction::Instruction {
            program_id: program("Ed25519SigVerify111111111111111111111111111"),
            accounts: vec![],
            data: vec![200, 0],
        };
        r.send(vec![sol(r, vec![ix, transfer(ours, [2; 32], SOL)], 1)])
    };
    // With unknown programs allowed and the precompile not allow-listed.
    sol_ed25519_precompile_programs_allowed => NOT_ALLOW_LISTED,
        policy: |p| p.allow_unknown_programs = true; |r| {
        let ours = devnet(r);
        let ix = solana_instruction::Instruction {
            program_id: program("Ed25519SigVerify111111111111111111111111111"),
            accounts: vec![],
            data: vec![1, 0],
        };
        r.send(vec![sol(r, vec![ix, transfer(ours, [2; 32], SOL)], 1)])
    };
    // The instruction names an account index past the static keys (no lookup table).
    sol_account_index_out_of_range => UNDECODABLE; |r| {
        let ours = devnet(r);
        let m = raw_message([1, 0, 1], &[ours, [2; 32], SYSTEM], 1, &[(2, vec![0, 9], sys_transfer_data(SOL))]);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // A v0 message with an empty lookup-table section naming a lookup account index.
    sol_v0_lookup_index_without_tables => UNDECODABLE; |r| {
        let ours = devnet(r);
        let mut m = vec![0x80];
        m.extend(raw_message([1, 0, 1], &[ours, SYSTEM], 1, &[(1, vec![0, 2], sys_transfer_data(SOL))]));
        m.push(0);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // The station key twice in the key list (once as signer): an off-list transfer "to"
    // the second copy would be own.
    sol_duplicate_station_key_as_destination => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        let m = raw_message([1, 0, 1], &[ours, [66; 32], ours, SYSTEM], 1,
            &[(3, vec![0, 1], sys_transfer_data(SOL))]);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // The nonce account named in the request but the message uses a recent blockhash.
    sol_claimed_nonce_without_advance => FOREIGN_NONCE; |r| {
        let ours = devnet(r);
        let m = message(ours, &[transfer(ours, [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, Some([5; 32]))])
    };
    // A mainnet message labelled with the `solana:mainnet` alias is mainnet's; mainnet
    // limits apply and the attacker is still off the list.
    sol_mainnet_alias_off_list => NOT_ALLOW_LISTED; |r| {
        let ours = r.sol_key(SolanaCluster::MainnetBeta);
        let m = message(ours, &[transfer(ours, [66; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:mainnet", m, None)])
    };
    // Two payloads in one request advancing one nonce with different messages.
    sol_two_payloads_one_nonce => DOUBLE_SPEND; |r| {
        let ours = devnet(r);
        let a = sol(r, vec![transfer(ours, [2; 32], SOL)], 1);
        let b = sol(r, vec![transfer(ours, [2; 32], 2 * SOL)], 1);
        r.send(vec![a, b])
    };
    // Create-account funding of an internal address (refill, 1 approval) plus a payment
    // to an allow-listed external one in the same message: two approvals needed.
    sol_internal_funding_hides_external_payment => APPROVALS; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![create_account(ours, [4; 32], SOL), transfer(ours, [2; 32], SOL)], 1);
        let req = r.request_as(vec![p], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    sol_not_a_station_signer_only_a_readonly_key => NOT_OURS; |r| {
        let ours = devnet(r);
        let m = raw_message([1, 0, 2], &[[66; 32], ours, SYSTEM], 1, &[(2, vec![1, 0], sys_transfer_data(SOL))]);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };

    // ---- hostile encodings

    hostile_psbt_bytes => UNDECODABLE; |r| {
        let p = Payload { network: "regtest".into(), signer: "x".into(),
            body: PayloadBody::Psbt { version: 0, bytes: b"psbt\xff\x01\x00\x00\x00".to_vec() },
            hints: DisplayHints::default() };
        r.send(vec![p])
    };
    hostile_evm_bytes => UNDECODABLE; |r| {
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, vec![0x02, 0xff, 0xff])])
    };
    hostile_solana_bytes => UNDECODABLE; |r| {
        r.send(vec![sol_payload("solana:devnet", vec![0x80, 1, 0, 0, 0xff, 0xff, 0x03], None)])
    };
}

// ---------------------------------------------------------------------------------
// The ledger and its anchor
// ---------------------------------------------------------------------------------

fn cut_before_signing(r: &Rig) {
    let text = std::fs::read_to_string(&r.h.ledger_path).unwrap();
    let signed_at = text
        .lines()
        .position(|l| l.contains("\"kind\":\"signed\""))
        .unwrap();
    let head: String = text
        .lines()
        .take(signed_at)
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&r.h.ledger_path, head).unwrap();
}

fn reopen(r: &mut Rig) {
    let ledger = signer_station::ledger::Ledger::open(&r.h.ledger_path).unwrap();
    let policy = r.h.station.policy().clone();
    let anchors = r.h.station.anchors().clone();
    r.h.station = signer_station::station::Station::new(
        r.h.keys.clone(),
        anchors,
        policy,
        Default::default(),
        ledger,
    );
}

/// A review taken before the ledger is cut, signed after the station restarts on the cut
/// ledger.
#[test]
fn ledger_cut_between_review_and_signing() {
    let mut r = Rig::new("cut-between");
    let a = single_spend(&mut r, pay(2), 90_000, 1_000);
    let req = btc(&r, &a);
    r.sign_ok(&req);
    let b = single_spend(&mut r, pay(2), 70_000, 1_000);
    let req_b = btc(&r, &b);
    let review_b = r.station().review(&req_b, NOW).unwrap();
    assert!(review_b.verdict.is_err(), "over budget before the cut");
    cut_before_signing(&r);
    reopen(&mut r);
    // Review again on the cut ledger (budget now looks empty), then sign.
    r.expect(&req_b);
    let review_b = r.station().review(&req_b, NOW).unwrap();
    review_b.verdict.clone().unwrap();
    let res = r.h.station.sign(&review_b, &r.h.hsm, NOW);
    r.assert_refused(res, LEDGER_ANCHOR);
}

/// After a cut, a custodians' refusal must not re-anchor the cut ledger.
#[test]
fn ledger_cut_then_refusal_does_not_reanchor() {
    let mut r = Rig::new("cut-refuse");
    let a = single_spend(&mut r, pay(2), 90_000, 1_000);
    let req = btc(&r, &a);
    r.sign_ok(&req);
    cut_before_signing(&r);
    reopen(&mut r);
    let b = single_spend(&mut r, pay(2), 50_000, 1_000);
    let req_b = btc(&r, &b);
    let review_b = r.station().review(&req_b, NOW).unwrap();
    let refusal = Refusal::Custodians("no".into());
    r.h.station
        .refuse(&review_b, &refusal, &r.h.hsm, NOW)
        .unwrap();
    let c = single_spend(&mut r, pay(2), 50_000, 1_000);
    let req_c = btc(&r, &c);
    let res = r.attempt(&req_c);
    r.assert_refused(res, LEDGER_ANCHOR);
}

/// Forged entries appended after the anchor (a signing "dated" in the past) cannot lower
/// the budget; they can only raise it. Here: forge nothing, but append an entry with a
/// time far in the future and check the station still counts the real signing.
#[test]
fn ledger_forged_tail_cannot_reset_budget() {
    let mut r = Rig::new("forged-tail");
    let a = single_spend(&mut r, pay(2), 90_000, 1_000);
    let req = btc(&r, &a);
    r.sign_ok(&req);
    {
        let mut l = signer_station::ledger::Ledger::open(&r.h.ledger_path).unwrap();
        l.append(
            NOW + 10 * 86_400,
            signer_station::ledger::Record::Ceremony {
                step: "policy".into(),
                detail: "nothing".into(),
            },
        )
        .unwrap();
    }
    reopen(&mut r);
    let b = single_spend(&mut r, pay(2), 70_000, 1_000);
    let res = r.send(vec![btc_payload(&b, "regtest")]);
    r.assert_refused(res, OVER_DAY_LIMIT);
}

// ---------------------------------------------------------------------------------
// Controls: allowed, and harmless
// ---------------------------------------------------------------------------------

controls! {
    // Several change outputs back to the vault's change branch.
    control_btc_two_change_outputs; |r| {
        let coin = r.vault_coin(9, 100_000);
        let c1 = r.vault_script(1, 5);
        let c2 = r.vault_script(1, 6);
        let psbt = r.psbt(&[(&coin, Some((0, 9)))], &[(pay(2), 10_000, None), (c1, 40_000, Some((1, 5))), (c2, 49_000, Some((1, 6)))]);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // An explicit SIGHASH_ALL in the PSBT.
    control_btc_sighash_all_explicit; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.inputs[0].sighash_type = Some(bitcoin::EcdsaSighashType::All.into());
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    control_evm_legacy_eip155_payment; |r| {
        let p = evm_payload(r.evm_address(), "EIP155:0001", 1, legacy155(1, 0, EVM_TO, ETH, vec![]));
        r.send(vec![p])
    };
    control_sol_v0_without_lookup_tables; |r| {
        let ours = devnet(r);
        let mut m = vec![0x80];
        m.extend(message(ours, &[transfer(ours, [2; 32], SOL)], 1));
        m.push(0);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
}

attacks! {
    // The same coin twice: invalid by consensus (bad-txns-inputs-duplicate), and its value
    // would be counted twice.
    btc_same_outpoint_twice_in_one_transaction => UNDECODABLE; |r| {
        let coin = r.single_coin(100_000);
        let change = r.single(REGTEST);
        let psbt = r.psbt(&[(&coin, None), (&coin, None)], &[(pay(2), 100_000, None), (change, 99_000, None)]);
        let req = btc(r, &psbt);
        r.attempt(&req)
    };
    // No outputs: everything to the fee (bad-txns-vout-empty).
    btc_no_outputs => UNDECODABLE; |r| {
        let coin = r.single_coin(20_000);
        let psbt = r.psbt(&[(&coin, None)], &[]);
        let req = r.request_as(vec![btc_payload(&psbt, "regtest")], Purpose::KeyRegistration, &[10]);
        r.attempt(&req)
    };
}
