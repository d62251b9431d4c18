//! The coordinator's HTTP API (axum, JSON). Every route but `/health`, `/metrics` and
//! `/openapi.json` needs a bearer token; tokens are stored hashed and bound to a
//! principal with roles. A missing or unknown token is 401, a wrong role 403, both
//! without detail. Every malformed body, unknown field, out-of-range amount,
//! wrong-network address or oversized upload is a 4xx with a clear message and changes
//! nothing.

pub mod metrics;
mod signing;
pub mod treasury;
mod validate;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::audit;
use crate::lifecycle::{Event, State};
use crate::risk::{self, Outcome, Purpose, RiskConfig};
use crate::store::{Store, StoreError};

pub use validate::{validate_amount, validate_destination};

/// Largest request body accepted.
pub const MAX_BODY: usize = 64 * 1024;

/// Roles.
pub const ROLES: [&str; 6] = [
    "admin",
    "treasury",
    "approver",
    "risk",
    "auditor",
    "warm-tier",
];

/// Service configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Networks requests may name.
    pub networks: Vec<String>,
    /// Risk rules.
    pub risk: Arc<RiskConfig>,
}

/// Shared state.
pub struct AppState {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// Configuration.
    pub config: Config,
    /// Clock (Unix seconds), replaceable in tests.
    pub clock: Box<dyn Fn() -> u64 + Send + Sync>,
    /// The signing pipeline (export, import, broadcast).
    pub pipeline: Arc<crate::pipeline::Pipeline>,
    /// What `/metrics` reports.
    pub metrics: Metrics,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

use metrics::Metrics;

/// An error answer: status and a message safe to show.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(json!({"error": self.1}))).into_response()
    }
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, msg.into())
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound(_) => ApiError(StatusCode::NOT_FOUND, "no such request".into()),
            StoreError::KeyReuse(_) => ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "this Idempotency-Key was used for a different request".into(),
            ),
            StoreError::Transition(t) => ApiError(StatusCode::CONFLICT, t.to_string()),
            StoreError::Exists(what) => ApiError(
                StatusCode::CONFLICT,
                format!("{what} is already recorded with another value"),
            ),
            // Storage detail stays in the server's log.
            StoreError::Backend(detail) => {
                tracing::error!(error = %detail, "storage");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "storage unavailable".into(),
                )
            }
        }
    }
}

fn json_body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    match body {
        Ok(Json(t)) => Ok(t),
        Err(JsonRejection::JsonDataError(e)) => Err(ApiError(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("invalid request body: {}", e.body_text()),
        )),
        Err(JsonRejection::JsonSyntaxError(e)) => {
            Err(bad(format!("malformed JSON: {}", e.body_text())))
        }
        Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send Content-Type: application/json".into(),
        )),
        Err(JsonRejection::BytesRejection(_)) => Err(ApiError(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("body over {MAX_BODY} bytes"),
        )),
        Err(_) => Err(bad("unreadable request body")),
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Principal.
    pub principal: String,
    /// Roles.
    pub roles: Vec<String>,
}

/// The hash a token is stored under.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn authenticate(st: &AppState, headers: &HeaderMap, allowed: &[&str]) -> Result<Caller, ApiError> {
    let unauthorized = || ApiError(StatusCode::UNAUTHORIZED, "unauthorized".into());
    let token = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let (principal, roles) = st
        .store
        .token(&token_hash(token.trim()))?
        .ok_or_else(unauthorized)?;
    if !roles
        .iter()
        .any(|r| r == "admin" || allowed.contains(&r.as_str()))
    {
        return Err(ApiError(StatusCode::FORBIDDEN, "forbidden".into()));
    }
    Ok(Caller { principal, roles })
}

