//! README's main job runs end to end and says what it proved.

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
        "custodians ana and cy unlocked the HSM (2 of 3)",
        "(verified change)",
        "Bitcoin Core script check passed",
        "signature recovers the vault address",
        "solana: signature verifies",
    ] {
        assert!(stdout.contains(line), "missing `{line}` in:\n{stdout}");
    }
    // The station ledger it wrote verifies.
    let run = std::fs::read_dir(&out)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert_eq!(
        signer_station::ledger::Ledger::verify(&run.join("station/ledger.jsonl")),
        Ok(6)
    );
    std::fs::remove_dir_all(&out).ok();
}
