//! The audit table edited as someone with database access would, on both backends:
//! rows edited and every hash after them recomputed, and the newest rows deleted. The
//! chain verifies on its own either way; the checkpoints written outside the database
//! catch both and say from where.

use super::Store;
use crate::audit::checkpoints::{self, AnchorBreak, Checkpointer};
use crate::audit::verify;

/// Runs the cases on `store`, editing its tables with `sql`.
fn tampering_is_caught_against_checkpoints(store: &dyn Store, sql: &dyn Fn(&str), tag: &str) {
    let file = std::env::temp_dir().join(format!(
        "strongroom-checkpoints-{tag}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_file(&file);
    let key = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
    let mut cp = Checkpointer::open(&file, key.clone()).unwrap();
    let write = |from: u64, to: u64| {
        for n in from..=to {
            let detail = serde_json::json!({ "n": n });
            store
                .audit("treasury", "request.state", &format!("r{n}"), detail, n)
                .unwrap();
        }
    };
    write(1, 40);
    assert!(cp
        .update(&store.audit_rows(cp.from_seq(), 1000).unwrap(), 1)
        .unwrap());
    write(41, 80);
    assert!(cp
        .update(&store.audit_rows(cp.from_seq(), 1000).unwrap(), 2)
        .unwrap());
    assert!(!cp
        .update(&store.audit_rows(cp.from_seq(), 1000).unwrap(), 3)
        .unwrap());
    let vk = key.verifying_key();
    let cps = checkpoints::read(&file).unwrap();
    let rows = store.audit_rows(1, 1000).unwrap();
    assert_eq!(checkpoints::verify(&rows, &cps, &vk), Ok(80));

    // Row 55 edited and rows 55–80 re-hashed in place.
    let rewritten = crate::audit::rewritten(&rows, 55, serde_json::json!({ "n": "edited" }));
    for r in &rewritten[54..] {
        sql(&format!(
            "UPDATE audit SET detail = '{}', prev_hash = '{}', hash = '{}' WHERE seq = {}",
            r.detail, r.prev_hash, r.hash, r.seq
        ));
    }
    let rows = store.audit_rows(1, 1000).unwrap();
    assert_eq!(rows, rewritten);
    assert_eq!(verify(&rows, None), Ok(()), "re-hashed: intact on its own");
    assert_eq!(
        checkpoints::verify(&rows, &cps, &vk),
        Err(AnchorBreak::Rewritten {
            checkpointed: 80,
            last_good: 40,
            first_suspect: 41
        })
    );

    // The newest 50 rows deleted.
    sql("DELETE FROM audit WHERE seq > 30");
    let rows = store.audit_rows(1, 1000).unwrap();
    assert_eq!(verify(&rows, None), Ok(()), "cut: intact on its own");
    assert_eq!(
        checkpoints::verify(&rows, &cps, &vk),
        Err(AnchorBreak::Truncated {
            found: 30,
            expected: 40
        })
    );
    let _ = std::fs::remove_file(&file);
}

#[test]
fn sqlite_rewrite_and_truncation_are_caught() {
    let path = super::conformance::scratch_db("tamper");
    let store = super::Sqlite::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    tampering_is_caught_against_checkpoints(&store, &|q| conn.execute_batch(q).unwrap(), "sqlite");
}

#[test]
fn postgres_rewrite_and_truncation_are_caught() {
    let cluster = super::pgtest::TempCluster::start("tamper").unwrap();
    let store = super::Postgres::connect(&cluster.params).unwrap();
    let client = std::cell::RefCell::new(super::postgres::pool_client(&cluster.params, None));
    tampering_is_caught_against_checkpoints(
        &store,
        &|q| client.borrow_mut().batch_execute(q).unwrap(),
        "postgres",
    );
}
