//! The API in-process (tower `oneshot`): authentication and roles on every route, and
//! every class of bad input answered with a 4xx that changes nothing.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use coordinator::api::{router, token_hash, AppState, Config};
use coordinator::risk::RiskConfig;
use coordinator::store::{Sqlite, Store};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

#[path = "api/documents.rs"]
mod documents;
#[path = "api/pages.rs"]
mod pages;
#[path = "api/signing.rs"]
mod signing;
#[path = "api/tokens.rs"]
mod tokens;

const RISK: &str = include_str!("api/risk.toml");

const DEST: &str = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080";

struct Api {
    app: axum::Router,
    store: Arc<Sqlite>,
}

fn api() -> Api {
    let store = Arc::new(Sqlite::memory().unwrap());
    for (token, principal, roles) in [
        ("t-admin", "root", "admin"),
        ("t-treasury", "treasury-1", "treasury"),
        ("t-approver", "ana", "approver"),
        ("t-risk", "rita", "risk"),
        ("t-auditor", "audrey", "auditor"),
        ("t-warm", "warm-tier", "warm-tier"),
    ] {
        store
            .add_token(&token_hash(token), principal, &[roles.to_string()], 1)
            .unwrap();
    }
    let state = AppState::new(
        store.clone(),
        Config {
            networks: vec!["regtest".into(), "evm:1".into(), "solana:devnet".into()],
            risk: RiskConfig::from_toml(RISK).unwrap().into(),
        },
        Box::new(|| 1_800_000_000),
    );
    Api {
        app: router(Arc::new(state)),
        store,
    }
}

impl Api {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        key: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        if let Some(k) = key {
            b = b.header("idempotency-key", k);
        }
        let req = match body {
            Some(s) => b
                .header("content-type", "application/json")
                .body(Body::from(s.to_string())),
            None => b.body(Body::empty()),
        }
        .unwrap();
        let resp = self.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let v = serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into_owned()));
        (status, v)
    }

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.call("GET", path, Some(token), None, None).await
    }

    async fn post(&self, path: &str, token: &str, body: &str) -> (StatusCode, Value) {
        self.call("POST", path, Some(token), Some(body), None).await
    }

    /// A new request with an idempotency key.
    async fn create(&self, token: &str, body: &str, key: &str) -> (StatusCode, Value) {
        self.call("POST", "/v1/requests", Some(token), Some(body), Some(key))
            .await
    }

    fn audit_len(&self) -> usize {
        self.store.audit_rows(1, 100_000).unwrap().len()
    }
}

fn create_body(amount: &str) -> String {
    json!({"network": "regtest", "asset": "native", "destination": DEST, "amount": amount, "purpose": "withdrawal"}).to_string()
}

