//! Group commit of creates on PostgreSQL.

use super::*;

/// Group commit of creates: callers queue their create; one of them (the leader) runs
/// every queued create in one transaction, each under its own savepoint (one refused
/// create rolls back alone), commits once, and hands each caller its result. The audit
/// chain's lock and the commit's fsync are then paid once per batch, not once per
/// request. Nobody's answer comes before the commit that holds it.
#[derive(Default)]
pub(super) struct Batcher {
    state: Mutex<BatchState>,
    cv: Condvar,
}

#[derive(Default)]
struct BatchState {
    queue: Vec<Arc<Job>>,
    leading: bool,
}

/// A create's answer: the request and whether it is new.
type CreateResult = Result<(RequestRow, bool), StoreError>;

struct Job {
    key: Option<String>,
    principal: String,
    body: Value,
    now: u64,
    initial: Initial,
    result: Mutex<Option<CreateResult>>,
}

impl Postgres {
    /// Queues one create for the next batch (group commit) and waits for its result;
    /// the first waiter without a leader runs the batch.
    pub(super) fn enqueue(&self, new: NewRequest<'_>, initial: Initial) -> CreateResult {
        let job = Arc::new(Job {
            key: new.idempotency_key.map(String::from),
            principal: new.principal.into(),
            body: new.body.clone(),
            now: new.now,
            initial,
            result: Mutex::new(None),
        });
        let b = &self.creates;
        let mut st = b.state.lock().unwrap_or_else(|p| p.into_inner());
        st.queue.push(job.clone());
        loop {
            if let Some(r) = job.result.lock().unwrap_or_else(|p| p.into_inner()).take() {
                return r;
            }
            if st.leading {
                st = b.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.leading = true;
            let batch = std::mem::take(&mut st.queue);
            drop(st);
            self.run_batch(&batch);
            st = b.state.lock().unwrap_or_else(|p| p.into_inner());
            st.leading = false;
            b.cv.notify_all();
        }
    }

    /// Runs queued creates in one transaction (see [`Batcher`]): the audit chain's lock
    /// is taken once and its head read once; the risk engine's history comes from the
    /// leader's copy, brought up to date from the audit chain; each create is then one
    /// insert of the request (its risk outcome applied) and one insert of its audit
    /// rows. A create refused on its merits (key reused) fails alone; a database error
    /// fails the batch, nothing of it is stored, and the copy is dropped.
    fn run_batch(&self, batch: &[Arc<Job>]) {
        let set = |j: &Job, r: Result<(RequestRow, bool), StoreError>| {
            *j.result.lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
        };
        let mut guard = self.leader.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, cache) = &mut *guard;
        let outcome = (|| -> Result<Vec<CreateResult>, StoreError> {
            let mut tx = slot.fresh(&self.connector)?.transaction().map_err(db)?;
            let mut head = tx.audit_head()?;
            // The history of the principals assessed in this batch: the leader's copy,
            // brought to the audit head (every earlier create and state change, from any
            // replica, is committed: we hold the lock they take), and whoever it does not
            // hold read whole, in one query.
            let head_seq = head.as_ref().map_or(0, |h| h.seq);
            catch_up(&mut tx, cache, head_seq)?;
            let mut missing: Vec<&str> = Vec::new();
            let mut since = u64::MAX;
            for j in batch {
                if let Initial::Assess(q, _) = &j.initial {
                    cache.prune(&q.principal, q.since);
                    if !cache.covers(&q.principal, q.since) {
                        missing.push(&q.principal);
                        since = since.min(q.since);
                    }
                }
            }
            missing.sort_unstable();
            missing.dedup();
            if !missing.is_empty() {
                let rows = tx
                    .query(
                        "SELECT principal, network, asset, destination, amount, created, id FROM requests
                         WHERE principal = ANY($1) AND created >= $2 AND state NOT IN ('rejected', 'cancelled')",
                        &[&missing, &i64::try_from(since).unwrap_or(i64::MAX)],
                    )
                    .map_err(db)?;
                let mut read: std::collections::HashMap<&str, Vec<(String, Past)>> =
                    missing.iter().map(|p| (*p, Vec::new())).collect();
                for r in rows {
                    let principal: String = r.try_get(0).map_err(db)?;
                    if let (Some(p), Some(v)) = (
                        past_of_row(&r, 1, &principal)?,
                        read.get_mut(principal.as_str()),
                    ) {
                        v.push((r.try_get(6).map_err(db)?, p));
                    }
                }
                for (principal, rows) in read {
                    cache.load(principal, since, rows);
                }
            }
            let mut local: Vec<(String, Past)> = Vec::new();
            let mut results = Vec::with_capacity(batch.len());
            for j in batch {
                let initial = match &j.initial {
                    Initial::Draft => None,
                    Initial::Fixed(e, a, d) => Some((*e, a.clone(), d.clone())),
                    Initial::Assess(q, assess) => {
                        let mut summary = Summary::of(q, &[]);
                        for x in cache.rows(&q.principal).chain(local.iter().map(|(_, x)| x)) {
                            summary.add(q, x);
                        }
                        Some(assess(&summary))
                    }
                };
                let r = create_fast(&mut tx, j, initial, &mut head)?;
                // What this batch created counts for the creates after it.
                if let Ok((row, true)) = &r {
                    if row.state != State::Rejected {
                        if let Some(p) =
                            crate::store::past_of(&row.principal, &row.body, row.created)
                        {
                            local.push((row.id.clone(), p));
                        }
                    }
                }
                results.push(r);
            }
            tx.commit().map_err(db)?;
            // Committed: the batch's creates count from now on.
            for (id, p) in local {
                cache.created(&id, p);
            }
            cache.at(head.as_ref().map_or(0, |h| h.seq));
            Ok(results)
        })();
        if outcome.is_err() {
            cache.reset(0);
        }
        match outcome {
            Ok(results) => {
                for (j, r) in batch.iter().zip(results) {
                    set(j, r);
                }
            }
            Err(e) => {
                let msg = e.to_string();
                for j in batch {
                    set(j, Err(StoreError::Backend(msg.clone())));
                }
            }
        }
    }
}

