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

const RISK: &str = r#"
[[allow_list]]
network = "regtest"
address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
[[warm_addresses]]
network = "regtest"
address = "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"
[[limits]]
network = "regtest"
asset = "native"
per_transaction = "100000000"
per_day = "500000000"
[[limits]]
network = "evm:1"
asset = "native"
per_transaction = "10000000000000000000"
per_day = "50000000000000000000"
"#;

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
    let routes: Vec<(&str, String, Option<String>, Vec<&str>)> = vec![
        (
            "POST",
            "/v1/requests".into(),
            Some(create_body("2000")),
            vec!["t-treasury", "t-warm", "t-admin"],
        ),
        (
            "GET",
            "/v1/requests".into(),
            None,
            vec![
                "t-treasury",
                "t-approver",
                "t-risk",
                "t-auditor",
                "t-warm",
                "t-admin",
            ],
        ),
        (
            "GET",
            format!("/v1/requests/{id}"),
            None,
            vec![
                "t-treasury",
                "t-approver",
                "t-risk",
                "t-auditor",
                "t-warm",
                "t-admin",
            ],
        ),
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
    ];
    let readers = vec![
        "t-treasury",
        "t-approver",
        "t-risk",
        "t-auditor",
        "t-warm",
        "t-admin",
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

/// The signing routes with bad input: every answer a 4xx (or 503 for what this
/// installation does not have) with a clear message, and nothing recorded.
#[tokio::test]
async fn signing_routes_refuse_bad_input() {
    let a = api();
    let (_, v) = a.create("t-treasury", &create_body("1000"), "seed").await;
    let id = v["request"]["id"].as_str().unwrap().to_string();
    let big = json!({"frames": ["x".repeat(5 * 1024 * 1024)]}).to_string();
    /// Method, path, token, body, expected status, what the message says.
    type Case<'a> = (
        &'a str,
        String,
        &'a str,
        Option<String>,
        StatusCode,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("POST", "/v1/stations".into(), "t-admin", Some(json!({"cbor_hex": "zz"}).to_string()), StatusCode::BAD_REQUEST, "not hex"),
        ("POST", "/v1/stations".into(), "t-admin", Some(json!({"cbor_hex": "a1"}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, "station descriptor"),
        ("POST", "/v1/stations".into(), "t-admin", Some(json!({}).to_string()), StatusCode::BAD_REQUEST, "either frames or cbor_hex"),
        ("POST", "/v1/stations".into(), "t-admin", Some(json!({"frames": ["ur:strongroom-descriptor/1-3/lpadaxcsencylobemohsgmoyadhdeynteelblrcygldwvarf"]}).to_string()), StatusCode::BAD_REQUEST, "frames"),
        ("POST", "/v1/stations".into(), "t-admin", Some(json!({"cbor_hex": "00", "colour": 1}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, "unknown field"),
        ("POST", "/v1/approvers".into(), "t-admin", Some(json!({"principal": "ana", "public_key": "abcd"}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, "32 bytes"),
        ("POST", "/v1/approvers".into(), "t-admin", Some(json!({"principal": "ana", "public_key": "00".repeat(32)}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, "weak"),
        ("POST", format!("/v1/requests/{id}/approvals"), "t-approver", Some(json!({"signature": "00"}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, "no approval key"),
        ("GET", format!("/v1/requests/{id}/envelope"), "t-auditor", None, StatusCode::UNPROCESSABLE_ENTITY, "not prepared"),
        ("GET", "/v1/requests/nope/envelope".into(), "t-auditor", None, StatusCode::NOT_FOUND, "no such request"),
        ("POST", format!("/v1/requests/{id}/export"), "t-treasury", None, StatusCode::CONFLICT, "not approved"),
        ("GET", format!("/v1/requests/{id}/export/frames"), "t-auditor", None, StatusCode::CONFLICT, "not exported"),
        ("GET", format!("/v1/requests/{id}/export/frames/x"), "t-auditor", None, StatusCode::BAD_REQUEST, ""),
        ("GET", format!("/v1/requests/{id}/export/bundle"), "t-treasury", None, StatusCode::BAD_REQUEST, "station"),
        ("GET", format!("/v1/requests/{id}/export/bundle?station=a"), "t-treasury", None, StatusCode::SERVICE_UNAVAILABLE, "no USB keys"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some(json!({"frames": []}).to_string()), StatusCode::BAD_REQUEST, "1 to 10,000"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some(json!({"frames": ["hello"]}).to_string()), StatusCode::BAD_REQUEST, "not a UR or BBQr stream"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some(json!({"psbt": "not base64!"}).to_string()), StatusCode::BAD_REQUEST, "psbt: not base64"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some(json!({"psbt": "cHNidP8=", "frames": ["x"]}).to_string()), StatusCode::BAD_REQUEST, "not both"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some(json!({"psbt": "cHNidP8="}).to_string()), StatusCode::UNPROCESSABLE_ENTITY, "for a Bitcoin request"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some("{not json".into()), StatusCode::BAD_REQUEST, "invalid request body"),
        ("POST", format!("/v1/requests/{id}/import"), "t-treasury", Some(big.clone()), StatusCode::PAYLOAD_TOO_LARGE, ""),
        ("POST", "/v1/scan".into(), "t-treasury", Some("{not an image".into()), StatusCode::BAD_REQUEST, "not a PNG or JPEG"),
        ("POST", "/v1/scan".into(), "t-treasury", Some(big), StatusCode::PAYLOAD_TOO_LARGE, ""),
    ];
    for (method, path, tok, body, want, says) in cases {
        let before = a.audit_len();
        let (s, v) = a
            .call(method, &path, Some(tok), body.as_deref(), None)
            .await;
        assert_eq!(s, want, "{method} {path}: {v}");
        assert!(
            v.to_string().contains(says),
            "{method} {path}: {v} should say {says:?}"
        );
        assert_eq!(a.audit_len(), before, "{method} {path} changed nothing");
    }
    // An import without a content type is refused as such.
    let req = Request::builder()
        .method("POST")
        .uri(format!("/v1/requests/{id}/import"))
        .header("authorization", "Bearer t-treasury")
        .body(Body::from("x"))
        .unwrap();
    let resp = a.app.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

/// The console's camera route reads the QR codes in one frame and says what they are;
/// it records nothing.
#[tokio::test]
async fn scan_reads_a_camera_frame_and_changes_nothing() {
    let a = api();
    let text = "ur:strongroom-response/2-5/lpaoahcfadcyjnfhztdshdcxhysfzofdtilr";
    let code = airgap_protocol::qr::FrameRenderer::new(10)
        .unwrap()
        .to_gray(text, 4)
        .unwrap();
    let frame = airgap_protocol::qr::corpus::place_on_canvas(&code, 640);
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 80)
        .encode_image(&frame)
        .unwrap();
    let blank = image::GrayImage::from_pixel(64, 48, image::Luma([90]));
    let mut png = Vec::new();
    blank
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let before = a.audit_len();
    let cut = jpeg[..24].to_vec();
    for (bytes, want) in [
        (cut, json!({"error": "frame: image unreadable: "})),
        (
            jpeg,
            json!({"found": [{"text": text, "format": "ur", "ur_type": "strongroom-response"}]}),
        ),
        (png, json!({"found": []})),
    ] {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/scan")
            .header("authorization", "Bearer t-treasury")
            .header("content-type", "image/jpeg")
            .body(Body::from(bytes))
            .unwrap();
        let resp = a.app.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let body = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        let ok = want.get("error").is_none();
        if ok {
            assert_eq!(v, want);
        } else {
            assert!(
                v["error"]
                    .as_str()
                    .unwrap()
                    .starts_with(want["error"].as_str().unwrap()),
                "{v}"
            );
        }
        assert_eq!(
            status,
            if ok {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            }
        );
    }
    assert_eq!(a.audit_len(), before);
}

/// `/metrics` parses as OpenMetrics with an independent parser (the Python
/// `prometheus_client` package), and carries HELP text, per-route latency histograms and
/// answers labelled by route, never by raw path.
#[tokio::test]
async fn metrics_parse_as_openmetrics() {
    let a = api();
    let _ = a.create("t-treasury", &create_body("1000"), "m1").await;
    let _ = a.get("/v1/requests/nope", "t-treasury").await;
    let req = Request::builder()
        .uri("/metrics")
        .body(Body::empty())
        .unwrap();
    let resp = a.app.clone().oneshot(req).await.unwrap();
    assert_eq!(
        resp.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = String::from_utf8(
        resp.into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains("# HELP strongroom_requests_created"),
        "{text}"
    );
    assert!(
        text.contains("strongroom_http_answer_seconds_bucket{"),
        "{text}"
    );
    assert!(
        text.contains("route=\"/v1/requests/{id}\""),
        "ids are not labels: {text}"
    );
    assert!(!text.contains("/v1/requests/nope"), "{text}");
    let script = "import sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        names = [f.name for f in text_string_to_metric_families(sys.stdin.read())]\n\
        print(len(names)); print(' '.join(names))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("No module named"),
        "the OpenMetrics parser is missing: `bash scripts/test.sh` installs PyPI prometheus-client"
    );
    assert!(out.status.success(), "not OpenMetrics: {err}\n{text}");
    let names = String::from_utf8_lossy(&out.stdout);
    for family in [
        "strongroom_requests_created",
        "strongroom_http_answers",
        "strongroom_http_answer_seconds",
        "strongroom_requests_in_state",
        "strongroom_worker_round_age_seconds",
        "strongroom_vault_balance",
    ] {
        assert!(names.contains(family), "{family} missing: {names}");
    }
}

/// Unknown routes, wrong methods and oversized bodies answer JSON like every other error.
#[tokio::test]
async fn errors_axum_answers_itself_are_json() {
    let a = api();
    let (s, v) = a.get("/v2/nothing", "t-admin").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"], "no such route");
    let (s, v) = a
        .call("DELETE", "/v1/requests", Some("t-admin"), None, None)
        .await;
    assert_eq!(s, StatusCode::METHOD_NOT_ALLOWED);
    assert!(v["error"].is_string(), "{v}");
    let big = "x".repeat(3 * 1024 * 1024);
    let (s, v) = a.post("/v1/scan", "t-treasury", &big).await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(v["error"].is_string(), "{v}");
}

/// The OpenAPI document generated from the handlers validates with an independent
/// validator (PyPI `openapi-spec-validator`), declares every path parameter, and describes
/// each operation's success answer with its content.
#[tokio::test]
async fn openapi_validates_and_describes_every_answer() {
    let a = api();
    let (s, doc) = a.call("GET", "/openapi.json", None, None, None).await;
    assert_eq!(s, StatusCode::OK);
    let script = "import sys, json\n\
        from openapi_spec_validator import validate\n\
        validate(json.load(sys.stdin))\n\
        print('valid')";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), doc.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("No module named"),
        "the validator is missing: `bash scripts/test.sh` installs PyPI openapi-spec-validator"
    );
    assert!(out.status.success(), "invalid OpenAPI: {err}");
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            operations += 1;
            let responses = op["responses"].as_object().unwrap();
            let success = responses
                .iter()
                .find(|(code, _)| code.starts_with('2'))
                .unwrap_or_else(|| panic!("{method} {path}: no success answer"));
            assert!(
                success.1["content"]
                    .as_object()
                    .is_some_and(|c| !c.is_empty()),
                "{method} {path}: the success answer has no content"
            );
            for p in path.split('{').skip(1) {
                let name = p.split('}').next().unwrap();
                assert!(
                    op["parameters"].as_array().is_some_and(|ps| ps
                        .iter()
                        .any(|x| x["name"] == name && x["in"] == "path")),
                    "{method} {path}: path parameter {name} undeclared"
                );
            }
            if path.starts_with("/v1/") {
                assert!(op["security"].is_array(), "{method} {path}: no security");
                assert!(responses.contains_key("401") && responses.contains_key("403"));
            }
        }
    }
    assert_eq!(operations, 26, "every served operation is documented");

    // What the handlers answer is what the document says, checked by `jsonschema` (the
    // validator's own dependency) against the document's schemas.
    let (_, created) = a.create("t-treasury", &create_body("1000"), "o1").await;
    let id = created["request"]["id"].as_str().unwrap().to_string();
    let (_, replay) = a.create("t-treasury", &create_body("1000"), "o1").await;
    let (_, list) = a.get("/v1/requests", "t-treasury").await;
    let (_, one) = a.get(&format!("/v1/requests/{id}"), "t-treasury").await;
    let (_, chain) = a
        .get(&format!("/v1/requests/{id}/chain"), "t-treasury")
        .await;
    let (_, rows) = a.get("/v1/audit", "t-auditor").await;
    let (_, verdict) = a.get("/v1/audit/verify", "t-auditor").await;
    let (_, missing) = a.get("/v1/requests/nope", "t-treasury").await;
    let (_, health) = a.call("GET", "/health", None, None, None).await;
    let cases = serde_json::json!([
        ["Created", created],
        ["Created", replay],
        ["RequestList", list],
        ["RequestAnswer", one],
        ["ChainStatus", chain],
        ["AuditRows", rows],
        ["AuditVerdict", verdict],
        ["ErrorBody", missing],
        ["Health", health],
    ]);
    let script = "import sys, json, jsonschema\n\
        d = json.load(sys.stdin)\n\
        for name, value in d['cases']:\n\
        \x20   schema = {'$ref': '#/components/schemas/' + name, 'components': d['doc']['components']}\n\
        \x20   jsonschema.Draft202012Validator(schema).validate(value)\n\
        print(len(d['cases']))";
    let input = serde_json::json!({"doc": doc, "cases": cases});
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.to_string().as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "an answer does not match its schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "9");
}
