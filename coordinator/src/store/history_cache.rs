//! The PostgreSQL batch leader's copy of recent request history, per principal, for the
//! risk engine. It is kept exact by replaying the audit chain: every create and every
//! state change is appended there under the lock a batch holds, in order, so the audit
//! rows after the copy's position are everything that changed since (from this replica
//! or any other). A gap too large to replay, a database error or a size over the cap
//! drops the copy; principals are then read again from the requests table.

use std::collections::HashMap;

use serde_json::Value;

use crate::risk::Past;

/// Audit rows replayed at most before the copy is dropped instead.
pub const MAX_REPLAY: u64 = 10_000;
/// History rows kept at most, over all principals.
pub const MAX_ROWS: usize = 200_000;

/// The audit rows a catch-up replays: after `$1`, up to `$2`, in order (PostgreSQL and
/// SQLite both bind `$1`, `$2` by position).
pub const REPLAY_SQL: &str = "SELECT time, actor, action, subject, detail FROM audit
     WHERE seq > $1 AND seq <= $2 AND action IN ('request.create', 'request.state')
     ORDER BY seq";

/// One audit row as a catch-up reads it.
#[derive(Debug)]
pub struct AuditRow {
    /// Unix seconds.
    pub time: u64,
    /// Who.
    pub actor: String,
    /// What (`request.create`, `request.state`).
    pub action: String,
    /// The request id.
    pub subject: String,
    /// Details, JSON text.
    pub detail: String,
}

/// One principal's rows since `since` (requests not rejected or cancelled).
#[derive(Debug, Default)]
struct Principal {
    since: u64,
    rows: Vec<(String, Past)>,
}

/// The copy.
#[derive(Debug, Default)]
pub struct HistoryCache {
    /// The audit position (last seq) the copy reflects; 0 for none.
    seq: u64,
    principals: HashMap<String, Principal>,
    /// Request id → principal, for state changes.
    owner: HashMap<String, String>,
    rows: usize,
}

impl HistoryCache {
    /// Drops everything and starts at audit position `seq`.
    pub fn reset(&mut self, seq: u64) {
        *self = Self {
            seq,
            ..Self::default()
        };
    }

    /// Moves to audit position `seq` after the rows in between were replayed.
    pub fn at(&mut self, seq: u64) {
        self.seq = seq;
    }

    /// Whether `principal`'s rows since `since` are held.
    pub fn covers(&self, principal: &str, since: u64) -> bool {
        self.principals
            .get(principal)
            .is_some_and(|p| p.since <= since)
    }

    /// `principal`'s rows, if held.
    pub fn rows(&self, principal: &str) -> impl Iterator<Item = &Past> {
        self.principals
            .get(principal)
            .into_iter()
            .flat_map(|p| p.rows.iter().map(|(_, x)| x))
    }

    /// Holds `principal`'s rows since `since`, as read from the requests table.
    pub fn load(&mut self, principal: &str, since: u64, rows: Vec<(String, Past)>) {
        self.forget(principal);
        if self.rows + rows.len() > MAX_ROWS {
            let seq = self.seq;
            self.reset(seq);
        }
        self.rows += rows.len();
        for (id, _) in &rows {
            self.owner.insert(id.clone(), principal.to_string());
        }
        self.principals
            .insert(principal.to_string(), Principal { since, rows });
    }

    /// Drops rows of `principal` older than `since` (they can no longer count).
    pub fn prune(&mut self, principal: &str, since: u64) {
        let Some(p) = self.principals.get_mut(principal) else {
            return;
        };
        if since <= p.since.saturating_add(86_400) {
            return;
        }
        let (keep, gone): (Vec<_>, Vec<_>) = std::mem::take(&mut p.rows)
            .into_iter()
            .partition(|(_, x)| x.time >= since);
        p.rows = keep;
        p.since = since;
        self.rows = self.rows.saturating_sub(gone.len());
        for (id, _) in gone {
            self.owner.remove(&id);
        }
    }

