//! The storage conformance suite: every backend must pass it.

use serde_json::json;

use super::{Filter, Sqlite, Store, StoreError};
use crate::audit::verify;
use crate::lifecycle::{Event, State};
use crate::store::Kind;

fn suite(s: &dyn Store) {
    let body =
        json!({"network": "bitcoin", "asset": "native", "amount": "1000", "destination": "bc1q"});
    // Idempotent create.
    let (a, created) = s
        .create_request(Some("k1"), "treasury", &body, 100)
        .unwrap();
    assert!(created);
    assert_eq!(a.state, State::Draft);
    let (again, created) = s
        .create_request(Some("k1"), "treasury", &body, 101)
        .unwrap();
    assert!(!created);
    assert_eq!(again, a);
    // Another principal may use the same key.
    let (b, created) = s.create_request(Some("k1"), "ops", &body, 102).unwrap();
    assert!(created);
    assert_ne!(a.id, b.id);
    // The same key for a different body is refused and changes nothing.
    let other =
        json!({"network": "bitcoin", "asset": "native", "amount": "2000", "destination": "bc1q"});
    assert!(matches!(
        s.create_request(Some("k1"), "treasury", &other, 103),
        Err(StoreError::KeyReuse(_))
    ));
    let (c, _) = s.create_request(None, "treasury", &other, 104).unwrap();
    assert_eq!(s.list(None, None, 100).unwrap().len(), 3);
    assert_eq!(s.list(None, Some("treasury"), 100).unwrap().len(), 2);

    // Transitions: recorded, idempotent, refused out of order.
    let r = s
        .transition(&a.id, Event::RiskApproved, "risk-engine", json!({}), 110)
        .unwrap();
    assert_eq!(r.state, State::AwaitingApprovals);
    let r = s
        .transition(&a.id, Event::RiskApproved, "risk-engine", json!({}), 111)
        .unwrap();
    assert_eq!(r.state, State::AwaitingApprovals, "idempotent");
    assert!(matches!(
        s.transition(&a.id, Event::Broadcast, "x", json!({}), 112),
        Err(StoreError::Transition(_))
    ));
    assert_eq!(
        s.get(&a.id).unwrap().unwrap().state,
        State::AwaitingApprovals
    );
    assert!(matches!(
        s.transition("nope", Event::Cancel, "x", json!({}), 113),
        Err(StoreError::NotFound(_))
    ));
    s.transition(
        &c.id,
        Event::Cancel,
        "treasury",
        json!({"why": "typo"}),
        114,
    )
    .unwrap();
    assert_eq!(
        s.list(Some(State::Cancelled), None, 10).unwrap()[0].id,
        c.id
    );
    // Pages, newest first: the next one starts after the last row shown.
    let page = |after: Option<(u64, &str)>, network: Option<&str>| -> Vec<String> {
        let f = Filter {
            after,
            network,
            limit: 2,
            ..Filter::default()
        };
        s.page(&f).unwrap().into_iter().map(|r| r.id).collect()
    };
    assert_eq!(page(None, None), [c.id.clone(), b.id.clone()]);
    assert_eq!(
        page(Some((b.created, &b.id)), None),
        std::slice::from_ref(&a.id)
    );
    assert_eq!(page(None, Some("bitcoin")).len(), 2);
    assert!(page(None, Some("regtest")).is_empty());
    // A request's own audit rows, with the reason given.
    let rows = s.audit_of(&c.id).unwrap();
    let actions: Vec<&str> = rows.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["request.create", "request.state"]);
    assert_eq!(rows[1].detail["detail"]["why"], "typo", "{:?}", rows[1]);
    assert_eq!(
        s.audit_tip().unwrap(),
        rows[1].seq,
        "the cancel is the last row"
    );

    // Created and assessed in one commit.
    let (d, created) = s
        .create_with(
            Some("k9"),
            "ops",
            &other,
            105,
            Some((Event::RiskReview, "risk-engine", json!({"why": "new"}))),
        )
        .unwrap();
    assert!(created);
    assert_eq!(d.state, State::ManualReview);
    assert_eq!(s.get(&d.id).unwrap().unwrap().state, State::ManualReview);
    let (again, created) = s
        .create_with(
            Some("k9"),
            "ops",
            &other,
            106,
            Some((Event::RiskApproved, "risk-engine", json!({}))),
        )
        .unwrap();
    assert!(!created);
    assert_eq!(again.state, State::ManualReview, "a replay changes nothing");

    // History for the risk engine: live requests of the principal, not the excluded one.
    let h = s.history("treasury", 0, &c.id).unwrap();
    assert_eq!(h.len(), 1, "a (c is cancelled and excluded)");
    assert_eq!((h[0].amount, h[0].network.as_str()), (1000, "bitcoin"));
    assert!(s.history("treasury", 101, "").unwrap().is_empty(), "since");

    // Leases: one owner at a time; expiry frees it; the holder may renew.
    assert!(s.claim(&a.id, "broadcast", "replica-1", 200, 30).unwrap());
    assert!(!s.claim(&a.id, "broadcast", "replica-2", 210, 30).unwrap());
    assert!(s.claim(&a.id, "broadcast", "replica-1", 215, 30).unwrap());
    // A renewal read from an older clock (a step that waited) never shortens it.
    assert!(s.claim(&a.id, "broadcast", "replica-1", 210, 5).unwrap());
    assert!(
        !s.claim(&a.id, "broadcast", "replica-2", 230, 30).unwrap(),
        "held until 245, not 215"
    );
    assert!(
        s.claim(&a.id, "export", "replica-2", 215, 30).unwrap(),
        "another step"
    );
    assert!(
        s.claim(&a.id, "broadcast", "replica-2", 246, 30).unwrap(),
        "expired"
    );

    // The audit chain has every change and verifies.
    s.audit(
        "auditor",
        "audit.export",
        "2026-11",
        json!({"rows": 3}),
        300,
    )
    .unwrap();
    let rows = s.audit_rows(1, 1000).unwrap();
    // 4 creates, 3 state changes (the idempotent one records nothing), 1 explicit.
    assert_eq!(rows.len(), 8, "{rows:#?}");
    verify(&rows, Some((8, &rows[7].hash))).unwrap();
    assert_eq!(s.audit_rows(4, 2).unwrap().len(), 2);

    // Every request in a state, on a network, uncapped and oldest first.
    let waiting = s
        .in_state(State::AwaitingApprovals, Some("bitcoin"))
        .unwrap();
    assert!(!waiting.is_empty());
    assert!(waiting.iter().all(|r| r.state == State::AwaitingApprovals));
    assert!(waiting.windows(2).all(|w| w[0].created <= w[1].created));
    assert_eq!(waiting, s.in_state(State::AwaitingApprovals, None).unwrap());
    assert!(s
        .in_state(State::AwaitingApprovals, Some("evm:1"))
        .unwrap()
        .is_empty());

    // The risk history reads what was created (the treasury's live requests).
    let h = s.history("treasury", 0, "").unwrap();
    assert!(!h.is_empty());
    assert!(h
        .iter()
        .all(|p| p.network == "bitcoin" && p.destination == "bc1q"));
    assert!(h.iter().any(|p| p.amount == 1000));
    assert_eq!(s.history("nobody", 0, "").unwrap().len(), 0);

    // Artifacts: write-once, a retry with the same value is a no-op, another value is
    // refused and leaves the first; each new one is audited.
    assert!(s
        .put_artifact(&a.id, Kind::Approval, "ana", "sig-1", "ana", json!({}), 301)
        .unwrap());
    assert!(!s
        .put_artifact(&a.id, Kind::Approval, "ana", "sig-1", "ana", json!({}), 302)
        .unwrap());
    assert!(matches!(
        s.put_artifact(&a.id, Kind::Approval, "ana", "sig-2", "ana", json!({}), 303),
        Err(StoreError::Exists(_))
    ));
    assert!(s
        .put_artifact(&a.id, Kind::Approval, "ben", "sig-3", "ben", json!({}), 304)
        .unwrap());
    assert!(s
        .put_artifact(
            "",
            Kind::Approval,
            "ana",
            "other subject",
            "admin",
            json!({}),
            305
        )
        .unwrap());
    assert_eq!(
        s.artifacts(&a.id, Kind::Approval).unwrap(),
        vec![
            ("ana".into(), "sig-1".into()),
            ("ben".into(), "sig-3".into())
        ]
    );
    // Every approval of every subject, oldest first.
    let all: Vec<[String; 3]> = s.artifacts_of(Kind::Approval).unwrap();
    let keys: Vec<(&str, &str)> = all
        .iter()
        .map(|[_, k, v]| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("ana", "sig-1"), ("ben", "sig-3"), ("ana", "other subject")]
    );
    assert_eq!(
        s.artifact(&a.id, Kind::Approval, "ana").unwrap().as_deref(),
        Some("sig-1")
    );
    assert_eq!(s.artifact(&a.id, Kind::Export, "x").unwrap(), None);
    let rows = s.audit_rows(1, 1000).unwrap();
    assert_eq!(rows.len(), 11);
    assert_eq!(rows[8].action, "artifact.approval");
    verify(&rows, None).unwrap();
    // Webhook cursors and API tokens.
    super::conformance_more::suite(s);
}

