//! The embedded SQLite backend.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::{new_request_id, state_name, state_of, RequestRow, Store, StoreError};
use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State};

const MIGRATIONS: &[&str] = &[
    // 1: requests, audit, leases.
    "CREATE TABLE requests (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT,
        principal TEXT NOT NULL,
        body TEXT NOT NULL,
        body_hash TEXT NOT NULL,
        state TEXT NOT NULL,
        created INTEGER NOT NULL,
        updated INTEGER NOT NULL
     );
     CREATE UNIQUE INDEX requests_idem ON requests(principal, idempotency_key)
        WHERE idempotency_key IS NOT NULL;
     CREATE INDEX requests_state ON requests(state, created);
     CREATE TABLE audit (
        seq INTEGER PRIMARY KEY,
        time INTEGER NOT NULL,
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
        until INTEGER NOT NULL,
        PRIMARY KEY (request_id, step)
     );",
    // 2: API tokens, stored as SHA-256 of the token.
    "CREATE TABLE tokens (
        hash TEXT PRIMARY KEY,
        principal TEXT NOT NULL,
        roles TEXT NOT NULL,
        created INTEGER NOT NULL
     );",
    // 3: the risk engine's history query.
    "CREATE INDEX requests_principal ON requests(principal, created);",
    // 4: write-once artifacts (envelopes, approvals, responses, final transactions).
    "CREATE TABLE artifacts (
        subject TEXT NOT NULL,
        kind TEXT NOT NULL,
        key TEXT NOT NULL,
        value TEXT NOT NULL,
        created INTEGER NOT NULL,
        PRIMARY KEY (subject, kind, key)
     );",
    // 5: the risk engine's history fields as columns (no JSON parsing per row).
    "ALTER TABLE requests ADD COLUMN network TEXT;
     ALTER TABLE requests ADD COLUMN asset TEXT;
     ALTER TABLE requests ADD COLUMN destination TEXT;
     ALTER TABLE requests ADD COLUMN amount TEXT;
     UPDATE requests SET network = json_extract(body, '$.network'),
        asset = json_extract(body, '$.asset'),
        destination = json_extract(body, '$.destination'),
        amount = json_extract(body, '$.amount');
     CREATE INDEX requests_history ON requests(principal, created, state, network, asset, destination, amount);",
];

/// SQLite storage.
#[derive(Debug)]
pub struct Sqlite {
    conn: Mutex<Connection>,
    /// A copy of recent history per principal for the risk engine, brought up to date
    /// from the audit chain inside each assessed create (taken after `conn`).
    history: Mutex<super::history_cache::HistoryCache>,
    sync: GroupSync,
    checkpointer: Option<Checkpointer>,
}

