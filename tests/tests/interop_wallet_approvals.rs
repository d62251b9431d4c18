//! Approvals from approvers' own Ethereum wallets, end to end with independent
//! implementations on the other side: PyPI `eth-account` signs the typed approval
//! (its own EIP-712 encoder), the Keystone registry (npm `@keystonehq/bc-ur-registry-eth`)
//! decodes the coordinator's `eth-sign-request` and encodes the wallet's
//! `eth-signature`. The station pins the wallets' addresses, derives the typed approval
//! itself and signs; the transaction lands on anvil.

use std::path::PathBuf;
use std::process::Command;

use airgap_protocol::envelope::Envelope;
use alloy_primitives::{Address, U256};
use anyhow::Result;
use serde_json::{json, Value};
use signer_station::station::registration::RegisteredApprover;
use strongroom_e2e::anvil::Anvil;
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::service::{scratch, station_signs, ur_texts, Desks};

const RECIPIENT: Address = Address::new([0x52; 20]);
/// The wallets' keys (test keys, known to everyone).
const ANA: &str = "1111111111111111111111111111111111111111111111111111111111111111";
const BEN: &str = "2222222222222222222222222222222222222222222222222222222222222222";
const BEN_PATH: &str = "m/44'/60'/0'/0/0";
const BEN_XFP: &str = "f23f9fd2";

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

/// eth-account: the wallet's address, and its signature of `typed` when given.
fn wallet(key: &str, typed: Option<&str>) -> Result<Value> {
    let mut ask = json!({"key": key});
    if let Some(t) = typed {
        ask["typed"] = t.into();
    }
    strongroom_e2e::wallets::python("sign_typed.py", &ask, "eth-account==0.14.0")
}

/// The Keystone registry, `decode` or `answer` (see tests/wallet/keystone.cjs).
fn keystone(args: &[&str]) -> Result<String> {
    strongroom_e2e::wallets::keystone("keystone.cjs", args)
}

