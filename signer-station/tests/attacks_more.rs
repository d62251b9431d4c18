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
#[path = "attacks/batches.rs"]
mod batches;
#[path = "attacks/cancel_and_sweep_edges.rs"]
mod cancel_and_sweep_edges;
#[path = "attacks/more_refused.rs"]
mod refused;
#[path = "attacks/more_standard.rs"]
mod standard;
#[path = "attacks/sweeps.rs"]
mod sweeps;

use airgap_protocol::envelope::*;
use airgap_protocol::network::{BitcoinNetwork, SolanaCluster};
use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{TxKind, U256};
use bitcoin::ScriptBuf;
use build::*;
use cases::*;
use common::NOW;
use rig::*;
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
// The ledger and its anchor
// ---------------------------------------------------------------------------------

/// A review taken before the ledger is cut, signed after the station restarts on the cut
/// ledger.
#[test]
fn ledger_cut_between_review_and_signing() {
    let mut r = Rig::new("cut-between");
    let req = payout(&mut r, 90_000);
    r.sign_ok(&req);
    let req_b = payout(&mut r, 70_000);
    let review_b = r.station().review(&req_b, NOW).unwrap();
    assert!(review_b.verdict.is_err(), "over budget before the cut");
    cut_and_restart(&mut r);
    // Review again on the cut ledger (budget now looks empty), then sign.
    r.expect(&req_b);
    let review_b = r.station().review(&req_b, NOW).unwrap();
    review_b.verdict.clone().unwrap();
    let res = r.h.station.sign(&review_b, &r.h.hsm, NOW);
    r.assert_refused(res, LEDGER_ANCHOR);
}

/// Someone with the custodians' credential uses the vault key outside the station
/// between two signings: the device's log shows it, and the station refuses.
#[test]
fn hsm_signature_made_outside_the_station_stops_signing() {
    use signer_station::hsm::SigningBackend;
    let mut r = Rig::new("hsm-outside");
    let req = payout(&mut r, 50_000);
    r.sign_ok(&req);
    let key = r.h.keys.bitcoin(BitcoinNetwork::Regtest).unwrap().id;
    r.h.hsm.sign_ecdsa_prehash(key, &[7; 32]).unwrap();
    let req = payout(&mut r, 20_000);
    r.refuses(&req, HSM_LOG);
}

/// Someone turns the device's logging of signatures off, to sign unseen: the device
/// refuses (fixed at init), and signing goes on with every signature logged.
#[test]
fn hsm_logging_cannot_be_turned_off_to_sign_unseen() {
    use signer_station::hsm::HsmError;
    use yubihsm::command::Code;
    let mut r = Rig::new("hsm-unlog");
    let e = r.h.hsm.unlog(&[Code::SignEcdsa]).unwrap_err();
    assert!(matches!(e, HsmError::Permission(_)), "{e}");
    let req = payout(&mut r, 50_000);
    r.sign_ok(&req);
}

/// After a cut, a custodians' refusal must not re-anchor the cut ledger.
#[test]
fn ledger_cut_then_refusal_does_not_reanchor() {
    let mut r = signed_then_cut("cut-refuse", 90_000);
    let req_b = payout(&mut r, 50_000);
    let review_b = r.station().review(&req_b, NOW).unwrap();
    let refusal = Refusal::Custodians("no".into());
    r.h.station
        .refuse(&review_b, &refusal, &r.h.hsm, NOW)
        .unwrap();
    let req_c = payout(&mut r, 50_000);
    r.refuses(&req_c, LEDGER_ANCHOR);
}

/// Forged entries appended after the anchor (a signing "dated" in the past) cannot lower
/// the budget; they can only raise it. Here: forge nothing, but append an entry with a
/// time far in the future and check the station still counts the real signing.
#[test]
fn ledger_forged_tail_cannot_reset_budget() {
    let mut r = Rig::new("forged-tail");
    let req = payout(&mut r, 90_000);
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
