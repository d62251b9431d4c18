//! Listing in pages and by network, a request's history with its reasons, and the
//! stream of changes (server-sent events).

use super::*;

#[tokio::test]
async fn pages_history_and_events() {
    let a = api();
    // Three requests made in the same second: pages still split them without a gap
    // or a repeat.
    let mut made = Vec::new();
    for (n, amount) in ["1000", "2000", "3000"].iter().enumerate() {
        let (s, v) = a
            .create("t-treasury", &create_body(amount), &format!("p{n}"))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        made.push(v["request"]["id"].as_str().unwrap().to_string());
    }
    let ids = |v: &Value| -> Vec<String> {
        v["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["id"].as_str().unwrap().to_string())
            .collect()
    };
    let (s, first) = a.get("/v1/requests?limit=2", "t-warm").await;
    assert_eq!(s, StatusCode::OK, "{first}");
    assert_eq!(ids(&first).len(), 2);
    let next = first["next"].as_str().expect("a full page names the next");
    let (_, second) = a
        .get(&format!("/v1/requests?limit=2&after={next}"), "t-warm")
        .await;
    assert_eq!(ids(&second).len(), 1, "{second}");
    assert_eq!(second["next"], Value::Null, "the last page names none");
    let mut all: Vec<String> = ids(&first).into_iter().chain(ids(&second)).collect();
    all.sort();
    made.sort();
    assert_eq!(all, made);
    let (s, v) = a.get("/v1/requests?after=yesterday", "t-warm").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // By network.
    let evm = json!({"network": "evm:1", "asset": "native", "destination": "0x52908400098527886E0F7030069857D2E4169EE7", "amount": "1000", "purpose": "withdrawal"}).to_string();
    let (_, v) = a.create("t-treasury", &evm, "p-evm").await;
    let held = v["request"]["id"].as_str().unwrap().to_string();
    let (_, v) = a.get("/v1/requests?network=evm:1", "t-warm").await;
    assert_eq!(ids(&v), std::slice::from_ref(&held));
    let (_, v) = a
        .get(
            "/v1/requests?network=regtest&state=awaiting-approvals",
            "t-warm",
        )
        .await;
    assert_eq!(ids(&v).len(), 3);

    // The stream, from before anything below: every change is an event.
    let tip = a.store.audit_tip().unwrap();
    // Reasons: a reviewer's rejection, a cancel, the risk engine's refusal.
    let reject = json!({"decision": "reject", "reason": "unknown counterparty"}).to_string();
    let (s, _) = a
        .post(&format!("/v1/requests/{held}/review"), "t-risk", &reject)
        .await;
    assert_eq!(s, StatusCode::OK);
    let cancel = json!({"reason": "duplicate of an earlier payout"}).to_string();
    let (s, _) = a
        .post(
            &format!("/v1/requests/{}/cancel", made[0]),
            "t-treasury",
            &cancel,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = a
        .create("t-treasury", &create_body("200000000"), "p-big")
        .await;
    let big = v["request"]["id"].as_str().unwrap().to_string();
    let why = |v: &Value| -> Vec<String> {
        v["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|s| s["why"].as_str().map(String::from))
            .collect()
    };
    let (s, v) = a
        .get(&format!("/v1/requests/{held}/history"), "t-approver")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["steps"][0]["what"], "created");
    assert_eq!(
        v["steps"].as_array().unwrap().last().unwrap()["state"],
        "rejected",
        "{v}"
    );
    assert!(why(&v).contains(&"unknown counterparty".to_string()), "{v}");
    assert!(
        why(&v).iter().any(|w| w.starts_with("risk engine: ")),
        "held with the engine's finding: {v}"
    );
    let (_, v) = a
        .get(&format!("/v1/requests/{}/history", made[0]), "t-warm")
        .await;
    assert_eq!(why(&v), ["duplicate of an earlier payout"], "{v}");
    let (_, v) = a
        .get(&format!("/v1/requests/{big}/history"), "t-warm")
        .await;
    assert!(why(&v)[0].starts_with("risk engine: "), "{v}");
    let (s, _) = a.get("/v1/requests/no-such/history", "t-warm").await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // The audit export for compliance: by network, by actor, as CSV.
    let (s, v) = a.get("/v1/audit/export?network=evm:1", "t-auditor").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let rows = v["rows"].as_array().unwrap();
    assert!(
        rows.len() >= 2 && rows.iter().all(|r| r["subject"] == held.as_str()),
        "{v}"
    );
    let (s, v) = a
        .get("/v1/audit/export?actor=rita&format=csv", "t-auditor")
        .await;
    assert_eq!(s, StatusCode::OK);
    let text = v.as_str().unwrap();
    assert!(
        text.starts_with("seq,time,actor,action,subject,detail,prev_hash,hash\n"),
        "{text}"
    );
    assert_eq!(text.lines().count(), 2, "one row by the reviewer: {text}");
    assert!(text.contains("unknown counterparty"), "{text}");
    let (s, _) = a.get("/v1/audit/export?format=xml", "t-auditor").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    // The stream needs a reader's token like every other route.
    let (s, v) = a.call("GET", "/v1/events", None, None, None).await;
    assert_eq!(
        (s, v),
        (StatusCode::UNAUTHORIZED, json!({"error": "unauthorized"}))
    );
    let (s, _) = a.get("/v1/events?after=x", "t-warm").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let req = Request::get(format!("/v1/events?after={tip}"))
        .header("authorization", "Bearer t-warm")
        .body(Body::empty())
        .unwrap();
    let resp = a.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "text/event-stream");
    let mut body = resp.into_body();
    let mut text = String::new();
    while text.matches("event: request").count() < 3 {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(10), body.frame())
            .await
            .expect("events arrive")
            .expect("the stream is open")
            .unwrap();
        if let Ok(data) = frame.into_data() {
            text.push_str(&String::from_utf8_lossy(&data));
        }
    }
    let data: Vec<Value> = text
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    assert_eq!(data[0]["request"], held.as_str(), "{text}");
    assert_eq!(data[0]["state"], "rejected", "{text}");
    assert_eq!(data[1]["request"], made[0].as_str());
    assert_eq!(data[1]["state"], "cancelled");
    assert_eq!(data[2]["request"], big.as_str());
    assert_eq!(data[2]["what"], "created");
    assert!(
        text.contains(&format!("id: {}", tip + 1)),
        "ids are audit sequence numbers: {text}"
    );
}