/// The risk engine's view under concurrency: 40 creates of 10 by one principal against
/// a budget of 100, from 8 threads spread over `stores` (replicas of one database):
/// the history each assessment reads includes every earlier create, so exactly ten
/// are approved. A replay is not assessed again.
fn budget_holds_under_concurrent_creates(stores: &[&dyn Store]) {
    let assess: super::Assessor = std::sync::Arc::new(|h: &crate::risk::Summary| {
        let spent = h.day_total.to_string();
        if h.day_total + 10 <= 100 {
            (
                Event::RiskApproved,
                "risk-engine".into(),
                json!({ "spent": spent }),
            )
        } else {
            (
                Event::RiskRejected,
                "risk-engine".into(),
                json!({ "spent": spent }),
            )
        }
    });
    let query = crate::risk::HistoryQuery {
        principal: "desk".into(),
        network: "regtest".into(),
        asset: "native".into(),
        destination: "d0".into(),
        now: 500,
        since: 0,
        windows: vec![60],
    };
    let body = |n: usize| json!({"network": "regtest", "asset": "native", "amount": "10", "destination": format!("d{n}")});
    std::thread::scope(|scope| {
        for t in 0..8 {
            let s = stores[t % stores.len()];
            let (assess, query) = (assess.clone(), &query);
            scope.spawn(move || {
                for i in 0..5 {
                    let n = t * 5 + i;
                    s.create_assessed(Some(&format!("b{n}")), &body(n), query, assess.clone())
                        .unwrap();
                }
            });
        }
    });
    let s = stores[0];
    let approved = s
        .list(Some(State::AwaitingApprovals), Some("desk"), 1000)
        .unwrap();
    let rejected = s.list(Some(State::Rejected), Some("desk"), 1000).unwrap();
    assert_eq!(approved.len(), 10, "the budget admits exactly ten");
    assert_eq!(rejected.len(), 30);
    // A replay of an approved create returns it as it is, without a new assessment.
    let first = &approved[0];
    let n: usize = first.idempotency_key.as_deref().unwrap()[1..]
        .parse()
        .unwrap();
    let (again, created) = s
        .create_assessed(
            first.idempotency_key.as_deref(),
            &body(n),
            &query,
            assess.clone(),
        )
        .unwrap();
    assert!(!created);
    assert_eq!(again.state, State::AwaitingApprovals);
    // A cancel (through another replica, where there are two) frees its amount: exactly
    // one more fits.
    stores[stores.len() - 1]
        .transition(&approved[1].id, Event::Cancel, "treasury", json!({}), 502)
        .unwrap();
    let (fits, _) = s
        .create_assessed(Some("after-1"), &body(100), &query, assess.clone())
        .unwrap();
    let (over, _) = s
        .create_assessed(Some("after-2"), &body(101), &query, assess)
        .unwrap();
    assert_eq!(fits.state, State::AwaitingApprovals);
    assert_eq!(over.state, State::Rejected);
    verify(&s.audit_rows(1, 100_000).unwrap(), None).unwrap();
    summaries_match_the_reference(s);
}

