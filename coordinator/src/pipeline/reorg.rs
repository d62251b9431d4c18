//! Confirmations that do not stay: a confirmed request is looked at again every round
//! until its block is deep enough ([`crate::chain::watch_depth`]). When its block has
//! left the chain (a reorg), the request goes back to broadcast — tracking picks it up,
//! sends the same bytes again if the node lost them, and confirms it again — and an
//! alert is raised: an audit row `alert.reorg` (so webhooks and the audit export carry
//! it) and a log line. What is watched survives a restart: it is read back from the
//! requests confirmed in the last two days, each with the block its confirmation
//! recorded.

use serde_json::{json, Value};

use super::Pipeline;
use crate::chain::{Body, PipelineError, Recheck};
use crate::lifecycle::{Event, State};

/// After a start, confirmed requests this recent are watched again (seconds).
const REREAD: u64 = 2 * 86_400;

/// Seconds between two looks at the watched confirmations (each look asks the node
/// about every one of them).
const EVERY: u64 = 5;

impl Pipeline {
    /// Watches confirmed request `id` for reorgs.
    pub(crate) fn watch_confirmed(&self, id: &str) {
        let mut w = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = w.as_mut() {
            set.insert(id.to_string());
        }
    }

    /// Looks at every watched confirmation again; returns what failed (request id,
    /// reason) and the alerts raised.
    pub fn recheck_confirmed(&self, now: u64) -> (Vec<(String, String)>, Vec<String>) {
        let (mut errors, mut alerts) = (Vec::new(), Vec::new());
        let ids: Vec<String> = {
            let mut w = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
            let mut last = self
                .confirmed_checked
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            if w.is_some() && now < *last + EVERY {
                return (errors, alerts);
            }
            *last = now;
            if w.is_none() {
                match self.ctx.store.in_state(State::Confirmed, None) {
                    Ok(rows) => {
                        let recent = rows.into_iter().filter(|r| r.updated + REREAD >= now);
                        *w = Some(recent.map(|r| r.id).collect());
                    }
                    Err(e) => {
                        errors.push((String::new(), e.to_string()));
                        return (errors, alerts);
                    }
                }
            }
            w.iter().flatten().cloned().collect()
        };
        for id in ids {
            if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                break;
            }
            match self.recheck_one(&id, now) {
                Ok(Recheck::Holds) => {}
                Ok(Recheck::Settled) => self.unwatch(&id),
                Ok(Recheck::Reorged(alert)) => {
                    self.unwatch(&id);
                    alerts.push(format!("request {id}: reorg, {alert}"));
                }
                Err(e) => errors.push((id, e.to_string())),
            }
        }
        (errors, alerts)
    }

    fn unwatch(&self, id: &str) {
        let mut w = self.confirmed.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(set) = w.as_mut() {
            set.remove(id);
        }
    }

    fn recheck_one(&self, id: &str, now: u64) -> Result<Recheck, PipelineError> {
        let row = self.ctx.row(id)?;
        if row.state != State::Confirmed {
            return Ok(Recheck::Settled);
        }
        let confirmed = confirmation(&self.ctx.store.audit_of(id)?);
        let adapter = self.adapter(&Body::of(&row)?.network)?;
        let r = adapter.recheck(&self.ctx, id, &confirmed)?;
        if let Recheck::Reorged(seen) = &r {
            self.ctx.store.transition_alerting(
                id,
                Event::Reorged,
                "coordinator",
                json!({"reorg": seen, "confirmed": confirmed}),
                Some("alert.reorg"),
                now,
            )?;
            tracing::warn!(request = %id, reorg = %seen, "ALERT reorg: a confirmed transaction left the chain; tracking it again");
        }
        Ok(r)
    }
}

/// The detail the request's (last) confirmation recorded.
fn confirmation(rows: &[crate::audit::AuditRecord]) -> Value {
    rows.iter()
        .rev()
        .find(|r| r.action == "request.state" && r.detail["to"] == "confirmed")
        .map(|r| r.detail["detail"].clone())
        .unwrap_or(Value::Null)
}