/// Checkpoints the WAL into the database from its own connection and thread, so that
/// copying pages and fsyncing the database file never happen inside a request's commit
/// (SQLite's automatic checkpoint is turned off for this connection).
#[derive(Debug)]
struct Checkpointer {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path).map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                    // PASSIVE: copies what it can without blocking writers or readers.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                    std::thread::sleep(std::time::Duration::from_millis(250));
                }
            })
            .map_err(|e| StoreError::Backend(e.to_string()))?;
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Group commit. Transactions commit with `synchronous = NORMAL` (written to the WAL, not
/// yet fsynced) under the connection lock; then, with the lock released, each caller
/// waits until one fsync of the WAL file covers its commit. One caller at a time runs
/// the fsync for every commit made so far, so concurrent writers share it. No write
/// returns before its commit is on disk — as with `synchronous = FULL`, at a fraction of
/// the fsyncs.
#[derive(Debug)]
struct GroupSync {
    /// The WAL file; `None` for an in-memory database.
    wal: Option<PathBuf>,
    state: Mutex<SyncState>,
    cv: Condvar,
}

#[derive(Debug, Default)]
struct SyncState {
    committed: u64,
    synced: u64,
    syncing: bool,
    file: Option<std::fs::File>,
}

impl GroupSync {
    fn state(&self) -> std::sync::MutexGuard<'_, SyncState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a commit just made (call with the connection lock held).
    fn mark(&self) -> u64 {
        let mut st = self.state();
        st.committed += 1;
        st.committed
    }

    /// The last commit counted (to wait for what a replayed answer reports).
    fn current(&self) -> u64 {
        self.state().committed
    }

    /// Returns once commit `seq` is on disk (call without the connection lock).
    fn durable(&self, seq: u64) -> Result<(), StoreError> {
        let Some(wal) = &self.wal else {
            return Ok(());
        };
        let mut st = self.state();
        loop {
            if st.synced >= seq {
                return Ok(());
            }
            if st.syncing {
                st = self.cv.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.syncing = true;
            let target = st.committed;
            let file = match st.file.take() {
                Some(f) => Ok(f),
                None => std::fs::File::open(wal),
            };
            drop(st);
            let result = file.and_then(|f| f.sync_data().map(|()| f));
            st = self.state();
            st.syncing = false;
            self.cv.notify_all();
            match result {
                Ok(f) => {
                    st.file = Some(f);
                    st.synced = st.synced.max(target);
                }
                Err(e) => {
                    return Err(StoreError::Backend(format!(
                        "making the commit durable (fsync {}): {e}",
                        wal.display()
                    )))
                }
            }
        }
    }
}

fn db(e: rusqlite::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

type Row = (String, Option<String>, String, String, String, i64, i64);

fn row_of(r: Row) -> Result<RequestRow, StoreError> {
    Ok(RequestRow {
        id: r.0,
        idempotency_key: r.1,
        principal: r.2,
        body: serde_json::from_str(&r.3).map_err(|e| StoreError::Backend(e.to_string()))?,
        state: state_of(&r.4)?,
        created: r.5 as u64,
        updated: r.6 as u64,
    })
}

const SELECT: &str =
    "SELECT id, idempotency_key, principal, body, state, created, updated FROM requests";

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    Ok((
        r.get(0)?,
        r.get(1)?,
        r.get(2)?,
        r.get(3)?,
        r.get(4)?,
        r.get(5)?,
        r.get(6)?,
    ))
}

fn last_audit(tx: &Connection) -> Result<Option<AuditRecord>, StoreError> {
    tx.query_row(
        "SELECT seq, time, actor, action, subject, detail, prev_hash, hash FROM audit ORDER BY seq DESC LIMIT 1",
        [],
        audit_row,
    )
    .optional()
    .map_err(db)?
    .transpose()
}

fn audit_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<AuditRecord, StoreError>> {
    let detail: String = r.get(5)?;
    let (seq, time): (i64, i64) = (r.get(0)?, r.get(1)?);
    let (actor, action, subject): (String, String, String) = (r.get(2)?, r.get(3)?, r.get(4)?);
    let (prev_hash, hash): (String, String) = (r.get(6)?, r.get(7)?);
    Ok(serde_json::from_str(&detail)
        .map_err(|e| StoreError::Backend(e.to_string()))
        .map(|detail| AuditRecord {
            seq: seq as u64,
            time: time as u64,
            actor,
            action,
            subject,
            detail,
            prev_hash,
            hash,
        }))
}

fn append_audit(
    tx: &Connection,
    actor: &str,
    action: &str,
    subject: &str,
    detail: Value,
    now: u64,
) -> Result<AuditRecord, StoreError> {
    let prev = last_audit(tx)?;
    let r = AuditRecord::next(prev.as_ref(), now, actor, action, subject, detail);
    tx.execute(
        "INSERT INTO audit (seq, time, actor, action, subject, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![r.seq as i64, r.time as i64, r.actor, r.action, r.subject, r.detail.to_string(), r.prev_hash, r.hash],
    )
    .map_err(db)?;
    Ok(r)
}

impl Sqlite {
    /// Opens (creating and migrating) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let mut store = Self::init(
            Connection::open(path).map_err(db)?,
            Some(PathBuf::from(wal)),
        )?;
        store
            .lock()
            .pragma_update(None, "wal_autocheckpoint", 0)
            .map_err(db)?;
        store.checkpointer = Some(Checkpointer::start(path)?);
        Ok(store)
    }

    /// An in-memory database (tests).
    pub fn memory() -> Result<Self, StoreError> {
        Self::init(Connection::open_in_memory().map_err(db)?, None)
    }

    fn init(conn: Connection, wal: Option<PathBuf>) -> Result<Self, StoreError> {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(db)?;
        // Durability comes from the group commit's fsync of the WAL (see `GroupSync`);
        // SQLite still syncs the WAL before every checkpoint.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(db)?;
        conn.pragma_update(None, "foreign_keys", "ON").map_err(db)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(db)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(db)?;
        let v: i64 = conn
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_version",
                [],
                |r| r.get(0),
            )
            .map_err(db)?;
        if v as usize > MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "database schema {v} is newer than this coordinator ({})",
                MIGRATIONS.len()
            )));
        }
        for (i, m) in MIGRATIONS.iter().enumerate().skip(v as usize) {
            let tx = conn.unchecked_transaction().map_err(db)?;
            tx.execute_batch(m).map_err(db)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        let sync = GroupSync {
            wal,
            state: Mutex::default(),
            cv: Condvar::new(),
        };
        // The migrations above committed without an fsync: make them durable now.
        let seq = sync.mark();
        sync.durable(seq)?;
        Ok(Self {
            conn: Mutex::new(conn),
            sync,
            checkpointer: None,
            history: Mutex::default(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// One create in one immediate transaction; `initial` decides the first event
    /// (after the replay check, inside the transaction).
    fn create_in(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
        initial: impl FnOnce(
            &rusqlite::Transaction<'_>,
        ) -> Result<Option<(Event, String, Value)>, StoreError>,
    ) -> Result<(RequestRow, bool), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let body_text = body.to_string();
        let body_hash = hex::encode(Sha256::digest(body_text.as_bytes()));
        if let Some(key) = idempotency_key {
            let found: Option<(Row, String)> = tx
                .query_row(
                    "SELECT id, idempotency_key, principal, body, state, created, updated, body_hash FROM requests WHERE principal = ?1 AND idempotency_key = ?2",
                    params![principal, key],
                    |r| Ok((read_row(r)?, r.get(7)?)),
                )
                .optional()
                .map_err(db)?;
            if let Some((row, hash)) = found {
                if hash != body_hash {
                    return Err(StoreError::KeyReuse(key.into()));
                }
                // The first answer may still be waiting for its fsync: so does this one.
                let seq = self.sync.current();
                drop(tx);
                drop(conn);
                self.sync.durable(seq)?;
                return Ok((row_of(row)?, false));
            }
        }
        let initial = initial(&tx)?;
        let id = new_request_id()?;
        let field = |k: &str| body.get(k).and_then(Value::as_str);
        tx.execute(
            "INSERT INTO requests (id, idempotency_key, principal, body, body_hash, state, created, updated,
                network, asset, destination, amount)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11)",
            params![id, idempotency_key, principal, body_text, body_hash, state_name(State::Draft), now as i64,
                field("network"), field("asset"), field("destination"), field("amount")],
        )
        .map_err(db)?;
        append_audit(
            &tx,
            principal,
            "request.create",
            &id,
            serde_json::json!({"body": body, "idempotency_key": idempotency_key}),
            now,
        )?;
        let mut state = State::Draft;
        if let Some((event, actor, detail)) = initial {
            let next = state.apply(event)?;
            tx.execute(
                "UPDATE requests SET state = ?1 WHERE id = ?2",
                params![state_name(next), id],
            )
            .map_err(db)?;
            append_audit(
                &tx,
                &actor,
                "request.state",
                &id,
                serde_json::json!({"from": state, "to": next, "event": event, "detail": detail}),
                now,
            )?;
            state = next;
        }
        tx.commit().map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
        Ok((
            RequestRow {
                id,
                idempotency_key: idempotency_key.map(String::from),
                principal: principal.into(),
                body: body.clone(),
                state,
                created: now,
                updated: now,
            },
            true,
        ))
    }
}

