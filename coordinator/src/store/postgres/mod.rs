//! The PostgreSQL backend, for several coordinator replicas on one database. Every
//! transaction that appends to the audit chain takes the same transaction-scoped
//! advisory lock first, so replicas extend one chain; state changes lock the request row
//! (`SELECT … FOR UPDATE`); step leases are taken with a conditional upsert, so two
//! replicas never export, finalise or broadcast the same request at once.

use std::sync::{Arc, Condvar, Mutex};

use postgres::Transaction;
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::write::{token_record, Work, AUDIT_COLUMNS, SELECT, TOKEN_COLUMNS};
use super::{new_request_id, state_name, state_of, At, Initial, Kind, Lease, NewRequest, NewToken};
use super::{Filter, RequestRow, Store, StoreError, TokenRecord, Tx};
use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State};
use crate::risk::{Past, Summary};

mod batch;
mod pool;
use batch::Batcher;
use pool::{Connector, Slot};

const AUDIT_LOCK: i64 = 0x5354_524f_4e47; // "STRONG"

/// PostgreSQL storage.
pub struct Postgres {
    /// A small pool: reads (tokens, history, requests) do not wait behind a batch's
    /// commit.
    clients: Vec<Mutex<Slot>>,
    /// Opens (and reopens) connections.
    connector: Connector,
    next: std::sync::atomic::AtomicUsize,
    creates: Batcher,
    /// The batch leader's own connection and its copy of recent history (only the
    /// leader touches them): a batch never waits for a pool connection behind reads.
    leader: Mutex<(Slot, crate::store::history_cache::HistoryCache)>,
}

/// Pooled connections per coordinator process (the batch leader has one more).
pub const POOL_SIZE: usize = 8;

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

fn db(e: postgres::Error) -> StoreError {
    StoreError::Backend(match e.as_db_error() {
        Some(d) => format!("{}: {}", d.code().code(), d.message()),
        None => {
            // With its causes: "error performing TLS handshake: invalid peer certificate …".
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(&e);
            while let Some(c) = cause {
                text.push_str(&format!(": {c}"));
                cause = c.source();
            }
            text
        }
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

fn audit_record(r: &postgres::Row) -> Result<AuditRecord, StoreError> {
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

/// Every write that appends to the audit chain takes the chain's advisory lock first
/// (in [`Tx::audit_head`]); state changes lock the request row.
impl Tx for Transaction<'_> {
    fn request_for_update(&mut self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        self.query_opt(&format!("{SELECT} WHERE id = $1 FOR UPDATE"), &[&id])
            .map_err(db)?
            .map(|r| row_of(&r))
            .transpose()
    }

    fn set_state(&mut self, id: &str, state: State, now: u64) -> Result<(), StoreError> {
        let sql = "UPDATE requests SET state = $1, updated = $2 WHERE id = $3";
        self.execute(sql, &[&state_name(state), &(now as i64), &id])
            .map(drop)
            .map_err(db)
    }

    fn audit_head(&mut self) -> Result<Option<AuditRecord>, StoreError> {
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&AUDIT_LOCK])
            .map_err(db)?;
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1");
        self.query_opt(&sql, &[])
            .map_err(db)?
            .map(|r| audit_record(&r))
            .transpose()
    }

    fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO audit ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)");
        let (seq, time, detail) = (r.seq as i64, r.time as i64, r.detail.to_string());
        let row: [&(dyn postgres::types::ToSql + Sync); 8] = [
            &seq,
            &time,
            &r.actor,
            &r.action,
            &r.subject,
            &detail,
            &r.prev_hash,
            &r.hash,
        ];
        self.execute(&sql, &row).map(drop).map_err(db)
    }

    fn insert_token(&mut self, t: &NewToken<'_>, now: u64) -> Result<(), StoreError> {
        let sql = "INSERT INTO tokens (hash, principal, roles, created, expires) VALUES ($1, $2, $3, $4, $5)";
        let expires = t.3.map(|e| e as i64);
        self.execute(sql, &[&t.0, &t.1, &t.2, &(now as i64), &expires])
            .map(drop)
            .map_err(db)
    }

    fn revoke_token(&mut self, id: &str, now: u64) -> Result<Option<String>, StoreError> {
        let r = self
            .query_opt(
                "UPDATE tokens SET revoked = $2 WHERE substr(hash, 1, 16) = $1 AND revoked IS NULL
                 RETURNING principal",
                &[&id, &(now as i64)],
            )
            .map_err(db)?;
        r.map(|r| r.try_get(0).map_err(db)).transpose()
    }

    fn insert_artifact(&mut self, at: &At<'_>, value: &str, now: u64) -> Result<bool, StoreError> {
        let sql =
            "INSERT INTO artifacts (subject, kind, key, value, created) VALUES ($1, $2, $3, $4, $5)
                   ON CONFLICT (subject, kind, key) DO NOTHING";
        let row: [&(dyn postgres::types::ToSql + Sync); 5] =
            [&at.subject, &at.kind.name(), &at.key, &value, &(now as i64)];
        Ok(self.execute(sql, &row).map_err(db)? == 1)
    }

    fn artifact_value(&mut self, at: &At<'_>) -> Result<Option<String>, StoreError> {
        let sql = "SELECT value FROM artifacts WHERE subject = $1 AND kind = $2 AND key = $3";
        self.query_opt(sql, &[&at.subject, &at.kind.name(), &at.key])
            .map_err(db)?
            .map(|r| r.try_get(0).map_err(db))
            .transpose()
    }
}

