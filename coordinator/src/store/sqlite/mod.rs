//! The embedded SQLite backend.

use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::write::{token_record, Work, AUDIT_COLUMNS, SELECT, TOKEN_COLUMNS};
use super::{new_request_id, state_name, state_of, At, Initial, Kind, Lease, NewRequest, NewToken};
use super::{Filter, RequestRow, Store, StoreError, TokenRecord, Tx};
use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State};

mod create;
mod sync;
use create::{catch_up, history_on};
use sync::{Checkpointer, GroupSync};

/// SQLite storage.
#[derive(Debug)]
pub struct Sqlite {
    conn: Mutex<Connection>,
    /// A copy of recent history per principal for the risk engine, brought up to date
    /// from the audit chain inside each assessed create (taken after `conn`).
    history: Mutex<crate::store::history_cache::HistoryCache>,
    sync: GroupSync,
    checkpointer: Option<Checkpointer>,
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

fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    seven(r)
}

/// The first seven columns of a row.
fn seven<A, B, C, D, E, F, G>(r: &rusqlite::Row<'_>) -> rusqlite::Result<(A, B, C, D, E, F, G)>
where
    A: rusqlite::types::FromSql,
    B: rusqlite::types::FromSql,
    C: rusqlite::types::FromSql,
    D: rusqlite::types::FromSql,
    E: rusqlite::types::FromSql,
    F: rusqlite::types::FromSql,
    G: rusqlite::types::FromSql,
{
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

/// A write transaction is `BEGIN IMMEDIATE`: it holds the database's one write lock
/// from its start, so nothing it reads can change under it.
impl Tx for rusqlite::Transaction<'_> {
    fn request_for_update(&mut self, id: &str) -> Result<Option<RequestRow>, StoreError> {
        self.query_row(&format!("{SELECT} WHERE id = ?1"), [id], read_row)
            .optional()
            .map_err(db)?
            .map(row_of)
            .transpose()
    }

    fn set_state(&mut self, id: &str, state: State, now: u64) -> Result<(), StoreError> {
        let sql = "UPDATE requests SET state = ?1, updated = ?2 WHERE id = ?3";
        self.execute(sql, params![state_name(state), now as i64, id])
            .map(drop)
            .map_err(db)
    }

    fn audit_head(&mut self) -> Result<Option<AuditRecord>, StoreError> {
        let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY seq DESC LIMIT 1");
        self.query_row(&sql, [], audit_row)
            .optional()
            .map_err(db)?
            .transpose()
    }

    fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError> {
        let sql =
            format!("INSERT INTO audit ({AUDIT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)");
        let (seq, time, detail) = (r.seq as i64, r.time as i64, r.detail.to_string());
        let row = params![
            seq,
            time,
            r.actor,
            r.action,
            r.subject,
            detail,
            r.prev_hash,
            r.hash
        ];
        self.execute(&sql, row).map(drop).map_err(db)
    }

    fn insert_token(&mut self, t: &NewToken<'_>, now: u64) -> Result<(), StoreError> {
        let sql = "INSERT INTO tokens (hash, principal, roles, created, expires) VALUES (?1, ?2, ?3, ?4, ?5)";
        let expires = t.3.map(|e| e as i64);
        self.execute(sql, params![t.0, t.1, t.2, now as i64, expires])
            .map(drop)
            .map_err(db)
    }

    fn revoke_token(&mut self, id: &str, now: u64) -> Result<Option<String>, StoreError> {
        self.query_row(
            "UPDATE tokens SET revoked = ?2 WHERE substr(hash, 1, 16) = ?1 AND revoked IS NULL
             RETURNING principal",
            params![id, now as i64],
            |r| r.get(0),
        )
        .optional()
        .map_err(db)
    }

    fn insert_artifact(&mut self, at: &At<'_>, value: &str, now: u64) -> Result<bool, StoreError> {
        let sql =
            "INSERT INTO artifacts (subject, kind, key, value, created) VALUES (?1, ?2, ?3, ?4, ?5)
                   ON CONFLICT (subject, kind, key) DO NOTHING";
        let row = params![at.subject, at.kind.name(), at.key, value, now as i64];
        Ok(self.execute(sql, row).map_err(db)? == 1)
    }

    fn artifact_value(&mut self, at: &At<'_>) -> Result<Option<String>, StoreError> {
        let sql = "SELECT value FROM artifacts WHERE subject = ?1 AND kind = ?2 AND key = ?3";
        self.query_row(sql, params![at.subject, at.kind.name(), at.key], |r| {
            r.get(0)
        })
        .optional()
        .map_err(db)
    }
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
        let migrations = crate::store::schema::migrations(crate::store::schema::Dialect::Sqlite);
        if v as usize > migrations.len() {
            return Err(StoreError::Backend(format!(
                "database schema {v} is newer than this coordinator ({})",
                migrations.len()
            )));
        }
        for (i, m) in migrations.iter().enumerate().skip(v as usize) {
            let tx = conn.unchecked_transaction().map_err(db)?;
            tx.execute_batch(m).map_err(db)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES (?1)",
                [i as i64 + 1],
            )
            .map_err(db)?;
            tx.commit().map_err(db)?;
        }
        let sync = GroupSync::new(wal);
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
}