const READERS: &[&str] = &["treasury", "approver", "risk", "auditor", "warm-tier"];

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/metrics", get(metrics_text))
        .route("/openapi.json", get(openapi))
        .route("/console", get(console))
        .route("/v1/requests", post(create_request).get(list_requests))
        .route("/v1/requests/{id}", get(get_request))
        .route("/v1/requests/{id}/cancel", post(cancel_request))
        .route("/v1/requests/{id}/review", post(review_request))
        .route(
            "/v1/stations",
            post(signing::register_station).get(signing::list_stations),
        )
        .route("/v1/approvers", post(signing::register_approver))
        .route("/v1/vaults", get(signing::vaults))
        .route(
            "/v1/deposits",
            post(signing::hand_out_deposit).get(signing::list_deposits),
        )
        .route("/v1/sweeps/plan", get(signing::sweep_plan))
        .route("/v1/requests/{id}/envelope", get(signing::envelope))
        .route("/v1/requests/{id}/approvals", post(signing::approve))
        .route("/v1/requests/{id}/export", post(signing::export))
        .route(
            "/v1/requests/{id}/export/frames",
            get(signing::export_frames),
        )
        .route(
            "/v1/requests/{id}/export/frames/{n}",
            get(signing::export_frame_png),
        )
        .route(
            "/v1/requests/{id}/export/bundle",
            get(signing::export_bundle),
        )
        .route("/v1/requests/{id}/export/bbqr", get(signing::export_bbqr))
        .route(
            "/v1/requests/{id}/import",
            post(signing::import).layer(DefaultBodyLimit::max(signing::MAX_IMPORT)),
        )
        .route("/v1/requests/{id}/chain", get(signing::chain_status))
        .route(
            "/v1/scan",
            post(signing::scan).layer(DefaultBodyLimit::max(signing::MAX_SCAN)),
        )
        .route("/v1/audit", get(audit_rows))
        .route("/v1/audit/verify", get(audit_verify))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(json_errors))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::track,
        ))
        .with_state(state)
}

impl AppState {
    /// State over a store.
    pub fn new(
        store: Arc<dyn Store>,
        config: Config,
        clock: Box<dyn Fn() -> u64 + Send + Sync>,
    ) -> Self {
        Self {
            pipeline: Arc::new(crate::pipeline::Pipeline::unconfigured(store.clone())),
            store,
            config,
            clock,
            metrics: Metrics::default(),
        }
    }

    /// The same state with a configured pipeline (over the same store).
    pub fn with_pipeline(mut self, pipeline: crate::pipeline::Pipeline) -> Self {
        self.pipeline = Arc::new(pipeline);
        self
    }
}

async fn health(AxState(st): AxState<Arc<AppState>>) -> Response {
    let ok = tokio::task::spawn_blocking(move || st.store.audit_rows(1, 1).is_ok())
        .await
        .unwrap_or(false);
    match ok {
        true => Json(json!({"status": "ok"})).into_response(),
        false => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({"status": "storage unavailable"})),
        )
            .into_response(),
    }
}

async fn metrics_text(AxState(st): AxState<Arc<AppState>>) -> Response {
    let shared = st.clone();
    let body = tokio::task::spawn_blocking(move || shared.metrics.render(&shared))
        .await
        .unwrap_or_default();
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// Unknown routes answer JSON like every other error.
async fn not_found() -> ApiError {
    ApiError(StatusCode::NOT_FOUND, "no such route".into())
}

/// Errors axum answers itself (405, 413, 415 …) as JSON, like every other error.
async fn json_errors(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let plain = resp
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|t| t.starts_with("text/plain"));
    let status = resp.status();
    if (status.is_client_error() || status.is_server_error()) && plain {
        let reason = status.canonical_reason().unwrap_or("error").to_lowercase();
        return ApiError(status, reason).into_response();
    }
    resp
}

/// Runs storage work off the async workers. A backend with one connection (SQLite)
/// runs it in place (`block_in_place`), which keeps its latency lowest; one with a pool
/// (PostgreSQL) on the blocking pool, so that many calls are in flight at once and its
/// creates batch into one commit. A panic there is a 500, never a dropped connection.
async fn blocking(
    concurrent: bool,
    f: impl FnOnce() -> Result<Response, ApiError> + Send + 'static,
) -> Result<Response, ApiError> {
    let failed = || {
        tracing::error!("a handler's storage work panicked");
        Err(ApiError(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal error".into(),
        ))
    };
    if concurrent {
        return tokio::task::spawn_blocking(f)
            .await
            .unwrap_or_else(|_| failed());
    }
    let run =
        || std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| failed());
    match tokio::runtime::Handle::try_current().map(|h| h.runtime_flavor()) {
        Ok(tokio::runtime::RuntimeFlavor::MultiThread) => tokio::task::block_in_place(run),
        _ => run(),
    }
}