impl Store for Sqlite {
    fn create_with(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
        initial: Option<(Event, &str, Value)>,
    ) -> Result<(RequestRow, bool), StoreError> {
        let initial = initial.map(|(e, a, d)| (e, a.to_string(), d));
        self.create_in(idempotency_key, principal, body, now, |_| Ok(initial))
    }

    fn create_assessed(
        &self,
        idempotency_key: Option<&str>,
        body: &Value,
        q: &crate::risk::HistoryQuery,
        assess: super::Assessor,
    ) -> Result<(RequestRow, bool), StoreError> {
        // The write lock is taken before the history is read (BEGIN IMMEDIATE). The
        // copy is brought to the committed audit head; this create's own rows reach it
        // by the next catch-up, so nothing uncommitted ever enters it.
        self.create_in(idempotency_key, &q.principal, body, q.now, |tx| {
            let mut cache = self.history.lock().unwrap_or_else(|p| p.into_inner());
            let head = last_audit(tx)?.map_or(0, |r| r.seq);
            catch_up(tx, &mut cache, head)?;
            cache.prune(&q.principal, q.since);
            if !cache.covers(&q.principal, q.since) {
                let rows = history_on(tx, &q.principal, q.since, "")?;
                cache.load(&q.principal, q.since, rows);
            }
            let mut summary = crate::risk::Summary::of(q, &[]);
            for x in cache.rows(&q.principal) {
                summary.add(q, x);
            }
            Ok(Some(assess(&summary)))
        })
    }

