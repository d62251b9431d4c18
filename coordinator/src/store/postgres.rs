//! The PostgreSQL backend, for several coordinator replicas on one database. Every
//! transaction that appends to the audit chain takes the same transaction-scoped
//! advisory lock first, so replicas extend one chain; state changes lock the request row
//! (`SELECT … FOR UPDATE`); step leases are taken with a conditional upsert, so two
//! replicas never export, finalise or broadcast the same request at once.

use std::sync::{Arc, Condvar, Mutex};

use postgres::{Client, NoTls, Transaction};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{new_request_id, state_name, state_of, RequestRow, Store, StoreError};
use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State};
use crate::risk::{HistoryQuery, Past, Summary};

const AUDIT_LOCK: i64 = 0x5354_524f_4e47; // "STRONG"

const MIGRATIONS: &[&str] = &[
    "CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT,
        principal TEXT NOT NULL,
        body TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        created BIGINT NOT NULL,
        updated BIGINT NOT NULL
     );
     CREATE UNIQUE INDEX requests_idem ON requests(principal, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
     CREATE INDEX requests_state ON requests(state, created);
     CREATE TABLE audit (
        seq BIGINT PRIMARY KEY,
        time BIGINT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        subject TEXT NOT NULL,
        detail TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
     );
     CREATE TABLE leases (
        request_id TEXT NOT NULL,
        step TEXT NOT NULL,
        owner TEXT NOT NULL,
        until BIGINT NOT NULL,
        PRIMARY KEY (request_id, step)
     );",
    "CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        roles TEXT NOT NULL,
        created BIGINT NOT NULL
     );",
    "CREATE INDEX requests_principal ON requests(principal, created);",
    "CREATE TABLE artifacts (
        subject TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created BIGINT NOT NULL,
        PRIMARY KEY (subject, kind, key)
     );",
    // The risk engine's history fields as columns, read from a covering index.
    "ALTER TABLE requests ADD COLUMN network TEXT, ADD COLUMN asset TEXT,
        ADD COLUMN destination TEXT, ADD COLUMN amount TEXT;
     UPDATE requests SET network = body::jsonb->>'network', asset = body::jsonb->>'asset',
        destination = body::jsonb->>'destination', amount = body::jsonb->>'amount';
     CREATE INDEX requests_history ON requests(principal, created)
        INCLUDE (state, network, asset, destination, amount);",
];

/// PostgreSQL storage.
pub struct Postgres {
    /// A small pool: reads (tokens, history, requests) do not wait behind a batch's
    /// commit.
    clients: Vec<Mutex<Client>>,
    next: std::sync::atomic::AtomicUsize,
    creates: Batcher,
    /// The batch leader's own connection and its copy of recent history (only the
    /// leader touches them): a batch never waits for a pool connection behind reads.
    leader: Mutex<(Client, super::history_cache::HistoryCache)>,
}

/// Pooled connections per coordinator process (the batch leader has one more).
pub const POOL_SIZE: usize = 8;

