//! Creating a request in one write transaction: the idempotency check, the principal's
//! history read from the audit-replayed copy, the risk decision, the row and its audit
//! rows.

use super::*;
use crate::store::write;
use crate::store::NewRequest;

impl Sqlite {
    /// One create in one immediate transaction; `initial` decides the first event
    /// (after the replay check, inside the transaction).
    pub(super) fn create_in(
        &self,
        new: NewRequest<'_>,
        initial: impl FnOnce(
            &mut rusqlite::Transaction<'_>,
        ) -> Result<Option<(Event, String, Value)>, StoreError>,
    ) -> Result<(RequestRow, bool), StoreError> {
        let NewRequest {
            idempotency_key,
            principal,
            body,
            now,
        } = new;
        let mut conn = self.lock();
        let mut tx = conn
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
        let initial = initial(&mut tx)?;
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
        let detail = serde_json::json!({"body": body, "idempotency_key": idempotency_key});
        write::append(&mut tx, (principal, "request.create", &id), detail, now)?;
        let mut state = State::Draft;
        if let Some((event, actor, detail)) = initial {
            let next = state.apply(event)?;
            tx.execute(
                "UPDATE requests SET state = ?1 WHERE id = ?2",
                params![state_name(next), id],
            )
            .map_err(db)?;
            let detail = write::state_detail(state, next, event, detail);
            write::append(&mut tx, (&actor, "request.state", &id), detail, now)?;
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

/// A principal's requests since `since` (not rejected or cancelled, and not `exclude`),
/// with their ids, for the risk engine (see [`Store::history`]).
pub(super) fn history_on(
    conn: &Connection,
    principal: &str,
    since: u64,
    exclude: &str,
) -> Result<Vec<(String, crate::risk::Past)>, StoreError> {
    let sql = "SELECT network, asset, destination, amount, created, id
             FROM requests WHERE principal = ?1 AND created >= ?2 AND id != ?3
               AND state NOT IN ('rejected', 'cancelled')";
    let rows = all(conn, sql, params![principal, since as i64, exclude], |r| {
        let columns = [r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?];
        let time = r.get::<_, i64>(4)?.max(0) as u64;
        Ok((r.get::<_, String>(5)?, columns, time))
    })?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, columns, time)| {
            crate::store::past_from(principal, columns, time).map(|p| (id, p))
        })
        .collect())
}

/// Brings the history copy to audit position `head` (see
/// [`crate::store::history_cache::HistoryCache::replay_from`]).
pub(super) fn catch_up(
    conn: &Connection,
    cache: &mut crate::store::history_cache::HistoryCache,
    head: u64,
) -> Result<(), StoreError> {
    let Some(from) = cache.replay_from(head) else {
        return Ok(());
    };
    let sql = crate::store::history_cache::REPLAY_SQL;
    let rows = all(conn, sql, params![from as i64, head as i64], |r| {
        Ok(crate::store::history_cache::AuditRow {
            time: r.get::<_, i64>(0)?.max(0) as u64,
            actor: r.get(1)?,
            action: r.get(2)?,
            subject: r.get(3)?,
            detail: r.get(4)?,
        })
    })?;
    cache.replay(head, rows);
    Ok(())
}
