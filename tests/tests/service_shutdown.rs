//! SIGTERM on a busy coordinator: it stops accepting, answers every request already in
//! flight, stops its worker at a step boundary and exits cleanly. Nothing is half done:
//! every create that was answered is stored with its audit rows, every one that was not
//! left no trace, and the audit chain verifies; a restart carries on.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Result;
use serde_json::json;
use strongroom_e2e::service::{add_token, Service};

fn exe() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_strongroom"))
}

const DEST: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

#[test]
fn sigterm_answers_in_flight_requests_and_loses_none() -> Result<()> {
    let dir = std::env::temp_dir().join(format!("strongroom-sigterm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let db = dir.join("coordinator.db");
    let treasury = add_token(&exe(), &db, "treasury-desk", "treasury")?;
    let auditor = add_token(&exe(), &db, "audit", "auditor")?;
    let log = dir.join("coordinator.log");
    // Audit checkpoints, signed with the request key, to a file outside the database.
    let key_file = dir.join("coordinator.key");
    std::fs::write(&key_file, hex::encode([4u8; 32]))?;
    std::fs::set_permissions(
        &key_file,
        std::os::unix::fs::PermissionsExt::from_mode(0o600),
    )?;
    let checkpoints = dir.join("checkpoints.jsonl");
    let serve = strongroom_e2e::service::args(&[
        "--poll-ms",
        "50",
        "--key",
        &key_file.to_string_lossy(),
        "--audit-checkpoints",
        &checkpoints.to_string_lossy(),
    ]);
    let svc = Arc::new(Service::start_logged(&exe(), &db, &serve, &[], Some(&log))?);

    // Eight clients create requests as fast as they can while the signal arrives.
    let answered: Arc<Mutex<Vec<String>>> = Arc::default();
    let attempted: Arc<Mutex<Vec<String>>> = Arc::default();
    let clients: Vec<_> = (0..8)
        .map(|c| {
            let (svc, answered, attempted, token) = (
                svc.clone(),
                answered.clone(),
                attempted.clone(),
                treasury.clone(),
            );
            std::thread::spawn(move || {
                for n in 0..400 {
                    let key = format!("c{c}-{n}");
                    attempted.lock().unwrap().push(key.clone());
                    let body = json!({"network": "regtest", "asset": "native",
                        "destination": DEST, "amount": "1000", "purpose": "withdrawal"});
                    match svc.call_with(
                        "POST",
                        "/v1/requests",
                        Some(&token),
                        Some(&body),
                        &[("idempotency-key", &key)],
                    ) {
                        Ok(a) if a.status == 201 || a.status == 200 => {
                            answered.lock().unwrap().push(key);
                        }
                        Ok(a) => panic!("create answered {}: {}", a.status, a.json),
                        // Refused connection: the coordinator no longer accepts.
                        Err(_) => break,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(600));
    svc.terminate()?;
    for c in clients {
        c.join().expect("a client panicked");
    }
    let svc = Arc::try_unwrap(svc).map_err(|_| anyhow::anyhow!("service still shared"))?;
    let status = svc.wait_exit()?;
    assert!(status.success(), "the coordinator exited with {status}");
    let logged = std::fs::read_to_string(&log)?;
    assert!(logged.contains("shutting down"), "{logged}");
    assert!(logged.contains("stopped"), "{logged}");

    // Every answered create is stored, none of the others; the audit chain verifies.
    use coordinator::store::Store;
    let store = coordinator::store::Sqlite::open(&db)?;
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 20,
        "the load ran: {} answered",
        answered.len()
    );
    let stored = store.list(None, None, 100_000)?;
    assert_eq!(
        stored.len(),
        answered.len(),
        "every answered create stored, none of the others"
    );
    let rows = store.audit_rows(1, usize::MAX)?;
    coordinator::audit::verify(&rows, None).map_err(|e| anyhow::anyhow!("{e}"))?;
    // The last checkpoint, written as the worker stopped, vouches for the last row.
    let cps = coordinator::audit::checkpoints::read(&checkpoints).map_err(anyhow::Error::msg)?;
    let vk = ed25519_dalek::SigningKey::from_bytes(&[4; 32]).verifying_key();
    coordinator::audit::checkpoints::verify(&rows, &cps, &vk)?;
    assert_eq!(
        cps.iter().map(|c| c.seq).max(),
        rows.last().map(|r| r.seq),
        "the head at shutdown is checkpointed"
    );
    drop(store);
    // A restart carries on from there.
    let svc = Service::start(&exe(), &db, &[])?;
    let verify = svc.call("GET", "/v1/audit/verify", Some(&auditor), None)?;
    assert_eq!(verify.json["ok"], true, "{}", verify.json);
    Ok(())
}
