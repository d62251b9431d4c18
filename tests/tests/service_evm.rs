//! The coordinator service as a process, end to end on an EVM devnet (anvil): a
//! request is created over the API, cleared by risk, built by the pipeline, approved
//! by two approvers' signatures over its digest, exported as QR frames (PNG from the
//! API, read from their pixels by a MockHsm station), signed, imported as frames,
//! finalised, broadcast and confirmed.
//!
//! Crash-resume: the coordinator is killed (aborted by fault injection) right after the
//! final transaction is stored and before it is broadcast; after a restart the worker
//! broadcasts it, and the transfer happens exactly once.

#[path = "service_evm/console.rs"]
mod console;
#[path = "service_evm/reorg.rs"]
mod reorg;
#[path = "service_evm/replace.rs"]
mod replace;
mod tamper;
#[path = "service_evm/webhooks.rs"]
mod webhooks;

use std::path::PathBuf;

use airgap_protocol::envelope::{decode_envelope, encode_envelope, Envelope, REQUEST_UR_TYPE};
use alloy_primitives::{Address, U256};
use anyhow::{bail, Result};
use console::console_checks;
use serde_json::json;
use strongroom_e2e::anvil::Anvil;
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::requests::now;
use strongroom_e2e::service::{scratch, serve_args, station_signs, ur_texts, Desks, Service};
use tamper::Tamper;

const RECIPIENT: Address = Address::new([0x52; 20]);

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

/// Reads PNG frames until the scanner completes the stream: the envelope they carry.
fn read_pngs(pngs: impl Iterator<Item = Vec<u8>>) -> Result<Envelope> {
    let (ur_type, message, _) =
        strongroom_e2e::qr::scan_pngs(pngs.map(Ok::<_, std::convert::Infallible>))?;
    Ok(decode_envelope(&ur_type, &message)?)
}