/// The risk engine's summary over a backend's history rows: per network and asset (any
/// case), EVM addresses without case, others with, windows, starting times, cancelled
/// requests left out, sums saturating.
fn summaries_match_the_reference(s: &dyn Store) {
    let rows = [
        ("evm:1", "native", "0xAbCd", "700", 1_000),
        ("evm:1", "NATIVE", "0xabcd", "300", 50_000),
        ("evm:1", "0xToken", "0xEeEe", "5", 90_000),
        (
            "regtest",
            "native",
            "bcrt1qx",
            "340282366920938463463374607431768211455",
            99_000,
        ),
        ("regtest", "native", "bcrt1qx", "1", 99_500),
        ("solana:devnet", "native", "So1", "9", 99_990),
    ];
    for (n, (network, asset, destination, amount, created)) in rows.iter().enumerate() {
        let body = json!({"network": network, "asset": asset, "destination": destination, "amount": amount});
        s.create_request(Some(&format!("sum{n}")), "summer", &body, *created)
            .unwrap();
    }
    // Cancelled requests do not count.
    let (gone, _) = s
        .create_request(
            Some("sum-gone"),
            "summer",
            &json!({"network": "evm:1", "asset": "native", "destination": "0xabcd", "amount": "100000"}),
            99_999,
        )
        .unwrap();
    s.transition(&gone.id, Event::Cancel, "treasury", json!({}), 99_999)
        .unwrap();
    let q = |network: &str, asset: &str, destination: &str, since: u64, windows: Vec<u64>| {
        crate::risk::HistoryQuery {
            principal: "summer".into(),
            network: network.into(),
            asset: asset.into(),
            destination: destination.into(),
            now: 100_000,
            since,
            windows,
        }
    };
    let queries = [
        q("evm:1", "native", "0xABCD", 0, vec![]),
        q("evm:1", "Native", "0xnew", 0, vec![60, 600, 100_000]),
        q("evm:1", "0xtoken", "0xeeee", 60_000, vec![20_000]),
        q("regtest", "native", "bcrt1qx", 0, vec![1_000]),
        q("regtest", "native", "BCRT1QX", 99_200, vec![1]),
        q("solana:devnet", "native", "So1", 0, vec![11]),
        q("nowhere", "native", "x", 0, vec![5]),
    ];
    let summary = |k: usize| {
        let query: &crate::risk::HistoryQuery = &queries[k];
        crate::risk::Summary::of(query, &s.history("summer", query.since, "").unwrap())
    };
    let want = |day_total: u128, in_window: Vec<u64>, largest: Option<u128>, paid_before| {
        crate::risk::Summary {
            day_total,
            in_window,
            largest,
            paid_before,
        }
    };
    assert_eq!(summary(0), want(300, vec![], Some(700), true));
    assert_eq!(summary(1), want(300, vec![1, 2, 6], Some(700), false));
    assert_eq!(summary(2), want(5, vec![4], Some(5), true));
    assert_eq!(summary(3), want(u128::MAX, vec![2], Some(u128::MAX), true));
    assert_eq!(summary(4), want(1, vec![0], Some(1), false));
    assert_eq!(summary(5), want(9, vec![1], Some(9), true));
    assert_eq!(summary(6), want(0, vec![0], None, false));
}

