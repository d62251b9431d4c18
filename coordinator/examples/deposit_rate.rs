//! Deposit address derivation on one core: BIP-84 receiving addresses of an account
//! xpub (BIP-84's test vector key), through the pool's cached branch key and through
//! the wallet's descriptor derivation, 100,000 each. A benchmark, not a test: it prints
//! rates for docs/PERFORMANCE.md.
//!
//! `cargo run -p coordinator --example deposit_rate` (dev profile: dependencies, where
//! the hashing and curve arithmetic run, are optimised) or with `--release`.

use std::time::Instant;

use bdk_wallet::bitcoin::{base58, Network};
use bdk_wallet::KeychainKind;
use coordinator::bitcoin::DepositPool;

fn main() {
    let mut raw = base58::decode_check(
        "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs",
    )
    .expect("the test vector");
    raw[..4].copy_from_slice(&[0x04, 0x88, 0xb2, 0x1e]);
    let xpub = base58::encode_check(&raw);
    let pool = DepositPool::new(&xpub, Network::Bitcoin).expect("a pool");
    let n = 100_000u32;
    let rate = |name: &str, f: &dyn Fn(u32) -> String| {
        let t = Instant::now();
        let mut last = String::new();
        for i in 0..n {
            last = f(i);
        }
        let secs = t.elapsed().as_secs_f64();
        println!(
            "{name}: {n} addresses in {secs:.2} s = {:.0} addresses/s (address {} = {last})",
            f64::from(n) / secs,
            n - 1
        );
    };
    rate("pool (cached branch key)", &|i| pool.peek(i).to_string());
    let wallet =
        bdk_wallet::Wallet::create(format!("wpkh({xpub}/0/*)"), format!("wpkh({xpub}/1/*)"))
            .network(Network::Bitcoin)
            .create_wallet_no_persist()
            .expect("a wallet");
    rate("wallet descriptor derivation", &|i| {
        wallet
            .peek_address(KeychainKind::External, i)
            .address
            .to_string()
    });
}
