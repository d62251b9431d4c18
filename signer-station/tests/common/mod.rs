//! A station on MockHsm with a quorum, keys, policy and ledger, and payload builders for
//! its keys.
#![allow(dead_code)]

use age::secrecy::SecretString;
use airgap_protocol::envelope::*;
use airgap_protocol::summary::TokenList;
use ed25519_dalek::SigningKey;
use signer_station::ceremony::{generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::ledger::Ledger;
use signer_station::quorum::QuorumFile;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit, Policy};
use signer_station::station::Station;

pub const NOW: u64 = 1_795_000_000;

pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

pub fn policy() -> Policy {
    let limit =
        |network: &str, asset: &str, tx: &str, day: &str| AssetLimit::new(network, asset, tx, day);
    Policy {
        networks: vec!["regtest".into(), "evm:1".into(), "solana:devnet".into()],
        limits: vec![
            limit("regtest", "native", "100000", "150000"),
            limit(
                "evm:1",
                "native",
                "2000000000000000000",
                "3000000000000000000",
            ),
            limit("solana:devnet", "native", "5000000000", "8000000000"),
        ],
        allow_list: vec![
            Destination::new("regtest", btc_addr(2)),
            Destination::new("evm:1", "0x52908400098527886E0F7030069857D2E4169EE7"),
            Destination::new("solana:devnet", bs58::encode([2u8; 32]).into_string()),
        ],
        fees: vec![
            FeeLimit::new("regtest", "20000", 100),
            FeeLimit::new("evm:1", "10000000000000000", 50),
            FeeLimit::new("solana:devnet", "100000", 10),
        ],
        ..Policy::default()
    }
}

/// The station's regtest Bitcoin key.
pub fn btc_key(keys: &StationKeys) -> &signer_station::hsm::KeyInfo {
    keys.bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
        .unwrap()
}

/// The station's devnet Solana key.
pub fn sol_key(keys: &StationKeys) -> [u8; 32] {
    keys.solana(airgap_protocol::network::SolanaCluster::Devnet)
        .unwrap()
        .public_key
        .clone()
        .try_into()
        .unwrap()
}

pub fn btc_addr(n: u8) -> bitcoin::Address {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    let sk = SecretKey::from_slice(&[n; 32]).unwrap();
    bitcoin::Address::p2wpkh(
        &bitcoin::CompressedPublicKey(sk.public_key(&Secp256k1::new())),
        bitcoin::Network::Regtest,
    )
}

pub struct Harness {
    pub station: Station,
    pub hsm: YubiHsm,
    pub keys: StationKeys,
    pub ledger_path: std::path::PathBuf,
}

pub fn station(name: &str) -> Harness {
    station_with(name, |_| policy())
}

/// A station whose policy is made once its keys exist (to register vaults naming them).
pub fn station_with(name: &str, make_policy: impl FnOnce(&StationKeys) -> Policy) -> Harness {
    let mut anchors = TrustAnchors::new(2);
    anchors.pin_coordinator(key(1).verifying_key());
    for (n, name) in [(10, "ana"), (11, "ben"), (12, "cy")] {
        anchors.pin_approver(Approver {
            name: name.into(),
            role: Role::Treasury,
            key: key(n).verifying_key().into(),
        });
    }
    station_anchored(name, anchors, make_policy)
}