    /// A request was created (and not rejected): it counts, if its principal is held.
    /// Over [`MAX_ROWS`] the copy is dropped (principals are read again when needed).
    pub fn created(&mut self, id: &str, past: Past) {
        if self.rows >= MAX_ROWS {
            let seq = self.seq;
            self.reset(seq);
            return;
        }
        let Some(p) = self.principals.get_mut(&past.principal) else {
            return;
        };
        if past.time < p.since || self.owner.contains_key(id) {
            return;
        }
        self.owner.insert(id.to_string(), past.principal.clone());
        p.rows.push((id.to_string(), past));
        self.rows += 1;
    }

    /// A request was rejected or cancelled: it no longer counts.
    pub fn excluded(&mut self, id: &str) {
        let Some(principal) = self.owner.remove(id) else {
            return;
        };
        if let Some(p) = self.principals.get_mut(&principal) {
            let before = p.rows.len();
            p.rows.retain(|(x, _)| x != id);
            self.rows = self.rows.saturating_sub(before - p.rows.len());
        }
    }

    /// Where replay must start to reach audit position `head`: `None` when the copy is
    /// there already, or starts afresh there (it had no position, the chain is behind
    /// it, or the gap is over [`MAX_REPLAY`]); otherwise the seq after which the audit
    /// rows up to `head` ([`REPLAY_SQL`]) go to [`Self::replay`].
    pub fn replay_from(&mut self, head: u64) -> Option<u64> {
        let at = self.seq;
        if at == head {
            return None;
        }
        if at == 0 || at > head || head - at > MAX_REPLAY {
            self.reset(head);
            return None;
        }
        Some(at)
    }

    /// Replays audit rows in order and moves to `head`. An unreadable detail (the audit
    /// verification reports it) starts the copy afresh at `head`.
    pub fn replay(&mut self, head: u64, rows: impl IntoIterator<Item = AuditRow>) {
        for r in rows {
            let Ok(detail) = serde_json::from_str::<Value>(&r.detail) else {
                self.reset(head);
                return;
            };
            self.apply(&r.actor, &r.action, &r.subject, &detail, r.time);
        }
        self.seq = head;
    }

    /// Applies one audit row: a create adds its request (the request's body is in the
    /// row, its principal is the actor), a move to `rejected` or `cancelled` removes it.
    pub fn apply(&mut self, actor: &str, action: &str, subject: &str, detail: &Value, time: u64) {
        match action {
            "request.create" => {
                if let Some(p) = super::past_of(actor, &detail["body"], time) {
                    self.created(subject, p);
                }
            }
            "request.state" if matches!(detail["to"].as_str(), Some("rejected" | "cancelled")) => {
                self.excluded(subject)
            }
            _ => {}
        }
    }