/// Runs a handler's storage work (see [`blocking`]) and counts its answer.
async fn handle(
    st: Arc<AppState>,
    f: impl FnOnce(&AppState) -> Result<Response, ApiError> + Send + 'static,
) -> Response {
    let concurrent = st.store.concurrent();
    let shared = st.clone();
    let r = blocking(concurrent, move || f(&shared)).await;
    count(&st, r)
}

/// A request by id, or 404.
fn request_row(st: &AppState, id: &str) -> Result<crate::store::RequestRow, ApiError> {
    st.store
        .get(id)?
        .ok_or_else(|| ApiError(StatusCode::NOT_FOUND, "no such request".into()))
}

fn count(st: &AppState, r: Result<Response, ApiError>) -> Response {
    let resp = r.unwrap_or_else(IntoResponse::into_response);
    if resp.status().is_client_error() {
        st.metrics.client_errors.inc();
    } else if resp.status().is_server_error() {
        st.metrics.server_errors.inc();
    }
    resp
}

/// The body of `POST /v1/requests`.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Network (`bitcoin`, `regtest`, `evm:1`, `solana:mainnet`, …).
    pub network: String,
    /// `native`, or a token contract / mint.
    pub asset: String,
    /// Destination address.
    pub destination: String,
    /// Amount in base units, as a decimal string.
    pub amount: String,
    /// `withdrawal`, `refill`, `sweep` or `consolidation`.
    pub purpose: Purpose,
    /// Free text for the custodians.
    #[serde(default)]
    pub memo: String,
}

async fn create_request(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Response {
    handle(st, move |st| create_inner(st, &headers, body)).await
}

fn create_inner(
    st: &AppState,
    headers: &HeaderMap,
    body: Result<Json<CreateRequest>, JsonRejection>,
) -> Result<Response, ApiError> {
    let caller = authenticate(st, headers, &["treasury", "warm-tier"])?;
    let req = json_body(body)?;
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| bad("an Idempotency-Key header (1 to 200 characters) is required"))?;
    if !st.config.networks.contains(&req.network) {
        return Err(bad(format!(
            "network {:?} is not served here ({})",
            req.network,
            st.config.networks.join(", ")
        )));
    }
    let amount = validate_amount(&req.amount).map_err(bad)?;
    validate_destination(&req.network, &req.destination).map_err(bad)?;
    validate::validate_asset(&req.network, &req.asset).map_err(bad)?;
    if req.memo.chars().count() > 500 {
        return Err(bad("memo over 500 characters"));
    }
    if caller.roles.iter().all(|r| r == "warm-tier")
        && !matches!(req.purpose, Purpose::Refill | Purpose::Withdrawal)
    {
        return Err(ApiError(
            StatusCode::FORBIDDEN,
            "the warm tier may ask for refills and withdrawals only".into(),
        ));
    }
    let (row, created, outcome) = submit(st, &caller.principal, &req, key, amount)?;
    if !created {
        st.metrics.replayed.inc();
        return Ok((
            StatusCode::OK,
            Json(json!({"request": row, "replayed": true})),
        )
            .into_response());
    }
    st.metrics.created.inc();
    Ok((
        StatusCode::CREATED,
        Json(json!({"request": row, "risk": outcome})),
    )
        .into_response())
}