/// A station trusting `anchors` (coordinator keys, approvers, thresholds).
pub fn station_anchored(
    name: &str,
    anchors: TrustAnchors,
    make_policy: impl FnOnce(&StationKeys) -> Policy,
) -> Harness {
    let custodians = [("ana", "a"), ("ben", "b"), ("cy", "c")]
        .map(|(n, p)| (n.to_string(), SecretString::from(p.to_string())));
    let (_, cred) = QuorumFile::create(OPERATING_KEY_ID, 2, &custodians, Some(10)).unwrap();
    let factory = YubiHsm::open_factory(Connection::Mock).unwrap();
    let hsm = init(&factory, &cred).unwrap();
    let keys = generate_station_keys(&hsm).unwrap();
    let dir = std::env::temp_dir().join(format!("station-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let ledger_path = dir.join("ledger.jsonl");
    let ledger = Ledger::open(&ledger_path).unwrap();
    let station = Station::new(
        keys.clone(),
        anchors,
        make_policy(&keys),
        TokenList::default(),
        ledger,
    );
    Harness {
        station,
        hsm,
        keys,
        ledger_path,
    }
}

pub fn request(payloads: Vec<Payload>) -> SignRequest {
    let mut r = signer_station::fixtures::request(payloads, NOW);
    r.approve_with(&key(10));
    r.approve_with(&key(11));
    r.sign_with(&key(1));
    r
}

// ---- Bitcoin

pub struct BtcCase {
    pub psbt: bitcoin::psbt::Psbt,
    pub prev: bitcoin::Transaction,
}

/// A PSBT spending a 100,000-sat coin of the station key: `pay` sat to address #2, the
/// rest minus `fee` back to the station key.
pub fn btc_case(keys: &StationKeys, pay: u64, fee: u64, salt: u8) -> BtcCase {
    use bitcoin::*;
    let pk = CompressedPublicKey::from_slice(&btc_key(keys).public_key).unwrap();
    let ours = Address::p2wpkh(&pk, Network::Regtest);
    let psbt = signer_station::fixtures::coin_and_spend(
        &ours.script_pubkey(),
        100_000,
        u32::from(salt),
        &[
            (btc_addr(2).script_pubkey(), pay),
            (ours.script_pubkey(), 100_000 - pay - fee),
        ],
    );
    let prev = signer_station::fixtures::coin_of(&psbt).unwrap().clone();
    BtcCase { psbt, prev }
}

pub fn btc_payload(psbt: &bitcoin::psbt::Psbt) -> Payload {
    signer_station::fixtures::psbt_payload("regtest", "station", psbt)
}

// ---- EVM

pub fn evm_address(keys: &StationKeys) -> [u8; 20] {
    signer_station::station::evm::address_of(&keys.evm.public_key)
        .unwrap()
        .0
         .0
}

pub fn evm_payload(
    keys: &StationKeys,
    chain_id: u64,
    nonce: u64,
    wei: u128,
    input: Vec<u8>,
) -> Payload {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{address, TxKind, U256};
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(address!("52908400098527886e0f7030069857d2e4169ee7")),
        value: U256::from(wei),
        access_list: Default::default(),
        input: input.into(),
    };
    let mut buf = Vec::new();
    tx.encode_for_signing(&mut buf);
    Payload {
        network: format!("evm:{chain_id}"),
        signer: "station".into(),
        body: PayloadBody::EvmTx {
            chain_id,
            signer: evm_address(keys),
            tx: buf,
        },
        hints: DisplayHints::default(),
    }
}

// ---- Solana

pub fn sol_message(
    keys: &StationKeys,
    nonce_authority: [u8; 32],
    lamports: u64,
    nonce_value: u8,
) -> Vec<u8> {
    use solana_address::Address;
    use solana_instruction::{AccountMeta, Instruction};
    let ours = Address::new_from_array(sol_key(keys));
    let system = Address::new_from_array([0; 32]);
    let recent: Address = "SysvarRecentB1ockHashes11111111111111111111"
        .parse()
        .unwrap();
    let advance = Instruction {
        program_id: system,
        accounts: vec![
            AccountMeta::new(Address::new_from_array([5; 32]), false),
            AccountMeta::new_readonly(recent, false),
            AccountMeta::new_readonly(Address::new_from_array(nonce_authority), true),
        ],
        data: 4u32.to_le_bytes().to_vec(),
    };
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    let transfer = Instruction {
        program_id: system,
        accounts: vec![
            AccountMeta::new(ours, true),
            AccountMeta::new(Address::new_from_array([2; 32]), false),
        ],
        data,
    };
    solana_message::legacy::Message::new_with_blockhash(
        &[advance, transfer],
        Some(&ours),
        &solana_hash::Hash::new_from_array([nonce_value; 32]),
    )
    .serialize()
}

pub fn sol_payload(message: Vec<u8>, nonce_account: Option<[u8; 32]>) -> Payload {
    Payload {
        network: "solana:devnet".into(),
        signer: "station".into(),
        body: PayloadBody::SolanaMessage {
            message,
            signers: vec![],
            nonce_account,
        },
        hints: DisplayHints::default(),
    }
}
