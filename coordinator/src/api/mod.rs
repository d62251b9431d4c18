//! The coordinator's HTTP API (axum, JSON). Every route but `/health`, `/metrics` and
//! `/openapi.json` needs a bearer token; tokens are stored hashed and bound to a
//! principal with roles. A missing or unknown token is 401, a wrong role 403, both
//! without detail. Every malformed body, unknown field, out-of-range amount,
//! wrong-network address or oversized upload is a 4xx with a clear message and changes
//! nothing.

mod docs;
pub mod metrics;
mod requests;
mod signing;
mod stations;
pub mod treasury;
mod validate;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::audit;
use crate::lifecycle::{Event, State};
use crate::risk::{self, Outcome, Purpose, RiskConfig};
use crate::store::{Store, StoreError};

pub use docs::openapi_document;
pub(crate) use requests::submit;
pub use requests::CreateRequest;
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
        .route("/openapi.json", get(docs::openapi))
        .route("/console", get(docs::console))
        .route(
            "/v1/requests",
            post(requests::create_request).get(requests::list_requests),
        )
        .route("/v1/requests/{id}", get(requests::get_request))
        .route("/v1/requests/{id}/cancel", post(requests::cancel_request))
        .route("/v1/requests/{id}/review", post(requests::review_request))
        .route(
            "/v1/stations",
            post(stations::register_station).get(stations::list_stations),
        )
        .route("/v1/approvers", post(stations::register_approver))
        .route("/v1/vaults", get(stations::vaults))
        .route(
            "/v1/deposits",
            post(stations::hand_out_deposit).get(stations::list_deposits),
        )
        .route("/v1/sweeps/plan", get(stations::sweep_plan))
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
