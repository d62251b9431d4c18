//! Signed webhooks for the warm tier: every request's state change and every alert,
//! posted to one endpoint in audit order.
//!
//! The audit chain is the outbox. A cursor in the store says how far delivery has got;
//! it moves past an event only once the endpoint answered 2xx, so nothing is lost across
//! a restart or a crash (an event may then be posted again, never skipped). Each event's
//! delivery id is derived from its audit row, so every post of it carries the same id:
//! a receiver that keeps the ids it has handled acts on each event exactly once. A failed
//! post is retried with exponential backoff (1 s, doubling, at most 5 minutes), and later
//! events wait behind it, so they arrive in order. A lease keeps one replica delivering.
//!
//! Each post carries `Strongroom-Delivery: <id>`, `Strongroom-Event: <type>` and
//! `Strongroom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 over "<t>.<body>">` with
//! the shared secret, to be checked by the receiver (compare in constant time, and
//! refuse an old `t`).

use std::time::{Duration, Instant};

use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::audit::AuditRecord;
use crate::store::Store;

/// Events read from the audit chain per round.
const BATCH: usize = 200;
/// How long one replica holds the delivery lease, and how much of it a round uses (a
/// post may take 10 s more), so two replicas never post at once.
const LEASE_SECS: u64 = 60;
const LEASE_USE: Duration = Duration::from_secs(30);
/// The longest wait between two tries of one event.
const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The endpoint and its shared secret.
pub struct Webhook {
    url: String,
    secret: Zeroizing<Vec<u8>>,
    agent: ureq::Agent,
    /// Failed tries of the event at the head, and when to try it again.
    backoff: Option<(u32, Instant)>,
}

impl std::fmt::Debug for Webhook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// What a round did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Round {
    /// Events the endpoint took.
    pub delivered: usize,
    /// Why the event at the head was not taken (it is tried again later).
    pub failed: Option<String>,
}

/// The event an audit row tells the warm tier of, if any: a request created or moved
/// (`request.created`, `request.state`), or an alert (`alert.*`).
pub fn event(r: &AuditRecord) -> Option<(&'static str, Value)> {
    let (kind, body) = match r.action.as_str() {
        "request.create" => (
            "request.created",
            json!({"request": r.subject, "to": "draft", "body": r.detail["body"]}),
        ),
        "request.state" => (
            "request.state",
            json!({"request": r.subject, "from": r.detail["from"], "to": r.detail["to"],
                "detail": r.detail["detail"]}),
        ),
        a if a.starts_with("alert.") => ("alert", json!({"alert": a, "detail": r.detail})),
        _ => return None,
    };
    Some((kind, body))
}

/// The delivery id of the event of audit row `r` at endpoint `url`: the same on every
/// post of it, different for every event and endpoint.
pub fn delivery_id(url: &str, r: &AuditRecord) -> String {
    let mut h = Sha256::new();
    h.update(url.as_bytes());
    h.update([0]);
    h.update(r.seq.to_be_bytes());
    h.update(r.hash.as_bytes());
    hex::encode(&h.finalize()[..16])
}