    fn get(&self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        let conn = self.lock();
        conn.query_row(&format!("{SELECT} WHERE id = ?1"), [id], read_row)
            .optional()
            .map_err(db)?
            .map(row_of)
            .transpose()
    }

    fn list(
        &self,
        state: Option<State>,
        principal: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(&format!(
                "{SELECT} WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR principal = ?2) ORDER BY created DESC, id LIMIT ?3"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(
                params![state.map(state_name), principal, limit.min(10_000) as i64],
                read_row,
            )
            .map_err(db)?;
        rows.map(|r| r.map_err(db).and_then(row_of)).collect()
    }

    fn in_state(&self, state: State, network: Option<&str>) -> Result<Vec<RequestRow>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE state = ?1 AND (?2 IS NULL OR network = ?2) ORDER BY created, id"
            ))
            .map_err(db)?;
        let rows = stmt
            .query_map(params![state_name(state), network], read_row)
            .map_err(db)?;
        rows.map(|r| r.map_err(db).and_then(row_of)).collect()
    }

    fn history(
        &self,
        principal: &str,
        since: u64,
        exclude: &str,
    ) -> Result<Vec<crate::risk::Past>, StoreError> {
        Ok(history_on(&self.lock(), principal, since, exclude)?
            .into_iter()
            .map(|(_, p)| p)
            .collect())
    }

    fn transition(
        &self,
        id: &str,
        event: Event,
        actor: &str,
        detail: Value,
        now: u64,
    ) -> Result<RequestRow, StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let row = tx
            .query_row(&format!("{SELECT} WHERE id = ?1"), [id], read_row)
            .optional()
            .map_err(db)?
            .ok_or_else(|| StoreError::NotFound(id.into()))?;
        let mut row = row_of(row)?;
        let next = row.state.apply(event)?;
        if next != row.state {
            tx.execute(
                "UPDATE requests SET state = ?1, updated = ?2 WHERE id = ?3",
                params![state_name(next), now as i64, id],
            )
            .map_err(db)?;
            append_audit(
                &tx,
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
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
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
        // One statement: taken when free, expired, or already ours.
        let conn = self.lock();
        let n = conn
            .execute(
                "INSERT INTO leases (request_id, step, owner, until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (request_id, step) DO UPDATE SET owner = ?3, until = ?4
                 WHERE leases.owner = ?3 OR leases.until <= ?5",
                params![id, step, owner, now.saturating_add(ttl) as i64, now as i64],
            )
            .map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
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
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let r = append_audit(&tx, actor, action, subject, detail, now)?;
        tx.commit().map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
        Ok(r)
    }

    fn add_token(
        &self,
        hash: &str,
        principal: &str,
        roles: &[String],
        now: u64,
    ) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        tx.execute(
            "INSERT INTO tokens (hash, principal, roles, created) VALUES (?1, ?2, ?3, ?4)",
            params![hash, principal, roles.join(","), now as i64],
        )
        .map_err(db)?;
        append_audit(
            &tx,
            "admin",
            "token.add",
            principal,
            serde_json::json!({"roles": roles}),
            now,
        )?;
        tx.commit().map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)
    }

    fn token(&self, hash: &str) -> Result<Option<(String, Vec<String>)>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            "SELECT principal, roles FROM tokens WHERE hash = ?1",
            [hash],
            |r| {
                let roles: String = r.get(1)?;
                Ok((
                    r.get(0)?,
                    roles
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(String::from)
                        .collect(),
                ))
            },
        )
        .optional()
        .map_err(db)
    }

    fn audit_rows(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let conn = self.lock();
        let mut stmt = conn
            .prepare(
                "SELECT seq, time, actor, action, subject, detail, prev_hash, hash FROM audit WHERE seq >= ?1 ORDER BY seq LIMIT ?2",
            )
            .map_err(db)?;
        let rows = stmt
            .query_map(
                params![from_seq as i64, limit.min(i64::MAX as usize) as i64],
                audit_row,
            )
            .map_err(db)?;
        rows.map(|r| r.map_err(db).and_then(|x| x)).collect()
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
        let mut conn = self.lock();
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        let old: Option<String> = tx
            .query_row(
                "SELECT value FROM artifacts WHERE subject = ?1 AND kind = ?2 AND key = ?3",
                params![subject, kind, key],
                |r| r.get(0),
            )
            .optional()
            .map_err(db)?;
        match old {
            Some(v) if v == value => {
                let seq = self.sync.current();
                drop(tx);
                drop(conn);
                self.sync.durable(seq)?;
                return Ok(false);
            }
            Some(_) => return Err(StoreError::Exists(format!("{kind} {key:?} of {subject:?}"))),
            None => {}
        }
        tx.execute(
            "INSERT INTO artifacts (subject, kind, key, value, created) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![subject, kind, key, value, now as i64],
        )
        .map_err(db)?;
        append_audit(
            &tx,
            actor,
            &format!("artifact.{kind}"),
            subject,
            detail,
            now,
        )?;
        tx.commit().map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
        Ok(true)
    }

    fn artifacts(&self, subject: &str, kind: &str) -> Result<Vec<(String, String)>, StoreError> {
        let conn = self.lock();
        let mut st = conn
            .prepare(
                "SELECT key, value FROM artifacts WHERE subject = ?1 AND kind = ?2 ORDER BY key",
            )
            .map_err(db)?;
        let rows = st
            .query_map(params![subject, kind], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(db)?;
        rows.collect::<Result<Vec<_>, _>>().map_err(db)
    }
}

