//! The station dies between the HSM's signature and the ledger write (the device has
//! answered; the entry is not on disk yet). No signature leaves: the signatures existed
//! only in memory. After a restart from the same directory the ledger verifies, the
//! request is signed exactly once more, and a further attempt is refused as a replay.
//!
//! MockHsm keeps its keys in memory, so the crash is an unwinding thread in this process
//! (the fault-injecting backend unwinds right after the device signed), not a killed
//! process; the station object dies with it and is reopened from its directory.

use std::panic::{catch_unwind, AssertUnwindSafe};

use airgap_protocol::envelope::{verify_response, Outcome};
use signer_station::hsm::faulty::{Faults, FaultyBackend};
use signer_station::ledger::Ledger;
use signer_station::tui::rehearsal;
use strongroom_e2e::requests::now;

#[test]
fn crash_between_hsm_signature_and_ledger_write_leaks_nothing_and_resigns_once() {
    let dir = std::env::temp_dir().join(format!("strongroom-station-crash-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = rehearsal::station(&dir, now()).unwrap();
    let request = rehearsal::request(&r.keys, now()).unwrap();
    assert!(request.payloads.len() >= 2);
    let ledger_path = dir.join("ledger.jsonl");
    let before = Ledger::verify(&ledger_path).unwrap();

    // Sign: the device answers twice, then the station dies before the ledger write.
    let mut station = r.station;
    let review = station.review(&request, now()).unwrap();
    review.verdict.clone().unwrap();
    let faulty = FaultyBackend::new(
        &r.hsm,
        Faults {
            crash_after_signature: Some(2),
            ..Faults::default()
        },
    );
    let outcome = catch_unwind(AssertUnwindSafe(|| station.sign(&review, &faulty, now())));
    assert!(
        outcome.is_err(),
        "the station died mid-signing; nothing was returned"
    );
    drop(station);
    // The ledger verifies and holds no signing (only that the request was seen).
    assert!(Ledger::verify(&ledger_path).unwrap() >= before);
    assert_eq!(
        signings(&ledger_path),
        0,
        "no signing recorded, none returned"
    );

    // Restart from the same directory. The device's log shows the two signatures the
    // crashed attempt made, which the ledger does not: the station stops until the
    // custodians have looked (they never left the station) and accept the log.
    let mut station = rehearsal::station_on(&r.hsm, &r.keys, &dir, now()).unwrap();
    let review = station.review(&request, now()).unwrap();
    let stopped = station.sign(&review, &r.hsm, now()).unwrap_err();
    assert_eq!(stopped.code(), 73, "{stopped}");
    assert!(
        stopped.to_string().contains("signatures with chain keys"),
        "{stopped}"
    );
    station
        .reanchor(
            &r.hsm,
            now(),
            "crash during signing; its signatures never left",
        )
        .unwrap();
    // Then: signed once, recorded, answer verifies.
    let review = station.review(&request, now()).unwrap();
    review.verdict.clone().unwrap();
    let resp = station.sign(&review, &r.hsm, now()).unwrap();
    let identity = r.keys.identity.ed25519().unwrap();
    verify_response(&resp, &request, &identity).unwrap();
    assert!(matches!(resp.outcome, Outcome::Signed(ref s) if s.len() == request.payloads.len()));
    let after = Ledger::verify(&ledger_path).unwrap();
    assert!(after > before, "the signing is recorded");
    assert_eq!(signings(&ledger_path), 1, "one signing in the ledger");

    // A third attempt: refused as a replay, nothing signed, nothing more recorded.
    let mut station = rehearsal::station_on(&r.hsm, &r.keys, &dir, now()).unwrap();
    let refused = match station.review(&request, now()) {
        Err(e) => e.to_string(),
        Ok(review) => match review.verdict {
            Err(e) => e.to_string(),
            Ok(()) => panic!("a signed request was accepted again"),
        },
    };
    assert!(refused.contains("already signed"), "{refused}");
    let _ = station;
    assert_eq!(signings(&ledger_path), 1, "still one signing");
    assert!(Ledger::verify(&ledger_path).unwrap() >= after);
    let _ = std::fs::remove_dir_all(&dir);
}

fn signings(path: &std::path::Path) -> usize {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|e| e["record"]["kind"] == "signed")
        .count()
}