    fn forget(&mut self, principal: &str) {
        if let Some(p) = self.principals.remove(principal) {
            self.rows = self.rows.saturating_sub(p.rows.len());
            for (id, _) in p.rows {
                self.owner.remove(&id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn past(principal: &str, amount: u128, time: u64) -> Past {
        Past {
            principal: principal.into(),
            network: "regtest".into(),
            asset: "native".into(),
            destination: "d".into(),
            amount,
            time,
        }
    }

    fn amounts(c: &HistoryCache, principal: &str) -> Vec<u128> {
        c.rows(principal).map(|p| p.amount).collect()
    }

    #[test]
    fn replaying_the_audit_chain_keeps_the_copy_exact() {
        let mut c = HistoryCache::default();
        c.reset(7);
        c.load("desk", 100, vec![("a".into(), past("desk", 1, 150))]);
        assert!(c.covers("desk", 100) && c.covers("desk", 120));
        assert!(!c.covers("desk", 99), "older rows were not read");
        assert!(!c.covers("ops", 100));
        let body =
            json!({"network": "regtest", "asset": "native", "destination": "d", "amount": "5"});
        // Another replica's create, then its risk rejection of a third one; a create by a
        // principal not held is ignored (it is read whole when needed).
        c.apply("desk", "request.create", "b", &json!({"body": body}), 160);
        c.apply("desk", "request.create", "c", &json!({"body": body}), 161);
        c.apply(
            "risk-engine",
            "request.state",
            "c",
            &json!({"to": "rejected"}),
            161,
        );
        c.apply("ops", "request.create", "z", &json!({"body": body}), 162);
        assert_eq!(amounts(&c, "desk"), vec![1, 5]);
        assert_eq!(amounts(&c, "ops"), Vec::<u128>::new());
        // Other moves do not change what counts; a cancel does.
        c.apply("ana", "request.state", "a", &json!({"to": "approved"}), 170);
        assert_eq!(amounts(&c, "desk"), vec![1, 5]);
        c.apply(
            "treasury",
            "request.state",
            "a",
            &json!({"to": "cancelled"}),
            171,
        );
        assert_eq!(amounts(&c, "desk"), vec![5]);
        // A create seen twice (our own, then replayed) counts once.
        c.created("b", past("desk", 5, 160));
        assert_eq!(amounts(&c, "desk"), vec![5]);
        // A body without the fields (not a transfer) is not history.
        c.apply(
            "desk",
            "request.create",
            "d",
            &json!({"body": {"memo": "x"}}),
            172,
        );
        assert_eq!(c.rows, 1);
        // Pruning drops what is older than a day past the window start.
        c.load(
            "ops",
            0,
            vec![
                ("o1".into(), past("ops", 2, 10)),
                ("o2".into(), past("ops", 3, 100_000)),
            ],
        );
        c.prune("ops", 50);
        assert_eq!(
            amounts(&c, "ops"),
            vec![2, 3],
            "within a day of the start: kept"
        );
        c.prune("ops", 90_000);
        assert_eq!(amounts(&c, "ops"), vec![3]);
        assert!(!c.covers("ops", 80_000));
        assert_eq!(c.rows, 2);
        c.excluded("o1");
        assert_eq!(c.rows, 2, "a pruned id is not held");
        c.reset(9);
        assert_eq!((c.seq, c.rows, amounts(&c, "desk").len()), (9, 0, 0));
    }

    #[test]
    fn catching_up_replays_the_gap_or_starts_afresh() {
        let row = |subject: &str, detail: &str| AuditRow {
            time: 160,
            actor: "desk".into(),
            action: "request.create".into(),
            subject: subject.into(),
            detail: detail.into(),
        };
        let body = r#"{"body": {"network": "regtest", "asset": "native", "destination": "d", "amount": "5"}}"#;
        let mut c = HistoryCache::default();
        // No position yet: start at the head, nothing to read.
        assert_eq!(c.replay_from(40), None);
        assert_eq!(c.seq, 40);
        assert_eq!(c.replay_from(40), None, "already there");
        c.load("desk", 0, vec![]);
        assert_eq!(c.replay_from(42), Some(40));
        c.replay(42, [row("a", body), row("b", body)]);
        assert_eq!((c.seq, amounts(&c, "desk")), (42, vec![5, 5]));
        // An unreadable row: afresh at the head.
        assert_eq!(c.replay_from(43), Some(42));
        c.replay(43, [row("c", "{not json")]);
        assert_eq!((c.seq, c.rows), (43, 0));
        assert!(!c.covers("desk", 0));
        // A gap too large, or a chain behind the copy: afresh.
        c.load("desk", 0, vec![("a".into(), past("desk", 1, 1))]);
        assert_eq!(c.replay_from(43 + MAX_REPLAY + 1), None);
        assert_eq!((c.seq, c.rows), (43 + MAX_REPLAY + 1, 0));
        c.load("desk", 0, vec![("a".into(), past("desk", 1, 1))]);
        assert_eq!(c.replay_from(7), None);
        assert_eq!((c.seq, c.rows), (7, 0));
    }
}