#[tokio::test]
async fn auth_and_roles_on_every_route() {
    let a = api();
    let (_, v) = a.create("t-treasury", &create_body("1000"), "seed").await;
    let id = v["request"]["id"].as_str().unwrap().to_string();
    let readers = vec![
        "t-treasury",
        "t-approver",
        "t-risk",
        "t-auditor",
        "t-warm",
        "t-admin",
    ];
    let routes: Vec<(&str, String, Option<String>, Vec<&str>)> = vec![
        (
            "POST",
            "/v1/requests".into(),
            Some(create_body("2000")),
            vec!["t-treasury", "t-warm", "t-admin"],
        ),
        ("GET", "/v1/requests".into(), None, readers.clone()),
        ("GET", format!("/v1/requests/{id}"), None, readers.clone()),
        (
            "POST",
            format!("/v1/requests/{id}/review"),
            Some(json!({"decision": "clear", "reason": "known"}).to_string()),
            vec!["t-risk", "t-admin"],
        ),
        (
            "POST",
            format!("/v1/requests/{id}/cancel"),
            Some(json!({"reason": "r"}).to_string()),
            vec!["t-treasury", "t-admin"],
        ),
        (
            "GET",
            "/v1/audit".into(),
            None,
            vec!["t-auditor", "t-admin"],
        ),
        (
            "GET",
            "/v1/audit/verify".into(),
            None,
            vec!["t-auditor", "t-admin"],
        ),
        (
            "GET",
            "/v1/audit/export".into(),
            None,
            vec!["t-auditor", "t-admin"],
        ),
        (
            "GET",
            "/v1/audit/reconcile".into(),
            None,
            vec!["t-auditor", "t-admin"],
        ),
        ("GET", "/v1/me".into(), None, readers.clone()),
        (
            "GET",
            format!("/v1/requests/{id}/history"),
            None,
            readers.clone(),
        ),
    ];
    let mut routes = routes;
    routes.extend([
        (
            "POST",
            "/v1/stations".to_string(),
            Some(json!({"cbor_hex": "00"}).to_string()),
            vec!["t-admin"],
        ),
        ("GET", "/v1/stations".into(), None, readers.clone()),
        ("GET", "/v1/vaults".into(), None, readers.clone()),
        (
            "POST",
            "/v1/deposits".into(),
            Some(json!({"network": "regtest"}).to_string()),
            vec!["t-treasury", "t-warm", "t-admin"],
        ),
        (
            "GET",
            "/v1/deposits?network=regtest".into(),
            None,
            readers.clone(),
        ),
        (
            "GET",
            "/v1/sweeps/plan?network=regtest".into(),
            None,
            readers.clone(),
        ),
        (
            "POST",
            "/v1/approvers".into(),
            Some(json!({"principal": "ana", "public_key": "00"}).to_string()),
            vec!["t-admin"],
        ),
        (
            "GET",
            format!("/v1/requests/{id}/envelope"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/approval/typed"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/approval/typed/0"),
            None,
            readers.clone(),
        ),
        (
            "POST",
            format!("/v1/requests/{id}/approvals"),
            Some(json!({"signature": "00"}).to_string()),
            vec!["t-approver", "t-admin"],
        ),
        (
            "POST",
            format!("/v1/requests/{id}/export"),
            None,
            vec!["t-treasury", "t-admin"],
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/frames"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/frames/0"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/bbqr"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/bbqr/0"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/standard"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/psbt"),
            None,
            readers.clone(),
        ),
        (
            "GET",
            format!("/v1/requests/{id}/export/bundle?station=a"),
            None,
            vec!["t-treasury", "t-admin"],
        ),
        (
            "POST",
            format!("/v1/requests/{id}/import"),
            Some(json!({"frames": ["ur:x"]}).to_string()),
            vec!["t-treasury", "t-admin"],
        ),
        ("GET", format!("/v1/requests/{id}/chain"), None, readers),
        (
            "POST",
            "/v1/scan".into(),
            Some("x".into()),
            vec!["t-treasury", "t-admin"],
        ),
    ]);
    let all = [
        "t-admin",
        "t-treasury",
        "t-approver",
        "t-risk",
        "t-auditor",
        "t-warm",
    ];
    for (method, path, body, allowed) in &routes {
        for (tok, want) in [
            (None, StatusCode::UNAUTHORIZED),
            (Some("nope"), StatusCode::UNAUTHORIZED),
        ] {
            let before = a.audit_len();
            let (s, v) = a
                .call(method, path, tok, body.as_deref(), Some("k-auth"))
                .await;
            assert_eq!(s, want, "{method} {path} with {tok:?}");
            assert_eq!(v, json!({"error": "unauthorized"}), "no detail leaked");
            assert_eq!(a.audit_len(), before);
        }
        for tok in all.iter().filter(|t| !allowed.contains(t)) {
            let before = a.audit_len();
            let (s, v) = a
                .call(method, path, Some(tok), body.as_deref(), Some("k-role"))
                .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{method} {path} as {tok}");
            assert_eq!(v, json!({"error": "forbidden"}));
            assert_eq!(a.audit_len(), before, "a refused call changes nothing");
        }
        // The first allowed role gets through authorisation (the answer may still be a
        // domain 4xx such as 409, never 401/403).
        let (s, _) = a
            .call(
                method,
                path,
                Some(allowed[0]),
                body.as_deref(),
                Some("k-ok"),
            )
            .await;
        assert!(
            s != StatusCode::UNAUTHORIZED && s != StatusCode::FORBIDDEN,
            "{method} {path}: {s}"
        );
    }
    // Open routes.
    assert_eq!(
        a.call("GET", "/health", None, None, None).await.0,
        StatusCode::OK
    );
    let (s, m) = a.call("GET", "/metrics", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        m.as_str()
            .unwrap()
            .contains("strongroom_requests_created_total 2"),
        "{m}"
    );
    let (s, doc) = a.call("GET", "/openapi.json", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    for (_, path, _, _) in &routes {
        let templ = path
            .replace(&id, "{id}")
            .replace("/frames/0", "/frames/{n}")
            .replace("/bbqr/0", "/bbqr/{n}")
            .replace("/typed/0", "/typed/{n}")
            .replace("?station=a", "")
            .replace("?network=regtest", "");
        assert!(doc["paths"].get(&templ).is_some(), "{templ} documented");
    }
}

