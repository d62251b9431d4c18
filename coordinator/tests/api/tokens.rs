//! API tokens: made with an expiry and shown once, listed with their last use, revoked
//! and rotated (each audited); an expired or revoked token is 401; a token over its rate
//! is 429 with `Retry-After`.

use super::*;

#[tokio::test]
async fn tokens_expire_are_revoked_rotated_and_rate_limited() {
    let a = api();
    // Made by admin only, shown once, with its expiry.
    let body = r#"{"principal": "payouts-bot", "roles": ["warm-tier"], "expires_in_days": 30}"#;
    let (s, _) = a.post("/v1/tokens", "t-treasury", body).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = a.post("/v1/tokens", "t-admin", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let bot = v["token"].as_str().unwrap().to_string();
    let id = v["record"]["id"].as_str().unwrap().to_string();
    assert_eq!(v["record"]["expires"], 1_800_000_000u64 + 30 * 86_400);
    let (s, v) = a
        .post(
            "/v1/tokens",
            "t-admin",
            r#"{"principal": "x", "roles": ["god"]}"#,
        )
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    // It works, and its use is recorded; the list never shows a secret.
    let (s, _) = a.get("/v1/me", &bot).await;
    assert_eq!(s, StatusCode::OK);
    let (_, v) = a.get("/v1/tokens", "t-admin").await;
    let listed = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(listed["last_used"], 1_800_000_000u64, "{listed}");
    assert!(!v.to_string().contains(&bot));

    // Rotation: a new token for the same principal and roles; the old one is 401 at once.
    let (s, v) = a
        .post(&format!("/v1/tokens/{id}/rotate"), "t-admin", "{}")
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let rotated = v["token"].as_str().unwrap().to_string();
    assert_eq!(v["record"]["principal"], "payouts-bot");
    assert_eq!(a.get("/v1/me", &bot).await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(a.get("/v1/me", &rotated).await.0, StatusCode::OK);
    let (s, _) = a
        .post(&format!("/v1/tokens/{id}/rotate"), "t-admin", "{}")
        .await;
    assert_eq!(
        s,
        StatusCode::NOT_FOUND,
        "a revoked token is not rotated again"
    );

    // Revocation.
    let new_id = v["record"]["id"].as_str().unwrap().to_string();
    let (s, v) = a
        .post(&format!("/v1/tokens/{new_id}/revoke"), "t-admin", "{}")
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(a.get("/v1/me", &rotated).await.0, StatusCode::UNAUTHORIZED);
    let (s, _) = a
        .post(&format!("/v1/tokens/{new_id}/revoke"), "t-admin", "{}")
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let rows = a.store.audit_rows(1, 1000).unwrap();
    let actions: Vec<&str> = rows
        .iter()
        .map(|r| r.action.as_str())
        .filter(|x| x.starts_with("token."))
        .collect();
    assert!(
        actions.ends_with(&["token.add", "token.add", "token.revoke", "token.revoke"]),
        "{actions:?}"
    );
    // Tokens made through the API name the admin who made them.
    let adders: Vec<&str> = rows
        .iter()
        .filter(|r| r.action == "token.add" && r.seq > 6)
        .map(|r| r.actor.as_str())
        .collect();
    assert_eq!(adders, ["root", "root"], "{rows:?}");

    // An expired token is refused like an unknown one.
    a.store
        .add_token_expiring(
            &token_hash("t-old"),
            ("old", &["auditor".into()]),
            Some(1_799_999_999),
            "admin",
            1,
        )
        .unwrap();
    assert_eq!(a.get("/v1/me", "t-old").await.0, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_token_over_its_rate_is_told_to_wait() {
    let store = Arc::new(Sqlite::memory().unwrap());
    for t in ["t-a", "t-b"] {
        store
            .add_token(&token_hash(t), t, &["auditor".into()], 1)
            .unwrap();
    }
    let state = AppState::new(
        store.clone(),
        Config {
            networks: vec!["regtest".into()],
            risk: RiskConfig::from_toml(RISK).unwrap().into(),
        },
        Box::new(|| 1_800_000_000),
    )
    .with_rate_limit(3);
    let app = router(Arc::new(state));
    let call = |t: &'static str| {
        let app = app.clone();
        async move {
            let req = Request::builder()
                .uri("/v1/me")
                .header("authorization", format!("Bearer {t}"));
            app.oneshot(req.body(Body::empty()).unwrap()).await.unwrap()
        }
    };
    for _ in 0..3 {
        assert_eq!(call("t-a").await.status(), StatusCode::OK);
    }
    let r = call("t-a").await;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "20");
    assert_eq!(
        call("t-b").await.status(),
        StatusCode::OK,
        "each token has its own rate"
    );
}
