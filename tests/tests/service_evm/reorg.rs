//! A reorg after confirmation, across a coordinator restart: the request was confirmed,
//! the coordinator stopped, and the chain went back to before the transaction and grew
//! other blocks. The restarted coordinator sees the block its confirmation recorded is
//! gone, moves the request back to broadcast with an `alert.reorg` audit row, sends the
//! same bytes again, and confirms it once more: the recipient is paid once.

use alloy_primitives::U256;
use anyhow::{bail, Result};
use serde_json::Value;
use strongroom_e2e::anvil::Anvil;
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::service::{scratch, serve_args, Desks, Service};

use super::replace::Desk;
use super::{exe, RECIPIENT};

#[test]
fn a_reorg_after_confirmation_is_alerted_across_a_restart_and_lands_once() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("service-evm-reorg")?;
    let mut vault = EvmVault::new(&anvil, &dir, RECIPIENT, 5 * ETHER)?;
    let node = coordinator::evm::EvmRpc::new(anvil.rpc());
    let args = serve_args(&vault.chains, &vault.key, &["--replica", "coordinator-1"]);
    let db = dir.join("coordinator.db");
    let t = Desks::add(&exe(), &db)?;
    let svc = Service::start(&exe(), &db, &args)?;
    svc.register_station(&t.admin, &vault.descriptor)?;
    svc.register_approvers(&t.admin, &["ana", "ben"])?;
    let before = node.balance(RECIPIENT)?;
    let snapshot = anvil.snapshot()?;
    let mut d = Desk {
        svc: &svc,
        t: &t,
        vault: &mut vault,
    };
    let id = d.pay("reorged", RECIPIENT, ETHER / 10)?;
    d.sent(&id)?;
    svc.wait_state(&id, &t.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    drop(svc);

    // The chain forgets the transaction and grows other blocks.
    anvil.revert(snapshot)?;
    anvil.mine(4)?;
    assert_eq!(node.balance(RECIPIENT)?, before);

    let svc = Service::start(&exe(), &db, &args)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let states = svc.history(&id, &t.auditor, "state")?;
        if states.ends_with(&["confirmed".into(), "broadcast".into(), "confirmed".into()]) {
            break;
        }
        if std::time::Instant::now() > deadline {
            bail!("no reorg seen: {states:?}");
        }
        let _ = anvil.mine(1);
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let why = svc.history(&id, &t.auditor, "why")?;
    assert!(why.iter().any(|w| w.contains("reorg")), "{why:#?}");
    assert_eq!(
        node.balance(RECIPIENT)? - before,
        U256::from(ETHER / 10),
        "paid once"
    );
    assert_eq!(node.nonce(vault.vault, "latest")?, 1, "one transaction");

    // One alert, in the audit chain (so in webhooks and the audit export).
    let rows = svc.call("GET", "/v1/audit", Some(&t.auditor), None)?.json["rows"].clone();
    let alerts: Vec<&Value> = rows
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["action"] == "alert.reorg" && r["subject"] == id.as_str())
        .collect();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    assert!(alerts[0]["detail"]["reorg"]["was_block"].is_u64());
    let metrics = svc.call("GET", "/metrics", None, None)?;
    let text = String::from_utf8_lossy(&metrics.bytes);
    assert!(text.contains("strongroom_reorgs_total 1"), "{text}");
    Ok(())
}
