//! The vault round trip on embedded defaults, through the coordinator service: the
//! coordinator runs as a process on SQLite and loopback; two stations on MockHsm go
//! through their ceremony (custodian quorum, HSM init, keys, pinned coordinator and
//! approver keys, signed policy, descriptor shown as QR frames and registered with the
//! coordinator from those frames); then one request per chain is created through the API,
//! cleared by risk, built by the coordinator's worker, approved by two approvers'
//! signatures, exported as animated QR frames (PNG, read back by the station with frame
//! loss and camera damage) and as USB bundles, reviewed and signed at the station(s),
//! imported, finalised, broadcast and confirmed:
//!
//! - Bitcoin: a 2-of-2 vault across both stations on the regtest fixture chain (a local
//!   server speaking the Esplora API that verifies every transaction with Bitcoin Core's
//!   interpreter). Always runs.
//! - EVM: on anvil (chain id 1) when it is installed.
//! - Solana: on LiteSVM (the real runtime, PyPI `solders`) when it is installed.

mod flow;
mod frames;
mod nonce;
mod stations;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;
use airgap_protocol::envelope::*;
use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload as Scanned, ScanEvent, Scanner};
use airgap_protocol::summary::TokenList;
use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signer_station::ceremony::{export_descriptor, generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::ledger::{Ledger, Record};
use signer_station::quorum::QuorumFile;
use signer_station::station::policy::{self, AssetLimit, Destination, FeeLimit, Policy};
use signer_station::station::registration::{self, RegisteredApprover, Registration};
use signer_station::station::Station;
use usb_transfer::keyfile::{KeyPair, PublicKeys};
use usb_transfer::{open_bundle, seal_bundle, BundleKind};

use strongroom_e2e::anvil::{Anvil, FUNDER};
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::litesvm::LiteSvm;
use strongroom_e2e::service::{ur_texts, write_key, Desks, Service};

use flow::{Demo, Via};
use frames::{read_frames, scan_texts, write_frames};
use nonce::provision_nonce;
use stations::{ceremony, register_vault, regtest_key, DemoStation};

const QR_VERSION: u8 = 15;
const USB_PASSPHRASE: &str = "demo usb passphrase";

/// New USB bundle keys in `dir`, under the demo's passphrase: their public half.
fn usb_keys(dir: &Path) -> Result<PublicKeys> {
    std::fs::create_dir_all(dir)?;
    let pass = SecretString::from(USB_PASSPHRASE.to_string());
    Ok(usb_transfer::keyfile::generate(dir, pass, Some(10))?)
}
const ETHER: u128 = 1_000_000_000_000_000_000;
const SOL: u64 = 1_000_000_000;

fn seed_key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn step(who: &str, what: impl AsRef<str>) {
    println!("[{who:<11}] {}", what.as_ref());
}

fn btc_recipient() -> bitcoin::Address {
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&[2; 32]).expect("a valid key");
    let pk = bitcoin::CompressedPublicKey(sk.public_key(&bitcoin::secp256k1::Secp256k1::new()));
    bitcoin::Address::p2wpkh(&pk, bitcoin::Network::Regtest)
}
const EVM_RECIPIENT: &str = "0x5252525252525252525252525252525252525252";
fn sol_recipient() -> String {
    bs58::encode(
        seed_key("demo exchange hot wallet")
            .verifying_key()
            .to_bytes(),
    )
    .into_string()
}
fn sol_nonce_key() -> SigningKey {
    seed_key("demo durable nonce account")
}

