//! The command line as a new user meets it: help and version never start or create
//! anything, unknown flags are errors, a verifier never creates what it verifies, and a
//! database password never rides on the command line.

use std::process::{Command, Output};

fn coordinator(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_coordinator"))
        .args(args)
        .current_dir(dir)
        .env_remove("STRONGROOM_DB")
        .output()
        .unwrap()
}

fn scratch(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("coordinator-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn files(d: &std::path::Path) -> usize {
    std::fs::read_dir(d).unwrap().count()
}

#[test]
fn help_and_version_start_nothing_and_create_nothing() {
    let d = scratch("help");
    let v = coordinator(&d, &["--version"]);
    assert!(v.status.success());
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("coordinator "));
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["token", "add", "--help"],
        &["audit", "verify", "--help"],
        &["audit", "reconcile", "--help"],
        &["audit", "export", "--help"],
        &["bundle", "export", "--help"],
        &["keys", "generate", "--help"],
        &["demo", "--help"],
    ] {
        let o = coordinator(&d, args);
        assert!(o.status.success(), "{args:?}");
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("Usage:"), "{args:?}: {out}");
    }
    let serve = String::from_utf8_lossy(&coordinator(&d, &["serve", "--help"]).stdout).to_string();
    for flag in [
        "--db",
        "--listen",
        "--chains",
        "--config",
        "--db-password-file",
    ] {
        assert!(serve.contains(flag), "serve --help lacks {flag}");
    }
    assert_eq!(files(&d), 0, "help created a file");
}

#[test]
fn fail_unknown_flags_and_commands() {
    let d = scratch("unknown");
    for args in [
        &["serve", "--dbb", "x"][..],
        &["serv"],
        &["audit", "verify", "--foo"],
    ] {
        let o = coordinator(&d, args);
        assert_eq!(o.status.code(), Some(2), "{args:?} must be a usage error");
        assert!(String::from_utf8_lossy(&o.stderr).contains("error:"));
    }
    assert_eq!(files(&d), 0);
}

#[test]
fn fail_audit_verify_never_creates_a_database() {
    let d = scratch("audit");
    let o = coordinator(&d, &["audit", "verify", "--db", "mistyped.db"]);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("no database at mistyped.db"));
    assert!(!d.join("mistyped.db").exists());
    let o = coordinator(&d, &["audit", "export", "--db", "mistyped.db"]);
    assert!(!o.status.success());
    assert_eq!(files(&d), 0);
}

#[test]
fn fail_database_password_on_the_command_line() {
    let d = scratch("password");
    let o = coordinator(
        &d,
        &[
            "audit",
            "verify",
            "--db",
            "postgres:host=127.0.0.1 user=u password=hunter2 dbname=d",
        ],
    );
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--db-password-file"), "{err}");
}

#[test]
fn audit_verify_catches_a_cut_table_only_against_its_checkpoints() {
    use coordinator::store::Store;
    let d = scratch("checkpoints");
    let db = d.join("coordinator.db");
    let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
    {
        let store = coordinator::store::Sqlite::open(&db).unwrap();
        let mut cp =
            coordinator::audit::checkpoints::Checkpointer::open(&d.join("cp.jsonl"), key.clone())
                .unwrap();
        for n in 1..=60u64 {
            let detail = serde_json::json!({ "n": n });
            store.audit("admin", "test", "x", detail, n).unwrap();
        }
        cp.update(&store.audit_rows(1, 100).unwrap(), 1).unwrap();
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    conn.execute("DELETE FROM audit WHERE seq > 10", [])
        .unwrap();
    drop(conn);
    let alone = coordinator(&d, &["audit", "verify", "--db", "coordinator.db"]);
    assert!(alone.status.success(), "a clean prefix verifies on its own");
    let public = hex::encode(key.verifying_key().as_bytes());
    let args = [
        "audit",
        "verify",
        "--db",
        "coordinator.db",
        "--checkpoints",
        "cp.jsonl",
        "--public-key",
        &public,
    ];
    let o = coordinator(&d, &args);
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("ends at row 10, but row 60 was checkpointed"),
        "{err}"
    );
}
