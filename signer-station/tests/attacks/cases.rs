//! What both attack suites share: the stable reason codes, the case macros (`attacks!`
//! asserts a refusal with its code, nothing released and the refusal in the ledger;
//! `controls!` must sign) and payload helpers over the rig.
#![allow(dead_code)]

use airgap_protocol::envelope::*;
use airgap_protocol::network::{BitcoinNetwork, SolanaCluster};
use bitcoin::ScriptBuf;
use signer_station::station::Refusal;

use super::build::*;
use super::rig::*;

// Stable reason codes (docs/PROTOCOL.md).
pub const ENVELOPE: u16 = 10;
pub const REQUEST_REPLAYED: u16 = 20;
pub const PAYLOAD_REPLAYED: u16 = 21;
pub const DOUBLE_SPEND: u16 = 22;
pub const NETWORK_NOT_ALLOWED: u16 = 30;
pub const OVER_TX_LIMIT: u16 = 31;
pub const OVER_DAY_LIMIT: u16 = 32;
pub const NOT_ALLOW_LISTED: u16 = 33;
pub const FEE: u16 = 34;
pub const DISALLOWED: u16 = 35;
pub const UNLISTED_ASSET: u16 = 36;
pub const VALIDITY: u16 = 37;
pub const NETWORK_MISMATCH: u16 = 38;
pub const APPROVALS: u16 = 39;
pub const MISSING_PREV_TX: u16 = 40;
pub const PREVOUT_MISMATCH: u16 = 41;
pub const SIGHASH: u16 = 42;
pub const NOT_OURS: u16 = 43;
pub const FOREIGN_NONCE: u16 = 44;
pub const FOREIGN_INPUT: u16 = 45;
pub const UNDECODABLE: u16 = 50;
pub const LEDGER_ANCHOR: u16 = 72;
pub const HSM_LOG: u16 = 73;

pub type Attempt = Result<SignResponse, Refusal>;

/// A case's change to the rig's policy, if any.
macro_rules! tweak {
    () => {
        |_: &mut signer_station::station::Policy| {}
    };
    ($t:expr) => {
        $t
    };
}

macro_rules! attacks {
    ($($name:ident => $code:expr $(, policy: $tweak:expr)?; $body:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut r = Rig::with(stringify!($name), tweak!($($tweak)?));
            let attack: fn(&mut Rig) -> Attempt = $body;
            let result = attack(&mut r);
            r.assert_refused(result, $code);
        }
    )*};
}

macro_rules! controls {
    ($($name:ident $(, policy: $tweak:expr)?; $body:expr;)*) => {$(
        #[test]
        fn $name() {
            let mut r = Rig::with(stringify!($name), tweak!($($tweak)?));
            let control: fn(&mut Rig) -> Attempt = $body;
            let result = control(&mut r);
            r.assert_signed(result);
        }
    )*};
}

pub const REGTEST: BitcoinNetwork = BitcoinNetwork::Regtest;

/// A regtest payment from the station's single-key wallet: `pay` to allow-listed #2,
/// the rest less `fee` back as change.
pub fn single_spend(r: &mut Rig, pay_to: ScriptBuf, pay: u64, fee: u64) -> bitcoin::psbt::Psbt {
    let coin = r.single_coin(100_000);
    let change = r.single(REGTEST);
    r.psbt(
        &[(&coin, None)],
        &[(pay_to, pay, None), (change, 100_000 - pay - fee, None)],
    )
}

pub fn btc(r: &Rig, psbt: &bitcoin::psbt::Psbt) -> SignRequest {
    r.request(vec![btc_payload(psbt, "regtest")])
}

/// A plain payout whose input asks for the sighash type `ty`.
pub fn with_sighash(r: &mut Rig, ty: bitcoin::psbt::PsbtSighashType) -> Attempt {
    let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
    psbt.inputs[0].sighash_type = Some(ty);
    r.send(vec![btc_payload(&psbt, "regtest")])
}

/// A request paying `sats` to an allow-listed address from one fresh coin (fee 1,000).
pub fn payout(r: &mut Rig, sats: u64) -> SignRequest {
    let psbt = single_spend(r, pay(2), sats, 1_000);
    btc(r, &psbt)
}

pub fn evm(r: &Rig, label: &str, tx: &Evm) -> Payload {
    evm_payload(r.evm_address(), label, tx.chain_id, tx.bytes())
}

pub fn ours_evm(r: &Rig) -> String {
    alloy_primitives::Address::from(r.evm_address()).to_checksum(None)
}

pub fn devnet(r: &Rig) -> [u8; 32] {
    r.sol_key(SolanaCluster::Devnet)
}

/// A devnet payment: advance the station's nonce account [5; 32], then `ixs`.
pub fn sol(r: &Rig, ixs: Vec<solana_instruction::Instruction>, nonce_value: u8) -> Payload {
    let ours = devnet(r);
    let mut all = vec![advance_nonce([5; 32], ours)];
    all.extend(ixs);
    sol_payload(
        "solana:devnet",
        message(ours, &all, nonce_value),
        Some([5; 32]),
    )
}

/// A station that signed a payout of `sats`, whose ledger someone with the disk then
/// cut before that signing, started again on the cut ledger.
pub fn signed_then_cut(name: &str, sats: u64) -> Rig {
    let mut r = Rig::new(name);
    let req = payout(&mut r, sats);
    r.sign_ok(&req);
    cut_and_restart(&mut r);
    r
}

/// Cuts the ledger file just before its first signing, as someone with the disk would,
/// and starts the station again on it.
pub fn cut_and_restart(r: &mut Rig) {
    cut_before_signing(r);
    reopen(r);
}

/// Cuts the ledger file just before its first signing.
pub fn cut_before_signing(r: &Rig) {
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

/// Restarts the station on its (edited) ledger, same HSM, same policy.
pub fn reopen(r: &mut Rig) {
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

/// A cancel at `nonce`: nothing, to the station's own address.
pub fn cancel(r: &Rig, nonce: u64, max_fee: u128) -> Evm {
    let mut tx = Evm::pay(1, nonce, &ours_evm(r), 0);
    tx.max_fee = max_fee;
    tx
}

/// Signs a payment at `nonce` (the transaction a later one would replace).
pub fn signed_payment(r: &mut Rig, nonce: u64) {
    let req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, nonce, EVM_TO, ETH))]);
    r.sign_ok(&req);
}
