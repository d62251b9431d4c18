//! The signing routes and the console's camera route with bad input.

use super::*;

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
        ("POST", format!("/v1/requests/{id}/approvals"), "t-approver", Some(json!({}).to_string()), StatusCode::BAD_REQUEST, "a signature or a wallet's frames"),
        ("POST", format!("/v1/requests/{id}/approvals"), "t-approver", Some(json!({"signature": "00", "frames": ["ur:eth-signature/x"]}).to_string()), StatusCode::BAD_REQUEST, "a signature or a wallet's frames"),
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