#[tokio::test]
async fn bad_input_is_a_clear_4xx_and_changes_nothing() {
    let a = api();
    let t = Some("t-treasury");
    let big = format!("{{\"memo\": \"{}\"}}", "x".repeat(70_000));
    let cases: Vec<(&str, String, Option<&str>, StatusCode, &str)> = vec![
        ("malformed JSON", "{\"network\": ".into(), Some("k1"), StatusCode::BAD_REQUEST, "malformed JSON"),
        ("unknown field", json!({"network": "regtest", "asset": "native", "destination": DEST, "amount": "1", "purpose": "withdrawal", "fee": "0"}).to_string(), Some("k2"), StatusCode::UNPROCESSABLE_ENTITY, "unknown field"),
        ("missing field", json!({"network": "regtest"}).to_string(), Some("k3"), StatusCode::UNPROCESSABLE_ENTITY, "missing field"),
        ("zero amount", create_body("0"), Some("k4"), StatusCode::BAD_REQUEST, "positive"),
        ("negative amount", create_body("-5"), Some("k5"), StatusCode::BAD_REQUEST, "digits only"),
        ("fractional amount", create_body("1.5"), Some("k6"), StatusCode::BAD_REQUEST, "digits only"),
        ("amount over 128 bits", create_body(&"9".repeat(39)), Some("k7"), StatusCode::BAD_REQUEST, "out of range"),
        ("wrong-network address", json!({"network": "regtest", "asset": "native", "destination": "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4", "amount": "1", "purpose": "withdrawal"}).to_string(), Some("k8"), StatusCode::BAD_REQUEST, "not an address for regtest"),
        ("bad EVM checksum", json!({"network": "evm:1", "asset": "native", "destination": "0x52908400098527886E0F7030069857D2E4169Ee7", "amount": "1", "purpose": "withdrawal"}).to_string(), Some("k9"), StatusCode::BAD_REQUEST, "checksum"),
        ("network not served", json!({"network": "evm:56", "asset": "native", "destination": "0x5290840009852788 6e0f7030069857d2e4169ee7".replace(' ', ""), "amount": "1", "purpose": "withdrawal"}).to_string(), Some("k10"), StatusCode::BAD_REQUEST, "not served"),
        ("token on bitcoin", json!({"network": "regtest", "asset": "USDT", "destination": DEST, "amount": "1", "purpose": "withdrawal"}).to_string(), Some("k11"), StatusCode::BAD_REQUEST, "no tokens"),
        ("no idempotency key", create_body("1"), None, StatusCode::BAD_REQUEST, "Idempotency-Key"),
        ("oversized body", big, Some("k12"), StatusCode::PAYLOAD_TOO_LARGE, "body over"),
    ];
    for (name, body, key, want, says) in cases {
        let before = (a.audit_len(), a.store.list(None, None, 1000).unwrap().len());
        let (s, v) = a.call("POST", "/v1/requests", t, Some(&body), key).await;
        assert_eq!(s, want, "{name}: {v}");
        let msg = v["error"].as_str().unwrap_or_default();
        assert!(msg.contains(says), "{name}: {msg:?} should say {says:?}");
        assert_eq!(
            before,
            (a.audit_len(), a.store.list(None, None, 1000).unwrap().len()),
            "{name} changed something"
        );
    }
    // Wrong content type.
    let req = Request::builder()
        .method("POST")
        .uri("/v1/requests")
        .header("authorization", "Bearer t-treasury")
        .header("idempotency-key", "k13")
        .header("content-type", "text/plain")
        .body(Body::from(create_body("1")))
        .unwrap();
    let resp = a.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Bad query and path.
    let (s, _) = a.call("GET", "/v1/requests?limit=0", t, None, None).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = a
        .call("GET", "/v1/requests?state=flying", t, None, None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = a
        .call("GET", "/v1/requests?colour=red", t, None, None)
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = a
        .call("GET", "/v1/requests/does-not-exist", t, None, None)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, m) = a.call("GET", "/metrics", None, None, None).await;
    assert!(m
        .as_str()
        .unwrap()
        .contains("strongroom_http_server_errors_total 0"));
}

