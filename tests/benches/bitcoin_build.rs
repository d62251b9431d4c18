//! Coordinator Bitcoin building: PSBT build time (coin selection, PSBT with previous
//! transactions) for 1, 100 and 1000 outputs and a 500-input consolidation; deposit
//! address derivation per second from an xpub.
//!
//!     cargo bench -p strongroom-e2e --bench bitcoin_build

use std::time::Instant;

use bitcoin::secp256k1::{Secp256k1, SecretKey};
use bitcoin::{Amount, FeeRate, Network, PublicKey, TxOut};
use coordinator::bitcoin::{DepositPool, Vault};
use strongroom_e2e::btcchain::Chain;

fn recipient(n: u32) -> bitcoin::Address {
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    let sk = SecretKey::from_slice(&b).unwrap();
    bitcoin::Address::p2wpkh(
        &bitcoin::CompressedPublicKey(sk.public_key(&Secp256k1::new())),
        Network::Regtest,
    )
}

fn funded(coins: usize, each: Amount) -> Vault {
    let key = PublicKey::new(
        SecretKey::from_slice(&[9; 32])
            .unwrap()
            .public_key(&Secp256k1::new()),
    );
    let mut vault = Vault::single("bench", &key, Network::Regtest).unwrap();
    let mut chain = Chain::default();
    let genesis = bitcoin::constants::genesis_block(Network::Regtest).block_hash();
    let spk = vault.address().script_pubkey();
    let txs = (0..coins)
        .collect::<Vec<_>>()
        .chunks(100)
        .map(|c| {
            chain.funding(
                c.iter()
                    .map(|_| TxOut {
                        value: each,
                        script_pubkey: spk.clone(),
                    })
                    .collect(),
            )
        })
        .collect();
    let block = chain.mine(genesis, txs);
    vault.apply_block(&block, 1).unwrap();
    vault
}

fn median_ms(mut runs: Vec<f64>) -> f64 {
    runs.sort_by(|a, b| a.partial_cmp(b).unwrap());
    runs[runs.len() / 2]
}

/// Builds five times; prints the table row: inputs, outputs, median milliseconds.
fn row(what: &str, mut build: impl FnMut() -> bitcoin::psbt::Psbt) {
    let mut runs = Vec::new();
    let mut shape = (0, 0);
    for _ in 0..5 {
        let t = Instant::now();
        let psbt = build();
        runs.push(t.elapsed().as_secs_f64() * 1e3);
        shape = (psbt.inputs.len(), psbt.unsigned_tx.output.len());
    }
    let ms = median_ms(runs);
    println!("| {what} | {} | {} | {ms:.1} |", shape.0, shape.1);
}

fn main() {
    let rate = FeeRate::from_sat_per_vb(5).unwrap();
    println!("| build | inputs | outputs | median ms (5 runs) |");
    println!("|---|---|---|---|");
    for outputs in [1u32, 100, 1000] {
        let mut vault = funded(50, Amount::from_sat(10_000_000));
        let recipients: Vec<_> = (0..outputs)
            .map(|n| (recipient(n).into_unchecked(), Amount::from_sat(50_000)))
            .collect();
        row("payment", || vault.payment(&recipients, rate).unwrap());
    }
    let mut vault = funded(500, Amount::from_sat(100_000));
    row("consolidation", || vault.consolidate(rate).unwrap());

    // Deposit addresses: BIP-84 account xpub (test vector key), derivation only.
    let mut raw = bitcoin::base58::decode_check(
        "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs",
    )
    .unwrap();
    raw[..4].copy_from_slice(&[0x04, 0x88, 0xb2, 0x1e]);
    let pool = DepositPool::new(&bitcoin::base58::encode_check(&raw), Network::Bitcoin).unwrap();
    let n = 20_000u32;
    let t = Instant::now();
    let mut last = String::new();
    for i in 0..n {
        last = pool.peek(i).to_string();
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "\naddress derivation from an xpub: {n} addresses in {:.2} s = {:.0} addresses/s (last {last})",
        secs,
        f64::from(n) / secs
    );
}
