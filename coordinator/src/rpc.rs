//! JSON-RPC 2.0 over HTTP with several endpoints per network, failover and a circuit
//! breaker. Shared by the EVM and Solana chain adapters.
//!
//! Failover rules: a transport failure (connection refused, timeout, HTTP status other
//! than 200, an answer that is not JSON-RPC) counts against the endpoint and the call
//! moves to the next one. A JSON-RPC error object is the node's answer and is returned
//! as is: another node would say the same about a bad transaction, and retrying a send
//! elsewhere is only safe because sending the same signed transaction twice is
//! idempotent on every chain we speak to. An endpoint that failed `threshold` times in a
//! row is skipped for `cooldown`; when every endpoint is cooling down, each is tried
//! anyway rather than failing without asking anyone.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use serde_json::{json, Value};

/// Largest answer read from a node.
pub const MAX_ANSWER_BYTES: u64 = 16 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node answered with a JSON-RPC error.
    #[error("{method}: node error {code}: {message}")]
    Node {
        /// Method called.
        method: String,
        /// JSON-RPC error code.
        code: i64,
        /// Message.
        message: String,
    },
    /// No endpoint answered; each one's failure.
    #[error("{method}: no endpoint answered ({})", .failures.join("; "))]
    Unreachable {
        /// Method called.
        method: String,
        /// `url: reason` per endpoint tried.
        failures: Vec<String>,
    },
    /// The answer did not have the expected shape.
    #[error("{method}: unexpected answer: {reason}")]
    BadAnswer {
        /// Method called.
        method: String,
        /// What was wrong.
        reason: String,
    },
}

#[derive(Debug)]
struct Endpoint {
    url: String,
    consecutive_failures: u32,
    open_until: Option<Instant>,
}

/// Circuit breaker settings.
#[derive(Debug, Clone, Copy)]
pub struct Breaker {
    /// Consecutive failures that open the breaker.
    pub threshold: u32,
    /// How long an open breaker skips the endpoint.
    pub cooldown: Duration,
}

impl Default for Breaker {
    fn default() -> Self {
        Self {
            threshold: 3,
            cooldown: Duration::from_secs(30),
        }
    }
}

/// Health of one endpoint, for `/metrics` and operators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointHealth {
    /// URL.
    pub url: String,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// Whether it is being skipped.
    pub open: bool,
}

/// What one attempt at an endpoint gave.
#[derive(Debug)]
pub enum Attempt<T, E> {
    /// An answer (good or bad): stop here.
    Answer(Result<T, E>),
    /// The endpoint did not answer: try the next one.
    Transport(String),
}

/// Several endpoints of one service, tried in order, with a circuit breaker each.
#[derive(Debug)]
pub struct Pool {
    endpoints: Mutex<Vec<Endpoint>>,
    breaker: Breaker,
}

