//! Three-way reconciliation end to end: a station on the emulated YubiHSM 2 signs
//! Bitcoin requests of a one-station vault through the coordinator service; each response
//! carries the station's ledger since the last one, with the device's audit log in it.
//! Every HSM signature matches a recorded signing of a known request. Someone uses the
//! HSM outside the station: the station stops at its next signing; once the custodians
//! accept the device's log, the coordinator raises the alert. A response never reaches
//! the coordinator: the next one shows its entries missing. Alerts show in the API, the
//! audit chain and `coordinator audit reconcile`.

mod btc_common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use bitcoin::{Amount, Network, TxOut};
use btc_common::{now, policy, recipient};
use serde_json::{json, Value};
use signer_station::ceremony::export_descriptor;
use signer_station::hsm::SigningBackend;
use signer_station::tui::rehearsal;
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::service::{coordinator_files, scratch, station_signs, Desks, Service};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

fn alerts(svc: &Service, auditor: &str) -> Result<Vec<Value>> {
    let r = svc.call("GET", "/v1/audit/reconcile", Some(auditor), None)?;
    if r.status != 200 {
        bail!("reconcile answered {}: {}", r.status, r.json);
    }
    Ok(r.json["alerts"].as_array().cloned().unwrap_or_default())
}

#[test]
fn every_hsm_signature_reconciles_and_the_odd_ones_raise_alerts() -> Result<()> {
    let server = BtcServer::start()?;
    let dir = scratch("reconcile")?;
    let r = rehearsal::station(&dir.join("rehearsal"), now()).map_err(anyhow::Error::msg)?;
    let p = policy(1);
    let mut station =
        strongroom_e2e::requests::station_of(&r, &dir, p.clone(), Default::default())?;
    let regtest = r
        .keys
        .bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
        .expect("regtest key")
        .clone();
    // A one-station vault: the station's own regtest key (P2WPKH).
    let key = bitcoin::CompressedPublicKey::from_slice(&regtest.public_key)?;
    let address = bitcoin::Address::p2wpkh(&key, Network::Regtest);
    let spk = address.script_pubkey();
    server.with(|s| {
        let coins = (0..6)
            .map(|_| TxOut {
                value: Amount::from_sat(400_000),
                script_pubkey: spk.clone(),
            })
            .collect();
        let tx = s.chain.funding(coins);
        s.mine(vec![tx]);
        s.mine(vec![]);
    });

    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 1\n\
             stations = [\"vault-a\"]\nconfirmations = 2\nmax_fee_rate = 50\n",
            server.esplora()
        ),
    )?;
    let db = dir.join("coordinator.db");
    let (desk, svc) = Desks::serve(&exe(), &db, &chains, &key_path)?;
    let descriptor = export_descriptor(&r.hsm, &r.keys, "vault-a", &p, now())?;
    svc.register_station(&desk.admin, &descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;
    let v = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    assert_eq!(v.json["vaults"][0]["address"], address.to_string());
    assert_eq!(v.json["vaults"][0]["balance"], "2400000", "{}", v.json);

    let create = |key: &str| -> Result<String> {
        let body = json!({"network": "regtest", "asset": "native",
            "destination": recipient(0).to_string(), "amount": "100000", "purpose": "withdrawal"});
        let id = svc.create(&desk.treasury, &desk.risk, key, &body, "payout")?;
        svc.wait_envelope(&id, &desk.ana)?;
        svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
        Ok(id)
    };
    let sign = |station: &mut signer_station::station::Station, id: &str, import: bool| {
        let req = svc.export(id, &desk.treasury)?;
        let resp = station_signs(station, &r.hsm, &req)?;
        if import {
            let a = svc.import(id, &desk.treasury, resp)?;
            assert_eq!(a.status, 200, "{}", a.json);
        }
        anyhow::Ok(())
    };

    // 1. A signing through the coordinator: every HSM signature matches.
    let id1 = create("r-1")?;
    sign(&mut station, &id1, true)?;
    assert_eq!(alerts(&svc, &desk.auditor)?, Vec::<Value>::new());
    let report = svc.call("GET", "/v1/audit/reconcile", Some(&desk.auditor), None)?;
    let s = &report.json["stations"][0];
    assert_eq!(s["station"], "vault-a");
    assert!(s["signatures_matched"].as_u64() >= Some(1), "{s}");
    assert!(s["hsm_entries"].as_u64() > Some(0), "{s}");

    // 2. Someone with the custodians' credential signs with the vault key outside the
    //    station. The station sees it in the device's log at its next signing and stops;
    //    the custodians refuse that request, look, and accept the log (re-anchor); the
    //    next response carries it to the coordinator, which raises the alert.
    r.hsm.sign_ecdsa_prehash(regtest.id, &[7; 32])?;
    let id2 = create("r-2")?;
    let req = svc.export(&id2, &desk.treasury)?;
    let review = station.review(&req, now()).map_err(anyhow::Error::msg)?;
    let stopped = station.sign(&review, &r.hsm, now()).unwrap_err();
    assert_eq!(stopped.code(), 73, "{stopped}");
    let refusal = signer_station::station::Refusal::Custodians("HSM log under review".into());
    let answer = station
        .refuse(&review, &refusal, &r.hsm, now())
        .map_err(anyhow::Error::msg)?;
    let a = svc.import(&id2, &desk.treasury, answer)?;
    assert_eq!(a.status, 200, "{}", a.json);
    station
        .reanchor(
            &r.hsm,
            now(),
            "a signature made outside the station, under review",
        )
        .map_err(anyhow::Error::msg)?;
    let id3 = create("r-3")?;
    sign(&mut station, &id3, true)?;
    let found = alerts(&svc, &desk.auditor)?;
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["alert"], "signatures");
    assert_eq!(found[0]["request"], "(ceremony: ledger re-anchored)");
    assert_eq!(
        (found[0]["made"].as_u64(), found[0]["recorded"].as_u64()),
        (Some(1), Some(0))
    );

    // 3. A response that never reaches the coordinator: the next one shows the ledger
    //    entries (and the device's log entries) it held as missing.
    let id4 = create("r-4")?;
    sign(&mut station, &id4, false)?;
    let id5 = create("r-5")?;
    sign(&mut station, &id5, true)?;
    let found = alerts(&svc, &desk.auditor)?;
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[1]["alert"], "ledger-gap");

    // The worker raised both in the audit chain, once each.
    let deadline = Instant::now() + Duration::from_secs(10);
    let raised = loop {
        let rows = svc.call("GET", "/v1/audit?limit=10000", Some(&desk.auditor), None)?;
        let raised: Vec<Value> = rows.json["rows"]
            .as_array()
            .cloned()
            .unwrap_or_default()
            .into_iter()
            .filter(|r| r["action"] == "alert.reconcile")
            .collect();
        if raised.len() >= 2 || Instant::now() > deadline {
            break raised;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let kinds: Vec<&Value> = raised.iter().map(|r| &r["detail"]["alert"]).collect();
    assert_eq!(kinds, [&json!("signatures"), &json!("ledger-gap")]);

    // And the command line says so, exiting 1.
    let o = std::process::Command::new(exe())
        .args(["coordinator", "audit", "reconcile", "--db"])
        .arg(&db)
        .output()?;
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ALERT") && err.contains("never reached the coordinator"),
        "{err}"
    );

    // A DBA lowers what a stored response says (one byte of it): its station signature
    // no longer verifies, and reconciliation says so.
    let conn = rusqlite::Connection::open(&db)?;
    let stored: String = conn.query_row(
        "SELECT value FROM artifacts WHERE kind = 'response' AND subject = ?1",
        [&id1],
        |r| r.get(0),
    )?;
    let mut bytes = hex::decode(&stored)?;
    let at = bytes.len() - 80;
    bytes[at] ^= 1;
    conn.execute(
        "UPDATE artifacts SET value = ?1 WHERE kind = 'response' AND subject = ?2",
        [hex::encode(&bytes), id1.clone()],
    )?;
    let found = alerts(&svc, &desk.auditor)?;
    assert!(
        found
            .iter()
            .any(|a| a["alert"] == "forged" && a["request"] == id1),
        "{found:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
