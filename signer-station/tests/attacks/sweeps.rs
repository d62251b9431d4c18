//! Sweeps of deposit coins. The station's deposit account (its HSM's deposit seed,
//! registered in the policy) holds coins that it signs only as a sweep: every output to
//! one of its own vaults on the network, the fee within the collection cost rule. A
//! compromised coordinator tries to pay those coins elsewhere, to pay too much fee, or to
//! pass a coin of another key off as a deposit.

use std::str::FromStr;

use bitcoin::bip32::{ChildNumber, DerivationPath, Fingerprint, Xpub};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::{PublicKey, Transaction};
use signer_station::station::deposits;
use signer_station::station::policy::RegisteredVault;

use super::*;

/// Adds the station's deposit account of `n` (read from the HSM's seed, as the
/// custodians register it) to the policy as deposit vault `name`.
pub(super) fn add_deposits(r: &mut Rig, n: BitcoinNetwork, name: &str) -> (Fingerprint, Xpub) {
    let key = deposits::account_key(&r.h.hsm, n).unwrap();
    register(r, n, name, &format!("wpkh({key}/<0;1>/*)"));
    let (origin, xpub) = key.trim_start_matches('[').split_once(']').unwrap();
    let fp = Fingerprint::from_str(&origin[..8]).unwrap();
    (fp, Xpub::from_str(xpub).unwrap())
}

/// The rig with the station's regtest deposit account registered.
pub(super) fn with_deposits(r: &mut Rig) -> (Fingerprint, Xpub) {
    add_deposits(r, REGTEST, "deposits")
}

/// Registers `descriptor` as deposit vault `name` on `n` (replacing one of that name), as
/// custodians do.
fn register(r: &mut Rig, n: BitcoinNetwork, name: &str, descriptor: &str) {
    let mut p = r.station().policy().clone();
    p.vaults.retain(|v| v.name != name);
    p.vaults.push(RegisteredVault {
        name: name.into(),
        network: n.name().into(),
        descriptor: descriptor.into(),
        deposit: true,
    });
    r.station().set_policy(p, NOW).unwrap();
    let e = r.station().vault_error().map(|e| e.to_string());
    assert!(e.is_none(), "{e:?}");
}

/// A deposit coin, and what its input declares of it.
pub(super) struct Deposit {
    pub(super) pk: bitcoin::secp256k1::PublicKey,
    pub(super) fp: Fingerprint,
    pub(super) path: DerivationPath,
}

/// A coin paying the key `steps` below account `(fp, xpub)` of `n` (unhardened), its
/// input naming the account's origin plus `steps`.
pub(super) fn coin_at(
    r: &mut Rig,
    n: BitcoinNetwork,
    (fp, xpub): (Fingerprint, Xpub),
    steps: &[u32],
    sat: u64,
) -> (Transaction, Deposit) {
    let secp = Secp256k1::verification_only();
    let steps: Vec<ChildNumber> = steps
        .iter()
        .map(|s| ChildNumber::from_normal_idx(*s).unwrap())
        .collect();
    let child = xpub.derive_pub(&secp, &steps).unwrap();
    let pk = PublicKey::new(child.public_key);
    let script = ScriptBuf::new_p2wpkh(&pk.wpubkey_hash().unwrap());
    let path = deposits::account_path(n).extend(steps);
    let deposit = Deposit {
        pk: child.public_key,
        fp,
        path,
    };
    (r.coin(script, sat), deposit)
}

/// A regtest coin of account `acct` at (branch, index).
pub(super) fn deposit_coin(
    r: &mut Rig,
    acct: (Fingerprint, Xpub),
    at: (u32, u32),
    sat: u64,
) -> (Transaction, Deposit) {
    coin_at(r, REGTEST, acct, &[at.0, at.1], sat)
}

/// A sweep PSBT of `coins` to `outputs`, each input naming its deposit path.
pub(super) fn sweep(
    r: &Rig,
    coins: &[(Transaction, Deposit)],
    outputs: &[(ScriptBuf, u64, Option<VaultPath>)],
) -> bitcoin::psbt::Psbt {
    let inputs: Vec<(&Transaction, Option<VaultPath>)> =
        coins.iter().map(|(t, _)| (t, None)).collect();
    let mut psbt = r.psbt(&inputs, outputs);
    for (i, (_, d)) in coins.iter().enumerate() {
        psbt.inputs[i]
            .bip32_derivation
            .insert(d.pk, (d.fp, d.path.clone()));
    }
    psbt
}

/// A sweep request of `psbts` (each with its network label), approved twice.
pub(super) fn sweep_as(r: &Rig, psbts: &[(&bitcoin::psbt::Psbt, &str)]) -> SignRequest {
    r.request_as(
        psbts.iter().map(|(p, l)| btc_payload(p, l)).collect(),
        Purpose::Sweep,
        &[10, 11],
    )
}

/// A sweep request of one regtest PSBT.
pub(super) fn sweep_request(r: &Rig, psbt: &bitcoin::psbt::Psbt) -> SignRequest {
    sweep_as(r, &[(psbt, "regtest")])
}

