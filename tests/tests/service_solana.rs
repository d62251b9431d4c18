//! The coordinator service as a process, end to end on Solana (the real runtime through
//! LiteSVM): the worker builds a SOL transfer on the vault's durable nonce account, two
//! approvers sign its digest, the station signs from the exported frames, the response is
//! imported, the transaction is assembled, sent and confirmed. A second request waits for
//! the nonce account and then uses its advanced value.

use std::path::PathBuf;
use std::time::Duration;

use airgap_protocol::envelope::{PayloadSignature, Purpose};
use anyhow::{bail, Result};
use coordinator::solana::{SolBuilder, SolRpc, SolState, SolTracker, TxOptions};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::tui::rehearsal::{self, seed_key};
use solana_address::Address;
use strongroom_e2e::litesvm::LiteSvm;
use strongroom_e2e::requests::{now, round_trip, signed_request, Channel};
use strongroom_e2e::service::{coordinator_files, scratch, station_signs, Desks};
use tamper::Tamper;

#[path = "service_solana/batch.rs"]
mod batch;
#[path = "service_solana/console.rs"]
mod console;
mod tamper;

const SOL: u64 = 1_000_000_000;
const NET: &str = "solana:devnet";

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

fn addr(k: &SigningKey) -> Address {
    Address::new_from_array(k.verifying_key().to_bytes())
}

