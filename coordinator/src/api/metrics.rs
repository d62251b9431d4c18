//! `/metrics` in the OpenMetrics text format (prometheus-client): answers per route and
//! status with latency histograms, requests per live state, how long ago the worker last
//! finished a round, each vault's balance as the worker last read it, and the counters
//! the service keeps.

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

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Vault {
    network: String,
    name: String,
    unit: String,
}

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
    /// Confirmed transactions whose block left the chain.
    pub reorgs: Counter,
    answers: Family<Answer, Counter>,
    latency: Family<Route, Histogram>,
    in_state: Family<InState, Gauge>,
    worker_age: Gauge,
    vault_balance: Family<Vault, Gauge<f64, AtomicU64>>,
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
        let m = Self {
            created: Counter::default(),
            replayed: Counter::default(),
            client_errors: Counter::default(),
            server_errors: Counter::default(),
            refills: Counter::default(),
            reorgs: Counter::default(),
            answers: Family::default(),
            latency: Family::new_with_constructor(|| {
                // 1 ms to about 16 s.
                Histogram::new(exponential_buckets(0.001, 2.0, 15))
            }),
            in_state: Family::default(),
            worker_age: Gauge::default(),
            vault_balance: Family::default(),
            last_round: AtomicU64::new(0),
            registry: Registry::default(),
        };
        let mut registry = Registry::with_prefix("strongroom");
        macro_rules! register {
            ($($name:literal, $help:literal, $metric:ident;)*) => {
                $(registry.register($name, $help, m.$metric.clone());)*
            };
        }
        register! {
            "requests_created", "Transfer requests created", created;
            "requests_replayed", "Creates answered from an earlier create with the same idempotency key", replayed;
            "http_client_errors", "Answers with a 4xx status", client_errors;
            "http_server_errors", "Answers with a 5xx status", server_errors;
            "refills_drafted", "Refills drafted by the balance watch", refills;
            "reorgs", "Confirmed transactions whose block left the chain (each one is an alert.reorg audit row)", reorgs;
            "http_answers", "HTTP answers by route, method and status", answers;
            "http_answer_seconds", "Time to answer, by route", latency;
            "requests_in_state", "Transfer requests waiting in each live state", in_state;
            "worker_round_age_seconds", "Seconds since the pipeline worker last finished a round (-1: never)", worker_age;
            "vault_balance", "Each vault's spendable balance in its base unit (sat, wei, lamports) as the worker last read it; published with --metrics-vault-balances, absent while unknown", vault_balance;
        }
        Self { registry, ..m }
    }
}

impl Metrics {
    /// Sets each vault's balance gauge from views read now; a vault whose balance could
    /// not be read loses its gauge rather than keep a stale value. True when every
    /// balance was read.
    pub fn vault_balances(&self, views: &[crate::chain::VaultView]) -> bool {
        for v in views {
            let labels = Vault {
                network: v.network.clone(),
                name: v.name.clone(),
                unit: v.unit.to_string(),
            };
            match &v.balance {
                // Base units as a float: exact to 2^53, plenty for a dashboard.
                Ok(b) => {
                    self.vault_balance.get_or_create(&labels).set(*b as f64);
                }
                Err(_) => {
                    self.vault_balance.remove(&labels);
                }
            }
        }
        views.iter().all(|v| v.balance.is_ok())
    }

    /// Notes that the worker finished a round at `now`.
    pub fn worker_round(&self, now: u64) {
        self.last_round.store(now, Ordering::Relaxed);
    }

    /// The OpenMetrics text, with the gauges read now.
    pub fn render(&self, st: &AppState) -> String {
        for s in State::LIVE {
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