/// A principal's requests since `since` (not rejected or cancelled, and not `exclude`),
/// with their ids, for the risk engine (see [`Store::history`]).
fn history_on(
    conn: &Connection,
    principal: &str,
    since: u64,
    exclude: &str,
) -> Result<Vec<(String, crate::risk::Past)>, StoreError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT network, asset, destination, amount, created, id
             FROM requests WHERE principal = ?1 AND created >= ?2 AND id != ?3
               AND state NOT IN ('rejected', 'cancelled')",
        )
        .map_err(db)?;
    let rows = stmt
        .query_map(params![principal, since as i64, exclude], |r| {
            let columns = [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?];
            let time = r.get::<_, i64>(4)?.max(0) as u64;
            Ok((r.get::<_, String>(5)?, columns, time))
        })
        .map_err(db)?;
    let mut out = Vec::new();
    for r in rows {
        let (id, columns, time) = r.map_err(db)?;
        out.extend(super::past_from(principal, columns, time).map(|p| (id, p)));
    }
    Ok(out)
}

/// Brings the history copy to audit position `head` (see
/// [`super::history_cache::HistoryCache::replay_from`]).
fn catch_up(
    conn: &Connection,
    cache: &mut super::history_cache::HistoryCache,
    head: u64,
) -> Result<(), StoreError> {
    let Some(from) = cache.replay_from(head) else {
        return Ok(());
    };
    let mut stmt = conn
        .prepare_cached(super::history_cache::REPLAY_SQL)
        .map_err(db)?;
    let rows = stmt
        .query_map(params![from as i64, head as i64], |r| {
            Ok(super::history_cache::AuditRow {
                time: r.get::<_, i64>(0)?.max(0) as u64,
                actor: r.get(1)?,
                action: r.get(2)?,
                subject: r.get(3)?,
                detail: r.get(4)?,
            })
        })
        .map_err(db)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(db)?;
    cache.replay(head, rows);
    Ok(())
}