#[test]
fn wallets_approve_with_their_own_screens_and_the_station_signs() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("interop-wallets")?;
    let address = |key| -> Result<String> {
        Ok(wallet(key, None)?["address"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    };
    let (ana, ben) = (address(ANA)?, address(BEN)?);
    let pinned: Vec<RegisteredApprover> = [("ana-wallet", &ana), ("ben-wallet", &ben)]
        .iter()
        .map(|(name, a)| RegisteredApprover {
            name: name.to_string(),
            role: "treasury".into(),
            key: a.to_string(),
        })
        .collect();
    let EvmVault {
        rehearsal: r,
        mut station,
        descriptor,
        node,
        key,
        chains,
        ..
    } = EvmVault::with_approvers(&anvil, &dir, (RECIPIENT, 5 * ETHER), &pinned)?;
    let db = dir.join("coordinator.db");
    let (desk, svc) = Desks::serve(&exe(), &db, &chains, &key)?;
    svc.register_station(&desk.admin, &descriptor)?;
    for (who, a) in [("ana", &ana), ("ben", &ben)] {
        let body = json!({"principal": who, "public_key": a});
        let reg = svc.call("POST", "/v1/approvers", Some(&desk.admin), Some(&body))?;
        assert_eq!(reg.status, 201, "{}", reg.json);
    }
    let amount = ETHER / 5;
    let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
        "amount": amount.to_string(), "purpose": "withdrawal"});
    let id = svc.create(
        &desk.treasury,
        &desk.risk,
        "wallet-1",
        &body,
        "known counterparty",
    )?;
    svc.wait_envelope(&id, &desk.ana)?;

    // Ana's wallet signs the typed data (eth_signTypedData_v4) with eth-account, whose
    // EIP-712 hash must be the coordinator's.
    let typed = svc.read(&id, "approval/typed", &desk.ana)?;
    assert_eq!(typed.status, 200, "{}", typed.json);
    let data = typed.json["typed_data"].to_string();
    let message = &typed.json["typed_data"]["message"];
    assert_eq!(message["transfers"][0]["amount"], "0.2 ETH", "{message}");
    assert_eq!(message["transfers"][0]["to"], RECIPIENT.to_checksum(None));
    assert_eq!(message["transfers"][0]["network"], "evm:1");
    let signed = wallet(ANA, Some(&data))?;
    assert_eq!(signed["hash"], typed.json["hash"], "one EIP-712 hash");
    // What the wallet would have signed had it been shown a smaller amount: refused.
    let mut lied = typed.json["typed_data"].clone();
    lied["message"]["transfers"][0]["amount"] = "0.01 ETH".into();
    let forged = wallet(ANA, Some(&lied.to_string()))?;
    for (signature, status) in [(&forged, 422), (&signed, 200)] {
        let body = json!({"signature": signature["signature"]});
        let a = svc.step(&id, "approvals", &desk.ana, Some(&body))?;
        assert_eq!(a.status, status, "{}", a.json);
    }

    // Ben's hardware wallet: the coordinator's eth-sign-request, read by the Keystone
    // registry; the wallet signs what it carries; its eth-signature goes back as frames.
    let asked = svc.read(
        &id,
        &format!("approval/typed?path={BEN_PATH}&fingerprint={BEN_XFP}"),
        &desk.ben,
    )?;
    assert_eq!(asked.status, 200, "{}", asked.json);
    assert_eq!(asked.json["ur_type"], "eth-sign-request");
    let parts: Vec<&str> = asked.json["frames"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let mut args = vec!["decode"];
    args.extend(&parts);
    let seen: Value = serde_json::from_str(&keystone(&args)?)?;
    assert_eq!(seen["dataType"], 2, "typed data: {seen}");
    assert_eq!(seen["path"], BEN_PATH.trim_start_matches("m/"), "{seen}");
    assert_eq!(seen["xfp"], BEN_XFP, "{seen}");
    assert_eq!(
        seen["requestId"].as_str().unwrap_or_default(),
        id.replace('-', ""),
        "{seen}"
    );
    let carried: Value = serde_json::from_str(seen["signData"].as_str().unwrap_or_default())?;
    assert_eq!(
        carried, typed.json["typed_data"],
        "the device gets the typed data"
    );
    let signed = wallet(BEN, Some(seen["signData"].as_str().unwrap_or_default()))?;
    let sig = signed["signature"].as_str().unwrap_or_default();
    let answer = keystone(&[
        "answer",
        seen["requestId"].as_str().unwrap_or_default(),
        sig,
    ])?;
    let frames: Vec<&str> = answer.lines().collect();
    assert!(frames[0].starts_with("ur:eth-signature/"), "{answer}");
    // In the console: Ben's page shows the wallet QR (read back by zbarimg) and the
    // typed data, and takes the wallet's answer.
    let mut page = strongroom_e2e::console::Session::open(&svc.url, &desk.ben, "ben")?;
    page.open_request(&id)?;
    let shown = page.run(
        json!({"do": "wallet", "path": BEN_PATH, "fingerprint": BEN_XFP, "name": "wallet-qr"}),
    )?;
    assert!(
        shown["kind"]
            .as_str()
            .unwrap_or_default()
            .starts_with("UR eth-sign-request"),
        "{shown}"
    );
    assert_eq!(shown["total"].as_u64(), Some(parts.len() as u64), "{shown}");
    let typed_shown: Value = serde_json::from_str(shown["typed"].as_str().unwrap_or_default())?;
    assert_eq!(typed_shown, typed.json["typed_data"]);
    let z = Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(shown["shot"].as_str().unwrap_or_default())
        .output()?;
    let read = String::from_utf8_lossy(&z.stdout).to_lowercase();
    assert!(
        read.starts_with("ur:eth-sign-request/"),
        "zbarimg read {read:?}"
    );
    let posted = page.run(json!({"do": "wallet_answer", "frames": frames}))?;
    assert_eq!(
        posted["result"], "wallet approval recorded; state approved",
        "{posted}"
    );

    // The station checks both wallet approvals itself, signs; it lands.
    let req = svc.export(&id, &desk.treasury)?;
    assert_eq!(req.approvals.len(), 2);
    let before = node.balance(RECIPIENT)?;
    let resp = station_signs(&mut station, &r.hsm, &req)?;
    let a = svc.step(
        &id,
        "import",
        &desk.treasury,
        Some(&json!({"frames": ur_texts(&Envelope::Response(resp))})),
    )?;
    assert_eq!(a.status, 200, "{}", a.json);
    svc.wait_state(&id, &desk.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    assert_eq!(node.balance(RECIPIENT)? - before, U256::from(amount));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