impl Postgres {
    /// Connects (`host=… port=… user=… dbname=… [sslmode=…]`) and migrates; TLS is
    /// verified against the web roots.
    pub fn connect(params: &str) -> Result<Self, StoreError> {
        Self::connect_with(params, None)
    }

    /// Connects and migrates, verifying the server's TLS certificate against `ca_pem`
    /// (PEM) when given.
    pub fn connect_with(params: &str, ca_pem: Option<&[u8]>) -> Result<Self, StoreError> {
        let connector = Connector::new(params, ca_pem)?;
        let mut leader = Slot::open(&connector)?;
        let mut tx = leader.transaction().map_err(db)?;
        // One migrator at a time across replicas.
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&(AUDIT_LOCK + 1)])
            .map_err(db)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(db)?;
        let v: i32 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .map_err(db)?
            .get(0);
        let migrations = crate::store::schema::migrations(crate::store::schema::Dialect::Postgres);
        if v as usize > migrations.len() {
            return Err(StoreError::Backend(format!(
                "database schema {v} is newer than this coordinator ({})",
                migrations.len()
            )));
        }
        for (i, m) in migrations.iter().enumerate().skip(v as usize) {
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
            clients.push(Mutex::new(Slot::open(&connector)?));
        }
        Ok(Self {
            clients,
            connector,
            next: std::sync::atomic::AtomicUsize::new(0),
            creates: Batcher::default(),
            leader: Mutex::new((leader, Default::default())),
        })
    }

    /// A free connection of the pool, or else the next one in turn; reconnected first
    /// if it was lost.
    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Slot>, StoreError> {
        let mut guard = self.slot();
        guard.fresh(&self.connector)?;
        Ok(guard)
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Slot> {
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

impl Store for Postgres {
    fn concurrent(&self) -> bool {
        true
    }

    fn create(
        &self,
        new: NewRequest<'_>,
        initial: Initial,
    ) -> Result<(RequestRow, bool), StoreError> {
        self.enqueue(new, initial)
    }

    fn get(&self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        self.lock()?
            .query_opt(&format!("{SELECT} WHERE id = $1"), &[&id])
            .map_err(db)?
            .map(|r| row_of(&r))
            .transpose()
    }

    fn page(&self, f: &Filter<'_>) -> Result<Vec<RequestRow>, StoreError> {
        let (after, after_id) = (f.after.map(|a| a.0 as i64), f.after.map(|a| a.1));
        let rows = self
            .lock()?
            .query(
                &format!(
                    "{SELECT} WHERE ($1::TEXT IS NULL OR state = $1) AND ($2::TEXT IS NULL OR principal = $2) \
                     AND ($3::TEXT IS NULL OR network = $3) \
                     AND ($4::BIGINT IS NULL OR created < $4 OR (created = $4 AND id > $5::TEXT)) \
                     ORDER BY created DESC, id LIMIT $6"
                ),
                &[
                    &f.state.map(state_name),
                    &f.principal,
                    &f.network,
                    &after,
                    &after_id,
                    &(f.limit.min(10_000) as i64),
                ],
            )
            .map_err(db)?;
        rows.iter().map(row_of).collect()
    }

    fn in_state(&self, state: State, network: Option<&str>) -> Result<Vec<RequestRow>, StoreError> {
        let rows = self
            .lock()?
            .query(
                &format!("{SELECT} WHERE state = $1 AND ($2::TEXT IS NULL OR network = $2) ORDER BY created, id"),
                &[&state_name(state), &network],
            )
            .map_err(db)?;
        rows.iter().map(row_of).collect()
    }

    fn history(&self, principal: &str, since: u64, exclude: &str) -> Result<Vec<Past>, StoreError> {
        let rows = self
            .lock()?
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

    fn write(&self, work: Work<'_>) -> Result<(), StoreError> {
        let mut client = self.lock()?;
        let mut tx = client.transaction().map_err(db)?;
        work(&mut tx)?;
        tx.commit().map_err(db)
    }

    fn lease(&self, l: &Lease<'_>) -> Result<bool, StoreError> {
        let n = self
            .lock()?
            .execute(
                "INSERT INTO leases (request_id, step, owner, until) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (request_id, step) DO UPDATE SET owner = $3, until = GREATEST(leases.until, $4)
                 WHERE leases.owner = $3 OR leases.until <= $5",
                &[&l.id, &l.step, &l.owner, &(l.until as i64), &(l.now as i64)],
            )
            .map_err(db)?;
        Ok(n == 1)
    }

    fn cursor(&self, name: &str) -> Result<u64, StoreError> {
        let r = self
            .lock()?
            .query_opt("SELECT seq FROM cursors WHERE name = $1", &[&name])
            .map_err(db)?;
        r.map(|r| r.try_get::<_, i64>(0).map(|s| s as u64).map_err(db))
            .transpose()
            .map(|s| s.unwrap_or(0))
    }

    fn move_cursor(&self, name: &str, from: u64, to: u64) -> Result<bool, StoreError> {
        let (from, to) = (from as i64, to as i64);
        let mut c = self.lock()?;
        let n = if from == 0 {
            c.execute(
                "INSERT INTO cursors (name, seq) VALUES ($1, $3)
                 ON CONFLICT (name) DO UPDATE SET seq = $3 WHERE cursors.seq = $2",
                &[&name, &from, &to],
            )
        } else {
            c.execute(
                "UPDATE cursors SET seq = $3 WHERE name = $1 AND seq = $2",
                &[&name, &from, &to],
            )
        }
        .map_err(db)?;
        Ok(n == 1)
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let r = self
            .lock()?
            .query_opt(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = $1"),
                &[&hash],
            )
            .map_err(db)?;
        r.map(|r| token_columns(&r).map(token_record)).transpose()
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = self
            .lock()?
            .query(
                &format!("SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created, hash"),
                &[],
            )
            .map_err(db)?;
        rows.iter()
            .map(|r| token_columns(r).map(token_record))
            .collect()
    }

    fn touch_token(&self, hash: &str, now: u64) -> Result<(), StoreError> {
        self.lock()?
            .execute(
                "UPDATE tokens SET last_used = $2 WHERE hash = $1 AND (last_used IS NULL OR last_used + 60 <= $2)",
                &[&hash, &(now as i64)],
            )
            .map_err(db)?;
        Ok(())
    }

    fn audit_rows(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self
            .lock()?
            .query(
                &format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq >= $1 ORDER BY seq LIMIT $2"),
                &[&(from_seq as i64), &(limit.min(i64::MAX as usize) as i64)],
            )
            .map_err(db)?;
        rows.iter().map(audit_record).collect()
    }

    fn audit_tip(&self) -> Result<u64, StoreError> {
        let row = self
            .lock()?
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM audit", &[])
            .map_err(db)?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    fn audit_of(&self, subject: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = self
            .lock()?
            .query(
                &format!(
                    "SELECT {AUDIT_COLUMNS} FROM audit WHERE subject = $1 ORDER BY seq LIMIT 10000"
                ),
                &[&subject],
            )
            .map_err(db)?;
        rows.iter().map(audit_record).collect()
    }

    fn artifacts_of(&self, kind: Kind) -> Result<Vec<[String; 3]>, StoreError> {
        let sql = "SELECT subject, key, value FROM artifacts WHERE kind = $1 ORDER BY created, subject, key";
        let rows = self.lock()?.query(sql, &[&kind.name()]).map_err(db)?;
        rows.iter()
            .map(|r| {
                Ok([
                    r.try_get(0).map_err(db)?,
                    r.try_get(1).map_err(db)?,
                    r.try_get(2).map_err(db)?,
                ])
            })
            .collect()
    }

    fn artifacts(&self, subject: &str, kind: Kind) -> Result<Vec<(String, String)>, StoreError> {
        let kind = kind.name();
        let rows = self
            .lock()?
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
    Ok(crate::store::past_from(
        principal,
        [get(0)?, get(1)?, get(2)?, get(3)?],
        time,
    ))
}

/// Brings the history copy to audit position `head` (see
/// [`crate::store::history_cache::HistoryCache::replay_from`]).
fn catch_up(
    tx: &mut Transaction<'_>,
    cache: &mut crate::store::history_cache::HistoryCache,
    head: u64,
) -> Result<(), StoreError> {
    let Some(from) = cache.replay_from(head) else {
        return Ok(());
    };
    let mut rows = Vec::new();
    for r in tx
        .query(
            crate::store::history_cache::REPLAY_SQL,
            &[&(from as i64), &(head as i64)],
        )
        .map_err(db)?
    {
        rows.push(crate::store::history_cache::AuditRow {
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

/// A plain connection as the pool opens them, for tests that inspect the session.
#[cfg(test)]
pub(crate) fn pool_client(params: &str, ca_pem: Option<&[u8]>) -> postgres::Client {
    Connector::new(params, ca_pem).unwrap().connect().unwrap()
}

fn token_columns(r: &postgres::Row) -> Result<super::write::TokenColumns, StoreError> {
    Ok((
        r.try_get(0).map_err(db)?,
        r.try_get(1).map_err(db)?,
        r.try_get(2).map_err(db)?,
        r.try_get(3).map_err(db)?,
        r.try_get(4).map_err(db)?,
        r.try_get(5).map_err(db)?,
        r.try_get(6).map_err(db)?,
    ))
}