/// Another seed's account, at the station's origin: what a coordinator would pass off.
pub(super) fn foreign_account(fp: Fingerprint) -> (Fingerprint, Xpub) {
    let secp = Secp256k1::new();
    let m = bitcoin::bip32::Xpriv::new_master(bitcoin::Network::Regtest, &[5; 32]).unwrap();
    let a = m
        .derive_priv(&secp, &deposits::account_path(REGTEST))
        .unwrap();
    (fp, Xpub::from_priv(&secp, &a))
}

attacks! {
    // Deposit coins to an allow-listed address: a withdrawal, not a sweep.
    btc_sweep_paying_an_allow_listed_address => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let psbt = sweep(r, &coins, &[(pay(2), 99_000, None)]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // "Change" back to a deposit address: deposit coins move only into a vault.
    btc_sweep_back_into_the_deposit_account => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 1), 100_000)];
        let back = deposit_coin(r, acct, (1, 3), 1).0.output[0].script_pubkey.clone();
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 2), 50_000, Some((0, 2))), (back, 49_000, None)]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // Into the station's own wallet of another network: not a vault of this network.
    btc_sweep_into_a_wallet_of_another_network => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 2), 100_000)];
        let other = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let psbt = sweep(r, &coins, &[(other, 99_000, None)]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // 7 % of what it collects in fees (under the network's fee cap of 20,000 sat).
    btc_sweep_fee_over_its_share => FEE; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 3), 100_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 93_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // A coin of another seed's key at the station's fingerprint and path.
    btc_foreign_coin_passed_off_as_a_deposit => FOREIGN_INPUT; |r| {
        let (fp, _) = with_deposits(r);
        let coins = [deposit_coin(r, foreign_account(fp), (0, 4), 100_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // Deposit coins with a vault coin: the vault's value could pose as the sweep's.
    btc_deposit_coins_spent_with_a_vault_coin => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let coin = deposit_coin(r, acct, (0, 5), 100_000);
        let vault = r.vault_coin(6, 100_000);
        let mut psbt = r.psbt(&[(&coin.0, None), (&vault, Some((0, 6)))], &[(pay(2), 199_000, None)]);
        psbt.inputs[0].bip32_derivation.insert(coin.1.pk, (coin.1.fp, coin.1.path.clone()));
        r.attempt(&sweep_request(r, &psbt))
    };
}

controls! {
    control_btc_sweep_of_deposit_coins_into_the_vault; |r| {
        let acct = with_deposits(r);
        let coins = [
            deposit_coin(r, acct, (0, 0), 60_000),
            deposit_coin(r, acct, (0, 7), 40_000),
            deposit_coin(r, acct, (1, 2), 50_000),
        ];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 3), 149_000, Some((0, 3)))]);
        let resp = r.attempt(&sweep_request(r, &psbt));
        if let Ok(resp) = &resp {
            verify_sweep(resp, &coins);
        }
        resp
    };
}

/// Each input of the answer carries a signature by its deposit key that Bitcoin Core's
/// interpreter accepts.
fn verify_sweep(resp: &SignResponse, coins: &[(Transaction, Deposit)]) {
    let Outcome::Signed(sigs) = &resp.outcome else {
        panic!("not signed")
    };
    let PayloadSignature::Psbt(bytes) = &sigs[0] else {
        panic!("not a PSBT")
    };
    let mut psbt = bitcoin::psbt::Psbt::deserialize(bytes).unwrap();
    for (i, (_, d)) in coins.iter().enumerate() {
        let pk = PublicKey::new(d.pk);
        let sig = *psbt.inputs[i]
            .partial_sigs
            .get(&pk)
            .expect("a signature by the deposit key");
        let mut w = bitcoin::Witness::new();
        w.push(sig.to_vec());
        w.push(pk.to_bytes());
        psbt.inputs[i].final_script_witness = Some(w);
    }
    let tx = psbt.extract_tx().unwrap();
    let prevouts: Vec<_> = coins
        .iter()
        .map(|(t, _)| (t.compute_txid(), t.output[0].clone()))
        .collect();
    tx.verify(|o| {
        prevouts
            .iter()
            .find(|(id, _)| *id == o.txid)
            .map(|(_, out)| out.clone())
    })
    .expect("Bitcoin Core's interpreter accepts every input");
}

/// A policy naming an account key the HSM's seed does not give: its "deposits" are
/// never signed (the key to sign is not there), and nothing is released.
#[test]
fn a_registered_account_not_from_the_seed_signs_nothing() {
    let mut r = Rig::new("sweep-foreign-account");
    let (fp, _) = with_deposits(&mut r);
    let (_, foreign) = foreign_account(fp);
    let foreign_descriptor = format!("wpkh([{fp}/84h/1h/0h]{foreign}/<0;1>/*)");
    register(&mut r, REGTEST, "deposits", &foreign_descriptor);
    let coins = [deposit_coin(&mut r, (fp, foreign), (0, 1), 100_000)];
    let psbt = sweep(&r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
    let e = r
        .attempt(&sweep_request(&r, &psbt))
        .expect_err("nothing signed");
    assert_eq!(e.code(), 70, "{e}");
    assert!(e.to_string().contains("deposit seed"), "{e}");
}
