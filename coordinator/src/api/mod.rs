//! The coordinator's HTTP API (axum, JSON). Every route but `/health`, `/metrics`,
//! `/openapi.json` and `/console` (a static page) needs a bearer token; tokens are stored hashed and bound to a
//! principal with roles. A missing or unknown token is 401, a wrong role 403, both
//! without detail. Every malformed body, unknown field, out-of-range amount,
//! wrong-network address or oversized upload is a 4xx with a clear message and changes
//! nothing.

mod answers;
mod audit;
mod docs;
mod history;
mod into_vault;
pub mod limits;
pub mod metrics;
mod requests;
mod signing;
mod standard;
mod stations;
mod tokens;
mod wallet;

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{DefaultBodyLimit, FromRequestParts, Path, Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::lifecycle::{Event, State};
use crate::risk::RiskConfig;
use crate::store::{Store, StoreError};

pub use crate::requests::{validate_amount, validate_destination, CreateRequest};

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
#[derive(derive_more::Debug)]
pub struct AppState {
    /// Storage.
    #[debug(skip)]
    pub store: Arc<dyn Store>,
    /// Configuration.
    pub config: Config,
    /// Clock (Unix seconds), replaceable in tests.
    #[debug(skip)]
    pub clock: Box<dyn Fn() -> u64 + Send + Sync>,
    /// The signing pipeline (export, import, broadcast).
    #[debug(skip)]
    pub pipeline: Arc<crate::pipeline::Pipeline>,
    /// What `/metrics` reports.
    #[debug(skip)]
    pub metrics: Metrics,
    /// Set when the service stops: open event streams end so shutdown is not held up.
    #[debug(skip)]
    pub closing: tokio::sync::watch::Sender<bool>,
    /// Per-token rate limits.
    pub limits: limits::RateLimits,
}

use answers::errors;
use metrics::Metrics;

/// An error answer: status and a message safe to show.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A rate-limited caller is told when to come back.
        let retry = (self.0 == StatusCode::TOO_MANY_REQUESTS)
            .then(|| {
                self.1
                    .split("retry in ")
                    .nth(1)?
                    .split(' ')
                    .next()
                    .map(String::from)
            })
            .flatten();
        let mut r = (self.0, Json(answers::ErrorBody { error: self.1 })).into_response();
        if let Some(v) = retry.and_then(|s| axum::http::HeaderValue::from_str(&s).ok()) {
            r.headers_mut().insert(axum::http::header::RETRY_AFTER, v);
        }
        r
    }
}

/// Requests a minute per API token unless configured otherwise.
pub const DEFAULT_RATE: u32 = 1200;

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
        Err(JsonRejection::BytesRejection(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            Err(ApiError(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("body over {MAX_BODY} bytes"),
            ))
        }
        // The body read timed out or the connection failed mid-body.
        Err(JsonRejection::BytesRejection(_)) => Err(ApiError(
            StatusCode::REQUEST_TIMEOUT,
            "the request body did not arrive in time".into(),
        )),
        Err(_) => Err(bad("unreadable request body")),
    }
}

/// A JSON body. It is read before the caller is checked but judged after, so a caller
/// without a valid token hears 401 whatever it sent.
pub(super) struct Body<T>(Result<T, ApiError>);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = std::convert::Infallible;

    async fn from_request(req: axum::extract::Request, st: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(json_body(Json::<T>::from_request(req, st).await)))
    }
}

impl<T> Body<T> {
    /// The body, or why it was refused.
    fn get(self) -> Result<T, ApiError> {
        self.0
    }
}

/// A query string, judged like [`Body`].
pub(super) struct Args<T>(Result<T, ApiError>);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for Args<T>
{
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &S,
    ) -> Result<Self, Self::Rejection> {
        let q = Query::<T>::from_request_parts(parts, st).await;
        Ok(Self(
            q.map(|Query(q)| q)
                .map_err(|e| bad(format!("query: {}", e.body_text()))),
        ))
    }
}

impl<T> Args<T> {
    /// The query, or why it was refused.
    fn get(self) -> Result<T, ApiError> {
        self.0
    }
}

/// The answer naming one request.
fn answer(request: crate::store::RequestRow) -> Result<Response, ApiError> {
    Ok(Json(answers::RequestAnswer { request }).into_response())
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
    let hash = token_hash(token.trim());
    let now = (st.clock)();
    let t = st
        .store
        .token(&hash)?
        .filter(|t| t.live(now))
        .ok_or_else(unauthorized)?;
    if let Err(wait) = st.limits.take(&hash) {
        return Err(ApiError(
            StatusCode::TOO_MANY_REQUESTS,
            format!("too many requests for this token: retry in {wait} s"),
        ));
    }
    // Last use to the minute: one write a minute per token, not one per request, and a
    // failed write does not fail the request.
    if t.last_used.is_none_or(|u| now >= u.saturating_add(60)) {
        if let Err(e) = st.store.touch_token(&hash, now) {
            tracing::warn!(error = %e, "recording a token's last use");
        }
    }
    let (principal, roles) = (t.principal, t.roles);
    if !roles
        .iter()
        .any(|r| r == "admin" || allowed.contains(&r.as_str()))
    {
        return Err(ApiError(StatusCode::FORBIDDEN, "forbidden".into()));
    }
    Ok(Caller { principal, roles })
}

const READERS: &[&str] = &["treasury", "approver", "risk", "auditor", "warm-tier"];

