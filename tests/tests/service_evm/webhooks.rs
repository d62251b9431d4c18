//! Signed webhooks across a coordinator crash: a receiver (Python, checking each
//! signature with its own HMAC, refusing every fourth post) gets every state change of
//! a request exactly once per delivery id, in order, although it was down for part of
//! the request's life and the coordinator was killed (SIGKILL) and restarted meanwhile.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde_json::Value;
use strongroom_e2e::anvil::{free_port, Anvil};
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::service::{scratch, serve_args, station_signs, Desks, Service};

use super::replace::Desk;
use super::{exe, RECIPIENT};

/// The receiver on `port`, up once it accepts connections. The interpreter itself is
/// started (not a launcher script), so that killing the child stops the receiver.
fn receiver(port: u16, secret: &Path, log: &Path) -> Result<Child> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/webhook_receiver.py");
    let python = Command::new("python3")
        .args(["-c", "import sys; print(sys.executable)"])
        .output()
        .context("python3")?;
    let python = String::from_utf8(python.stdout)?.trim().to_string();
    let child = Command::new(python)
        .stdout(std::process::Stdio::null())
        .arg(script)
        .arg(port.to_string())
        .args([secret, log])
        .arg("4")
        .spawn()
        .context("python3")?;
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            bail!("the webhook receiver did not start");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(child)
}

/// Every post the receiver logged.
fn posts(log: &Path) -> Result<Vec<Value>> {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    text.lines()
        .map(|l| serde_json::from_str(l).context("a log line"))
        .collect()
}

#[test]
fn webhooks_tell_every_state_change_once_per_delivery_id_across_a_restart() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("service-evm-webhooks")?;
    let mut vault = EvmVault::new(&anvil, &dir, RECIPIENT, 5 * ETHER)?;
    let (secret, log) = (dir.join("webhook.secret"), dir.join("received.jsonl"));
    std::fs::write(&secret, "a shared secret for the test receiver only\n")?;
    let port = free_port()?;
    let mut rx = receiver(port, &secret, &log)?;
    let url = format!("http://127.0.0.1:{port}/strongroom");
    // One replica, named: after the restart it takes back its own webhook lease at once.
    let args = serve_args(
        &vault.chains,
        &vault.key,
        &[
            "--replica",
            "coordinator-1",
            "--webhook-url",
            &url,
            "--webhook-secret-file",
            &secret.to_string_lossy(),
        ],
    );
    let db = dir.join("coordinator.db");
    let t = Desks::add(&exe(), &db)?;
    let svc = Service::start_logged(&exe(), &db, &args, &[], Some(&dir.join("first.log")))?;
    svc.register_station(&t.admin, &vault.descriptor)?;
    svc.register_approvers(&t.admin, &["ana", "ben"])?;
    let d = Desk {
        svc: &svc,
        t: &t,
        vault: &mut vault,
    };
    let id = d.pay("hooked", RECIPIENT, ETHER / 10)?;
    let req = d.exported(&id)?;

    // The receiver goes down; the station's answer comes back and the request is sent;
    // then the coordinator is killed.
    rx.kill()?;
    rx.wait()?;
    let resp = station_signs(&mut vault.station, &vault.rehearsal.hsm, &req)?;
    let a = svc.import(&id, &t.treasury, resp)?;
    assert_eq!(a.status, 200, "{}", a.json);
    svc.wait_state(&id, &t.auditor, "broadcast", || {})?;
    drop(svc);

    // Both back: everything left is delivered, and the request goes on to confirmed.
    let mut rx = receiver(port, &secret, &log)?;
    let svc = Service::start_logged(&exe(), &db, &args, &[], Some(&dir.join("second.log")))?;
    svc.wait_state(&id, &t.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    let deadline = Instant::now() + Duration::from_secs(60);
    let done = |p: &Value| {
        p["status"] == 200 && p["body"]["request"] == id.as_str() && p["body"]["to"] == "confirmed"
    };
    while !posts(&log)?.iter().any(done) {
        if Instant::now() > deadline {
            bail!(
                "the confirmation never reached the receiver: {:#?}",
                posts(&log)?
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    rx.kill()?;
    rx.wait()?;

    let all = posts(&log)?;
    assert!(
        all.iter().all(|p| p["signature_ok"] == true),
        "every signature verifies"
    );
    // Retried: some delivery id was refused and then taken.
    let refused: Vec<&Value> = all.iter().filter(|p| p["status"] == 503).collect();
    assert!(!refused.is_empty(), "the receiver refused some posts");
    for r in &refused {
        assert!(
            all.iter()
                .any(|p| p["delivery"] == r["delivery"] && p["status"] == 200),
            "{r}"
        );
    }
    // One delivery id per state change; each id's posts carry the same event.
    let mut by_id: BTreeMap<String, Vec<&Value>> = BTreeMap::new();
    for p in all.iter().filter(|p| p["body"]["request"] == id.as_str()) {
        by_id
            .entry(p["delivery"].as_str().unwrap_or_default().into())
            .or_default()
            .push(p);
    }
    for (delivery, copies) in &by_id {
        assert!(
            copies.windows(2).all(|w| w[0]["body"] == w[1]["body"]),
            "{delivery}: {copies:#?}"
        );
        assert!(
            copies.iter().any(|p| p["status"] == 200),
            "{delivery} was taken"
        );
    }
    let mut taken: Vec<&Value> = by_id.values().map(|c| &c[0]["body"]).collect();
    taken.sort_by_key(|b| b["seq"].as_u64());
    let told: Vec<&str> = taken.iter().filter_map(|b| b["to"].as_str()).collect();
    let states = svc.history(&id, &t.auditor, "state")?;
    assert_eq!(told, states, "every state change, once, in order");
    assert_eq!(told.first(), Some(&"draft"));
    assert_eq!(told.last(), Some(&"confirmed"));
    // In the order taken: ids taken (answered 200) appear in audit order.
    let order: Vec<u64> = all
        .iter()
        .filter(|p| p["status"] == 200)
        .filter_map(|p| p["body"]["seq"].as_u64())
        .collect();
    assert!(
        order.windows(2).all(|w| w[0] <= w[1]),
        "in order: {order:?}"
    );
    Ok(())
}