/// A database path in a fresh temporary folder named after `tag`.
pub(super) fn scratch_db(tag: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("strongroom-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("coordinator.db")
}

#[test]
fn sqlite_in_memory() {
    suite(&Sqlite::memory().unwrap());
}

#[test]
fn sqlite_budget_holds_under_concurrent_creates() {
    budget_holds_under_concurrent_creates(&[&Sqlite::memory().unwrap()]);
}

#[test]
fn sqlite_file_survives_reopen_and_detects_tampering() {
    let path = scratch_db("store");
    let id = {
        let s = Sqlite::open(&path).unwrap();
        suite(&s);
        s.list(Some(State::AwaitingApprovals), None, 1).unwrap()[0]
            .id
            .clone()
    };
    let s = Sqlite::open(&path).unwrap();
    assert_eq!(s.get(&id).unwrap().unwrap().state, State::AwaitingApprovals);
    // Someone edits the database behind the coordinator's back.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE audit SET detail = '{\"to\":\"confirmed\"}' WHERE seq = 4",
        [],
    )
    .unwrap();
    let rows = s.audit_rows(1, 1000).unwrap();
    assert_eq!(
        verify(&rows, None),
        Err(crate::audit::AuditBreak::Edited { seq: 4 })
    );
    conn.execute("DELETE FROM audit WHERE seq = 2", []).unwrap();
    let rows = s.audit_rows(1, 1000).unwrap();
    assert_eq!(
        verify(&rows, None),
        Err(crate::audit::AuditBreak::Deleted { from: 2, to: 2 })
    );
}

#[test]
fn postgres() {
    let cluster = super::pgtest::TempCluster::start("conformance").unwrap();
    let s = super::Postgres::connect(&cluster.params).unwrap();
    suite(&s);
    // A second replica on the same database: migrations are not re-run, leases and
    // the audit chain are shared.
    let replica = super::Postgres::connect(&cluster.params).unwrap();
    let id = s.list(Some(State::AwaitingApprovals), None, 1).unwrap()[0]
        .id
        .clone();
    assert!(s.claim(&id, "finalise", "replica-1", 1000, 60).unwrap());
    assert!(!replica
        .claim(&id, "finalise", "replica-2", 1001, 60)
        .unwrap());
    replica
        .transition(&id, Event::ApprovalsComplete, "ana", json!({}), 1002)
        .unwrap();
    assert_eq!(s.get(&id).unwrap().unwrap().state, State::Approved);
    let rows = s.audit_rows(1, 10_000).unwrap();
    verify(&rows, None).unwrap();
}

