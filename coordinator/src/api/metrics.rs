//! `/metrics` in the OpenMetrics text format (prometheus-client): answers per route and
//! status with latency histograms, requests per live state, how long ago the worker last
//! finished a round, and the counters the service keeps.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State as AxState};
use axum::middleware::Next;
use axum::response::Response;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::AppState;
use crate::lifecycle::State;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Answer {
    route: String,
    method: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct InState {
    state: String,
}

/// The states a request waits in until it ends.
const LIVE: [State; 8] = [
    State::ManualReview,
    State::AwaitingApprovals,
    State::Approved,
    State::Exported,
    State::PartiallySigned,
    State::Signed,
    State::Finalised,
    State::Broadcast,
];

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    /// Requests created.
    pub created: Counter,
    /// Creates answered from an earlier one with the same idempotency key.
    pub replayed: Counter,
    /// 4xx answers.
    pub client_errors: Counter,
    /// 5xx answers.
    pub server_errors: Counter,
    /// Refills drafted by the balance watch.
    pub refills: Counter,
    answers: Family<Answer, Counter>,
    latency: Family<Route, Histogram>,
    in_state: Family<InState, Gauge>,
    worker_age: Gauge,
    /// Unix seconds when the worker last finished a round (0: never).
    last_round: AtomicU64,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("strongroom");
        let m = Self {
            created: Counter::default(),
            replayed: Counter::default(),
            client_errors: Counter::default(),
            server_errors: Counter::default(),
            refills: Counter::default(),
            answers: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 1 ms to about 16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
            in_state: Family::default(),
            worker_age: Gauge::default(),
            last_round: AtomicU64::new(0),
            registry: Registry::default(),
        };
        registry.register(
            "requests_created",
            "Transfer requests created",
            m.created.clone(),
        );
        registry.register(
            "requests_replayed",
            "Creates answered from an earlier create with the same idempotency key",
            m.replayed.clone(),
        );
        registry.register(
            "http_client_errors",
            "Answers with a 4xx status",
            m.client_errors.clone(),
        );
        registry.register(
            "http_server_errors",
            "Answers with a 5xx status",
            m.server_errors.clone(),
        );
        registry.register(
            "refills_drafted",
            "Refills drafted by the balance watch",
            m.refills.clone(),
        );
        registry.register(
            "http_answers",
            "HTTP answers by route, method and status",
            m.answers.clone(),
        );
        registry.register(
            "http_answer_seconds",
            "Time to answer, by route",
            m.latency.clone(),
        );
        registry.register(
            "requests_in_state",
            "Transfer requests waiting in each live state",
            m.in_state.clone(),
        );
        registry.register(
            "worker_round_age_seconds",
            "Seconds since the pipeline worker last finished a round (-1: never)",
            m.worker_age.clone(),
        );
        Self { registry, ..m }
    }
}

impl Metrics {
    /// Notes that the worker finished a round at `now`.
    pub fn worker_round(&self, now: u64) {
        self.last_round.store(now, Ordering::Relaxed);
    }

    /// The OpenMetrics text, with the gauges read now.
    pub fn render(&self, st: &AppState) -> String {
        for s in LIVE {
            if let Ok(rows) = st.store.in_state(s, None) {
                self.in_state
                    .get_or_create(&InState {
                        state: serde_json::to_value(s)
                            .ok()
                            .and_then(|v| v.as_str().map(String::from))
                            .unwrap_or_default(),
                    })
                    .set(i64::try_from(rows.len()).unwrap_or(i64::MAX));
            }
        }
        let last = self.last_round.load(Ordering::Relaxed);
        self.worker_age.set(if last == 0 {
            -1
        } else {
            i64::try_from((st.clock)().saturating_sub(last)).unwrap_or(i64::MAX)
        });
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &self.registry).is_err() {
            return String::new();
        }
        out
    }
}

/// Middleware: counts every answer by its matched route (never the raw path, so ids do
/// not become labels), method and status, and times it.
pub async fn track(AxState(st): AxState<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |m| m.as_str().to_string());
    let method = req.method().to_string();
    let started = Instant::now();
    let resp = next.run(req).await;
    st.metrics
        .latency
        .get_or_create(&Route {
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    st.metrics
        .answers
        .get_or_create(&Answer {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}
