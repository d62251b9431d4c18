//! What the service documents about itself: metrics, OpenAPI, and errors axum answers.

use super::*;

/// Runs `script` with `input` on stdin under the system's python3; a missing module is
/// named with how to install it.
fn python(script: &str, input: &[u8]) -> std::process::Output {
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), input).expect("write");
    let out = child.wait_with_output().expect("python3 ran");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !err.contains("No module named"),
        "a validator is missing ({err}): `bash scripts/test.sh` installs PyPI prometheus-client, \
         openapi-spec-validator and jsonschema"
    );
    out
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
    let out = python(script, text.as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
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
    let out = python(script, doc.to_string().as_bytes());
    let err = String::from_utf8_lossy(&out.stderr);
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
    assert_eq!(operations, 43, "every served operation is documented");

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
    let (_, reconciled) = a.get("/v1/audit/reconcile", "t-auditor").await;
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
        ["Report", reconciled],
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
    let out = python(script, input.to_string().as_bytes());
    assert!(
        out.status.success(),
        "an answer does not match its schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "10");
}