/// Assesses a validated request with the risk engine and stores it with its outcome in
/// one transaction (the API's create, and requests the coordinator drafts itself). The
/// outcome is `None` for a replay.
pub(crate) fn submit(
    st: &AppState,
    principal: &str,
    req: &CreateRequest,
    key: &str,
    amount: u128,
) -> Result<(crate::store::RequestRow, bool, Option<Outcome>), ApiError> {
    let now = (st.clock)();
    let body = serde_json::to_value(req).map_err(|_| bad("unserialisable request"))?;
    // The risk engine decides on the principal's last 30 days (not rejected or
    // cancelled), read inside the transaction that stores the request and its outcome:
    // concurrent creates by one principal see each other's amounts.
    let proposal = risk::Proposal {
        principal: principal.to_string(),
        purpose: req.purpose,
        network: req.network.clone(),
        asset: req.asset.clone(),
        destination: req.destination.clone(),
        amount,
        now,
    };
    let query =
        risk::HistoryQuery::new(&st.config.risk, &proposal, now.saturating_sub(30 * 86_400));
    let decided = Arc::new(std::sync::Mutex::new(None));
    let (rules, out) = (st.config.risk.clone(), decided.clone());
    let assess: crate::store::Assessor = Arc::new(move |history| {
        let outcome = risk::assess(&rules, &proposal, history);
        let event = match &outcome {
            Outcome::Approve => Event::RiskApproved,
            Outcome::ManualReview(_) => Event::RiskReview,
            Outcome::Reject(_) => Event::RiskRejected,
        };
        let detail = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        (event, "risk-engine".to_string(), detail)
    });
    let (row, created) = st.store.create_assessed(Some(key), &body, &query, assess)?;
    let outcome = decided.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok((row, created, outcome.filter(|_| created)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    state: Option<State>,
    principal: Option<String>,
    limit: Option<usize>,
}

async fn list_requests(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, READERS)?;
        let Query(q) = q.map_err(|e| bad(format!("query: {}", e.body_text())))?;
        let limit = q.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(bad("limit must be 1 to 1000"));
        }
        let rows = st.store.list(q.state, q.principal.as_deref(), limit)?;
        Ok(Json(json!({"requests": rows})).into_response())
    })
    .await
}

async fn get_request(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, READERS)?;
        let row = request_row(st, &id)?;
        Ok(Json(json!({"request": row})).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Reason {
    reason: String,
}

async fn cancel_request(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Reason>, JsonRejection>,
) -> Response {
    handle(st, move |st| {
        let caller = authenticate(st, &headers, &["treasury"])?;
        let reason = json_body(body)?.reason;
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(bad("a reason (1 to 500 characters) is required"));
        }
        let row = st.store.transition(
            &id,
            Event::Cancel,
            &caller.principal,
            json!({"reason": reason}),
            (st.clock)(),
        )?;
        Ok(Json(json!({"request": row})).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
enum Decision {
    Clear,
    Reject,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Review {
    decision: Decision,
    reason: String,
}

async fn review_request(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Result<Json<Review>, JsonRejection>,
) -> Response {
    handle(st, move |st| {
        let caller = authenticate(st, &headers, &["risk"])?;
        let review = json_body(body)?;
        if review.reason.trim().is_empty() {
            return Err(bad("a reason is required"));
        }
        let current = request_row(st, &id)?;
        if current.state != State::ManualReview {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("request is {:?}, not in manual review", current.state),
            ));
        }
        let event = match review.decision {
            Decision::Clear => Event::ReviewCleared,
            Decision::Reject => Event::RiskRejected,
        };
        let row = st.store.transition(
            &id,
            event,
            &caller.principal,
            json!({"reason": review.reason}),
            (st.clock)(),
        )?;
        Ok(Json(json!({"request": row})).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuditQuery {
    from: Option<u64>,
    limit: Option<usize>,
}

async fn audit_rows(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<AuditQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, &["auditor"])?;
        let Query(q) = q.map_err(|e| bad(format!("query: {}", e.body_text())))?;
        let rows = st.store.audit_rows(
            q.from.unwrap_or(1).max(1),
            q.limit.unwrap_or(1000).clamp(1, 10_000),
        )?;
        Ok(Json(json!({"rows": rows})).into_response())
    })
    .await
}

async fn audit_verify(AxState(st): AxState<Arc<AppState>>, headers: HeaderMap) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, &["auditor"])?;
        let rows = st.store.audit_rows(1, usize::MAX)?;
        let result = audit::verify(&rows, None);
        Ok(Json(json!({
            "rows": rows.len(),
            "ok": result.is_ok(),
            "break": result.err().map(|e| e.to_string()),
        }))
        .into_response())
    })
    .await
}

/// The operator web console: one static page; everything it shows comes from the API
/// with the operator's token, which stays in the browser tab.
async fn console() -> Response {
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

async fn openapi() -> Json<Value> {
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