/// Over TLS: the server's certificate is verified against the CA given, refused against
/// the web roots, and `sslmode=require` refuses a server without TLS.
#[test]
fn postgres_over_tls_verifies_the_server() {
    let cluster = super::pgtest::TempCluster::start_with("tls", true).unwrap();
    let ca = cluster.ca_pem.clone().unwrap();
    let params = format!("{} sslmode=require", cluster.params);
    let s = super::Postgres::connect_with(&params, Some(&ca)).unwrap();
    suite(&s);
    let mut c = super::postgres::pool_client(&params, Some(&ca));
    let ssl: bool = c
        .query_one(
            "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
            &[],
        )
        .unwrap()
        .get(0);
    assert!(ssl, "the connection is not encrypted");
    let refused = super::Postgres::connect_with(&params, None).unwrap_err();
    assert!(refused.to_string().contains("certificate"), "{refused}");
    let plain = super::pgtest::TempCluster::start("plain").unwrap();
    let refused =
        super::Postgres::connect_with(&format!("{} sslmode=require", plain.params), Some(&ca))
            .unwrap_err();
    assert!(refused.to_string().contains("TLS"), "{refused}");
}

/// A restarted server cuts every pooled connection; the next calls reconnect instead of
/// failing until the coordinator restarts.
#[test]
fn postgres_pool_reconnects_after_a_server_restart() {
    let cluster = super::pgtest::TempCluster::start("restart").unwrap();
    let s = super::Postgres::connect(&cluster.params).unwrap();
    let body = json!({"network": "regtest", "asset": "native", "amount": "1", "destination": "x"});
    let (row, _) = s.create_request(Some("before"), "warm", &body, 1).unwrap();
    cluster.restart().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1200));
    // More calls than pooled connections: every one of them was cut.
    for i in 0..20 {
        assert_eq!(s.get(&row.id).unwrap().unwrap().id, row.id, "read {i}");
    }
    s.create_request(Some("after"), "warm", &body, 2).unwrap();
    s.transition(&row.id, Event::RiskApproved, "risk-engine", json!({}), 3)
        .unwrap();
    verify(&s.audit_rows(1, 10_000).unwrap(), None).unwrap();
}

#[test]
fn postgres_replicas_extend_one_audit_chain_concurrently() {
    let cluster = super::pgtest::TempCluster::start("replicas").unwrap();
    let a = std::sync::Arc::new(super::Postgres::connect(&cluster.params).unwrap());
    let b = std::sync::Arc::new(super::Postgres::connect(&cluster.params).unwrap());
    let hs: Vec<_> = [a.clone(), b.clone()]
        .into_iter()
        .enumerate()
        .map(|(n, s)| {
            std::thread::spawn(move || {
                for i in 0..50 {
                    s.create_request(
                        Some(&format!("k{n}-{i}")),
                        "warm",
                        &json!({"network": "regtest", "asset": "native", "amount": "1", "destination": "x"}),
                        1,
                    )
                    .unwrap();
                }
            })
        })
        .collect();
    for h in hs {
        h.join().unwrap();
    }
    let rows = a.audit_rows(1, 10_000).unwrap();
    assert_eq!(rows.len(), 100);
    verify(&rows, None).unwrap();
    // Risk budgets hold across both replicas.
    budget_holds_under_concurrent_creates(&[a.as_ref(), b.as_ref()]);
}

/// Group commit: writers on many threads share fsyncs; every answered write is there
/// after reopening, and the audit chain is one unbroken sequence.
#[test]
fn sqlite_group_commit_keeps_every_answered_write() {
    let path = scratch_db("group");
    let answered = {
        let s = std::sync::Arc::new(Sqlite::open(&path).unwrap());
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    (0..50)
                        .map(|i| {
                            let body = json!({"network": "regtest", "asset": "native", "amount": (1000 + i).to_string(), "destination": format!("d{t}")});
                            let (row, _) = s
                                .create_request(Some(&format!("k{t}-{i}")), &format!("p{t}"), &body, 100)
                                .unwrap();
                            s.transition(&row.id, Event::RiskApproved, "risk-engine", json!({}), 101)
                                .unwrap();
                            row.id
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect::<Vec<_>>()
    };
    let s = Sqlite::open(&path).unwrap();
    for id in &answered {
        assert_eq!(s.get(id).unwrap().unwrap().state, State::AwaitingApprovals);
    }
    let rows = s.audit_rows(1, usize::MAX).unwrap();
    assert_eq!(rows.len(), 8 * 50 * 2);
    verify(&rows, None).unwrap();
    // The risk history reads the new columns.
    assert_eq!(s.history("p3", 0, "").unwrap().len(), 50);
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}
