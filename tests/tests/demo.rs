//! README's main job runs end to end through the coordinator service and says what it
//! proved: every chain broadcast and confirmed (EVM and Solana when their devnets are
//! installed, as `scripts/test.sh` makes sure), the audit chain intact, the station
//! ledgers verifying.

use std::process::Command;

#[test]
fn demo_round_trip_completes() {
    let out = std::env::temp_dir().join(format!("strongroom-demo-test-{}", std::process::id()));
    let o = Command::new(env!("CARGO_BIN_EXE_strongroom"))
        .args(["demo", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for line in [
        "NOT A HARDWARE SECURITY MODULE",
        "unlocked by ana and cy",
        "registered from its descriptor frames",
        "(change, proven: vault cold)",
        "vault cold registered",
        "held for manual review",
        "cleared the manual review (the engine said: first transfer to",
        "bitcoin: imported from vault-a → partially-signed",
        "bitcoin: imported from vault-b → finalised",
        "bitcoin: broadcast and confirmed",
        "evm: broadcast and confirmed",
        "solana: broadcast and confirmed",
        "intact: true",
        "/console",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    assert!(!stdout.contains("SKIPPED"), "every chain ran:\n{stdout}");
    assert!(!stdout.contains("{\""), "sentences, not JSON:\n{stdout}");
    // The camera's losses are real: the Bitcoin request is long enough to lose frames.
    let lost: u32 = stdout
        .split("bitcoin: request captured from ")
        .nth(1)
        .and_then(|rest| rest.split(" lost").next())
        .and_then(|x| x.rsplit('(').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(lost >= 1, "no frame lost:\n{stdout}");
    let run = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    // Both station ledgers verify; vault-a signed for all three chains (and the Solana
    // nonce account), vault-b for Bitcoin.
    let a = signer_station::ledger::Ledger::verify(&run.join("vault-a/ledger.jsonl")).unwrap();
    let b = signer_station::ledger::Ledger::verify(&run.join("vault-b/ledger.jsonl")).unwrap();
    assert!(a > b && b >= 3, "ledgers: vault-a {a}, vault-b {b}");
    let audit: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("audit.json")).unwrap()).unwrap();
    assert!(audit.as_array().unwrap().len() > 40);
    for f in [
        "bitcoin/request-frames/0001.png",
        "evm/request-frames/0001.png",
    ] {
        assert!(run.join(f).exists(), "{f}");
    }
    std::fs::remove_dir_all(&out).ok();
}