/// What a built request does, as a sentence, from its decoded payloads: "0.25 ETH to
/// 0x…; fee at most 0.0006 ETH" (Bitcoin outputs include the change to the vault).
fn built(decoded: &Value) -> String {
    let text = |v: &Value| v.as_str().unwrap_or("?").to_string();
    let payloads: Vec<String> = decoded
        .as_array()
        .into_iter()
        .flatten()
        .map(|p| {
            let pays: Vec<String> = p["recipients"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    format!(
                        "pays {} to {}",
                        text(&r["amount"]["display"]),
                        text(&r["address"])
                    )
                })
                .collect();
            let fee = p["fee"]["display"]
                .as_str()
                .map_or(String::new(), |f| format!("; fee at most {f}"));
            format!("{}{fee}", pays.join(", "))
        })
        .collect();
    payloads.join(" | ")
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `strongroom demo`: two station ceremonies on MockHsm, the coordinator service on
/// SQLite, and one request per chain (Bitcoin 2-of-2 on a regtest fixture chain; EVM on
/// anvil and Solana on LiteSVM when installed) through QR frames and USB bundles to
/// broadcast and confirmation.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where each run writes its frames, bundles, ledgers, database and audit log.
    #[arg(long, value_name = "DIR", default_value = "strongroom-demo")]
    out: PathBuf,
    /// Leave the coordinator and its web console running afterwards.
    #[arg(long)]
    keep: bool,
}

