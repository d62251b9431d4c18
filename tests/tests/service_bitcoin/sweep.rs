//! Deposits collected into the vault: the warm tier hands out deposit addresses from the
//! station's deposit account (its HSM's deposit seed, registered in its policy, the
//! account key given to the coordinator's `[[deposits]]`); customers pay them; the sweep
//! plan batches them; the coordinator builds the sweep, the station proves every input is
//! its deposit coin and the one output its vault, signs with the derived keys, and the
//! sweep is finalised, checked by Bitcoin Core's interpreter and confirmed.

use airgap_protocol::network::BitcoinNetwork;
use anyhow::Result;
use bitcoin::{Amount, Network, TxOut};
use serde_json::{json, Value};
use signer_station::station::deposits;
use signer_station::station::policy::RegisteredVault;
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::requests::now;
use strongroom_e2e::service::{coordinator_files, scratch, Desks};

use super::batch::through;
use super::btc_common;
use super::exe;

#[test]
fn deposit_addresses_are_swept_into_the_vault() -> Result<()> {
    let server = BtcServer::start()?;
    let dir = scratch("service-btc-sweep")?;
    let mut a = btc_common::registered_with(&dir, "vault-a", 2)?;
    // The custodians register the station's deposit account (read from its HSM).
    let account = deposits::account_key(&a.hsm, BitcoinNetwork::Regtest)?;
    let mut p = a.station.policy().clone();
    p.vaults.push(RegisteredVault {
        name: "deposits".into(),
        network: "regtest".into(),
        descriptor: deposits::descriptor(&a.hsm, BitcoinNetwork::Regtest)?,
        deposit: true,
    });
    a.station.set_policy(p, now())?;
    assert!(
        a.station.vault_error().is_none(),
        "{:?}",
        a.station.vault_error()
    );

    let vault = coordinator::bitcoin::Vault::single("cold", &a.key, Network::Regtest)?;
    let spk = vault.address().script_pubkey();
    server.fund(vec![TxOut {
        value: Amount::from_sat(100_000),
        script_pubkey: spk.clone(),
    }]);
    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 1\n\
             stations = [\"vault-a\"]\nconfirmations = 1\nmax_fee_rate = 50\n\n\
             [[deposits]]\nnetwork = \"regtest\"\nxpub = \"{account}\"\nsweep_threshold_sat = 50000\n",
            server.esplora()
        ),
    )?;
    let (desk, svc) = Desks::serve(&exe(), &dir.join("coordinator.db"), &chains, &key_path)?;
    svc.register_station(&desk.admin, &a.descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    // Three customers pay three deposit addresses.
    let mut paid = Vec::new();
    for n in 0..3u64 {
        let (_, address) = svc.deposit_address(&desk.warm, "regtest")?;
        let address: bitcoin::Address<bitcoin::address::NetworkUnchecked> = address.parse()?;
        paid.push(TxOut {
            value: Amount::from_sat(200_000 + n * 1_000),
            script_pubkey: address.assume_checked().script_pubkey(),
        });
    }
    server.fund(paid);
    let batches = planned(&svc, &desk.ana)?;
    assert_eq!(batches.len(), 1, "{batches:?}");
    assert_eq!(batches[0]["addresses"].as_array().map(Vec::len), Some(3));

    // The sweep: three deposit coins in, one output to the vault.
    let regtest = json!({"network": "regtest"});
    let id = svc.make("/v1/sweeps", &desk.treasury, &regtest, "sweep-1")?;
    let tx = super::batch::into_the_vault(&svc, &desk.ana, &id, &spk)?;
    assert_eq!(tx["inputs"].as_array().map(Vec::len), Some(3), "{tx}");
    let fee = tx["fee_sat"].as_u64().unwrap_or(u64::MAX);
    assert!(
        fee * 1000 <= 603_000 * 50,
        "within the collection cost rule: {fee}"
    );
    through(&svc, &desk, &mut a, &server, &id)?;

    // The vault holds the deposits less the fee; nothing is left to sweep.
    assert_eq!(
        svc.vault_balance(&desk.ana)?,
        u128::from(100_000 + 603_000 - fee)
    );
    assert_eq!(planned(&svc, &desk.ana)?.len(), 0);
    let r = svc.post_keyed(
        "/v1/sweeps",
        &desk.treasury,
        &json!({"network": "evm:1"}),
        "sweep-2",
    )?;
    assert_eq!(r.status, 422, "{}", r.json);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The sweep plan's batches on regtest.
fn planned(svc: &strongroom_e2e::service::Service, token: &str) -> Result<Vec<Value>> {
    let plan = svc
        .call("GET", "/v1/sweeps/plan?network=regtest", Some(token), None)?
        .json;
    Ok(plan["plan"]["batches"]
        .as_array()
        .cloned()
        .unwrap_or_default())
}