/// One create inside a batch's transaction, the audit head carried along. The outer
/// error is a database failure (the batch fails); the inner one this create's own.
fn create_fast(
    tx: &mut Transaction<'_>,
    j: &Job,
    initial: Option<(Event, String, Value)>,
    head: &mut Option<AuditRecord>,
) -> Result<CreateResult, StoreError> {
    let body_text = j.body.to_string();
    let body_hash = hex::encode(Sha256::digest(body_text.as_bytes()));
    let mut state = State::Draft;
    let mut transition = None;
    if let Some((event, actor, detail)) = initial {
        let next = match state.apply(event) {
            Ok(n) => n,
            Err(e) => return Ok(Err(e.into())),
        };
        transition = Some((state, next, event, actor, detail));
        state = next;
    }
    let id = new_request_id()?;
    let field = |k: &str| j.body.get(k).and_then(Value::as_str).map(String::from);
    // The unique (principal, key) index decides between a new request and a replay.
    let inserted = tx
        .query_opt(
            "INSERT INTO requests (id, idempotency_key, principal, body, body_hash, state, created, updated,
                network, asset, destination, amount)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8, $9, $10, $11)
             ON CONFLICT (principal, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
             RETURNING id",
            &[&id, &j.key, &j.principal, &body_text, &body_hash, &state_name(state), &(j.now as i64),
                &field("network"), &field("asset"), &field("destination"), &field("amount")],
        )
        .map_err(db)?;
    if inserted.is_none() {
        let r = tx
            .query_one(
                "SELECT id, idempotency_key, principal, body, state, created, updated, body_hash FROM requests WHERE principal = $1 AND idempotency_key = $2",
                &[&j.principal, &j.key],
            )
            .map_err(db)?;
        let hash: String = r.try_get(7).map_err(db)?;
        if hash != body_hash {
            return Ok(Err(StoreError::KeyReuse(j.key.clone().unwrap_or_default())));
        }
        return Ok(Ok((row_of(&r)?, false)));
    }
    let mut rows = vec![AuditRecord::next(
        head.as_ref(),
        j.now,
        &j.principal,
        "request.create",
        &id,
        serde_json::json!({"body": j.body, "idempotency_key": j.key}),
    )];
    if let Some((from, to, event, actor, detail)) = transition {
        let next = AuditRecord::next(
            rows.last(),
            j.now,
            &actor,
            "request.state",
            &id,
            serde_json::json!({"from": from, "to": to, "event": event, "detail": detail}),
        );
        rows.push(next);
    }
    let mut sql = String::from(
        "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash) VALUES ",
    );
    let mut params: Vec<Box<dyn postgres::types::ToSql + Sync>> = Vec::new();
    for (k, r) in rows.iter().enumerate() {
        if k > 0 {
            sql.push_str(", ");
        }
        let b = k * 8;
        sql.push_str(&format!(
            "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8
        ));
        params.push(Box::new(r.seq as i64));
        params.push(Box::new(r.time as i64));
        params.push(Box::new(r.actor.clone()));
        params.push(Box::new(r.action.clone()));
        params.push(Box::new(r.subject.clone()));
        params.push(Box::new(r.detail.to_string()));
        params.push(Box::new(r.prev_hash.clone()));
        params.push(Box::new(r.hash.clone()));
    }
    let refs: Vec<&(dyn postgres::types::ToSql + Sync)> =
        params.iter().map(|p| p.as_ref()).collect();
    tx.execute(sql.as_str(), &refs).map_err(db)?;
    *head = rows.last().cloned();
    Ok(Ok((
        RequestRow {
            id,
            idempotency_key: j.key.clone(),
            principal: j.principal.clone(),
            body: j.body.clone(),
            state,
            created: j.now,
            updated: j.now,
        },
        true,
    )))
}
