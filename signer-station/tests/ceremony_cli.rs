//! The ceremony CLI: a full rehearsal on MockHsm, every step in the ledger.

mod common;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_signer-station"))
}

#[test]
fn rehearsal_runs_every_step_and_logs_it() {
    let dir = std::env::temp_dir().join(format!("ceremony-cli-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for n in ["ana", "ben", "cy"] {
        std::fs::write(
            dir.join(format!("{n}.pass")),
            format!("passphrase of {n}\n"),
        )
        .unwrap();
    }
    std::fs::write(
        dir.join("policy.json"),
        serde_json::to_string(&common::policy()).unwrap(),
    )
    .unwrap();
    let station = dir.join("station");
    let hexkey = |n: u8| hex::encode(common::key(n).verifying_key().as_bytes());
    let mut args: Vec<String> = [
        "ceremony",
        "rehearse",
        "--hsm",
        "mock",
        "--threshold",
        "2",
        "--work-factor",
        "10",
    ]
    .map(String::from)
    .to_vec();
    args.extend(["--station".into(), station.display().to_string()]);
    for n in ["ana", "ben", "cy"] {
        args.extend([
            "--custodian".into(),
            format!("{n}={}", dir.join(format!("{n}.pass")).display()),
        ]);
    }
    args.extend(["--coordinator".into(), hexkey(1)]);
    args.extend([
        "--approver".into(),
        format!("ana-approver:treasury:{}", hexkey(10)),
    ]);
    args.extend([
        "--approver".into(),
        format!("ben-approver:risk:{}", hexkey(11)),
    ]);
    args.extend([
        "--policy".into(),
        dir.join("policy.json").display().to_string(),
    ]);
    let o = bin().args(&args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(out.contains("NOT A HARDWARE SECURITY MODULE"));
    assert!(
        out.contains("every public key matches the descriptor"),
        "{out}"
    );
    // Every key, Ed25519 included, is backed up and restored in the drill.
    assert!(out.contains("backup of all 11 keys written"), "{out}");
    for f in [
        "quorum.json",
        "registration.json",
        "policy.json",
        "descriptor.envelope",
        "backup.json",
        "ledger.jsonl",
    ] {
        assert!(station.join(f).exists(), "{f} missing");
    }
    let ledger = std::fs::read_to_string(station.join("ledger.jsonl")).unwrap();
    for step in [
        "\"init\"",
        "\"keys generate\"",
        "\"register\"",
        "\"export descriptor\"",
    ] {
        assert!(ledger.contains(step), "{step} not logged");
    }
    // The device's own audit log, read into the ledger by the ceremony steps.
    assert!(
        ledger.contains("\"kind\":\"hsm_log\""),
        "no HSM log in the ledger"
    );
    assert!(
        std::fs::read_to_string(station.join("restore-drill/ledger.jsonl"))
            .unwrap()
            .contains("\"restore\"")
    );
    // No passphrase and no share reached a file in the clear.
    for f in ["quorum.json", "backup.json", "ledger.jsonl"] {
        let text = std::fs::read_to_string(station.join(f)).unwrap();
        assert!(!text.contains("passphrase of"), "{f} leaks a passphrase");
    }
    let verify = bin()
        .args(["ledger", "verify", "--ledger"])
        .arg(station.join("ledger.jsonl"))
        .output()
        .unwrap();
    assert!(verify.status.success());

    // A second init on the same station is refused; MockHsm steps outside a rehearsal too.
    let again = bin()
        .args(["ceremony", "keys", "--hsm", "mock", "--station"])
        .arg(&station)
        .args([
            "--custodian",
            &format!("ana={}", dir.join("ana.pass").display()),
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("ceremony rehearse"));
    std::fs::remove_dir_all(&dir).ok();
}