pub fn run(args: &DemoArgs) -> Result<()> {
    let t0 = Instant::now();
    let base = args.out.clone();
    let keep = args.keep;
    let now = unix_now();
    let run = std::fs::canonicalize(std::fs::create_dir_all(&base).map(|()| &base)?)?
        .join(format!("run-{now}"));
    std::fs::create_dir_all(&run)?;
    println!("Strongroom vault round trip — stations on MockHsm, NOT A HARDWARE SECURITY MODULE (demo only)");
    println!("output: {}\n", run.display());

    // ---- chains
    let btc = BtcServer::start()?;
    step(
        "chains",
        format!(
            "bitcoin: regtest fixture chain, Esplora API at {}",
            btc.esplora()
        ),
    );
    let anvil = match Anvil::start(1) {
        Ok(a) => {
            step("chains", format!("evm: anvil (chain id 1) at {}", a.url));
            Some(a)
        }
        Err(e) => {
            step("chains", format!("evm: SKIPPED — {e}"));
            None
        }
    };
    let svm = match LiteSvm::start() {
        Ok(s) => {
            step(
                "chains",
                format!("solana: LiteSVM (the real runtime) at {}", s.url),
            );
            Some(s)
        }
        Err(e) => {
            step(
                "chains",
                format!(
                    "solana: SKIPPED — LiteSVM unavailable ({e}); `bash scripts/demo.sh` installs it (PyPI solders 0.29.0)"
                ),
            );
            None
        }
    };

    // ---- stations
    let coordinator = seed_key("demo coordinator request key");
    let mut a = ceremony(&run, "vault-a", &coordinator, now)?;
    let mut b = ceremony(&run, "vault-b", &coordinator, now)?;

    // ---- coordinator service
    let exe = std::env::current_exe()?;
    let db = run.join("coordinator.db");
    let key_path = run.join("coordinator.key");
    write_key(&key_path, &coordinator)?;
    let coord_usb_dir = run.join("coordinator-usb-keys");
    let coordinator_usb = usb_keys(&coord_usb_dir)?;
    let mut chains = format!(
        "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 2\n\
         stations = [\"vault-a\", \"vault-b\"]\nconfirmations = 2\nmax_fee_rate = 50\n",
        btc.esplora()
    );
    if let Some(an) = &anvil {
        chains.push_str(&format!(
            "\n[[evm]]\nname = \"anvil\"\nchain_id = 1\nendpoints = [\"{}\"]\nconfirmations = 2\n\
             max_fee_per_gas_cap = 200000000000\nmax_priority_fee_cap = 5000000000\n\
             min_priority_fee = 1000000000\nstation = \"vault-a\"\n",
            an.url
        ));
    }
    if let Some(s) = &svm {
        chains.push_str(&format!(
            "\n[[solana]]\nname = \"devnet\"\nnetwork = \"solana:devnet\"\nendpoints = [\"{}\"]\n\
             nonce_accounts = [\"{}\"]\nstation = \"vault-a\"\ncompute_unit_limit = 10000\ncompute_unit_price = 50000\n",
            s.url,
            bs58::encode(sol_nonce_key().verifying_key().to_bytes()).into_string()
        ));
    }
    std::fs::write(run.join("chains.toml"), &chains)?;
    let tokens = Desks::add(&exe, &db)?;
    let admin = tokens.admin.clone();
    let svc = Service::start_logged(
        &exe,
        &db,
        &[
            "--chains".into(),
            run.join("chains.toml").display().to_string(),
            "--key".into(),
            key_path.display().to_string(),
            "--usb-keys".into(),
            coord_usb_dir.display().to_string(),
            "--approvals".into(),
            "2".into(),
            "--allow-mock-hsm".into(),
            "--poll-ms".into(),
            "200".into(),
        ],
        &[("STRONGROOM_USB_PASSPHRASE", USB_PASSPHRASE)],
        Some(&run.join("coordinator.log")),
    )?;
    step(
        "coordinator",
        format!(
            "serving on SQLite {} — web console {}/console (auditor token {}; with --keep, a token per role at the end)",
            db.display(),
            svc.url,
            tokens.auditor
        ),
    );
    let mut demo = Demo {
        svc,
        run: run.clone(),
        coordinator_usb,
        tokens,
        seed: 1,
    };

    // ---- registration: descriptors from the stations' frames, approver keys
    for s in [&a, &b] {
        let (env, shown, lost) = read_frames(&s.dir.join("descriptor-frames"), 7)?;
        let Envelope::Descriptor(d) = env else {
            bail!("not a descriptor")
        };
        let frames = ur_texts(&Envelope::Descriptor(d));
        let r = demo.ok(
            "POST",
            "/v1/stations",
            &admin,
            Some(&json!({"frames": frames, "usb_keys": s.usb_pub.to_text()})),
        )?;
        step("coordinator", format!("station {} registered from its descriptor frames ({shown} shown, {lost} lost); identity {}", s.name, &r["identity"].as_str().unwrap_or("?")[..16]));
        if s.descriptor.mock_hsm {
            step(
                "coordinator",
                format!(
                    "WARNING: {} runs on MockHsm — never fund it outside a demo",
                    s.name
                ),
            );
        }
    }
    // The approvers' keys as their tool keeps them; its records are what the admin posts.
    demo.svc.register_approvers(&admin, &["ana", "ben"])?;
    step(
        "coordinator",
        "approver keys of ana and ben registered from their tool's records",
    );

    // ---- Bitcoin: 2-of-2 across both stations; vault-a by QR, vault-b by USB
    let vault = coordinator::bitcoin::Vault::multisig(
        "cold",
        2,
        &[
            bitcoin::PublicKey::from_slice(&regtest_key(&a.keys)?.public_key)?,
            bitcoin::PublicKey::from_slice(&regtest_key(&b.keys)?.public_key)?,
        ],
        bitcoin::Network::Regtest,
    )?;
    // Each station's custodians compare the vault with their screen and register it in
    // their signed policy: only then do they sign its coins or recognise its change.
    for s in [&mut a, &mut b] {
        register_vault(s, "cold", &vault.descriptor, now)?;
    }
    let spk = vault.address().script_pubkey();
    btc.with(|s| {
        // Twenty coins: the payout spends several, so its request is long enough for
        // the camera's losses to show.
        let tx = s.chain.funding(
            (0..20)
                .map(|_| bitcoin::TxOut {
                    value: bitcoin::Amount::from_sat(100_000),
                    script_pubkey: spk.clone(),
                })
                .collect(),
        );
        s.mine(vec![tx]);
    });
    step(
        "chains",
        format!(
            "bitcoin: vault {} funded with 20 coins of 0.001 BTC",
            vault.address()
        ),
    );
    let id = demo.create(
        "regtest",
        &btc_recipient().to_string(),
        "600000",
        "demo-btc",
    )?;
    demo.sign("bitcoin", &id, &mut [(&mut a, Via::Qr), (&mut b, Via::Usb)])?;
    demo.confirmed("bitcoin", &id, || {
        btc.with(|s| {
            s.mine(vec![]);
        })
    })?;

    // ---- EVM on anvil
    if let Some(an) = &anvil {
        let vault = coordinator::evm::vault_address(&a.keys.evm.public_key).context("evm key")?;
        an.send_from(
            FUNDER,
            Some(vault),
            alloy_primitives::U256::from(5 * ETHER),
            &[],
        )?;
        step(
            "chains",
            format!("evm: vault {} funded with 5 ETH", vault.to_checksum(None)),
        );
        let id = demo.create("evm:1", EVM_RECIPIENT, &(ETHER / 4).to_string(), "demo-evm")?;
        demo.sign("evm", &id, &mut [(&mut a, Via::Qr)])?;
        demo.confirmed("evm", &id, || {
            let _ = an.mine(1);
        })?;
    }

    // ---- Solana on LiteSVM: the nonce account is provisioned first (a ceremony step,
    // signed by the station outside the request queue), then a SOL transfer by USB.
    if let Some(s) = &svm {
        let node = coordinator::solana::SolRpc::new(s.rpc());
        let vault_key: [u8; 32] = a
            .keys
            .solana(airgap_protocol::network::SolanaCluster::Devnet)
            .and_then(|k| k.public_key.as_slice().try_into().ok())
            .context("no solana:devnet key")?;
        let vault = solana_address::Address::new_from_array(vault_key);
        s.rpc()
            .call_raw("test_airdrop", json!([vault.to_string(), 10 * SOL]))?;
        provision_nonce(&node, &mut a, &coordinator, vault)?;
        let id = demo.create(
            "solana:devnet",
            &sol_recipient(),
            &(3 * SOL / 2).to_string(),
            "demo-sol",
        )?;
        demo.sign("solana", &id, &mut [(&mut a, Via::Usb)])?;
        demo.confirmed("solana", &id, || {})?;
    }

    // ---- the record
    let audit = demo.ok("GET", "/v1/audit", &demo.tokens.auditor, None)?;
    std::fs::write(
        run.join("audit.json"),
        serde_json::to_string_pretty(&audit["rows"])?,
    )?;
    let v = demo.ok("GET", "/v1/audit/verify", &demo.tokens.auditor, None)?;
    step(
        "coordinator",
        format!(
            "audit chain: {} rows, intact: {} → {}",
            v["rows"],
            v["ok"],
            run.join("audit.json").display()
        ),
    );
    println!(
        "\ndone in {:.1} s. Frames and USB bundles: {}/<chain>/, station ledgers: {}/vault-*/ledger.jsonl, coordinator database: {}, log: {}",
        t0.elapsed().as_secs_f64(),
        run.display(),
        run.display(),
        db.display(),
        run.join("coordinator.log").display(),
    );
    if keep {
        let t = &demo.tokens;
        println!(
            "\ncoordinator still running at {}/console. Tokens of this run's database, one per role:",
            demo.svc.url
        );
        for (role, token) in [
            ("treasury (create, export, import)", &t.treasury),
            ("risk (manual review)", &t.risk),
            ("approver ana", &t.ana),
            ("approver ben", &t.ben),
            ("auditor", &t.auditor),
            ("warm-tier", &t.warm),
            ("admin", &t.admin),
        ] {
            println!("  {role:<36} {token}");
        }
        wait_to_stop()?;
    }
    Ok(())
}

/// Until Enter (on a terminal), Ctrl-C or SIGTERM.
fn wait_to_stop() -> Result<()> {
    use std::io::IsTerminal;
    let on_terminal = std::io::stdin().is_terminal();
    println!(
        "{}",
        if on_terminal {
            "press Enter (or Ctrl-C) to stop"
        } else {
            "stop it with Ctrl-C or SIGTERM"
        }
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        let enter = async {
            if on_terminal {
                let _ = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().read_line(&mut line)
                })
                .await;
            } else {
                std::future::pending::<()>().await;
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            () = enter => {}
        }
        println!("stopping the coordinator");
        Ok(())
    })
}
