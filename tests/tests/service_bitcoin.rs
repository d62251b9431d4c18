//! The coordinator service as a process, end to end on Bitcoin: a 2-of-2 vault across two
//! MockHsm stations, chain data from an Esplora endpoint (the local server that speaks
//! the real format and verifies every broadcast with Bitcoin Core's interpreter). The
//! request is built by the service's worker from the synced vault, approved, exported as
//! UR frames, signed by each station in turn (partially signed after the first), combined,
//! finalised, broadcast and confirmed. A second request built meanwhile never spends the
//! first one's coins.

#[path = "service_bitcoin/batch.rs"]
mod batch;
mod btc_common;
#[path = "service_bitcoin/console.rs"]
mod console;
#[path = "service_bitcoin/sweep.rs"]
mod sweep;
mod tamper;

use std::path::PathBuf;

use anyhow::{bail, Result};
use bitcoin::{Amount, Network, TxOut};
use btc_common::{recipient, Registered};
use serde_json::json;
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::service::{coordinator_files, scratch, station_signs, Desks, Service};
use tamper::Tamper;

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

/// The exported PSBT as BBQr parts, as a hardware wallet's camera reads them.
fn bbqr_parts(svc: &Service, id: &str, token: &str) -> Result<Vec<String>> {
    let q = svc.read(id, "export/bbqr", token)?;
    assert_eq!(q.status, 200, "{}", q.json);
    let parts = q.json["parts"].as_array().cloned().unwrap_or_default();
    Ok(parts
        .iter()
        .filter_map(|p| p.as_str().map(String::from))
        .collect())
}

