//! The facts derivation takes bytes that crossed the air gap: it must never panic, and
//! what it derives must hold together. Property tests on stable (CI) over mutations of
//! valid payloads of each chain and over arbitrary bytes; the cargo-fuzz target
//! `signer-station/fuzz` `facts` runs the same derivation coverage-guided.

mod common;

use airgap_protocol::envelope::{Chain, DisplayHints, Payload, PayloadBody};
use airgap_protocol::network::{BitcoinNetwork, Network};
use airgap_protocol::summary::TokenList;
use proptest::prelude::*;
use signer_station::hsm::{Connection, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::ledger::ReplayIndex;
use signer_station::station::facts::{derive, Class};
use signer_station::station::{verdict, Context, Policy, Vaults};

/// The station's keys on the emulated device (facts derivation touches no key: only the
/// public keys matter).
fn keys() -> StationKeys {
    static KEYS: std::sync::OnceLock<StationKeys> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        let hsm = YubiHsm::open_factory(Connection::Mock).unwrap();
        signer_station::fixtures::known_station_keys(&hsm).unwrap()
    })
    .clone()
}

fn policy() -> Policy {
    let mut p = common::policy();
    p.allow_unknown_calldata = true;
    p.allow_unknown_programs = true;
    p
}

fn seeds(keys: &StationKeys) -> Vec<Payload> {
    let btc = common::btc_case(keys, 60_000, 1_000, 1).psbt;
    let devnet = common::sol_key(keys);
    vec![
        common::btc_payload(&btc),
        common::evm_payload(keys, 1, 0, 1_000_000, vec![]),
        common::evm_payload(keys, 1, 1, 0, {
            let mut d = vec![0xa9, 0x05, 0x9c, 0xbb];
            d.extend_from_slice(&[0; 12]);
            d.extend_from_slice(&[0x52; 20]);
            d.extend_from_slice(&[1; 32]);
            d
        }),
        common::sol_payload(common::sol_message(keys, devnet, 1_000, 1), Some([5; 32])),
    ]
}

fn with_bytes(p: &Payload, f: impl FnOnce(&mut Vec<u8>)) -> Payload {
    let mut p = p.clone();
    match &mut p.body {
        PayloadBody::Psbt { bytes, .. } => f(bytes),
        PayloadBody::EvmTx { tx, .. } => f(tx),
        PayloadBody::SolanaMessage { message, .. } => f(message),
    }
    p
}

/// Derives and, when that succeeds, checks the facts hold together and the verdict runs.
fn check(p: &Payload, keys: &StationKeys, vaults: &Vaults, policy: &Policy) {
    let tokens = TokenList::default();
    let ctx = Context {
        keys,
        vaults,
        policy,
        tokens: &tokens,
    };
    let Ok((facts, _)) = derive(0, p, &ctx) else {
        return;
    };
    assert_eq!(
        facts.chain(),
        p.body.chain(),
        "a payload's chain is its body's"
    );
    assert_eq!(
        Network::parse(&p.network),
        Ok(facts.network),
        "facts are derived only when the label names the derived network"
    );
    if facts.chain() == Chain::Bitcoin {
        assert!(!facts.inputs.is_empty(), "every input proven");
        let ins: u128 = facts.inputs.iter().map(|i| u128::from(i.value)).sum();
        let outs: u128 = facts.transfers.iter().map(|t| t.amount).sum();
        assert_eq!(ins, outs + facts.fee, "inputs = outputs + fee");
    }
    for t in &facts.transfers {
        if let Class::Own { proof } = &t.class {
            assert!(!proof.is_empty());
        }
    }
    let _ = verdict::check_request(
        &[&facts],
        airgap_protocol::envelope::Purpose::Withdrawal,
        policy,
        2,
        &ReplayIndex::default(),
        common::NOW,
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2_000))]

    #[test]
    fn mutated_payloads_never_panic(which in 0usize..4, at in any::<prop::sample::Index>(), byte in any::<u8>(), cut in any::<prop::sample::Index>(), op in 0u8..3) {
        let k = keys();
        let vaults = Vaults::new(&k, &[]).unwrap();
        let policy = policy();
        let seed = &seeds(&k)[which];
        let p = with_bytes(seed, |b| {
            if b.is_empty() { return; }
            match op {
                0 => { let i = at.index(b.len()); b[i] = byte; }
                1 => { let n = cut.index(b.len()); b.truncate(n); }
                _ => { let i = at.index(b.len()); b.insert(i, byte); }
            }
        });
        check(&p, &k, &vaults, &policy);
    }

    #[test]
    fn arbitrary_bytes_never_panic(chain in 0u8..3, bytes in prop::collection::vec(any::<u8>(), 0..600), chain_id in any::<u64>(), label in "(regtest|bitcoin|evm:1|evm:56|solana:devnet|solana:mainnet-beta|x)") {
        let k = keys();
        let vaults = Vaults::new(&k, &[]).unwrap();
        let policy = policy();
        let body = match chain {
            0 => PayloadBody::Psbt { version: 0, bytes },
            1 => PayloadBody::EvmTx { chain_id, signer: common::evm_address(&k), tx: bytes },
            _ => PayloadBody::SolanaMessage { message: bytes, signers: vec![], nonce_account: None },
        };
        let p = Payload { network: label, signer: String::new(), body, hints: DisplayHints::default() };
        check(&p, &k, &vaults, &policy);
    }
}

/// The seeds themselves derive (so the mutations start from payloads that reach deep).
#[test]
fn seeds_derive() {
    let k = keys();
    let vaults = Vaults::new(&k, &[]).unwrap();
    let policy = policy();
    let tokens = TokenList::default();
    let ctx = Context {
        keys: &k,
        vaults: &vaults,
        policy: &policy,
        tokens: &tokens,
    };
    for p in seeds(&k) {
        let (f, _) = derive(0, &p, &ctx).unwrap();
        assert!(!f.transfers.is_empty());
    }
    assert!(k.bitcoin(BitcoinNetwork::Regtest).is_some());
}

/// Writes the seeds as inputs of the cargo-fuzz target `facts` (first byte: chain in the
/// low two bits, label index above them): `cargo test -p signer-station --test
/// facts_fuzz_smoke -- --ignored write_fuzz_seeds`.
#[test]
#[ignore = "writes files; run by hand to refresh the fuzz seeds"]
fn write_fuzz_seeds() {
    let k = keys();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/facts");
    std::fs::create_dir_all(&dir).unwrap();
    // regtest = label 0, evm:1 = label 3, solana:devnet = label 5.
    for (i, p) in seeds(&k).iter().enumerate() {
        let (head, bytes) = match &p.body {
            PayloadBody::Psbt { bytes, .. } => (0u8, bytes),
            PayloadBody::EvmTx { tx, .. } => ((3 << 2) | 1, tx),
            PayloadBody::SolanaMessage { message, .. } => ((5 << 2) | 2, message),
        };
        let mut seed = vec![head];
        seed.extend_from_slice(bytes);
        std::fs::write(dir.join(format!("seed-{i}")), seed).unwrap();
    }
}