/// Group commit of creates: callers queue their create; one of them (the leader) runs
/// every queued create in one transaction, each under its own savepoint (one refused
/// create rolls back alone), commits once, and hands each caller its result. The audit
/// chain's lock and the commit's fsync are then paid once per batch, not once per
/// request. Nobody's answer comes before the commit that holds it.
#[derive(Default)]
struct Batcher {
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

/// How a queued create's first event is decided.
enum Initial {
    /// None: the request stays a draft.
    Draft,
    /// This event, actor and details.
    Fixed(Event, String, Value),
    /// By the risk engine, from the summary of the principal's history.
    Assess(HistoryQuery, super::Assessor),
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

fn db(e: postgres::Error) -> StoreError {
    StoreError::Backend(match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => e.to_string(),
    })
}

fn row_of(r: &postgres::Row) -> Result<RequestRow, StoreError> {
    let body: String = r.try_get(3).map_err(db)?;
    let state: String = r.try_get(4).map_err(db)?;
    Ok(RequestRow {
        id: r.try_get(0).map_err(db)?,
        idempotency_key: r.try_get(1).map_err(db)?,
        principal: r.try_get(2).map_err(db)?,
        body: serde_json::from_str(&body).map_err(|e| StoreError::Backend(e.to_string()))?,
        state: state_of(&state)?,
        created: r.try_get::<_, i64>(5).map_err(db)? as u64,
        updated: r.try_get::<_, i64>(6).map_err(db)? as u64,
    })
}

const SELECT: &str =
    "SELECT id, idempotency_key, principal, body, state, created, updated FROM requests";

fn audit_of(r: &postgres::Row) -> Result<AuditRecord, StoreError> {
    let detail: String = r.try_get(5).map_err(db)?;
    Ok(AuditRecord {
        seq: r.try_get::<_, i64>(0).map_err(db)? as u64,
        time: r.try_get::<_, i64>(1).map_err(db)? as u64,
        actor: r.try_get(2).map_err(db)?,
        action: r.try_get(3).map_err(db)?,
        subject: r.try_get(4).map_err(db)?,
        detail: serde_json::from_str(&detail).map_err(|e| StoreError::Backend(e.to_string()))?,
        prev_hash: r.try_get(6).map_err(db)?,
        hash: r.try_get(7).map_err(db)?,
    })
}

fn append_audit(
    tx: &mut Transaction<'_>,
    actor: &str,
    action: &str,
    subject: &str,
    detail: Value,
    now: u64,
) -> Result<AuditRecord, StoreError> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
        .map_err(db)?;
    let prev = tx
        .query_opt(
            "SELECT seq, time, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1",
            &[],
        )
        .map_err(db)?
        .map(|r| audit_of(&r))
        .transpose()?;
    let r = AuditRecord::next(prev.as_ref(), now, actor, action, subject, detail);
    tx.execute(
        "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[&(r.seq as i64), &(r.time as i64), &r.actor, &r.action, &r.subject, &r.detail.to_string(), &r.prev_hash, &r.hash],
    )
    .map_err(db)?;
    Ok(r)
}

impl Postgres {
    /// Connects (`host=… port=… user=… dbname=…`) and migrates.
    pub fn connect(params: &str) -> Result<Self, StoreError> {
        let mut client = Client::connect(params, NoTls).map_err(db)?;
        let mut tx = client.transaction().map_err(db)?;
        // One migrator at a time across replicas.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(AUDIT_LOCK + 1)])
            .map_err(db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(db)?;
        let v: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(db)?
            .get(0);
        if v as usize > MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "database schema {v} is newer than this coordinator ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            tx.batch_execute(m).map_err(db)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&(i as i32 + 1)],
            )
            .map_err(db)?;
        }
        tx.commit().map_err(db)?;
        let mut clients = Vec::new();
        for _ in 0..POOL_SIZE {
            clients.push(Mutex::new(Client::connect(params, NoTls).map_err(db)?));
        }
        Ok(Self {
            clients,
            next: std::sync::atomic::AtomicUsize::new(0),
            creates: Batcher::default(),
            leader: Mutex::new((client, Default::default())),
        })
    }

    /// A free connection of the pool, or else the next one in turn.
    fn lock(&self) -> std::sync::MutexGuard<'_, Client> {
        let n = self.clients.len();
        let start = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        for k in 0..n {
            match self.clients[(start + k) % n].try_lock() {
                Ok(g) => return g,
                Err(std::sync::TryLockError::Poisoned(p)) => return p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => {}
            }
        }
        self.clients[start % n]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }
}

