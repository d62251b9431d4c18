//! The station's facts derivation and verdict over hostile payloads: any chain, any
//! label, any bytes; with a ranged multisig vault registered so PSBT derivations run.
//! Must never panic.
#![no_main]

use std::sync::OnceLock;

use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody, Purpose};
use airgap_protocol::summary::TokenList;
use libfuzzer_sys::fuzz_target;
use signer_station::ceremony::{generate_station_keys, StationKeys};
use signer_station::hsm::software::SoftwareBackend;
use signer_station::ledger::ReplayIndex;
use signer_station::station::facts::derive;
use signer_station::station::policy::Policy;
use signer_station::station::{verdict, Context, Vaults};

const LABELS: [&str; 8] = [
    "regtest",
    "bitcoin",
    "testnet",
    "evm:1",
    "eip155:56",
    "solana:devnet",
    "solana:mainnet-beta",
    "x",
];

/// A cosigner's account key at m/48'/1'/0'/2' from a fixed seed, as a ranged key.
fn cosigner(seed: u8) -> String {
    use bitcoin::bip32::{DerivationPath, Xpriv, Xpub};
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let master = Xpriv::new_master(bitcoin::NetworkKind::Test, &[seed; 32]).expect("seed");
    let path: DerivationPath = "m/48'/1'/0'/2'".parse().expect("path");
    let account = master.derive_priv(&secp, &path).expect("derive");
    format!(
        "[{}/48'/1'/0'/2']{}/<0;1>/*",
        master.fingerprint(&secp),
        Xpub::from_priv(&secp, &account)
    )
}

const POLICY: &str = r#"{
  "networks": ["regtest", "bitcoin", "evm:1", "evm:56", "solana:devnet"],
  "limits": [
    {"network": "regtest", "asset": "native", "per_transaction": "100000", "per_24h": "150000"},
    {"network": "evm:1", "asset": "native", "per_transaction": "2000000000000000000", "per_24h": "3000000000000000000"},
    {"network": "solana:devnet", "asset": "native", "per_transaction": "5000000000", "per_24h": "8000000000"}
  ],
  "allow_list": [
    {"network": "evm:1", "address": "0x52908400098527886E0F7030069857D2E4169EE7"}
  ],
  "off_list_approvals": 2,
  "approvals": 2,
  "approvals_per_purpose": [["consolidation", 1]],
  "fees": [
    {"network": "regtest", "max": "20000", "max_per_mille": 100},
    {"network": "solana:devnet", "max": "100000", "max_per_mille": 10}
  ],
  "max_validity_secs": 86400,
  "allow_unknown_calldata": true,
  "allow_unknown_programs": true
}"#;

struct Fixture {
    keys: StationKeys,
    vaults: Vaults,
    policy: Policy,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let keys = generate_station_keys(&SoftwareBackend::default()).expect("keys");
        let station = keys
            .bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
            .expect("regtest key");
        let desc = format!(
            "wsh(sortedmulti(2,{},{},{}))",
            hex_of(&station.public_key),
            cosigner(41),
            cosigner(42)
        );
        let vaults =
            Vaults::new(&keys, &[("cold".into(), "regtest".into(), desc)]).expect("vault");
        let policy: Policy = serde_json::from_str(POLICY).expect("policy");
        Fixture {
            keys,
            vaults,
            policy,
        }
    })
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((&head, rest)) = data.split_first() else {
        return;
    };
    let f = fixture();
    // The first byte chooses the chain (low two bits) and the label (the rest).
    let label = LABELS[usize::from(head >> 2) % LABELS.len()].to_string();
    let body = match head & 3 {
        0 => PayloadBody::Psbt {
            version: 0,
            bytes: rest.to_vec(),
        },
        1 => PayloadBody::EvmTx {
            // The request's chain id is the transaction's when it has one, so the
            // fuzzer reaches past the chain-id comparison.
            chain_id: airgap_protocol::summary::evm::decode_unsigned(rest)
                .ok()
                .and_then(|t| t.chain_id)
                .unwrap_or(u64::from(head)),
            signer: signer_station::station::evm::address_of(&f.keys.evm.public_key)
                .map(|a| a.0 .0)
                .unwrap_or([0; 20]),
            tx: rest.to_vec(),
        },
        _ => PayloadBody::SolanaMessage {
            message: rest.to_vec(),
            signers: vec![],
            nonce_account: None,
        },
    };
    let p = Payload {
        network: label,
        signer: String::new(),
        body,
        hints: DisplayHints::default(),
    };
    let tokens = TokenList::default();
    let ctx = Context {
        keys: &f.keys,
        vaults: &f.vaults,
        policy: &f.policy,
        tokens: &tokens,
    };
    if let Ok((facts, _)) = derive(0, &p, &ctx) {
        let _ = verdict::check_request(
            &[&facts],
            Purpose::Withdrawal,
            &f.policy,
            2,
            &ReplayIndex::default(),
            1_795_000_000,
        );
    }
});