#[tokio::test]
async fn lifecycle_through_the_api() {
    let a = api();
    // Allow-listed destination within limits: approved by risk, awaiting approvals.
    let (s, v) = a.create("t-treasury", &create_body("5000"), "a").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["risk"]["outcome"], "approve");
    assert_eq!(v["request"]["state"], "awaiting-approvals");
    let id = v["request"]["id"].as_str().unwrap().to_string();
    // Replay: same key, same body → the same request, nothing new.
    let before = a.audit_len();
    let (s, v2) = a.create("t-treasury", &create_body("5000"), "a").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v2["request"]["id"], id.as_str());
    assert_eq!(a.audit_len(), before);
    // Same key, other body → 422.
    let (s, _) = a.create("t-treasury", &create_body("6000"), "a").await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    // First-time destination → manual review, cleared by risk.
    let body = json!({"network": "evm:1", "asset": "native", "destination": "0x52908400098527886E0F7030069857D2E4169EE7", "amount": "1000", "purpose": "withdrawal"}).to_string();
    let (_, v) = a.create("t-treasury", &body, "b").await;
    assert_eq!(v["risk"]["outcome"], "manual-review", "{v}");
    let id2 = v["request"]["id"].as_str().unwrap().to_string();
    let review = json!({"decision": "clear", "reason": "counterparty verified"}).to_string();
    let (s, v) = a
        .post(&format!("/v1/requests/{id2}/review"), "t-risk", &review)
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["request"]["state"], "awaiting-approvals");
    // Whoever made a request cannot review it, even holding the risk role too.
    a.store
        .add_token(
            &token_hash("t-both"),
            "treasury-1",
            &["risk".to_string()],
            1,
        )
        .unwrap();
    let (_, held) = a
        .create("t-treasury", &body.replace("1000", "1001"), "b2")
        .await;
    let held = held["request"]["id"].as_str().unwrap().to_string();
    let (s, v) = a
        .post(&format!("/v1/requests/{held}/review"), "t-both", &review)
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"].as_str().unwrap().contains("requester"), "{v}");
    // Reviewing again is a conflict.
    let (s, _) = a
        .post(&format!("/v1/requests/{id2}/review"), "t-risk", &review)
        .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // Over the limit → rejected by risk, with the reason.
    let (_, v) = a.create("t-treasury", &create_body("200000000"), "c").await;
    assert_eq!(v["risk"]["outcome"], "reject");
    assert_eq!(v["request"]["state"], "rejected");
    // The warm tier may not sweep.
    let sweep = json!({"network": "regtest", "asset": "native", "destination": DEST, "amount": "1", "purpose": "sweep"}).to_string();
    let (s, _) = a.create("t-warm", &sweep, "d").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Cancel, then cancel again is idempotent; the audit chain verifies.
    let reason = json!({"reason": "duplicate"}).to_string();
    let (s, v) = a
        .post(&format!("/v1/requests/{id}/cancel"), "t-treasury", &reason)
        .await;
    assert_eq!(
        (s, v["request"]["state"].clone()),
        (StatusCode::OK, json!("cancelled"))
    );
    let (s, _) = a
        .post(&format!("/v1/requests/{id}/cancel"), "t-treasury", &reason)
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = a.get("/v1/requests?state=cancelled", "t-auditor").await;
    assert_eq!(v["requests"].as_array().unwrap().len(), 1);
    let (_, v) = a.get("/v1/audit/verify", "t-auditor").await;
    assert_eq!(v["ok"], true, "{v}");
}
