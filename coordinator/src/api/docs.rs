//! The operator console page and the OpenAPI document.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

/// The operator web console: one static page; everything it shows comes from the API
/// with the operator's token, which stays in the browser tab.
pub(super) async fn console() -> Response {
    (
        [
            (axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (
                axum::http::header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src blob:; connect-src 'self'; frame-ancestors 'none'",
            ),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        include_str!("console.html"),
    )
        .into_response()
}

pub(super) async fn openapi() -> Json<Value> {
    Json(openapi_document())
}

/// The OpenAPI document served at `/openapi.json`.
pub fn openapi_document() -> Value {
    let auth = json!([{"bearer": []}]);
    let err = json!({"description": "error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}});
    json!({
        "openapi": "3.1.0",
        "info": {"title": "Strongroom coordinator", "version": env!("CARGO_PKG_VERSION")},
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "CreateRequest": {
                    "type": "object", "additionalProperties": false,
                    "required": ["network", "asset", "destination", "amount", "purpose"],
                    "properties": {
                        "network": {"type": "string", "examples": ["bitcoin", "evm:1", "solana:mainnet"]},
                        "asset": {"type": "string", "description": "native, or a token contract / mint"},
                        "destination": {"type": "string"},
                        "amount": {"type": "string", "pattern": "^[1-9][0-9]*$", "description": "base units"},
                        "purpose": {"enum": ["withdrawal", "refill", "sweep", "consolidation"]},
                        "memo": {"type": "string", "maxLength": 500}
                    }
                }
            }
        },
        "paths": {
            "/health": {"get": {"summary": "Liveness and storage", "responses": {"200": {"description": "ok"}}}},
            "/metrics": {"get": {"summary": "Prometheus metrics", "responses": {"200": {"description": "text"}}}},
            "/console": {"get": {"summary": "The operator web console (HTML; data through this API with the operator's token)", "responses": {"200": {"description": "text/html"}}}},
            "/v1/requests": {
                "post": {"summary": "Create a transfer request (roles: treasury, warm-tier)", "security": auth,
                    "parameters": [{"name": "Idempotency-Key", "in": "header", "required": true, "schema": {"type": "string", "maxLength": 200}}],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateRequest"}}}},
                    "responses": {"201": {"description": "created, with the risk outcome"}, "200": {"description": "replay of the same key"}, "400": err, "401": err, "403": err, "413": err, "415": err, "422": err}},
                "get": {"summary": "List requests", "security": auth,
                    "parameters": [{"name": "state", "in": "query"}, {"name": "principal", "in": "query"}, {"name": "limit", "in": "query"}],
                    "responses": {"200": {"description": "requests"}, "400": err, "401": err, "403": err}}
            },
            "/v1/requests/{id}": {"get": {"summary": "One request", "security": auth, "responses": {"200": {"description": "request"}, "401": err, "403": err, "404": err}}},
            "/v1/requests/{id}/cancel": {"post": {"summary": "Cancel (role: treasury)", "security": auth, "responses": {"200": {"description": "cancelled"}, "400": err, "401": err, "403": err, "404": err, "409": err}}},
            "/v1/requests/{id}/review": {"post": {"summary": "Clear or reject a manual review (role: risk)", "security": auth, "responses": {"200": {"description": "decided"}, "400": err, "401": err, "403": err, "404": err, "409": err}}},
            "/v1/stations": {
                "post": {"summary": "Register a station from its descriptor: {frames: [UR texts]} or {cbor_hex}, optional usb_keys (keys.pub text) (role: admin)", "security": auth, "responses": {"201": {"description": "registered"}, "400": err, "401": err, "403": err, "409": err, "422": err}},
                "get": {"summary": "Registered stations, their keys and vault addresses", "security": auth, "responses": {"200": {"description": "stations"}, "401": err, "403": err}}
            },
            "/v1/vaults": {"get": {"summary": "Configured vaults: address and balance from the chain (sat or wei)", "security": auth, "responses": {"200": {"description": "vaults"}, "401": err, "403": err}}},
            "/v1/deposits": {
                "post": {"summary": "Hand out the next deposit address {network} (roles: warm-tier, treasury)", "security": auth, "responses": {"201": {"description": "address"}, "400": err, "401": err, "403": err, "503": err}},
                "get": {"summary": "Deposit addresses handed out (?network=)", "security": auth, "responses": {"200": {"description": "addresses"}, "400": err, "401": err, "403": err, "503": err}}
            },
            "/v1/sweeps/plan": {"get": {"summary": "Sweep plan for the deposit addresses (?network=): batches over the threshold whose fee is under the configured fraction", "security": auth, "responses": {"200": {"description": "plan"}, "400": err, "401": err, "403": err, "502": err, "503": err}}},
            "/v1/approvers": {"post": {"summary": "Register an approver's Ed25519 public key {principal, public_key} (role: admin)", "security": auth, "responses": {"201": {"description": "registered"}, "401": err, "403": err, "409": err, "422": err}}},
            "/v1/requests/{id}/envelope": {"get": {"summary": "The built transaction and the digest approvers sign (Ed25519 over 'strongroom/approval/v1' || digest)", "security": auth, "responses": {"200": {"description": "envelope"}, "401": err, "403": err, "404": err, "422": err}}},
            "/v1/requests/{id}/approvals": {"post": {"summary": "Submit an approval {signature} (role: approver; not the requester)", "security": auth, "responses": {"200": {"description": "recorded"}, "401": err, "403": err, "404": err, "409": err, "422": err}}},
            "/v1/requests/{id}/export": {"post": {"summary": "Export the approved request: UR frames (JSON) for the station (role: treasury)", "security": auth, "responses": {"200": {"description": "frames"}, "401": err, "403": err, "404": err, "409": err, "503": err}}},
            "/v1/requests/{id}/export/frames": {"get": {"summary": "The exported UR frames again (JSON)", "security": auth, "responses": {"200": {"description": "frames"}, "401": err, "403": err, "404": err, "409": err}}},
            "/v1/requests/{id}/export/frames/{n}": {"get": {"summary": "Frame n as a PNG QR code", "security": auth, "responses": {"200": {"description": "image/png"}, "401": err, "403": err, "404": err, "409": err}}},
            "/v1/requests/{id}/export/bundle": {"get": {"summary": "The exported request as a USB bundle sealed to ?station= (role: treasury)", "security": auth, "responses": {"200": {"description": "application/octet-stream"}, "400": err, "401": err, "403": err, "409": err, "503": err}}},
            "/v1/scan": {"post": {"summary": "Read the QR codes in one camera frame (PNG or JPEG body) captured from the station's screen; changes nothing (role: treasury)", "security": auth, "responses": {"200": {"description": "{found: [{text, format: ur|bbqr|plain, ur_type}]}"}, "400": err, "401": err, "403": err, "413": err}}},
            "/v1/requests/{id}/export/bbqr": {"get": {"summary": "The exported Bitcoin request's PSBT as BBQr parts (hardware-wallet cosigners)", "security": auth, "responses": {"200": {"description": "parts"}, "400": err, "401": err, "403": err, "404": err, "409": err}}},
            "/v1/requests/{id}/import": {"post": {"summary": "Import the station's response: {frames: [UR texts]} as JSON, or a bundle as application/octet-stream (role: treasury)", "security": auth, "responses": {"200": {"description": "imported"}, "400": err, "401": err, "403": err, "409": err, "413": err, "415": err, "422": err}}},
            "/v1/requests/{id}/chain": {"get": {"summary": "Broadcast status: state, transaction hash, nonce", "security": auth, "responses": {"200": {"description": "status"}, "401": err, "403": err, "404": err}}},
            "/v1/audit": {"get": {"summary": "Audit rows (role: auditor)", "security": auth, "responses": {"200": {"description": "rows"}, "401": err, "403": err}}},
            "/v1/audit/verify": {"get": {"summary": "Verify the audit chain (role: auditor)", "security": auth, "responses": {"200": {"description": "result, with the first break"}, "401": err, "403": err}}}
        }
    })
}