impl Postgres {
    /// Queues one create for the next batch (group commit) and waits for its result;
    /// the first waiter without a leader runs the batch.
    fn enqueue(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
        initial: Initial,
    ) -> Result<(RequestRow, bool), StoreError> {
        let job = Arc::new(Job {
            key: idempotency_key.map(String::from),
            principal: principal.into(),
            body: body.clone(),
            now,
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
        let (client, cache) = &mut *guard;
        let outcome = (|| -> Result<Vec<CreateResult>, StoreError> {
            let mut tx = client.transaction().map_err(db)?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
                .map_err(db)?;
            let mut head = tx
                .query_opt(
                    "SELECT seq, time, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1",
                    &[],
                )
                .map_err(db)?
                .map(|r| audit_of(&r))
                .transpose()?;
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
                        if let Some(p) = super::past_of(&row.principal, &row.body, row.created) {
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

impl Store for Postgres {
    fn concurrent(&self) -> bool {
        true
    }

    fn create_with(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
        initial: Option<(Event, &str, Value)>,
    ) -> Result<(RequestRow, bool), StoreError> {
        let initial = match initial {
            Some((e, a, d)) => Initial::Fixed(e, a.to_string(), d),
            None => Initial::Draft,
        };
        self.enqueue(idempotency_key, principal, body, now, initial)
    }

    fn create_assessed(
        &self,
        idempotency_key: Option<&str>,
        body: &Value,
        q: &HistoryQuery,
        assess: super::Assessor,
    ) -> Result<(RequestRow, bool), StoreError> {
        self.enqueue(
            idempotency_key,
            &q.principal,
            body,
            q.now,
            Initial::Assess(q.clone(), assess),
        )
    }

    fn get(&self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        self.lock()
            .query_opt(&format!("{SELECT} WHERE id = $1"), &[&id])
            .map_err(db)?
            .map(|r| row_of(&r))
            .transpose()
    }

    fn list(
        &self,
        state: Option<State>,
        principal: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let rows = self
            .lock()
            .query(
                &format!("{SELECT} WHERE ($1::TEXT IS NULL OR state = $1) AND ($2::TEXT IS NULL OR principal = $2) ORDER BY created DESC, id LIMIT $3"),
                &[&state.map(state_name), &principal, &(limit.min(10_000) as i64)],
            )
            .map_err(db)?;
        rows.iter().map(row_of).collect()
    }

    fn in_state(&self, state: State, network: Option<&str>) -> Result<Vec<RequestRow>, StoreError> {
        let rows = self
            .lock()
            .query(
                &format!("{SELECT} WHERE state = $1 AND ($2::TEXT IS NULL OR network = $2) ORDER BY created, id"),
                &[&state_name(state), &network],
            )
            .map_err(db)?;
        rows.iter().map(row_of).collect()
    }

    fn history(&self, principal: &str, since: u64, exclude: &str) -> Result<Vec<Past>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT network, asset, destination, amount, created FROM requests
                 WHERE principal = $1 AND created >= $2 AND id <> $3 AND state NOT IN ('rejected', 'cancelled')",
                &[&principal, &(since as i64), &exclude],
            )
            .map_err(db)?;
        let mut out = Vec::new();
        for r in rows {
            out.extend(past_of_row(&r, 0, principal)?);
        }
        Ok(out)
    }

    fn transition(
        &self,
        id: &str,
        event: Event,
        actor: &str,
        detail: Value,
        now: u64,
    ) -> Result<RequestRow, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(db)?;
        let r = tx
            .query_opt(&format!("{SELECT} WHERE id = $1 FOR UPDATE"), &[&id])
            .map_err(db)?
            .ok_or_else(|| StoreError::NotFound(id.into()))?;
        let mut row = row_of(&r)?;
        let next = row.state.apply(event)?;
        if next != row.state {
            tx.execute(
                "UPDATE requests SET state = $1, updated = $2 WHERE id = $3",
                &[&state_name(next), &(now as i64), &id],
            )
            .map_err(db)?;
            append_audit(
                &mut tx,
                actor,
                "request.state",
                id,
                serde_json::json!({"from": row.state, "to": next, "event": event, "detail": detail}),
                now,
            )?;
            row.state = next;
            row.updated = now;
        }
        tx.commit().map_err(db)?;
        Ok(row)
    }

    fn claim(
        &self,
        id: &str,
        step: &str,
        owner: &str,
        now: u64,
        ttl: u64,
    ) -> Result<bool, StoreError> {
        let n = self
            .lock()
            .execute(
                "INSERT INTO leases (request_id, step, owner, until) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (request_id, step) DO UPDATE SET owner = $3, until = $4
                 WHERE leases.owner = $3 OR leases.until <= $5",
                &[
                    &id,
                    &step,
                    &owner,
                    &(now.saturating_add(ttl) as i64),
                    &(now as i64),
                ],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: Value,
        now: u64,
    ) -> Result<AuditRecord, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(db)?;
        let r = append_audit(&mut tx, actor, action, subject, detail, now)?;
        tx.commit().map_err(db)?;
        Ok(r)
    }

    fn add_token(
        &self,
        hash: &str,
        principal: &str,
        roles: &[String],
        now: u64,
    ) -> Result<(), StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(db)?;
        tx.execute(
            "INSERT INTO tokens (hash, principal, roles, created) VALUES ($1, $2, $3, $4)",
            &[&hash, &principal, &roles.join(","), &(now as i64)],
        )
        .map_err(db)?;
        append_audit(
            &mut tx,
            "admin",
            "token.add",
            principal,
            serde_json::json!({"roles": roles}),
            now,
        )?;
        tx.commit().map_err(db)
    }

    fn token(&self, hash: &str) -> Result<Option<(String, Vec<String>)>, StoreError> {
        let r = self
            .lock()
            .query_opt(
                "SELECT principal, roles FROM tokens WHERE hash = $1",
                &[&hash],
            )
            .map_err(db)?;
        Ok(match r {
            None => None,
            Some(r) => {
                let roles: String = r.try_get(1).map_err(db)?;
                Some((
                    r.try_get(0).map_err(db)?,
                    roles
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect(),
                ))
            }
        })
    }

    fn audit_rows(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT seq, time, actor, action, subject, detail, prev_hash, hash FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2",
                &[&(from_seq as i64), &(limit.min(i64::MAX as usize) as i64)],
            )
            .map_err(db)?;
        rows.iter().map(audit_of).collect()
    }

    fn put_artifact(
        &self,
        subject: &str,
        kind: &str,
        key: &str,
        value: &str,
        actor: &str,
        detail: Value,
        now: u64,
    ) -> Result<bool, StoreError> {
        let mut client = self.lock();
        let mut tx = client.transaction().map_err(db)?;
        // Insert-or-nothing, then read back what is there: one statement decides, so two
        // replicas racing on the same artifact both see the winner's value.
        let inserted = tx
            .execute(
                "INSERT INTO artifacts (subject, kind, key, value, created) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (subject, kind, key) DO NOTHING",
                &[&subject, &kind, &key, &value, &(now as i64)],
            )
            .map_err(db)?;
        if inserted == 0 {
            let row = tx
                .query_one(
                    "SELECT value FROM artifacts WHERE subject = $1 AND kind = $2 AND key = $3",
                    &[&subject, &kind, &key],
                )
                .map_err(db)?;
            let v: String = row.try_get(0).map_err(db)?;
            tx.rollback().map_err(db)?;
            return if v == value {
                Ok(false)
            } else {
                Err(StoreError::Exists(format!("{kind} {key:?} of {subject:?}")))
            };
        }
        append_audit(
            &mut tx,
            actor,
            &format!("artifact.{kind}"),
            subject,
            detail,
            now,
        )?;
        tx.commit().map_err(db)?;
        Ok(true)
    }

    fn artifacts(&self, subject: &str, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        let rows = self
            .lock()
            .query(
                "SELECT key, value FROM artifacts WHERE subject = $1 AND kind = $2 ORDER BY key",
                &[&subject, &kind],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| Ok((r.try_get(0).map_err(db)?, r.try_get(1).map_err(db)?)))
            .collect()
    }
}

/// A history entry from `network, asset, destination, amount, created` starting at
/// column `at` (a request without those fields, a pre-column row, is skipped).
fn past_of_row(r: &postgres::Row, at: usize, principal: &str) -> Result<Option<Past>, StoreError> {
    let get = |i: usize| r.try_get::<_, Option<String>>(at + i).map_err(db);
    let time = r.try_get::<_, i64>(at + 4).map_err(db)?.max(0) as u64;
    Ok(super::past_from(
        principal,
        [get(0)?, get(1)?, get(2)?, get(3)?],
        time,
    ))
}

/// Brings the history copy to audit position `head` (see
/// [`super::history_cache::HistoryCache::replay_from`]).
fn catch_up(
    tx: &mut Transaction<'_>,
    cache: &mut super::history_cache::HistoryCache,
    head: u64,
) -> Result<(), StoreError> {
    let Some(from) = cache.replay_from(head) else {
        return Ok(());
    };
    let mut rows = Vec::new();
    for r in tx
        .query(
            super::history_cache::REPLAY_SQL,
            &[&(from as i64), &(head as i64)],
        )
        .map_err(db)?
    {
        rows.push(super::history_cache::AuditRow {
            time: r.try_get::<_, i64>(0).map_err(db)?.max(0) as u64,
            actor: r.try_get(1).map_err(db)?,
            action: r.try_get(2).map_err(db)?,
            subject: r.try_get(3).map_err(db)?,
            detail: r.try_get(4).map_err(db)?,
        });
    }
    cache.replay(head, rows);
    Ok(())
}
