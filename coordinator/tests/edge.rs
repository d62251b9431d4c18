//! The HTTP edge over real sockets: a stalled body is answered 408 (not 413) and frees
//! its connection, an idle keep-alive connection is closed, and connections over the cap
//! wait until one closes.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use coordinator::api::{router, token_hash, AppState, Config};
use coordinator::risk::RiskConfig;
use coordinator::server::{serve, Limits};
use coordinator::store::{Sqlite, Store};

const RISK: &str = r#"
[[limits]]
network = "regtest"
asset = "native"
per_transaction = "100000000"
per_day = "500000000"
"#;

/// Starts the API on a free port with `limits`; returns its address.
fn start(limits: Limits) -> std::net::SocketAddr {
    let store = Arc::new(Sqlite::memory().unwrap());
    store
        .add_token(&token_hash("t"), "treasury-1", &["treasury".into()], 1)
        .unwrap();
    let state = AppState::new(
        store,
        Config {
            networks: vec!["regtest".into()],
            risk: RiskConfig::from_toml(RISK).unwrap().into(),
        },
        Box::new(|| 1_800_000_000),
    );
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = router(Arc::new(state));
            serve(listener, app, limits, std::future::pending()).await
        })
    });
    addr
}

/// Reads until the peer closes or `limit` passes; returns what came and whether the
/// peer closed.
fn read_all(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    s.set_read_timeout(Some(limit)).unwrap();
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return (String::from_utf8_lossy(&out).into_owned(), true),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&out).into_owned(), false),
        }
    }
}

fn limits() -> Limits {
    Limits {
        max_connections: 4,
        header_read: Duration::from_millis(700),
        body_read: Duration::from_millis(700),
        request: Duration::from_secs(10),
        grace: Duration::from_secs(1),
    }
}

#[test]
fn stalled_body_is_a_timeout_and_frees_the_connection() {
    let addr = start(limits());
    let mut s = TcpStream::connect(addr).unwrap();
    let head = "POST /v1/requests HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t\r\n\
        Idempotency-Key: k\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"network\"";
    s.write_all(head.as_bytes()).unwrap();
    let started = Instant::now();
    let (answer, _) = read_all(&mut s, Duration::from_secs(5));
    assert!(
        answer.starts_with("HTTP/1.1 408"),
        "a stalled body is a timeout: {answer}"
    );
    assert!(answer.contains("did not arrive in time"), "{answer}");
    assert!(!answer.contains("body over"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn idle_keep_alive_connection_is_closed() {
    let addr = start(limits());
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = Instant::now();
    let (answer, closed) = read_all(&mut s, Duration::from_secs(5));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(closed, "the idle connection was held open");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn connections_over_the_cap_wait_for_a_free_slot() {
    let addr = start(Limits {
        header_read: Duration::from_secs(3),
        ..limits()
    });
    // Four idle connections take every slot.
    let idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = TcpStream::connect(addr).unwrap();
    fifth
        .write_all(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let (answer, _) = read_all(&mut fifth, Duration::from_millis(800));
    assert_eq!(answer, "", "served over the cap");
    drop(idle);
    let (answer, _) = read_all(&mut fifth, Duration::from_secs(5));
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "served once a slot is free: {answer:?}"
    );
}
