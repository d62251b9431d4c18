//! The balance watch: a warm wallet on an EVM devnet (anvil) falls under its low
//! watermark; the coordinator drafts one refill from the vault up to the high watermark,
//! raises an alert, never drafts a second while it is open, and the refill goes through
//! approvals, the station and the chain like any other request.

#[path = "service_treasury/tokens.rs"]
mod tokens;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use airgap_protocol::envelope::Envelope;
use alloy_primitives::{Address, U256};
use anyhow::{bail, Result};
use signer_station::ceremony::export_descriptor;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::tui::rehearsal;
use strongroom_e2e::anvil::Anvil;
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::requests::now;
use strongroom_e2e::service::{
    coordinator_files, scratch, serve_args, station_signs, ur_texts, Desks, Service,
};

const WARM: Address = Address::new([0x77; 20]);

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

/// Risk rules for refills of `asset` to the warm wallet on `evm:1`, limited per
/// transaction and per day.
fn warm_risk(
    dir: &std::path::Path,
    asset: &str,
    (per_tx, per_day): (u128, u128),
) -> Result<PathBuf> {
    let risk = dir.join("risk.toml");
    std::fs::write(
        &risk,
        format!(
            "[[warm_addresses]]\nnetwork = \"evm:1\"\naddress = \"{}\"\n\n[[limits]]\nnetwork = \"evm:1\"\n\
             asset = \"{asset}\"\nper_transaction = \"{per_tx}\"\nper_day = \"{per_day}\"\n",
            WARM.to_checksum(None),
        ),
    )?;
    Ok(risk)
}

/// The requests the balance watch drafted.
fn drafted(svc: &Service, token: &str) -> Result<Vec<serde_json::Value>> {
    let a = svc.call(
        "GET",
        "/v1/requests?principal=treasury-automation",
        Some(token),
        None,
    )?;
    Ok(a.json["requests"].as_array().cloned().unwrap_or_default())
}

