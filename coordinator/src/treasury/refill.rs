//! Treasury automation for the warm tier: the balance watch. A watched wallet under its
//! low watermark gets a refill request from the vault up to its high watermark, drafted
//! by the coordinator as principal `treasury-automation`; it goes through risk (refills
//! only to registered warm addresses) and approvals like any other request, and an alert
//! is raised: an audit row `alert.low-balance`, a metric, a log line. One open refill per
//! wallet at a time.

use std::sync::Arc;

use serde_json::json;

use crate::pipeline::Pipeline;
use crate::requests::{submit, CreateRequest};
use crate::risk::{Purpose, RiskConfig};
use crate::store::{Store, StoreError};

/// The principal drafted refills belong to.
pub const PRINCIPAL: &str = "treasury-automation";

/// What one round of the watch did.
#[derive(Debug, Default)]
pub struct Round {
    /// What happened, for the log.
    pub said: Vec<String>,
    /// Refills drafted.
    pub drafted: u64,
}

/// Checks every watched wallet that is due.
pub fn watch(store: &dyn Store, pipeline: &Pipeline, rules: &Arc<RiskConfig>, now: u64) -> Round {
    let (mut said, mut drafted) = (Vec::new(), 0);
    for w in &pipeline.watches {
        if !pipeline.watch_due(w, now) {
            continue;
        }
        let (low, high) = match w.marks() {
            Ok(m) => m,
            Err(e) => {
                said.push(e);
                continue;
            }
        };
        let balance = match pipeline.watched_balance(w) {
            Ok(b) => b,
            Err(e) => {
                said.push(format!("watch {} on {}: {e}", w.address, w.network));
                continue;
            }
        };
        if balance >= low {
            continue;
        }
        let open = open_refill(store, w);
        let open = match open {
            Ok(o) => o,
            Err(e) => {
                said.push(format!("watch {}: {e}", w.address));
                continue;
            }
        };
        if open {
            continue;
        }
        let amount = high - balance;
        let req = CreateRequest {
            network: w.network.clone(),
            asset: w.asset.clone(),
            destination: w.address.clone(),
            amount: amount.to_string(),
            purpose: Purpose::Refill,
            memo: format!("automatic refill: balance {balance} under {low}; back to {high}"),
            batch: Vec::new(),
            replaces: None,
        };
        // One key per wallet and hour: a refill refused or cancelled is not redrafted
        // in a loop; the next hour's check drafts again if the balance is still low.
        let key = match w.asset.as_str() {
            "native" => format!("refill:{}:{}:{}", w.network, w.address, now / 3600),
            token => format!("refill:{}:{}:{token}:{}", w.network, w.address, now / 3600),
        };
        match submit(store, rules, PRINCIPAL, &req, &key, amount, now) {
            Ok((row, true, outcome)) => {
                drafted += 1;
                let outcome = serde_json::to_value(&outcome).unwrap_or_default();
                let _ = store.audit(
                    PRINCIPAL,
                    "alert.low-balance",
                    &format!("{}:{}", w.network, w.address),
                    json!({"asset": w.asset, "balance": balance.to_string(), "low": w.low,
                        "high": w.high, "refill": row.id, "risk": outcome}),
                    now,
                );
                said.push(format!(
                    "ALERT low balance: {} on {} holds {balance} of {} (< {low}); refill {} of {amount} drafted ({})",
                    w.address, w.network, w.asset, row.id, outcome["outcome"]
                ));
            }
            Ok((_, false, _)) => {}
            Err(e) => said.push(format!("watch {}: refill not drafted: {e}", w.address)),
        }
    }
    Round { said, drafted }
}

/// Whether a refill of `w` drafted here is still open (any state before the end).
fn open_refill(store: &dyn Store, w: &super::Watch) -> Result<bool, StoreError> {
    use crate::lifecycle::State;
    for state in std::iter::once(State::Draft).chain(State::LIVE) {
        if store.in_state(state, Some(&w.network))?.iter().any(|r| {
            r.principal == PRINCIPAL
                && crate::chain::Body::of(r).is_ok_and(|b| {
                    b.purpose == crate::risk::Purpose::Refill
                        && b.destination == w.address
                        && b.asset.eq_ignore_ascii_case(&w.asset)
                })
        }) {
            return Ok(true);
        }
    }
    Ok(false)
}