#[test]
fn evm_request_through_the_service_survives_a_crash_before_broadcast() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("service-evm")?;

    // The station (MockHsm) and its vault, funded on the devnet; the coordinator's
    // request key (the one the station's policy trusts) and the chain.
    let EvmVault {
        rehearsal: r,
        mut station,
        descriptor,
        vault,
        node,
        key: key_path,
        chains,
        ..
    } = EvmVault::new(&anvil, &dir, RECIPIENT, 5 * ETHER)?;
    // USB bundle keys on both sides (passphrase-encrypted key files).
    let pass = "vault room passphrase";
    let secret = |p: &str| age::secrecy::SecretString::from(p.to_string());
    std::fs::create_dir_all(dir.join("coord-usb"))?;
    std::fs::create_dir_all(dir.join("station-usb"))?;
    let coord_pub = usb_transfer::keyfile::generate(&dir.join("coord-usb"), secret(pass), Some(2))?;
    let station_pub =
        usb_transfer::keyfile::generate(&dir.join("station-usb"), secret(pass), Some(2))?;
    let station_usb = usb_transfer::keyfile::load(&dir.join("station-usb"), secret(pass))?;
    let db = dir.join("coordinator.db");
    let t = Desks::add(&exe(), &db)?;
    let args = |crash: bool| {
        let mut a = serve_args(
            &chains,
            &key_path,
            &["--usb-keys", dir.join("coord-usb").to_str().unwrap()],
        );
        if crash {
            a.extend(["--fault-crash-after".to_string(), "finalised".to_string()]);
        }
        a
    };
    let env = [("STRONGROOM_USB_PASSPHRASE", pass)];
    let svc = Service::start_with_env(&exe(), &db, &args(true), &env)?;

    // Installation: the station (from the frames its ceremony screen shows) and the
    // approvers' keys.
    let frames = ur_texts(&Envelope::Descriptor(descriptor));
    let a = svc.call(
        "POST",
        "/v1/stations",
        Some(&t.treasury),
        Some(&json!({"frames": frames})),
    )?;
    assert_eq!(a.status, 403, "only admin registers stations");
    let a = svc.call(
        "POST",
        "/v1/stations",
        Some(&t.admin),
        Some(&json!({"frames": frames, "usb_keys": station_pub.to_text()})),
    )?;
    assert_eq!(a.status, 201, "{}", a.json);
    let a = svc.call("GET", "/v1/stations", Some(&t.auditor), None)?;
    assert_eq!(
        a.json["stations"][0]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["chain"] == "evm")
            .unwrap()["address"],
        vault.to_checksum(None)
    );
    svc.register_approvers(&t.admin, &["ana", "ben"])?;

    // The request: 0.25 ETH to the allow-listed recipient.
    let amount = ETHER / 4;
    let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
        "amount": amount.to_string(), "purpose": "withdrawal", "memo": "exchange withdrawal 4711"});
    let id = svc.create(
        &t.treasury,
        &t.risk,
        "w-4711",
        &body,
        "known customer, first payout",
    )?;

    // The worker builds it; approvers read it with their own tool and approve it.
    let view = svc.wait_envelope(&id, &t.ana)?;
    assert_eq!(view["transaction"]["nonce"], 0, "{view}");
    // Export before the approvals: refused.
    let a = svc.step(&id, "export", &t.treasury, None)?;
    assert_eq!(a.status, 409, "{}", a.json);
    // The tool shows the request from its bytes; an approver who does not type
    // `approve` signs nothing.
    let (ok, said) = svc.approver("ana", &t.ana, &id, "no")?;
    assert!(!ok && said.contains("nothing was signed"), "{said}");
    assert!(said.contains("PAYS 0.25 ETH"), "{said}");
    assert!(said.contains("to 0x"), "{said}");
    // Ben's key under ana's name is refused and changes nothing; so is a non-approver.
    let (ok, said) = svc.approver("ben", &t.ana, &id, "approve")?;
    assert!(!ok && said.contains("422"), "{said}");
    let (ok, said) = svc.approver("ana", &t.treasury, &id, "approve")?;
    assert!(!ok && said.contains("403"), "{said}");
    svc.approve(&id, &[("ana", &t.ana), ("ben", &t.ben)])?;
    let a = svc.read(&id, "", &t.ana)?;
    assert_eq!(a.json["request"]["state"], "approved");

    // Export: frames as PNG from the API, read from their pixels by the station.
    let a = svc.step(&id, "export", &t.treasury, None)?;
    assert_eq!(a.status, 200, "{}", a.json);
    let shown = a.json["frames"].as_array().unwrap().len();
    let pngs = (0..shown).map(|n| {
        let a = svc
            .call(
                "GET",
                &format!("/v1/requests/{id}/export/frames/{n}"),
                Some(&t.treasury),
                None,
            )
            .unwrap();
        assert_eq!(a.status, 200);
        a.bytes
    });
    let Envelope::Request(req) = read_pngs(pngs)? else {
        bail!("not a request")
    };
    // For standard signers: an eth-sign-request, read by the Keystone registry.
    let read = strongroom_e2e::wallets::check_standard(&svc, &id, &t.ana, &req)?;
    assert_eq!(read, ["eth-sign-request"]);
    let resp = station_signs(&mut station, &r.hsm, &req)?;

    // Import: the coordinator aborts right after storing the final transaction.
    let frames = ur_texts(&Envelope::Response(resp));
    let imported = svc.step(&id, "import", &t.treasury, Some(&json!({"frames": frames})));
    assert!(
        imported.is_err(),
        "the injected crash cut the answer: {imported:?}"
    );
    let status = svc.wait_exit()?;
    assert!(!status.success());
    {
        use coordinator::store::Store;
        let store = coordinator::store::Sqlite::open(&db)?;
        assert_eq!(
            store.get(&id)?.unwrap().state,
            coordinator::lifecycle::State::Finalised
        );
    }
    assert_eq!(
        node.nonce(vault, "latest")?,
        0,
        "nothing was broadcast before the crash"
    );
    let before = node.balance(RECIPIENT)?;

    // Restart: the worker broadcasts and follows it to two confirmations.
    let svc = Service::start_with_env(&exe(), &db, &args(false), &env)?;
    svc.wait_state(&id, &t.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    assert_eq!(
        node.nonce(vault, "latest")?,
        1,
        "exactly one transaction from the vault"
    );
    assert_eq!(node.balance(RECIPIENT)? - before, U256::from(amount));
    // Importing the same response again changes nothing.
    let a = svc.step(&id, "import", &t.treasury, Some(&json!({"frames": frames})))?;
    assert_eq!(a.status, 200, "{}", a.json);
    assert_eq!(a.json["request"]["state"], "confirmed");
    let a = svc.read(&id, "chain", &t.auditor)?;
    assert_eq!(a.json["state"], "confirmed");

    // The audit chain: intact, one broadcast, the station's ledger beside its response.
    let a = svc.call("GET", "/v1/audit/verify", Some(&t.auditor), None)?;
    assert_eq!(a.json["ok"], true, "{}", a.json);
    let rows = svc.call("GET", "/v1/audit", Some(&t.auditor), None)?.json["rows"].clone();
    let rows = rows.as_array().unwrap();
    let of = |action: &str| {
        rows.iter()
            .filter(|r| r["subject"] == id.as_str() && r["action"] == action)
            .count()
    };
    let broadcasts = strongroom_e2e::service::moves_to(rows, &id, "broadcast");
    assert_eq!(broadcasts, 1, "{rows:#?}");
    assert_eq!(of("artifact.approval"), 2);
    assert_eq!(of("artifact.export"), 1);
    let resp_row = rows
        .iter()
        .find(|r| r["subject"] == id.as_str() && r["action"] == "artifact.response")
        .unwrap();
    assert!(!resp_row["detail"]["station_ledger"]
        .as_array()
        .unwrap()
        .is_empty());

    // A second request, carried both ways as USB bundles.
    let amount2 = ETHER / 2;
    let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
        "amount": amount2.to_string(), "purpose": "withdrawal"});
    let id2 = svc.create(&t.treasury, &t.risk, "w-4712", &body, "second payout")?;
    let view = svc.wait_envelope(&id2, &t.ben)?;
    let view2_digest = view["digest"].as_str().unwrap().to_string();
    assert_eq!(view["transaction"]["nonce"], 1, "the next nonce: {view}");
    svc.approve(&id2, &[("ana", &t.ana), ("ben", &t.ben)])?;
    let a = svc.step(&id2, "export", &t.treasury, None)?;
    assert_eq!(a.status, 200, "{}", a.json);
    let a = svc.read(&id2, "export/bundle?station=vault-a", &t.treasury)?;
    assert_eq!(a.status, 200);
    let opened = usb_transfer::open_bundle(&a.bytes, &station_usb.identity, &[coord_pub.ed25519])?;
    let Envelope::Request(req) = decode_envelope(REQUEST_UR_TYPE, &opened.envelope)? else {
        bail!("not a request")
    };
    let resp = station_signs(&mut station, &r.hsm, &req)?;
    let (_, message) = encode_envelope(&Envelope::Response(resp));
    let sealed = usb_transfer::seal_bundle(
        usb_transfer::BundleKind::Response,
        &message,
        &coord_pub.x25519,
        &station_usb.signing,
        now(),
    )?;
    // A bit flipped on the stick, or a bundle signed by someone else: refused, nothing changes.
    let audit_len = || -> Result<usize> {
        Ok(
            svc.call("GET", "/v1/audit", Some(&t.auditor), None)?.json["rows"]
                .as_array()
                .map_or(0, Vec::len),
        )
    };
    let audit_before = audit_len()?;
    let mut flipped = sealed.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 1;
    let a = svc.post_bytes(
        &format!("/v1/requests/{id2}/import"),
        &t.treasury,
        "application/octet-stream",
        &flipped,
    )?;
    assert_eq!(a.status, 400, "{}", a.json);
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let forged = usb_transfer::seal_bundle(
        usb_transfer::BundleKind::Response,
        &message,
        &coord_pub.x25519,
        &stranger,
        now(),
    )?;
    let a = svc.post_bytes(
        &format!("/v1/requests/{id2}/import"),
        &t.treasury,
        "application/octet-stream",
        &forged,
    )?;
    assert_eq!(a.status, 400, "{}", a.json);
    // The response for request 2 offered to request 1: refused.
    let a = svc.post_bytes(
        &format!("/v1/requests/{id}/import"),
        &t.treasury,
        "application/octet-stream",
        &sealed,
    )?;
    assert_eq!(a.status, 422, "{}", a.json);
    assert_eq!(audit_before, audit_len()?, "refused imports record nothing");
    let a = svc.post_bytes(
        &format!("/v1/requests/{id2}/import"),
        &t.treasury,
        "application/octet-stream",
        &sealed,
    )?;
    assert_eq!(a.status, 200, "{}", a.json);
    let before2 = node.balance(RECIPIENT)?;
    svc.wait_state(&id2, &t.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    assert_eq!(node.nonce(vault, "latest")?, 2);
    assert_eq!(node.balance(RECIPIENT)? - before2, U256::from(amount2));

    // A compromised database: request 3 is approved, then its stored transaction and
    // envelope are rewritten to pay someone else. The coordinator's export re-checks
    // the approvals, refuses and records it; a coordinator whose code and key are also
    // in the attacker's hands gets past that, and the station refuses every variant
    // (destination, amount, chain id, nonce, fee), because the approvers signed another
    // digest.
    let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
        "amount": (ETHER / 10).to_string(), "purpose": "withdrawal"});
    let id3 = svc.create(&t.treasury, &t.risk, "w-4713", &body, "third payout")?;
    let tamper = Tamper::approved(&svc, &db, &id3, &t.ana, &t.ben)?;
    let tx: coordinator::evm::UnsignedEvmTx = serde_json::from_str(&tamper.stored("unsigned")?)?;
    let original = tamper.original.clone();
    let config = |chain_id| coordinator::evm::ChainConfig {
        name: "anvil".into(),
        chain_id,
        endpoints: vec![anvil.url.clone()],
        tokens: vec![],
        confirmations: 2,
        legacy: false,
        max_fee_per_gas_cap: u128::MAX,
        max_priority_fee_cap: u128::MAX,
        min_priority_fee: 0,
        gas_margin_percent: 20,
        station: None,
    };
    let attacker = Address::new([0x66; 20]);
    let transfer = |to, amount: u128| coordinator::evm::Transfer {
        from: vault,
        to,
        asset: coordinator::evm::Asset::Native,
        amount: U256::from(amount),
    };
    let build = |chain_id, t: coordinator::evm::Transfer, nonce, fees| {
        let c = config(chain_id);
        coordinator::evm::Builder {
            config: &c,
            node: &node,
        }
        .build_with(&t, nonce, fees)
    };
    let coordinator::evm::Fees::Eip1559 {
        max_fee_per_gas,
        max_priority_fee_per_gas,
    } = tx.fees
    else {
        bail!("type 2 expected")
    };
    let variants = [
        (
            "destination",
            build(1, transfer(attacker, ETHER / 10), tx.nonce, tx.fees)?,
        ),
        (
            "amount",
            build(1, transfer(RECIPIENT, 4 * ETHER), tx.nonce, tx.fees)?,
        ),
        (
            "chain id",
            build(56, transfer(RECIPIENT, ETHER / 10), tx.nonce, tx.fees)?,
        ),
        (
            "nonce",
            build(1, transfer(RECIPIENT, ETHER / 10), tx.nonce + 7, tx.fees)?,
        ),
        (
            "fee",
            build(
                1,
                transfer(RECIPIENT, ETHER / 10),
                tx.nonce,
                coordinator::evm::Fees::Eip1559 {
                    max_fee_per_gas: max_fee_per_gas * 40,
                    max_priority_fee_per_gas: max_priority_fee_per_gas * 40,
                },
            )?,
        ),
    ];
    // The database edit: transaction and envelope rewritten consistently.
    let mut edited = original.clone();
    edited.payloads = vec![variants[0].1.payload()];
    tamper.rewrite(&serde_json::to_string(&variants[0].1)?, &edited)?;
    let detected = tamper.export_refused(&svc, &t.treasury, &t.auditor)?;
    assert_eq!(
        detected["detail"]["approvals_not_matching"],
        json!(["ana", "ben"])
    );
    let a = svc.read(&id3, "", &t.auditor)?;
    assert_eq!(a.json["request"]["state"], "approved", "nothing exported");

    let ledger_before = station.ledger().len();
    let signed_before = station.ledger().index().requests.len();
    for (field, variant) in &variants {
        let mut req = original.clone();
        req.payloads = vec![variant.payload()];
        // The station sees it through QR like any other request.
        let Envelope::Request(seen) =
            strongroom_e2e::qr::through_qr(&Envelope::Request(tamper.forged(&req)))?.0
        else {
            bail!("not a request")
        };
        tamper::station_refuses(&mut station, &seen, field)?;
    }
    // Nothing was signed, and each refusal is in the station's ledger.
    assert_eq!(station.ledger().index().requests.len(), signed_before);
    let refused = std::fs::read_to_string(station.ledger().path())?
        .lines()
        .skip(usize::try_from(ledger_before)?)
        .filter(|l| l.contains("\"kind\":\"refused\"") && l.contains("\"code\":10"))
        .count();
    assert_eq!(refused, 5, "one recorded refusal per tampered field");
    assert_eq!(
        node.nonce(vault, "latest")?,
        2,
        "nothing more left the vault"
    );

    // Request 3 is withdrawn; request 4 takes its nonce, and the station's answer comes
    // back through the console and the computer's camera.
    let a = svc.step(
        &id3,
        "cancel",
        &t.treasury,
        Some(&json!({"reason": "edited in storage"})),
    )?;
    assert_eq!(a.status, 200, "{}", a.json);
    let amount4 = ETHER / 20;
    let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
        "amount": amount4.to_string(), "purpose": "withdrawal"});
    let id4 = svc.create(&t.treasury, &t.risk, "w-4714", &body, "fourth payout")?;
    let view = svc.wait_envelope(&id4, &t.ben)?;
    assert_eq!(
        view["transaction"]["nonce"], 2,
        "request 3's nonce, freed: {view}"
    );
    svc.approve(&id4, &[("ana", &t.ana), ("ben", &t.ben)])?;
    let a = svc.step(&id4, "export", &t.treasury, None)?;
    assert_eq!(a.status, 200, "{}", a.json);
    let shown = a.json["frames"].as_array().unwrap().len();
    let pngs = (0..shown).map(|n| {
        svc.call(
            "GET",
            &format!("/v1/requests/{id4}/export/frames/{n}"),
            Some(&t.treasury),
            None,
        )
        .map(|a| a.bytes)
        .unwrap_or_default()
    });
    let Envelope::Request(req) = read_pngs(pngs)? else {
        bail!("not a request")
    };
    let resp = station_signs(&mut station, &r.hsm, &req)?;
    // Small frames, so that the camera has to collect several.
    let video = dir.join("station-screen.y4m");
    let qr_frames = strongroom_e2e::qr::y4m_video(&Envelope::Response(resp), 5, &video)?;
    assert!(qr_frames >= 4, "{qr_frames} frames");

    // The operator console in headless Chromium: queue, detail, QR player (its frame
    // read back by zbarimg from the screenshot), audit view, camera import.
    let before4 = node.balance(RECIPIENT)?;
    console_checks(
        &svc,
        &t.auditor,
        &id2,
        view2_digest.as_str(),
        (&t.treasury, &id4, &video),
    )?;
    svc.wait_state(&id4, &t.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    assert_eq!(node.nonce(vault, "latest")?, 3);
    assert_eq!(node.balance(RECIPIENT)? - before4, U256::from(amount4));
    let before5 = node.balance(RECIPIENT)?;
    let usb = console::Usb {
        station: &station_usb,
        coordinator: &coord_pub,
    };
    console::walk(&svc, &t, (&mut station, &r.hsm), usb, &anvil, &dir)?;
    assert_eq!(node.nonce(vault, "latest")?, 4);
    assert_eq!(node.balance(RECIPIENT)? - before5, U256::from(ETHER / 10));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