#[test]
fn solana_request_through_the_service() -> Result<()> {
    let svm = LiteSvm::start()?;
    let node = SolRpc::new(svm.rpc());
    let dir = scratch("service-sol")?;
    let r = rehearsal::station(&dir.join("rehearsal"), now()).map_err(anyhow::Error::msg)?;
    let vault = Address::new_from_array(strongroom_e2e::requests::devnet_vault(&r.keys));
    let nonce_key = seed_key("service nonce account");
    let recipient = addr(&seed_key("exchange hot wallet"));
    let mut p = rehearsal::policy()?;
    p.networks = vec![NET.into()];
    p.limits = vec![AssetLimit::new(NET, "native", 5 * SOL, 20 * SOL)];
    p.allow_list = [recipient, addr(&nonce_key)]
        .iter()
        .map(|a| Destination::new(NET, a))
        .collect();
    p.fees = vec![FeeLimit::new(NET, "1000000", 1000)];
    let mut station =
        strongroom_e2e::requests::station_of(&r, &dir, p.clone(), Default::default())?;
    svm.rpc()
        .call_raw("test_airdrop", json!([vault.to_string(), 10 * SOL]))?;

    provision_nonce(&node, &mut station, &r, &vault, &nonce_key)?;
    let b = SolBuilder { node: &node };

    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[solana]]\nname = \"devnet\"\nnetwork = \"{NET}\"\nendpoints = [\"{}\"]\n\
             nonce_accounts = [\"{}\"]\ncompute_unit_limit = 10000\ncompute_unit_price = 50000\n",
            svm.url,
            addr(&nonce_key)
        ),
    )?;
    let db = dir.join("coordinator.db");
    let (desk, svc) = Desks::serve(&exe(), &db, &chains, &key_path)?;
    // Exported as a ceremony step of this station: its ledger records the identity
    // signature with the device's log, so signing goes on.
    let descriptor = station
        .export_descriptor(&r.hsm, "vault-a", &p, now())
        .map_err(anyhow::Error::msg)?;
    svc.register_station(&desk.admin, &descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    let create = |amount: u64, key: &str| -> Result<String> {
        let body = json!({"network": NET, "asset": "native", "destination": recipient.to_string(),
            "amount": amount.to_string(), "purpose": "withdrawal"});
        let id = svc.create(&desk.treasury, &desk.risk, key, &body, "hot wallet refill")?;
        Ok(id)
    };
    let mut station_sign = |id: &str| -> Result<serde_json::Value> {
        let view = svc.approve(id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
        let req = svc.export(id, &desk.treasury)?;
        let resp = station_signs(&mut station, &r.hsm, &req)?;
        let a = svc.import(id, &desk.treasury, resp)?;
        assert_eq!(a.status, 200, "{}", a.json);
        Ok(view)
    };

    let before = node.balance(&recipient)?;
    let id = create(3 * SOL / 2, "sol-1")?;
    // The console shows the request as the station's decoders read it.
    svc.wait_envelope(&id, &desk.ana)?;
    let page = strongroom_e2e::console::detail(&svc.url, &desk.ana, &id, "solana")?;
    assert_eq!(page["errors"], json!([]), "{page}");
    let payload = page["payloads"][0].as_str().unwrap_or_default();
    assert!(payload.contains("1.5 SOL to"), "{page}");
    assert!(payload.contains("durable nonce account"), "{page}");
    assert!(
        page["pay"]
            .as_str()
            .unwrap_or_default()
            .starts_with("1.5 SOL on"),
        "{page}"
    );
    let vault_row = page["vaults"][0].as_str().unwrap_or_default();
    assert!(
        vault_row.contains("solana:devnet") && vault_row.ends_with(" SOL"),
        "{page}"
    );
    let view = station_sign(&id)?;
    assert_eq!(
        view["transaction"]["nonce_account"],
        addr(&nonce_key).to_string()
    );
    // A second request while the only nonce account is held: it waits, unbuilt.
    let id2 = create(SOL / 2, "sol-2")?;
    std::thread::sleep(Duration::from_millis(300));
    svc.wait_state(&id, &desk.ana, "confirmed", || {})?;
    assert_eq!(node.balance(&recipient)? - before, 3 * SOL / 2);
    // Then it is built on the same account's advanced nonce, and lands too.
    let view2 = station_sign(&id2)?;
    assert_eq!(
        view2["transaction"]["nonce_account"],
        addr(&nonce_key).to_string()
    );
    assert_ne!(
        view2["transaction"]["blockhash"],
        view["transaction"]["blockhash"]
    );
    svc.wait_state(&id2, &desk.ana, "confirmed", || {})?;
    assert_eq!(node.balance(&recipient)? - before, 2 * SOL);
    let a = svc.read(&id2, "chain", &desk.ana)?;
    assert_eq!(a.json["chain"], "solana");
    let a = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    assert_eq!(a.json["vaults"][0]["address"], vault.to_string());
    let signer = console::Signer {
        station: &mut station,
        hsm: &r.hsm,
    };
    console::walk(&svc, &desk, signer, &recipient)?;
    // A compromised database: a third request is approved, then its message is rewritten
    // onto another durable nonce account (the attacker's) and its envelope with it. The
    // coordinator's export refuses and records it; re-signed with the real approvals by
    // a compromised coordinator, the station refuses it.
    let id3 = create(SOL / 4, "sol-3")?;
    let t = Tamper::approved(&svc, &db, &id3, &desk.ana, &desk.ben)?;
    let attacker_nonce = addr(&seed_key("attacker nonce account"));
    let fake = coordinator::solana::NonceInfo {
        address: attacker_nonce,
        authority: vault,
        nonce: solana_hash::Hash::new_from_array([7; 32]),
    };
    let forged_tx = b.sol_transfer(
        &vault,
        &recipient,
        SOL / 4,
        &coordinator::solana::Blockhash::Nonce(fake),
        TxOptions::default(),
    )?;
    let mut unsigned: serde_json::Value = serde_json::from_str(&t.stored("unsigned")?)?;
    unsigned["message"] = json!(hex::encode(&forged_tx.message));
    unsigned["nonce_account"] = json!(attacker_nonce.to_string());
    let mut edited = t.original.clone();
    edited.payloads = vec![forged_tx.payload(NET, &vault)];
    t.rewrite(&unsigned.to_string(), &edited)?;
    t.export_refused(&svc, &desk.treasury, &desk.admin)?;
    tamper::station_refuses(&mut station, &t.forged(&edited), "a foreign nonce account")?;
    let a = svc.call("GET", "/v1/audit/verify", Some(&desk.admin), None)?;
    assert_eq!(a.json["ok"], true);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// Provisioning (a ceremony step before the service runs requests): the vault's durable
/// nonce account at `nonce_key`'s address, created by the station and the throwaway key.
fn provision_nonce(
    node: &SolRpc,
    station: &mut signer_station::station::Station,
    r: &rehearsal::Rehearsal,
    vault: &Address,
    nonce_key: &SigningKey,
) -> Result<()> {
    let b = SolBuilder { node };
    let tx = b.create_nonce_account(vault, &addr(nonce_key), TxOptions::default())?;
    let payload = tx.payload(NET, vault);
    let req = signed_request(payload, Purpose::KeyRegistration, "provision nonce");
    let identity = r.keys.identity.public_key.clone();
    let sigs = round_trip(station, &r.hsm, &identity, &req, Channel::Qr)?
        .map_err(|e| anyhow::anyhow!("station refused: {e}"))?;
    let [PayloadSignature::Solana(sigs)] = sigs.as_slice() else {
        bail!("{sigs:?}")
    };
    let mut sigs = sigs.clone();
    sigs.push((
        addr(nonce_key).to_bytes(),
        nonce_key.sign(&tx.message).to_bytes(),
    ));
    let wire = coordinator::solana::assemble(&tx, &sigs)?;
    node.send(&wire)?;
    let tracker = SolTracker::new(&tx, &wire, "confirmed");
    for _ in 0..100 {
        if matches!(tracker.poll(node)?, SolState::Landed { .. }) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    bail!("the nonce account was not provisioned")
}
