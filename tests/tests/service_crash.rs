//! The coordinator killed at every step of the lifecycle (fault injection aborts the
//! process right after the step), restarted, and the request driven on: each time it
//! completes with exactly one transaction on chain (anvil), the amount paid once, one
//! broadcast in the audit chain, and the chain verifying.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use airgap_protocol::envelope::{Envelope, SignRequest};
use alloy_primitives::{Address, U256};
use anyhow::{bail, Result};
use serde_json::json;
use strongroom_e2e::anvil::Anvil;
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::service::{
    envelope_of, scratch, serve_args, station_signs, ur_texts, Desks, Service,
};

const RECIPIENT: Address = Address::new([0x52; 20]);
const POINTS: [&str; 8] = [
    "prepared",
    "approved",
    "export-stored",
    "exported",
    "response-stored",
    "finalised",
    "sent",
    "broadcast",
];

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

fn request_from(frames: &[serde_json::Value]) -> Result<SignRequest> {
    match envelope_of(frames)? {
        Envelope::Request(r) => Ok(r),
        _ => bail!("no request in the frames"),
    }
}

#[test]
fn coordinator_crash_at_every_step_completes_exactly_once() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("crash")?;
    let mut v = EvmVault::new(&anvil, &dir, RECIPIENT, ETHER)?;
    // Tokens once, in a template database copied for each crash point.
    let template = dir.join("template.db");
    let t = Desks::add(&exe(), &template)?;
    let start = |db: &std::path::Path, crash: Option<&str>| {
        let mut a = serve_args(
            &v.chains,
            &v.key,
            &[
                "--poll-ms",
                "50",
                // The same replica before and after the crash (its port changes here).
                "--replica",
                "replica-1",
            ],
        );
        if let Some(c) = crash {
            a.extend(["--fault-crash-after".to_string(), c.to_string()]);
        }
        Service::start_logged(&exe(), db, &a, &[], Some(&db.with_extension("log")))
    };

    for (k, point) in POINTS.iter().enumerate() {
        let began = Instant::now();
        let db = dir.join(format!("{point}.db"));
        std::fs::copy(&template, &db)?;
        let nonce_before = v.node.nonce(v.vault, "latest")?;
        let paid_before = v.node.balance(RECIPIENT)?;
        let amount = ETHER / 100 + k as u128;
        let mut svc = Some(start(&db, Some(point))?);
        let s = svc.as_ref().unwrap();
        s.register_station(&t.admin, &v.descriptor)?;
        s.register_approvers(&t.admin, &["ana", "ben"])?;
        let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
            "amount": amount.to_string(), "purpose": "withdrawal"});
        let c = s.call_with(
            "POST",
            "/v1/requests",
            Some(&t.treasury),
            Some(&body),
            &[("Idempotency-Key", point)],
        )?;
        assert_eq!(c.status, 201, "{point}: {}", c.json);
        let id = c.json["request"]["id"].as_str().unwrap().to_string();

        // Drive the request on, whatever state it is in; the station answers once
        // (its response stays on its screen).
        let mut crashed = false;
        let mut response: Option<Vec<String>> = None;
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            if Instant::now() > deadline {
                bail!("{point}: the request did not complete");
            }
            let s = svc.as_ref().unwrap();
            let state = match s.read(&id, "", &t.ana) {
                Ok(a) => a.json["request"]["state"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                Err(_) => String::from("down"),
            };
            let step: Result<()> = (|| {
                match state.as_str() {
                    "down" => bail!("down"),
                    "manual-review" => {
                        s.step(
                            &id,
                            "review",
                            &t.risk,
                            Some(&json!({"decision": "clear", "reason": "crash drill"})),
                        )?;
                    }
                    "awaiting-approvals" => {
                        let v = s.read(&id, "envelope", &t.ana)?;
                        if v.status == 200 {
                            // The approver's tool, as the approvers run it; a second
                            // approval of a recorded approver is refused, harmlessly.
                            for (who, tok) in [("ana", &t.ana), ("ben", &t.ben)] {
                                s.approver(who, tok, &id, "approve")?;
                            }
                        }
                    }
                    "approved" => {
                        s.step(&id, "export", &t.treasury, None)?;
                    }
                    "exported" | "partially-signed" | "signed" => {
                        if response.is_none() {
                            let f = s.read(&id, "export/frames", &t.treasury)?;
                            let req = request_from(f.json["frames"].as_array().unwrap())?;
                            let resp = station_signs(&mut v.station, &v.rehearsal.hsm, &req)?;
                            response = Some(ur_texts(&Envelope::Response(resp)));
                        }
                        s.step(
                            &id,
                            "import",
                            &t.treasury,
                            Some(&json!({"frames": response.clone().unwrap()})),
                        )?;
                    }
                    "finalised" | "broadcast" => {
                        anvil.mine(1)?;
                    }
                    other => bail!("unexpected state {other}"),
                }
                Ok(())
            })();
            if state == "confirmed" {
                break;
            }
            if step.is_err() {
                // Did the coordinator die? Then restart it without the fault.
                let alive = s.call("GET", "/health", None, None).is_ok();
                if !alive {
                    assert!(!crashed, "{point}: crashed twice");
                    let status = svc.take().unwrap().wait_exit()?;
                    assert!(!status.success(), "{point}: the crash is an abort");
                    crashed = true;
                    svc = Some(start(&db, None)?);
                    continue;
                }
                if let Err(e) = step {
                    if !e.to_string().contains("down") {
                        bail!("{point}: {e}");
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        assert!(crashed, "{point}: the crash point was reached");
        eprintln!(
            "crash point {point}: completed in {:.1} s",
            began.elapsed().as_secs_f64()
        );
        assert_eq!(
            v.node.nonce(v.vault, "latest")?,
            nonce_before + 1,
            "{point}: exactly one transaction"
        );
        assert_eq!(
            v.node.balance(RECIPIENT)? - paid_before,
            U256::from(amount),
            "{point}: paid once"
        );
        let s = svc.as_ref().unwrap();
        let v = s.call("GET", "/v1/audit/verify", Some(&t.admin), None)?;
        assert_eq!(v.json["ok"], true, "{point}");
        let rows = s.call("GET", "/v1/audit", Some(&t.admin), None)?.json["rows"].clone();
        let rows = rows.as_array().cloned().unwrap_or_default();
        let broadcasts = strongroom_e2e::service::moves_to(&rows, &id, "broadcast");
        assert_eq!(broadcasts, 1, "{point}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
