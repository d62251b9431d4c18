//! A multisig cosigner with an independent Bitcoin library (PyPI `embit`) beside a
//! station: it registers the vault from the coordinator's BSMS record, checks that each
//! input spends the registered vault and names its key by its derivation, and signs the
//! `.psbt` the coordinator exports. The 2-of-2 spend is finalised, verified by Bitcoin
//! Core's interpreter and confirmed.

mod btc_common;

use std::path::PathBuf;

use anyhow::Result;
use base64::Engine as _;
use bitcoin::Amount;
use btc_common::recipient;
use serde_json::{json, Value};
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::service::{scratch, station_signs};

const SEED: &str = "0707070707070707070707070707070707070707070707070707070707070707";

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

/// embit's cosigner (tests/wallet/cosigner.py) with `ask` on stdin.
fn cosigner(ask: &Value) -> Result<Value> {
    strongroom_e2e::wallets::python("cosigner.py", ask, "embit==0.8.0")
}

#[test]
fn an_embit_cosigner_registers_the_vault_and_signs() -> Result<()> {
    let server = BtcServer::start()?;
    let dir = scratch("interop-cosigner")?;
    let mut a = btc_common::registered(&dir, "vault-a")?;
    let theirs = cosigner(&json!({"seed": SEED}))?;
    let key = theirs["key"].as_str().unwrap_or_default().to_string();

    // The vault: the station's HSM key and the cosigner's, 2 of 2.
    let (vault, desk, svc) =
        btc_common::cosigned_vault(&exe(), (&server, &dir), &mut a, ("embit", &key), 500_000)?;
    let station_key = coordinator::bitcoin::with_origin(&a.key);

    // The coordinator's record of the vault, as wallets register it.
    let vaults = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    let detail = &vaults.json["vaults"][0];
    let bsms = detail["bsms"].as_str().unwrap_or_default().to_string();
    assert!(bsms.starts_with("BSMS 1.0\n"), "{}", vaults.json);
    assert!(
        detail["descriptor"]
            .as_str()
            .unwrap_or_default()
            .contains(&station_key),
        "the station's key carries its origin: {detail}"
    );

    let body = json!({"network": "regtest", "asset": "native", "destination": recipient(0).to_string(),
        "amount": "200000", "purpose": "withdrawal"});
    let id = svc.create(&desk.treasury, &desk.risk, "embit-1", &body, "payout")?;
    svc.wait_envelope(&id, &desk.ana)?;
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(&id, &desk.treasury)?;
    let resp = station_signs(&mut a.station, &a.hsm, &req)?;
    let r = svc.import(&id, &desk.treasury, resp)?;
    assert_eq!(r.json["request"]["state"], "partially-signed", "{}", r.json);

    // The cosigner takes the .psbt file, registers the vault from BSMS and signs.
    let file = svc.read(&id, "export/psbt", &desk.ana)?;
    assert_eq!(file.status, 200);
    let psbt = base64::engine::general_purpose::STANDARD.encode(&file.bytes);
    let signed = cosigner(&json!({"seed": SEED, "bsms": bsms, "psbt": psbt}))?;
    assert_eq!(signed["address"], vault.address().to_string(), "{signed}");
    assert_eq!(signed["signed"], 1, "one input signed: {signed}");
    let r = svc.step(
        &id,
        "import",
        &desk.treasury,
        Some(&json!({"psbt": signed["psbt"]})),
    )?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["request"]["state"], "finalised", "{}", r.json);
    svc.wait_state(&id, &desk.ana, "confirmed", || server.mine_empty())?;
    let chain = svc.read(&id, "chain", &desk.ana)?;
    let txid: bitcoin::Txid = chain.json["hash"].as_str().unwrap_or_default().parse()?;
    assert_eq!(
        server.paid(txid, &recipient(0).script_pubkey()),
        Amount::from_sat(200_000)
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