/// A request id in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(names("id"), parameter_in = Path)]
struct Id(
    /// The request id (a UUID).
    String,
);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &S,
    ) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, st)
            .await
            .map_err(|e| bad(format!("path: {}", e.body_text())))?;
        Ok(Self(id))
    }
}

/// The documented routes: each handler's path, parameters, body and answers come from
/// its `#[utoipa::path]`, so the OpenAPI document is generated from the routes served.
fn api_routes() -> OpenApiRouter<Arc<AppState>> {
    OpenApiRouter::with_openapi(docs::ApiDoc::base())
        .routes(routes!(health))
        .routes(routes!(metrics_text))
        .routes(routes!(requests::create_request, requests::list_requests))
        .routes(routes!(requests::get_request))
        .routes(routes!(requests::cancel_request))
        .routes(routes!(requests::replace_request))
        .routes(routes!(into_vault::consolidate))
        .routes(routes!(into_vault::sweep))
        .routes(routes!(requests::review_request))
        .routes(routes!(requests::me))
        .routes(routes!(tokens::list, tokens::make))
        .routes(routes!(tokens::revoke))
        .routes(routes!(tokens::rotate))
        .routes(routes!(history::history))
        .routes(routes!(history::events))
        .routes(routes!(stations::register_station, stations::list_stations))
        .routes(routes!(stations::register_approver))
        .routes(routes!(stations::vaults))
        .routes(routes!(stations::hand_out_deposit, stations::list_deposits))
        .routes(routes!(stations::sweep_plan))
        .routes(routes!(signing::envelope))
        .routes(routes!(signing::approve))
        .routes(routes!(wallet::typed))
        .routes(routes!(wallet::typed_png))
        .routes(routes!(signing::export))
        .routes(routes!(signing::export_frames))
        .routes(routes!(signing::export_frame_png))
        .routes(routes!(signing::export_bundle))
        .routes(routes!(signing::export_bbqr))
        .routes(routes!(signing::export_bbqr_png))
        .routes(routes!(standard::standard))
        .routes(routes!(standard::psbt))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(signing::import))
                .layer(DefaultBodyLimit::max(signing::MAX_IMPORT)),
        )
        .routes(routes!(signing::chain_status))
        .merge(
            OpenApiRouter::new()
                .routes(routes!(signing::scan))
                .layer(DefaultBodyLimit::max(signing::MAX_SCAN)),
        )
        .routes(routes!(audit::rows))
        .routes(routes!(history::audit_export))
        .routes(routes!(audit::verify))
        .routes(routes!(audit::reconcile))
}

/// The OpenAPI document of the routes served.
pub fn openapi_document() -> utoipa::openapi::OpenApi {
    docs::finish(api_routes().into_openapi())
}

/// The router over `state`.
pub fn router(state: Arc<AppState>) -> Router {
    let (routes, doc) = api_routes().split_for_parts();
    let doc = Arc::new(docs::finish(doc));
    routes
        .route(
            "/openapi.json",
            get(move || {
                let doc = doc.clone();
                async move { Json(doc.as_ref().clone()) }
            }),
        )
        .route("/console", get(docs::console))
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
            closing: tokio::sync::watch::Sender::new(false),
            limits: limits::RateLimits::new(DEFAULT_RATE),
        }
    }

    /// The same state with `per_minute` requests a minute per token (0: no limit).
    pub fn with_rate_limit(mut self, per_minute: u32) -> Self {
        self.limits = limits::RateLimits::new(per_minute);
        self
    }

    /// The same state with a configured pipeline (over the same store).
    pub fn with_pipeline(mut self, pipeline: crate::pipeline::Pipeline) -> Self {
        self.pipeline = Arc::new(pipeline);
        self
    }
}

/// Liveness, and whether storage answers
#[utoipa::path(get, path = "/health", tag = "service",
    responses(
        (status = 200, description = "up", body = answers::Health),
        (status = 503, description = "storage unavailable", body = answers::Health),
    ))]
async fn health(AxState(st): AxState<Arc<AppState>>) -> Response {
    let ok = tokio::task::spawn_blocking(move || st.store.audit_rows(1, 1).is_ok())
        .await
        .unwrap_or(false);
    match ok {
        true => Json(answers::Health {
            status: "ok".into(),
        })
        .into_response(),
        false => (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(answers::Health {
                status: "storage unavailable".into(),
            }),
        )
            .into_response(),
    }
}

/// Metrics in the OpenMetrics text format
#[utoipa::path(get, path = "/metrics", tag = "service",
    responses((status = 200, description = "OpenMetrics text", content_type = "application/openmetrics-text", body = String)))]
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

/// What every authenticated handler starts from: the state and the caller's headers.
/// [`Api::run`] checks the caller's token and role, then runs the handler's work on the
/// blocking pool and counts its answer.
pub(super) struct Api {
    st: Arc<AppState>,
    headers: HeaderMap,
}

impl axum::extract::FromRequestParts<Arc<AppState>> for Api {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        st: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self {
            st: st.clone(),
            headers: parts.headers.clone(),
        })
    }
}

impl Api {
    /// A header's value as text (empty when absent or not text).
    fn header(&self, name: axum::http::HeaderName) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Runs `f` for a caller holding one of `roles` (or admin).
    async fn run(
        self,
        roles: &'static [&'static str],
        f: impl FnOnce(&AppState, Caller) -> Result<Response, ApiError> + Send + 'static,
    ) -> Response {
        let Self { st, headers } = self;
        handle(st, move |st| f(st, authenticate(st, &headers, roles)?)).await
    }
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