/// The `Strongroom-Signature` header of `body` posted at `t`.
pub fn signature(secret: &[u8], t: u64, body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length");
    mac.update(t.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

impl Webhook {
    /// Posts to `url` (http or https), signing with `secret` (at least 16 bytes).
    pub fn new(url: &str, secret: Zeroizing<Vec<u8>>) -> Result<Self, String> {
        let parsed: ureq::http::Uri = url
            .parse()
            .map_err(|e| format!("webhook url {url:?}: {e}"))?;
        if !matches!(parsed.scheme_str(), Some("http" | "https")) || parsed.host().is_none() {
            return Err(format!("webhook url {url:?}: http(s)://host… expected"));
        }
        if secret.len() < 16 {
            return Err("the webhook secret must be at least 16 bytes".into());
        }
        Ok(Self {
            url: url.to_string(),
            secret,
            agent: crate::rpc::agent(Duration::from_secs(10)),
            backoff: None,
        })
    }

    /// The cursor's name in the store.
    fn cursor(&self) -> String {
        format!("webhook:{}", self.url)
    }

    /// Delivers what is due, in order, stopping at the first failure (unless another
    /// replica holds the lease, or the head's retry is not due yet).
    pub fn round(&mut self, store: &dyn Store, owner: &str, now: u64) -> Round {
        let mut round = Round::default();
        if self.backoff.is_some_and(|(_, at)| Instant::now() < at) {
            return round;
        }
        let name = self.cursor();
        match store.claim(&name, "deliver", owner, now, LEASE_SECS) {
            Ok(true) => {}
            Ok(false) => return round,
            Err(e) => {
                round.failed = Some(e.to_string());
                return round;
            }
        }
        let started = Instant::now();
        let result = (|| -> Result<(), String> {
            let mut at = store.cursor(&name).map_err(|e| e.to_string())?;
            let move_to = |at: &mut u64, to: u64| -> Result<(), String> {
                if !store
                    .move_cursor(&name, *at, to)
                    .map_err(|e| e.to_string())?
                {
                    return Err("another replica moved the cursor".into());
                }
                *at = to;
                Ok(())
            };
            let rows = store.audit_rows(at + 1, BATCH).map_err(|e| e.to_string())?;
            let mut seen = None;
            for r in rows {
                // Within the lease: the rest waits for the next round.
                if started.elapsed() > LEASE_USE {
                    break;
                }
                seen = Some(r.seq);
                if let Some((kind, body)) = event(&r) {
                    self.post(&r, kind, body, now)?;
                    round.delivered += 1;
                    move_to(&mut at, r.seq)?;
                }
            }
            // Rows that tell the warm tier of nothing are passed in one move.
            match seen {
                Some(s) if s > at => move_to(&mut at, s),
                _ => Ok(()),
            }
        })();
        match result {
            Ok(()) => self.backoff = None,
            Err(e) => {
                let tries = self.backoff.map_or(1, |(n, _)| n + 1);
                let wait =
                    Duration::from_secs(1u64 << tries.min(9).saturating_sub(1)).min(MAX_BACKOFF);
                self.backoff = Some((tries, Instant::now() + wait));
                round.failed = Some(e);
            }
        }
        round
    }

    fn post(&self, r: &AuditRecord, kind: &str, mut body: Value, now: u64) -> Result<(), String> {
        let id = delivery_id(&self.url, r);
        body["delivery"] = json!(id);
        body["type"] = json!(kind);
        body["seq"] = json!(r.seq);
        body["time"] = json!(r.time);
        body["actor"] = json!(r.actor);
        let bytes = serde_json::to_vec(&body).map_err(|e| e.to_string())?;
        let resp = self
            .agent
            .post(&self.url)
            .header("Content-Type", "application/json")
            .header("Strongroom-Delivery", &id)
            .header("Strongroom-Event", kind)
            .header(
                "Strongroom-Signature",
                &signature(&self.secret, now, &bytes),
            )
            .send(&bytes[..])
            .map_err(|e| format!("posting event {} to the webhook: {e}", r.seq))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(format!("the webhook answered {status} to event {}", r.seq))
        }
    }
}

/// Delivers webhooks until the service stops: a round every `poll`.
pub(crate) async fn run(
    store: std::sync::Arc<dyn Store>,
    mut hook: Webhook,
    owner: String,
    poll: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let mut said: Option<String> = None;
    while !*stopped.borrow() {
        let (s, o) = (store.clone(), owner.clone());
        let (h, round) = tokio::task::spawn_blocking(move || {
            let r = hook.round(s.as_ref(), &o, crate::service::now());
            (hook, r)
        })
        .await
        .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        hook = h;
        if round.failed != said {
            if let Some(e) = &round.failed {
                tracing::warn!(error = %e, "webhook");
            } else {
                tracing::info!("webhook delivering again");
            }
            said = round.failed.clone();
        }
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = stopped.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests;