/// Waits (20 s at most) for the watch's first refill; the coordinator's log otherwise.
fn first_refill(svc: &Service, token: &str, log: &std::path::Path) -> Result<serde_json::Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(r) = drafted(svc, token)?.into_iter().next() {
            return Ok(r);
        }
        if Instant::now() > deadline {
            bail!("no refill drafted: {}", std::fs::read_to_string(log)?);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn low_warm_balance_drafts_one_refill_that_lands() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("treasury")?;
    let EvmVault {
        rehearsal: r,
        mut station,
        descriptor,
        vault: _,
        node,
        key: key_path,
        chains,
        ..
    } = EvmVault::new(&anvil, &dir, WARM, 5 * ETHER)?;
    assert_eq!(node.balance(WARM)?, U256::ZERO);

    // The treasury watch on the warm wallet, beside the chain.
    let mut file = std::fs::OpenOptions::new().append(true).open(&chains)?;
    std::io::Write::write_all(
        &mut file,
        format!(
            "\n[[watch]]\nnetwork = \"evm:1\"\naddress = \"{}\"\nlow = \"{}\"\nhigh = \"{}\"\nevery_secs = 1\n",
            WARM.to_checksum(None),
            ETHER,
            3 * ETHER
        )
        .as_bytes(),
    )?;
    let risk = warm_risk(&dir, "native", (5 * ETHER, 20 * ETHER))?;
    let db = dir.join("coordinator.db");
    let desk = Desks::add(&exe(), &db)?;
    let args = serve_args(
        &chains,
        &key_path,
        &["--risk", risk.to_str().unwrap(), "--metrics-vault-balances"],
    );
    let svc = Service::start_logged(&exe(), &db, &args, &[], Some(&dir.join("coordinator.log")))?;
    svc.register_station(&desk.admin, &descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    // The watch drafts a refill of 3 ETH (0 → high) and raises an alert.
    let refill = first_refill(&svc, &desk.ana, &dir.join("coordinator.log"))?;
    assert_eq!(refill["body"]["purpose"], "refill");
    assert_eq!(refill["body"]["amount"], (3 * ETHER).to_string());
    assert_eq!(refill["body"]["destination"], WARM.to_checksum(None));
    assert_eq!(
        refill["state"], "awaiting-approvals",
        "a registered warm address passes risk"
    );
    let id = refill["id"].as_str().unwrap().to_string();
    let rows = svc.call("GET", "/v1/audit", Some(&desk.admin), None)?.json["rows"].clone();
    assert!(rows
        .as_array()
        .unwrap()
        .iter()
        .any(|r| r["action"] == "alert.low-balance" && r["detail"]["refill"] == id.as_str()));
    let m = svc.call("GET", "/metrics", None, None)?;
    let text = String::from_utf8_lossy(&m.bytes);
    assert!(text.contains("strongroom_refills_drafted_total 1"));
    // The vault's balance gauge, as the worker read it from the chain once the station
    // was registered: 10 ether.
    let deadline = Instant::now() + Duration::from_secs(20);
    let gauge = loop {
        let m = svc.call("GET", "/metrics", None, None)?;
        let text = String::from_utf8_lossy(&m.bytes).into_owned();
        if let Some(l) = text
            .lines()
            .find(|l| l.starts_with("strongroom_vault_balance{") && l.contains("network=\"evm:1\""))
        {
            break l.to_string();
        }
        if Instant::now() > deadline {
            bail!("no vault balance gauge in {text}");
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(gauge.contains("unit=\"wei\""), "{gauge}");
    let wei: f64 = gauge.rsplit(' ').next().unwrap_or_default().parse()?;
    assert_eq!(wei, (10 * ETHER) as f64, "{gauge}");
    // Several more checks while it is open: no second refill.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        drafted(&svc, &desk.ana)?.len(),
        1,
        "one open refill at a time"
    );

    // It goes through approvals, the station and the chain like any other request.
    let _view = svc.wait_envelope(&id, &desk.ana)?;
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(&id, &desk.treasury)?;
    let resp = station_signs(&mut station, &r.hsm, &req)?;
    let frames = ur_texts(&Envelope::Response(resp));
    let a = svc.import_frames(&id, &desk.treasury, &frames)?;
    assert_eq!(a.status, 200, "{}", a.json);
    svc.wait_state(&id, &desk.ana, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    assert_eq!(node.balance(WARM)?, U256::from(3 * ETHER));
    // Above the low watermark now: nothing more is drafted.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(drafted(&svc, &desk.ana)?.len(), 1);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The same on Bitcoin: the warm wallet is a descriptor (its coins on any of its
/// addresses count), watched block by block through the vault's Esplora source; under
/// the low watermark one refill to its address is drafted, signed by the station, and
/// once it is confirmed the watch sees the wallet back at the high watermark.
#[test]
fn low_bitcoin_warm_balance_drafts_one_refill_that_lands() -> Result<()> {
    use bitcoin::{Amount, Network, TxOut};
    let server = strongroom_e2e::btcserver::BtcServer::start()?;
    let dir = scratch("treasury-btc")?;
    // The warm wallet: BIP-84 account of another seed; its refill address is index 0.
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let master = bitcoin::bip32::Xpriv::new_master(bitcoin::NetworkKind::Test, &[5u8; 32])?;
    let path: bitcoin::bip32::DerivationPath = "m/84'/1'/0'".parse()?;
    let tpub = bitcoin::bip32::Xpub::from_priv(&secp, &master.derive_priv(&secp, &path)?);
    let descriptor = format!("wpkh({tpub}/0/*)");
    let pool = coordinator::bitcoin::DepositPool::new(&tpub.to_string(), Network::Regtest)?;
    let warm = pool.peek(0);

    let r = rehearsal::station(&dir.join("rehearsal"), now()).map_err(anyhow::Error::msg)?;
    let mut p = rehearsal::policy()?;
    p.networks = vec!["regtest".into()];
    p.limits = vec![AssetLimit::new("regtest", "native", "5000000", "50000000")];
    p.allow_list = vec![Destination::new("regtest", &warm)];
    p.fees = vec![FeeLimit::new("regtest", "200000", 1000)];
    let mut station =
        strongroom_e2e::requests::station_of(&r, &dir, p.clone(), Default::default())?;
    let station_descriptor = export_descriptor(&r.hsm, &r.keys, "vault-a", &p, now())?;
    let key = bitcoin::PublicKey::from_slice(
        &r.keys
            .bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
            .expect("regtest key")
            .public_key,
    )?;
    let vault = coordinator::bitcoin::Vault::single("cold", &key, Network::Regtest)?;
    // The vault holds 0.01 BTC; the warm wallet 30,000 sat on its address 3 (not the
    // refill address: the whole descriptor is watched).
    server.fund(vec![
        TxOut {
            value: Amount::from_sat(1_000_000),
            script_pubkey: vault.address().script_pubkey(),
        },
        TxOut {
            value: Amount::from_sat(30_000),
            script_pubkey: pool.peek(3).script_pubkey(),
        },
    ]);

    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 1\n\
             stations = [\"vault-a\"]\nconfirmations = 2\nmax_fee_rate = 50\n\n\
             [[watch]]\nnetwork = \"regtest\"\naddress = \"{warm}\"\ndescriptor = \"{descriptor}\"\n\
             low = \"100000\"\nhigh = \"400000\"\nevery_secs = 1\n",
            server.esplora()
        ),
    )?;
    let risk = dir.join("risk.toml");
    std::fs::write(
        &risk,
        format!(
            "[[warm_addresses]]\nnetwork = \"regtest\"\naddress = \"{warm}\"\n\n[[limits]]\nnetwork = \"regtest\"\n\
             asset = \"native\"\nper_transaction = \"5000000\"\nper_day = \"50000000\"\n"
        ),
    )?;
    let db = dir.join("coordinator.db");
    let desk = Desks::add(&exe(), &db)?;
    let args = serve_args(&chains, &key_path, &["--risk", risk.to_str().unwrap()]);
    let log = dir.join("coordinator.log");
    let svc = Service::start_logged(&exe(), &db, &args, &[], Some(&log))?;
    svc.register_station(&desk.admin, &station_descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    let refill = first_refill(&svc, &desk.ana, &log)?;
    assert_eq!(refill["body"]["purpose"], "refill");
    assert_eq!(
        refill["body"]["amount"], "370000",
        "400,000 less the 30,000 on address 3"
    );
    assert_eq!(refill["body"]["destination"], warm.to_string());
    assert_eq!(refill["state"], "awaiting-approvals", "{refill}");
    let id = refill["id"].as_str().unwrap().to_string();
    let rows = svc.call("GET", "/v1/audit", Some(&desk.admin), None)?.json["rows"].clone();
    let alert = rows
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["action"] == "alert.low-balance")
        .expect("an alert in the audit chain");
    assert_eq!(alert["detail"]["balance"], "30000");
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(
        drafted(&svc, &desk.ana)?.len(),
        1,
        "one open refill at a time"
    );
    // Without --metrics-vault-balances, /metrics (no token) publishes no balance.
    let m = svc.call("GET", "/metrics", None, None)?;
    let text = String::from_utf8_lossy(&m.bytes);
    assert!(
        text.contains("# TYPE strongroom_vault_balance gauge"),
        "{text}"
    );
    assert!(!text.contains("strongroom_vault_balance{"), "{text}");

    let _view = svc.wait_envelope(&id, &desk.ana)?;
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(&id, &desk.treasury)?;
    let resp = station_signs(&mut station, &r.hsm, &req)?;
    let a = svc.import(&id, &desk.treasury, resp)?;
    assert_eq!(a.status, 200, "{}", a.json);
    // The server verifies the broadcast with Bitcoin Core's interpreter.
    svc.wait_state(&id, &desk.ana, "confirmed", || server.mine_empty())?;
    let landed = server.with(|s| {
        s.chain
            .outputs
            .values()
            .filter(|out| out.script_pubkey == warm.script_pubkey())
            .map(|out| out.value.to_sat())
            .sum::<u64>()
    });
    assert_eq!(landed, 370_000);
    // Back at the high watermark: the next checks draft nothing.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(drafted(&svc, &desk.ana)?.len(), 1);
    let said = std::fs::read_to_string(&log)?;
    assert!(
        !said.contains(&format!("watch {warm} on regtest:")),
        "every check read the balance: {said}"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