/// Every row of `sql` over `params`, each read by `read`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql).map_err(db)?;
    let rows = stmt.query_map(params, read).map_err(db)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(db)
}

impl Store for Sqlite {
    fn create(
        &self,
        new: NewRequest<'_>,
        initial: Initial,
    ) -> Result<(RequestRow, bool), StoreError> {
        let (query, assess) = match initial {
            Initial::Draft => return self.create_in(new, |_| Ok(None)),
            Initial::Fixed(e, a, d) => return self.create_in(new, |_| Ok(Some((e, a, d)))),
            Initial::Assess(q, assess) => (q, assess),
        };
        let q = &query;
        // The write lock is taken before the history is read (BEGIN IMMEDIATE). The
        // copy is brought to the committed audit head; this create's own rows reach it
        // by the next catch-up, so nothing uncommitted ever enters it.
        self.create_in(new, |tx| {
            let mut cache = self.history.lock().unwrap_or_else(|p| p.into_inner());
            let head = tx.audit_head()?.map_or(0, |r| r.seq);
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

    fn page(&self, f: &Filter<'_>) -> Result<Vec<RequestRow>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR principal = ?2) \
             AND (?3 IS NULL OR network = ?3) \
             AND (?4 IS NULL OR created < ?4 OR (created = ?4 AND id > ?5)) \
             ORDER BY created DESC, id LIMIT ?6"
        );
        let (after, after_id) = (f.after.map(|a| a.0 as i64), f.after.map(|a| a.1));
        let p = params![
            f.state.map(state_name),
            f.principal,
            f.network,
            after,
            after_id,
            f.limit.min(10_000) as i64
        ];
        all(&self.lock(), &sql, p, read_row)?
            .into_iter()
            .map(row_of)
            .collect()
    }

    fn in_state(&self, state: State, network: Option<&str>) -> Result<Vec<RequestRow>, StoreError> {
        let sql = format!(
            "{SELECT} WHERE state = ?1 AND (?2 IS NULL OR network = ?2) ORDER BY created, id"
        );
        let p = params![state_name(state), network];
        all(&self.lock(), &sql, p, read_row)?
            .into_iter()
            .map(row_of)
            .collect()
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

    fn write(&self, work: Work<'_>) -> Result<(), StoreError> {
        let mut conn = self.lock();
        let mut tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(db)?;
        work(&mut tx)?;
        tx.commit().map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)
    }

    fn lease(&self, l: &Lease<'_>) -> Result<bool, StoreError> {
        // One statement: taken when free, expired, or already ours.
        let conn = self.lock();
        let n = conn
            .execute(
                "INSERT INTO leases (request_id, step, owner, until) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (request_id, step) DO UPDATE SET owner = ?3, until = MAX(leases.until, ?4)
                 WHERE leases.owner = ?3 OR leases.until <= ?5",
                params![l.id, l.step, l.owner, l.until as i64, l.now as i64],
            )
            .map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
        Ok(n == 1)
    }

    fn cursor(&self, name: &str) -> Result<u64, StoreError> {
        let conn = self.lock();
        let seq: Option<i64> = conn
            .query_row("SELECT seq FROM cursors WHERE name = ?1", [name], |r| {
                r.get(0)
            })
            .optional()
            .map_err(db)?;
        Ok(seq.map_or(0, |s| s as u64))
    }

    fn move_cursor(&self, name: &str, from: u64, to: u64) -> Result<bool, StoreError> {
        let conn = self.lock();
        let (from, to) = (from as i64, to as i64);
        let n = if from == 0 {
            conn.execute(
                "INSERT INTO cursors (name, seq) VALUES (?1, ?3)
                 ON CONFLICT (name) DO UPDATE SET seq = ?3 WHERE cursors.seq = ?2",
                params![name, from, to],
            )
        } else {
            conn.execute(
                "UPDATE cursors SET seq = ?3 WHERE name = ?1 AND seq = ?2",
                params![name, from, to],
            )
        }
        .map_err(db)?;
        let seq = self.sync.mark();
        drop(conn);
        self.sync.durable(seq)?;
        Ok(n == 1)
    }

    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        let conn = self.lock();
        conn.query_row(
            &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE hash = ?1"),
            [hash],
            seven,
        )
        .optional()
        .map(|r| r.map(token_record))
        .map_err(db)
    }

    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let conn = self.lock();
        let mut q = conn
            .prepare(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created, hash"
            ))
            .map_err(db)?;
        let rows = q.query_map([], seven).map_err(db)?;
        rows.map(|r| r.map(token_record).map_err(db)).collect()
    }

    fn touch_token(&self, hash: &str, now: u64) -> Result<(), StoreError> {
        let conn = self.lock();
        let n = conn
            .execute(
                "UPDATE tokens SET last_used = ?2 WHERE hash = ?1 AND (last_used IS NULL OR last_used + 60 <= ?2)",
                params![hash, now as i64],
            )
            .map_err(db)?;
        if n > 0 {
            let seq = self.sync.mark();
            drop(conn);
            self.sync.durable(seq)?;
        }
        Ok(())
    }

    fn audit_rows(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError> {
        let sql =
            format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE seq >= ?1 ORDER BY seq LIMIT ?2");
        let p = params![from_seq as i64, limit.min(i64::MAX as usize) as i64];
        all(&self.lock(), &sql, p, audit_row)?.into_iter().collect()
    }

    fn audit_tip(&self) -> Result<u64, StoreError> {
        let sql = "SELECT COALESCE(MAX(seq), 0) FROM audit";
        let tip: i64 = self.lock().query_row(sql, [], |r| r.get(0)).map_err(db)?;
        Ok(tip as u64)
    }

    fn audit_of(&self, subject: &str) -> Result<Vec<AuditRecord>, StoreError> {
        let sql = format!(
            "SELECT {AUDIT_COLUMNS} FROM audit WHERE subject = ?1 ORDER BY seq LIMIT 10000"
        );
        all(&self.lock(), &sql, [subject], audit_row)?
            .into_iter()
            .collect()
    }

    fn artifacts_of(&self, kind: Kind) -> Result<Vec<[String; 3]>, StoreError> {
        let sql = "SELECT subject, key, value FROM artifacts WHERE kind = ?1 ORDER BY created, subject, key";
        all(&self.lock(), sql, [kind.name()], |r| {
            Ok([r.get(0)?, r.get(1)?, r.get(2)?])
        })
    }

    fn artifacts(&self, subject: &str, kind: Kind) -> Result<Vec<(String, String)>, StoreError> {
        let sql = "SELECT key, value FROM artifacts WHERE subject = ?1 AND kind = ?2 ORDER BY key";
        all(&self.lock(), sql, params![subject, kind.name()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
    }
}