impl Pool {
    /// Over `urls`.
    pub fn new(urls: &[String], breaker: Breaker) -> Self {
        Self {
            endpoints: Mutex::new(
                urls.iter()
                    .map(|u| Endpoint {
                        url: u.trim_end_matches('/').to_string(),
                        consecutive_failures: 0,
                        open_until: None,
                    })
                    .collect(),
            ),
            breaker,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Endpoint>> {
        // A panic while holding the lock cannot leave the list inconsistent: recover it.
        self.endpoints.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Endpoint health.
    pub fn health(&self) -> Vec<EndpointHealth> {
        let now = Instant::now();
        self.lock()
            .iter()
            .map(|e| EndpointHealth {
                url: e.url.clone(),
                consecutive_failures: e.consecutive_failures,
                open: e.open_until.is_some_and(|t| t > now),
            })
            .collect()
    }

    /// Runs `f` against each endpoint in turn (skipping open breakers unless all are
    /// open) until one answers; `Err` lists every failure.
    pub fn try_each<T, E>(
        &self,
        mut f: impl FnMut(&str) -> Attempt<T, E>,
    ) -> Result<Result<T, E>, Vec<String>> {
        let now = Instant::now();
        let order: Vec<(usize, String)> = {
            let eps = self.lock();
            let healthy: Vec<(usize, String)> = eps
                .iter()
                .enumerate()
                .filter(|(_, e)| e.open_until.is_none_or(|t| t <= now))
                .map(|(i, e)| (i, e.url.clone()))
                .collect();
            if healthy.is_empty() {
                eps.iter()
                    .enumerate()
                    .map(|(i, e)| (i, e.url.clone()))
                    .collect()
            } else {
                healthy
            }
        };
        let mut failures = Vec::new();
        for (i, url) in order {
            match f(&url) {
                Attempt::Answer(r) => {
                    self.mark(i, true);
                    return Ok(r);
                }
                Attempt::Transport(reason) => {
                    self.mark(i, false);
                    failures.push(format!("{url}: {reason}"));
                }
            }
        }
        Err(failures)
    }

    fn mark(&self, i: usize, ok: bool) {
        let mut eps = self.lock();
        let Some(e) = eps.get_mut(i) else { return };
        if ok {
            e.consecutive_failures = 0;
            e.open_until = None;
        } else {
            e.consecutive_failures = e.consecutive_failures.saturating_add(1);
            if e.consecutive_failures >= self.breaker.threshold {
                e.open_until = Some(Instant::now() + self.breaker.cooldown);
            }
        }
    }
}

/// An HTTP agent that reports every status instead of failing on it.
pub fn agent(timeout: Duration) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .build()
        .into()
}

/// A JSON-RPC client over several endpoints.
#[derive(Debug)]
pub struct RpcClient {
    pool: Pool,
    agent: ureq::Agent,
    next_id: AtomicU64,
    auth: Option<String>,
}

impl RpcClient {
    /// A client over `urls`, tried in order, with a per-call timeout.
    pub fn new(urls: &[String], timeout: Duration, breaker: Breaker) -> Self {
        Self {
            pool: Pool::new(urls, breaker),
            agent: agent(timeout),
            next_id: AtomicU64::new(1),
            auth: None,
        }
    }

    /// A chain node's client as the service configures it: 10 s per call, the default
    /// breaker, endpoints tried in order.
    pub fn for_chain(urls: &[String]) -> Self {
        Self::new(urls, Duration::from_secs(10), Breaker::default())
    }

    /// Sends `Authorization: Basic …` (Bitcoin Core's RPC user and password).
    pub fn with_basic_auth(mut self, user: &str, password: &str) -> Self {
        use base64::Engine;
        self.auth = Some(format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        ));
        self
    }

    /// Endpoint health.
    pub fn health(&self) -> Vec<EndpointHealth> {
        self.pool.health()
    }

    /// Calls `method` and decodes its `result`.
    pub fn call<T: DeserializeOwned>(&self, method: &str, params: Value) -> Result<T, RpcError> {
        let raw = self.call_raw(method, params)?;
        serde_json::from_value(raw).map_err(|e| RpcError::BadAnswer {
            method: method.into(),
            reason: e.to_string(),
        })
    }

    /// Calls `method` and returns its `result` as JSON (`null` included).
    pub fn call_raw(&self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        match self.pool.try_each(|url| match self.post(url, &body) {
            Ok(answer) => Attempt::Answer(interpret(method, answer)),
            Err(reason) => Attempt::Transport(reason),
        }) {
            Ok(r) => r,
            Err(failures) => Err(RpcError::Unreachable {
                method: method.into(),
                failures,
            }),
        }
    }

    fn post(&self, url: &str, body: &Value) -> Result<Value, String> {
        let mut req = self
            .agent
            .post(url)
            .header("content-type", "application/json");
        if let Some(a) = &self.auth {
            req = req.header("authorization", a);
        }
        let mut resp = req.send_json(body).map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body_mut()
            .with_config()
            .limit(MAX_ANSWER_BYTES)
            .read_to_vec()
            .map_err(|e| e.to_string())?;
        // Bitcoin Core answers RPC errors with HTTP 500 and a JSON-RPC body: an answer.
        let v: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) if status == 200 => return Err(format!("not JSON: {e}")),
            Err(_) => return Err(format!("HTTP {status}")),
        };
        if v.get("result").is_none() && v.get("error").is_none() {
            return Err(format!("HTTP {status}: not a JSON-RPC answer"));
        }
        Ok(v)
    }
}

fn interpret(method: &str, mut answer: Value) -> Result<Value, RpcError> {
    if let Some(err) = answer.get("error").filter(|e| !e.is_null()) {
        return Err(RpcError::Node {
            method: method.into(),
            code: err.get("code").and_then(Value::as_i64).unwrap_or(0),
            message: err
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or("no message")
                .chars()
                .take(500)
                .collect(),
        });
    }
    Ok(answer
        .get_mut("result")
        .map(Value::take)
        .unwrap_or(Value::Null))
}