#[test]
fn bitcoin_multisig_request_through_the_service() -> Result<()> {
    let server = BtcServer::start()?;
    let dir = scratch("service-btc")?;
    let mut a = btc_common::registered(&dir, "vault-a")?;
    let mut b = btc_common::registered(&dir, "vault-b")?;
    assert_ne!(a.key, b.key);

    // Fund the 2-of-2 vault: three coins of 400,000 sat, two blocks deep.
    let vault =
        coordinator::bitcoin::Vault::multisig("cold", 2, &[a.key, b.key], Network::Regtest)?;
    for s in [&mut a, &mut b] {
        strongroom_e2e::requests::register_vault(
            &mut s.station,
            "cold",
            "regtest",
            &vault.descriptor,
        )?;
    }
    let spk = vault.address().script_pubkey();
    server.fund(
        (0..3)
            .map(|_| TxOut {
                value: Amount::from_sat(400_000),
                script_pubkey: spk.clone(),
            })
            .collect(),
    );

    // The warm tier's deposit account (BIP-84, account 0 on a test network).
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let master = bitcoin::bip32::Xpriv::new_master(bitcoin::NetworkKind::Test, &[9u8; 32])?;
    let path: bitcoin::bip32::DerivationPath = "m/84'/1'/0'".parse()?;
    let tpub = bitcoin::bip32::Xpub::from_priv(&secp, &master.derive_priv(&secp, &path)?);
    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 2\n\
             stations = [\"vault-a\", \"vault-b\"]\nconfirmations = 2\nmax_fee_rate = 50\n\n\
             [[deposits]]\nnetwork = \"regtest\"\nxpub = \"{tpub}\"\nsweep_threshold_sat = 10000\n",
            server.esplora()
        ),
    )?;
    let db = dir.join("coordinator.db");
    let (desk, svc) = Desks::serve(&exe(), &db, &chains, &key_path)?;
    for v in [&a, &b] {
        svc.register_station(&desk.admin, &v.descriptor)?;
    }
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;
    let r = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    assert_eq!(r.json["vaults"][0]["address"], vault.address().to_string());
    assert_eq!(r.json["vaults"][0]["balance"], "1200000");

    let create = |amount: u64, key: &str| -> Result<String> {
        let body = json!({"network": "regtest", "asset": "native", "destination": recipient(0).to_string(),
            "amount": amount.to_string(), "purpose": "withdrawal"});
        let id = svc.create(&desk.treasury, &desk.risk, key, &body, "treasury payout")?;
        Ok(id)
    };
    let id = create(700_000, "btc-1")?;
    let view = svc.wait_envelope(&id, &desk.ana)?;
    // A second request while the first is live: other coins only.
    let id2 = create(300_000, "btc-2")?;
    let view2 = svc.wait_envelope(&id2, &desk.ana)?;
    let inputs = |v: &serde_json::Value| -> Vec<String> {
        v["transaction"]["inputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(inputs(&view).len(), 2, "{view}");
    assert!(
        inputs(&view2).iter().all(|i| !inputs(&view).contains(i)),
        "{view} {view2}"
    );
    assert!(view["transaction"]["fee_sat"].as_u64().unwrap() > 0);

    // The console decides what each role may: a request held for review is cleared by
    // risk with a reason, an approver is offered the approval and nothing else, and
    // treasury cancels with a reason.
    let body = json!({"network": "regtest", "asset": "native", "destination": recipient(1).to_string(),
        "amount": "70000", "purpose": "withdrawal"});
    let made = svc.call_with(
        "POST",
        "/v1/requests",
        Some(&desk.treasury),
        Some(&body),
        &[("Idempotency-Key", "console-1")],
    )?;
    let held = made.json["request"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        made.json["request"]["state"], "manual-review",
        "{}",
        made.json
    );
    // The page as `token` sees it, after taking `action` (with its reason) if given.
    let page_as = |token: &str, name: &str, action: Option<(&str, &str)>| {
        strongroom_e2e::console::decide(&svc.url, token, &held, name, action)
    };
    let page = page_as(&desk.ana, "approver-on-review", None)?;
    assert_eq!(page["offered"], json!([]), "{page}");
    let page = page_as(&desk.risk, "risk-clears", Some(("clear", "known customer")))?;
    assert_eq!(page["offered"], json!(["clear", "reject"]), "{page}");
    assert_eq!(page["state"], "awaiting-approvals", "{page}");
    let page = page_as(&desk.ana, "approver", None)?;
    assert_eq!(page["offered"], json!([]), "{page}");
    assert_eq!(page["approveShown"], true, "{page}");
    let page = page_as(
        &desk.treasury,
        "treasury-cancels",
        Some(("cancel", "customer withdrew")),
    )?;
    assert_eq!(page["state"], "cancelled", "{page}");
    assert_eq!(page["errors"], json!([]), "{page}");
    // The reasons are in the audit log.
    let rows = svc.call("GET", "/v1/audit?limit=10000", Some(&desk.auditor), None)?;
    let reasons: Vec<&str> = rows.json["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["subject"] == held.as_str())
        .filter_map(|r| r["detail"]["detail"]["reason"].as_str())
        .collect();
    assert_eq!(
        reasons,
        ["known customer", "customer withdrew"],
        "{}",
        rows.json
    );
    // The console shows the request as the station's decoders read it.
    let page = strongroom_e2e::console::detail(&svc.url, &desk.ana, &id, "bitcoin")?;
    assert_eq!(page["errors"], json!([]), "{page}");
    assert_eq!(page["digest"], view["digest"], "{page}");
    let payload = page["payloads"][0].as_str().unwrap_or_default();
    assert!(
        payload.contains("Pays") && payload.contains("BTC to bcrt1"),
        "{page}"
    );
    let pay = page["pay"].as_str().unwrap_or_default();
    assert!(pay.starts_with("0.007 BTC on regtest"), "{page}");
    let vault_row = page["vaults"][0].as_str().unwrap_or_default();
    assert!(
        vault_row.starts_with("cold") && vault_row.ends_with(" BTC"),
        "{page}"
    );
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(&id, &desk.treasury)?;
    // For standard signers: crypto-psbt, read by the Keystone registry.
    let read = strongroom_e2e::wallets::check_standard(&svc, &id, &desk.ana, &req)?;
    assert_eq!(read, ["crypto-psbt"]);
    let file = svc.read(&id, "export/psbt", &desk.ana)?;
    let airgap_protocol::envelope::PayloadBody::Psbt { bytes, .. } = &req.payloads[0].body else {
        bail!("not a PSBT")
    };
    assert_eq!(&file.bytes, bytes, "the .psbt download");
    // The same PSBT as BBQr for a hardware-wallet cosigner: joins back byte for byte.
    let parts = bbqr_parts(&svc, &id, &desk.ana)?;
    let joined = airgap_protocol::bbqr::join(&parts)?;
    let airgap_protocol::envelope::PayloadBody::Psbt { bytes, .. } = &req.payloads[0].body else {
        bail!("not a PSBT")
    };
    assert_eq!(&joined.data, bytes);

    // Each station reviews and signs; the first answer leaves it partially signed.
    for (n, v) in [&mut a, &mut b].into_iter().enumerate() {
        let resp = station_signs(&mut v.station, &v.hsm, &req)?;
        let r = svc.import(&id, &desk.treasury, resp)?;
        assert_eq!(r.status, 200, "{}", r.json);
        if n == 0 {
            assert_eq!(r.json["request"]["state"], "partially-signed");
        } else {
            assert_eq!(r.json["request"]["state"], "finalised");
        }
    }
    // The worker broadcasts (the server verifies it with Core's interpreter) and
    // follows it to two confirmations.
    svc.wait_state(&id, &desk.ana, "confirmed", || server.mine_empty())?;
    let r = svc.read(&id, "chain", &desk.ana)?;
    assert_eq!(r.json["chain"], "bitcoin");
    let txid: bitcoin::Txid = r.json["hash"].as_str().unwrap().parse()?;
    let paid = server.paid(txid, &recipient(0).script_pubkey());
    assert_eq!(paid, Amount::from_sat(700_000));
    let fee = view["transaction"]["fee_sat"].as_u64().unwrap();
    let r = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    assert_eq!(
        r.json["vaults"][0]["balance"],
        (1_200_000 - 700_000 - fee).to_string(),
        "change came back to the vault"
    );

    // Another coin, and a request through the console from the form to confirmed.
    server.fund(vec![TxOut {
        value: Amount::from_sat(400_000),
        script_pubkey: spk.clone(),
    }]);
    let walked = console::walk(&svc, &desk, [&mut a, &mut b], &server)?;
    let chain = svc.read(&walked, "chain", &desk.ana)?;
    let txid: bitcoin::Txid = chain.json["hash"].as_str().unwrap_or_default().parse()?;
    assert_eq!(
        server.paid(txid, &recipient(1).script_pubkey()),
        Amount::from_sat(100_000)
    );

    // Deposit addresses for the warm tier, and the sweep planner over them.
    let mut deposits = Vec::new();
    for n in 0..4 {
        let (index, address) = svc.deposit_address(&desk.warm, "regtest")?;
        assert_eq!(index, n);
        deposits.push(address);
    }
    let listed = svc.call("GET", "/v1/deposits?network=regtest", Some(&desk.ana), None)?;
    assert_eq!(listed.json["addresses"].as_array().unwrap().len(), 4);
    // The first handed-out address is BIP-84 index 0 of the account.
    let pool = coordinator::bitcoin::DepositPool::new(&tpub.to_string(), Network::Regtest)?;
    assert_eq!(deposits[0], pool.peek(0).to_string());
    let spk = |a: &str| -> bitcoin::ScriptBuf {
        a.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
            .unwrap()
            .assume_checked()
            .script_pubkey()
    };
    server.with(|s| {
        let pay = |a: &str, v: u64| TxOut {
            value: Amount::from_sat(v),
            script_pubkey: spk(a),
        };
        let tx = s.chain.funding(vec![
            pay(&deposits[0], 200_000),
            pay(&deposits[0], 150_000),
            pay(&deposits[1], 5_000),
            pay(&deposits[2], 60_000),
            pay(&deposits[3], 12_000),
        ]);
        s.mine(vec![tx]);
    });
    let plan = svc.call(
        "GET",
        "/v1/sweeps/plan?network=regtest",
        Some(&desk.ana),
        None,
    )?;
    assert_eq!(plan.status, 200, "{}", plan.json);
    let p = &plan.json["plan"];
    assert_eq!(p["batches"].as_array().unwrap().len(), 1, "{p}");
    let batch = &p["batches"][0];
    assert_eq!(batch["addresses"], json!([deposits[0], deposits[2]]));
    assert_eq!(batch["inputs"], 3);
    assert_eq!(batch["amount_sat"], 410_000);
    // 12.5 sat/vB from the source, rounded up: (11 + 43 + 3 × 68) vB × 13.
    assert_eq!(batch["fee_sat"], 258 * 13);
    let skipped: Vec<&str> = p["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s[0].as_str().unwrap())
        .collect();
    assert_eq!(
        skipped,
        vec![deposits[1].as_str(), deposits[3].as_str()],
        "{p}"
    );

    // A compromised database: a third request is approved, then its stored PSBT and
    // envelope are rewritten so that the change goes to an attacker. The coordinator's
    // export refuses and records it; a fully compromised coordinator that re-signs the
    // edited envelope with the real approvals is refused by the station.
    let id3 = create(50_000, "btc-3")?;
    let t = Tamper::approved(&svc, &db, &id3, &desk.ana, &desk.ben)?;
    let mut psbt = bitcoin::Psbt::deserialize(&hex::decode(t.stored("unsigned")?)?)?;
    let change = psbt
        .unsigned_tx
        .output
        .iter()
        .position(|o| o.script_pubkey != recipient(0).script_pubkey())
        .unwrap();
    psbt.unsigned_tx.output[change].script_pubkey = recipient(1).script_pubkey();
    psbt.outputs[change] = Default::default();
    let mut edited = t.original.clone();
    edited.payloads[0].body = airgap_protocol::envelope::PayloadBody::Psbt {
        version: 0,
        bytes: psbt.serialize(),
    };
    t.rewrite(&hex::encode(psbt.serialize()), &edited)?;
    t.export_refused(&svc, &desk.treasury, &desk.admin)?;
    tamper::station_refuses(&mut a.station, &t.forged(&edited), "change to an attacker")?;
    // More than the vault holds: not built, and the envelope says why.
    let id4 = create(900_000, "btc-4")?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let said = loop {
        let r = svc.read(&id4, "envelope", &desk.ana)?;
        assert_eq!(r.status, 422);
        let e = r.json["error"].as_str().unwrap_or_default().to_string();
        if e.contains("last attempt failed") || std::time::Instant::now() > deadline {
            break e;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(said.contains("cannot build"), "{said}");
    let v = svc.call("GET", "/v1/audit/verify", Some(&desk.admin), None)?;
    assert_eq!(v.json["ok"], true);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A 2-of-2 vault of one station and a hardware wallet: the station signs from the
/// exported frames (partially signed), the hardware wallet takes the same PSBT as BBQr,
/// finds its key by the configured origin, signs, and answers with a `crypto-psbt` UR;
/// the coordinator combines, finalises (Core's interpreter) and broadcasts. A PSBT from a
/// key outside the vault, or one carrying only the station's signature, is refused and
/// changes nothing.
#[test]
fn bitcoin_vault_with_a_hardware_wallet_cosigner() -> Result<()> {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    let server = BtcServer::start()?;
    let dir = scratch("service-hw")?;
    let mut a = btc_common::registered(&dir, "vault-a")?;
    let secp = Secp256k1::new();
    let hw_secret = bitcoin::PrivateKey::new(SecretKey::from_slice(&[33; 32])?, Network::Regtest);
    let hw = hw_secret.public_key(&secp);
    let origin = "d34db33f/48'/1'/0'/2'";
    let hw_key = format!("[{origin}]{hw}");
    let (vault, desk, svc) = btc_common::cosigned_vault(
        &exe(),
        (&server, &dir),
        &mut a,
        ("coldcard", &hw_key),
        1_000_000,
    )?;
    let r = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    assert_eq!(r.json["vaults"][0]["address"], vault.address().to_string());

    let body = json!({"network": "regtest", "asset": "native", "destination": recipient(0).to_string(),
        "amount": "300000", "purpose": "withdrawal"});
    let id = svc.create(&desk.treasury, &desk.risk, "hw-1", &body, "payout")?;
    svc.wait_envelope(&id, &desk.ana)?;
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(&id, &desk.treasury)?;
    // The station signs first.
    let resp = station_signs(&mut a.station, &a.hsm, &req)?;
    let airgap_protocol::envelope::Outcome::Signed(sigs) = &resp.outcome else {
        bail!("the station refused")
    };
    let [airgap_protocol::envelope::PayloadSignature::Psbt(station_psbt)] = sigs.as_slice() else {
        bail!("not a PSBT answer")
    };
    let station_psbt = station_psbt.clone();
    let r = svc.import(&id, &desk.treasury, resp)?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["request"]["state"], "partially-signed");

    // The hardware wallet reads the PSBT as BBQr and finds its key by its origin.
    let parts = bbqr_parts(&svc, &id, &desk.ana)?;
    let mut at_hw = bitcoin::Psbt::deserialize(&airgap_protocol::bbqr::join(&parts)?.data)?;
    for input in &at_hw.inputs {
        let (fingerprint, path) = input
            .bip32_derivation
            .get(&hw.inner)
            .expect("the cosigner's key origin is in the PSBT");
        assert_eq!(fingerprint.to_string(), "d34db33f");
        assert_eq!(
            path,
            &"m/48'/1'/0'/2'".parse::<bitcoin::bip32::DerivationPath>()?
        );
    }
    let audit_len = || -> Result<usize> {
        Ok(
            svc.call("GET", "/v1/audit", Some(&desk.admin), None)?.json["rows"]
                .as_array()
                .map_or(0, Vec::len),
        )
    };
    let before = audit_len()?;
    // Refused: signed by a key outside the vault; carrying only the station's signature.
    let stranger_secret =
        bitcoin::PrivateKey::new(SecretKey::from_slice(&[44; 32])?, Network::Regtest);
    let mut by_stranger = at_hw.clone();
    let sighash = {
        let mut cache = bitcoin::sighash::SighashCache::new(&by_stranger.unsigned_tx);
        let (msg, _) = by_stranger.sighash_ecdsa(0, &mut cache)?;
        msg
    };
    by_stranger.inputs[0].partial_sigs.insert(
        stranger_secret.public_key(&secp),
        bitcoin::ecdsa::Signature::sighash_all(secp.sign_ecdsa(&sighash, &stranger_secret.inner)),
    );
    let b64 = |p: &bitcoin::Psbt| {
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, p.serialize())
    };
    let r = svc.step(
        &id,
        "import",
        &desk.treasury,
        Some(&json!({"psbt": b64(&by_stranger)})),
    )?;
    assert_eq!(r.status, 422, "{}", r.json);
    let r = svc.step(&id, "import", &desk.treasury, Some(&json!({"psbt": base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &station_psbt)})))?;
    assert_eq!(r.status, 422, "{}", r.json);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap()
            .contains("no signature by a cosigner"),
        "{}",
        r.json
    );
    assert_eq!(audit_len()?, before, "refused imports record nothing");
    let r = svc.read(&id, "", &desk.ana)?;
    assert_eq!(r.json["request"]["state"], "partially-signed");

    // The hardware wallet signs and answers with a crypto-psbt UR of its signatures
    // alone (as some signers do); the operator's camera also caught a stray code and a
    // damaged one, which are skipped and counted.
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(hw, hw_secret);
    at_hw
        .sign(&keys, &secp)
        .map_err(|e| anyhow::anyhow!("hardware wallet signing: {e:?}"))?;
    let mut trimmed = at_hw.clone();
    for i in &mut trimmed.inputs {
        *i = bitcoin::psbt::Input {
            partial_sigs: i.partial_sigs.clone(),
            ..Default::default()
        };
    }
    for o in &mut trimmed.outputs {
        *o = bitcoin::psbt::Output::default();
    }
    let cbor = airgap_protocol::registry::encode_psbt(&trimmed.serialize());
    let mut enc = airgap_protocol::ur::UrEncoder::new("crypto-psbt", &cbor, 60)?;
    let mut frames: Vec<String> = (0..enc.fragment_count() + 2)
        .map(|_| enc.next_part())
        .collect();
    let mut stray = airgap_protocol::ur::UrEncoder::new("crypto-psbt", &[0x41, 0x00], 60)?;
    frames.insert(1, stray.next_part());
    // Cut short: its checksum fails.
    let damaged = frames[2][..frames[2].len() - 8].to_string();
    frames.insert(2, damaged);
    let r = svc.import_frames(&id, &desk.treasury, &frames)?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["request"]["state"], "finalised");
    assert_eq!(r.json["frames"]["skipped"], 2, "{}", r.json);
    svc.wait_state(&id, &desk.ana, "confirmed", || server.mine_empty())?;
    let r = svc.read(&id, "chain", &desk.ana)?;
    let txid: bitcoin::Txid = r.json["hash"].as_str().unwrap().parse()?;
    let paid = server.paid(txid, &recipient(0).script_pubkey());
    assert_eq!(paid, Amount::from_sat(300_000));
    // The same answer again changes nothing.
    let r = svc.import_frames(&id, &desk.treasury, &frames)?;
    assert_eq!(r.status, 200, "{}", r.json);
    assert_eq!(r.json["request"]["state"], "confirmed");
    let rows = svc.call("GET", "/v1/audit", Some(&desk.admin), None)?.json["rows"].clone();
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "artifact.cosigner" && r["detail"]["cosigner"] == "coldcard"));
    btc_reorg_then_confirmed_again(&server, &svc, &desk, &id, txid)?;
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// A reorg takes the confirmed transaction's block away (the transaction back in the
/// mempool, a block without it in its place): the coordinator moves the request back to
/// broadcast with an `alert.reorg` row, then confirms it again.
fn btc_reorg_then_confirmed_again(
    server: &BtcServer,
    svc: &Service,
    desk: &Desks,
    id: &str,
    txid: bitcoin::Txid,
) -> Result<()> {
    server.with(|s| {
        let at = s
            .chain
            .blocks
            .iter()
            .position(|b| b.txdata.iter().any(|t| t.compute_txid() == txid));
        s.reorg(s.chain.blocks.len() - at.expect("the transaction is in a block"));
        let pool = std::mem::take(&mut s.mempool);
        s.mine(vec![]);
        s.mempool = pool;
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    let alerted = |rows: &serde_json::Value| {
        rows.as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["action"] == "alert.reorg" && r["subject"] == id)
            .count()
    };
    loop {
        let rows = svc.call("GET", "/v1/audit", Some(&desk.admin), None)?.json["rows"].clone();
        if alerted(&rows) == 1 {
            break;
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!("no reorg alert");
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    svc.wait_state(id, &desk.ana, "confirmed", || server.mine_empty())?;
    assert_eq!(
        server.paid(txid, &recipient(0).script_pubkey()),
        Amount::from_sat(300_000)
    );
    Ok(())
}
