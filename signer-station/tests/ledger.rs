//! The ledger: chaining, tamper detection with locations, torn-tail repair, replay index.

use signer_station::ledger::{Ledger, LedgerError, Record, SignedPayload};

fn dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("ledger-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn filled(name: &str) -> std::path::PathBuf {
    let path = dir(name).join("ledger.jsonl");
    let mut l = Ledger::open(&path).unwrap();
    l.append(
        1,
        Record::Ceremony {
            step: "init".into(),
            detail: "quorum 2 of 3".into(),
        },
    )
    .unwrap();
    l.append(
        2,
        Record::RequestSeen {
            request_id: "r1".into(),
            digest: "d1".into(),
        },
    )
    .unwrap();
    l.append(
        3,
        Record::Signed {
            request_id: "r1".into(),
            digest: "d1".into(),
            payloads: vec![SignedPayload {
                digest: "p1".into(),
                network: "evm:1".into(),
                amounts: vec![("ETH".into(), "1000".into())],
                spends: vec!["evm:1:0xabc:nonce:7".into()],
                signatures: 1,
            }],
        },
    )
    .unwrap();
    l.append(
        4,
        Record::Ceremony {
            step: "keys".into(),
            detail: "4 keys".into(),
        },
    )
    .unwrap();
    path
}

fn lines(path: &std::path::Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

fn write_lines(path: &std::path::Path, l: &[String]) {
    std::fs::write(path, l.iter().map(|s| format!("{s}\n")).collect::<String>()).unwrap();
}

#[test]
fn reopens_with_head_and_replay_index() {
    let path = filled("reopen");
    assert_eq!(Ledger::verify(&path).unwrap(), 4);
    let l = Ledger::open(&path).unwrap();
    assert_eq!(l.len(), 4);
    assert_eq!(
        l.index()
            .spends
            .get("evm:1:0xabc:nonce:7")
            .map(String::as_str),
        Some("p1")
    );
    assert_eq!(l.index().requests.get("d1").map(String::as_str), Some("r1"));
}

#[test]
fn fail_edit_is_found_with_its_line() {
    let path = filled("edit");
    let mut l = lines(&path);
    l[2] = l[2].replace("\"1000\"", "\"9000\"");
    write_lines(&path, &l);
    assert_eq!(
        Ledger::verify(&path),
        Err(LedgerError::Edited { seq: 2, line: 3 })
    );
    assert!(
        Ledger::open(&path).is_err(),
        "a tampered ledger does not open"
    );
}

#[test]
fn fail_deletion_and_reordering_are_found() {
    // Either way, entry 2 stands where entry 1 should.
    let delete: fn(&mut Vec<String>) = |l| drop(l.remove(1));
    let reorder: fn(&mut Vec<String>) = |l| l.swap(1, 2);
    for (name, edit) in [("delete", delete), ("reorder", reorder)] {
        let path = filled(name);
        let mut l = lines(&path);
        edit(&mut l);
        write_lines(&path, &l);
        let found = Ledger::verify(&path);
        let broken = LedgerError::Broken {
            line: 2,
            expected: 1,
            found: 2,
        };
        assert_eq!(found, Err(broken), "{name}");
    }
}

#[test]
fn fail_relinked_entry_is_found() {
    // Pointing an entry at another previous hash changes its own hash.
    let path = filled("forge");
    let mut l = lines(&path);
    let mut e: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&l[1]).unwrap();
    e.insert("prev".into(), serde_json::Value::String("11".repeat(32)));
    l[1] = serde_json::to_string(&e).unwrap();
    write_lines(&path, &l);
    assert_eq!(
        Ledger::verify(&path),
        Err(LedgerError::Edited { seq: 1, line: 2 })
    );
}

#[test]
fn torn_tail_is_reported_and_repaired() {
    let path = filled("torn");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"seq\":4,\"time\":5,\"pre");
    std::fs::write(&path, &bytes).unwrap();
    assert!(matches!(
        Ledger::open(&path),
        Err(LedgerError::TornTail { .. })
    ));
    let l = Ledger::repair(&path, 9).unwrap();
    assert_eq!(l.len(), 5);
    assert_eq!(Ledger::verify(&path), Ok(5));
    assert!(lines(&path).last().unwrap().contains("repaired"));
    // What was cut is kept beside the ledger.
    let mut kept = path.as_os_str().to_owned();
    kept.push(".torn-9");
    assert_eq!(
        std::fs::read(std::path::PathBuf::from(kept)).unwrap(),
        b"{\"seq\":4,\"time\":5,\"pre"
    );
}

/// `repair` never cuts a file that is not a ledger with a torn last entry: a random file
/// ending without a newline, or a ledger whose earlier entries are damaged.
#[test]
fn fail_repair_of_what_is_not_a_torn_ledger() {
    let dir = std::env::temp_dir().join(format!("ledger-notledger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let random = dir.join("notes.txt");
    let text = "meeting notes\nline two\nno newline at the end";
    std::fs::write(&random, text).unwrap();
    assert!(Ledger::repair(&random, 9).is_err());
    assert_eq!(std::fs::read_to_string(&random).unwrap(), text, "untouched");

    let path = filled("damaged-then-torn");
    let mut l = lines(&path);
    l[1] = l[1].replace("\"time\":", "\"time\":1");
    write_lines(&path, &l);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes.extend_from_slice(b"{\"seq\":4,");
    std::fs::write(&path, &bytes).unwrap();
    let before = std::fs::read(&path).unwrap();
    assert!(matches!(
        Ledger::repair(&path, 9),
        Err(LedgerError::Edited { .. })
    ));
    assert_eq!(std::fs::read(&path).unwrap(), before, "untouched");
}

#[test]
fn cli_verify_says_where_the_chain_breaks() {
    let path = filled("cli");
    let ok = std::process::Command::new(env!("CARGO_BIN_EXE_signer-station"))
        .args(["ledger", "verify", "--ledger"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(ok.status.success());
    assert!(String::from_utf8_lossy(&ok.stdout).contains("4 entries, chain intact"));
    let mut l = lines(&path);
    l.remove(2);
    write_lines(&path, &l);
    let bad = std::process::Command::new(env!("CARGO_BIN_EXE_signer-station"))
        .args(["ledger", "verify", "--ledger"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("chain broken at line 3"),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
}
