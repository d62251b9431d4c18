//! Station signing overhead beyond the HSM call: review (verify, decode, policy, replay),
//! sighash computation, ledger write (fsync) and response signing, per signature.
//!
//!     cargo bench -p signer-station --bench signing
//!
//! The backend is software keys that time their own calls; that time is subtracted.

use std::time::Instant;

use airgap_protocol::envelope::*;
use airgap_protocol::summary::TokenList;
use ed25519_dalek::SigningKey;
use signer_station::ceremony::generate_station_keys;
use signer_station::hsm::software::SoftwareBackend;
use signer_station::hsm::SigningBackend;
use signer_station::ledger::Ledger;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit, Policy};
use signer_station::station::Station;

const NOW: u64 = 1_795_000_000;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn policy(dest_btc: String) -> Policy {
    let l = |n: &str| AssetLimit::new(n, "native", u128::MAX, u128::MAX);
    Policy {
        networks: vec!["regtest".into(), "evm:1".into()],
        limits: vec![l("regtest"), l("evm:1")],
        allow_list: vec![
            Destination::new("regtest", dest_btc),
            Destination::new("evm:1", "0x52908400098527886E0F7030069857D2E4169EE7"),
        ],
        off_list_approvals: None,
        approvals: 1,
        approvals_per_purpose: vec![],
        fees: vec![FeeLimit::new("regtest", u128::MAX, 1000)],
        ..Policy::default()
    }
}

fn request(payloads: Vec<Payload>, id: u8) -> SignRequest {
    let mut r = SignRequest {
        request_id: [id; 16],
        purpose: Purpose::Consolidation,
        requester: "bench".into(),
        ..signer_station::fixtures::request(payloads, NOW)
    };
    r.approve_with(&key(10));
    r.sign_with(&key(1));
    r
}

fn station(name: &str, dest: String) -> (Station, SoftwareBackend) {
    let backend = SoftwareBackend::default();
    let keys = generate_station_keys(&backend).unwrap();
    let mut anchors = TrustAnchors::new(1);
    anchors.pin_coordinator(key(1).verifying_key());
    anchors.pin_approver(Approver {
        name: "a".into(),
        role: Role::Treasury,
        key: key(10).verifying_key().into(),
    });
    let dir = std::env::temp_dir().join(format!("bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let st = Station::new(
        keys,
        anchors,
        policy(dest),
        TokenList::default(),
        Ledger::open(&dir.join("l.jsonl")).unwrap(),
    );
    (st, backend)
}

fn btc_psbt(pubkey: &[u8], inputs: usize, dest: &bitcoin::Address) -> Vec<u8> {
    use bitcoin::*;
    let pk = CompressedPublicKey::from_slice(pubkey).unwrap();
    let ours = Address::p2wpkh(&pk, Network::Regtest).script_pubkey();
    signer_station::fixtures::coins_and_spend(
        &ours,
        &vec![10_000; inputs],
        0,
        &[(dest.script_pubkey(), 10_000 * inputs as u64 - 50_000)],
    )
    .serialize()
}

fn evm_tx(nonce: u64) -> Vec<u8> {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{address, TxKind, U256};
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(address!("52908400098527886e0f7030069857d2e4169ee7")),
        value: U256::from(1_000_000_000_000_000_000u128),
        access_list: Default::default(),
        input: Default::default(),
    };
    let mut b = Vec::new();
    tx.encode_for_signing(&mut b);
    b
}

fn run(label: &str, (st, backend): &mut (Station, SoftwareBackend), req: SignRequest, sigs: usize) {
    let before = backend.time_in_backend();
    let t = Instant::now();
    let review = st.review(&req, NOW).unwrap();
    review.verdict.clone().unwrap();
    let resp = st.sign(&review, backend, NOW).unwrap();
    let total = t.elapsed();
    let in_backend = backend.time_in_backend() - before;
    assert!(matches!(resp.outcome, Outcome::Signed(_)));
    let overhead = total.saturating_sub(in_backend);
    println!(
        "| {label} | {sigs} | {:.1} | {:.1} | {:.3} |",
        total.as_secs_f64() * 1e3,
        in_backend.as_secs_f64() * 1e3,
        overhead.as_secs_f64() * 1e3 / sigs as f64
    );
}

/// The station's key labelled `label`.
fn key_labelled(st: &(Station, SoftwareBackend), label: &str) -> signer_station::hsm::KeyInfo {
    let keys = st.1.list_keys().unwrap();
    keys.into_iter().find(|k| k.label == label).unwrap()
}

fn main() {
    if std::env::args().any(|a| a == "--test") {
        return;
    }
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    let dest = bitcoin::Address::p2wpkh(
        &bitcoin::CompressedPublicKey(
            SecretKey::from_slice(&[2; 32])
                .unwrap()
                .public_key(&Secp256k1::new()),
        ),
        bitcoin::Network::Regtest,
    );
    println!("| case | signatures | total ms | in backend ms | overhead per signature ms |");
    println!("|---|---|---|---|---|");
    for round in 0..3u8 {
        let mut st = station(&format!("psbt{round}"), dest.to_string());
        let pk = key_labelled(&st, "bitcoin:regtest").public_key;
        let p = Payload {
            network: "regtest".into(),
            signer: "station".into(),
            body: PayloadBody::Psbt {
                version: 0,
                bytes: btc_psbt(&pk, 500, &dest),
            },
            hints: DisplayHints::default(),
        };
        run(
            "PSBT, 500 P2WPKH inputs",
            &mut st,
            request(vec![p], round),
            500,
        );
    }
    for round in 0..3u8 {
        let mut st = station(&format!("batch{round}"), dest.to_string());
        let evm = key_labelled(&st, "evm");
        let addr = signer_station::station::evm::address_of(&evm.public_key).unwrap();
        let payloads = (0..100u64)
            .map(|n| Payload {
                network: "evm:1".into(),
                signer: "station".into(),
                body: PayloadBody::EvmTx {
                    chain_id: 1,
                    signer: addr.0 .0,
                    tx: evm_tx(n),
                },
                hints: DisplayHints::default(),
            })
            .collect();
        run(
            "100 EVM payloads in one request",
            &mut st,
            request(payloads, 100 + round),
            100,
        );
    }
}
