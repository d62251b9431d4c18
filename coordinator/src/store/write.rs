//! The write methods every backend shares, written once over [`Tx`]: a backend supplies
//! one write transaction and a handful of statements; the request's state change, the
//! audit row that goes with it, tokens and write-once artifacts are decided here.

use serde_json::Value;

use super::{Kind, RequestRow, StoreError};
use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State};

/// The columns of an audit row, in the order both backends read them.
pub(crate) const AUDIT_COLUMNS: &str = "seq, time, actor, action, subject, detail, prev_hash, hash";

/// The columns of a request row, in the order both backends read them.
pub(crate) const SELECT: &str =
    "SELECT id, idempotency_key, principal, body, state, created, updated FROM requests";

/// Where an artifact is stored.
#[derive(Debug, Clone, Copy)]
pub struct At<'a> {
    /// A request id, or `""` for the installation.
    pub subject: &'a str,
    /// What it is.
    pub kind: Kind,
    /// Which one of its kind.
    pub key: &'a str,
}

/// A token to store: its hash (SHA-256, hex), principal, roles (comma-separated) and
/// expiry (Unix seconds).
#[derive(Debug, Clone, Copy)]
pub struct NewToken<'a>(pub &'a str, pub &'a str, pub &'a str, pub Option<u64>);

/// The columns of a token row, in [`token_record`]'s order.
pub(crate) const TOKEN_COLUMNS: &str =
    "hash, principal, roles, created, expires, revoked, last_used";

/// A token row as read: (hash, principal, roles column, created, expires, revoked, last used).
pub(crate) type TokenColumns = (
    String,
    String,
    String,
    i64,
    Option<i64>,
    Option<i64>,
    Option<i64>,
);

/// The record of a token row.
pub(crate) fn token_record(c: TokenColumns) -> super::TokenRecord {
    let t = |v: Option<i64>| v.map(|x| x as u64);
    super::TokenRecord {
        id: c.0.get(..16).unwrap_or(&c.0).to_string(),
        principal: c.1,
        roles: roles_of(&c.2),
        created: c.3 as u64,
        expires: t(c.4),
        revoked: t(c.5),
        last_used: t(c.6),
    }
}

/// One open write transaction of a backend.
pub trait Tx {
    /// The request `id`, locked against other writers until the transaction ends.
    fn request_for_update(&mut self, id: &str) -> Result<Option<RequestRow>, StoreError>;
    /// Sets a request's state and its `updated` time.
    fn set_state(&mut self, id: &str, state: State, now: u64) -> Result<(), StoreError>;
    /// The last audit row; the chain is held against other writers until the
    /// transaction ends.
    fn audit_head(&mut self) -> Result<Option<AuditRecord>, StoreError>;
    /// Inserts an audit row made by [`AuditRecord::next`].
    fn insert_audit(&mut self, r: &AuditRecord) -> Result<(), StoreError>;
    /// Inserts a token row created `now`.
    fn insert_token(&mut self, t: &NewToken<'_>, now: u64) -> Result<(), StoreError>;
    /// Revokes the live token with id `id` (its hash's first 16 hex digits) at `now`:
    /// its principal, or `None` when there is no such live token.
    fn revoke_token(&mut self, id: &str, now: u64) -> Result<Option<String>, StoreError>;
    /// Inserts an artifact unless its place is taken: `false` when it is.
    fn insert_artifact(&mut self, at: &At<'_>, value: &str, now: u64) -> Result<bool, StoreError>;
    /// The value stored at `at`.
    fn artifact_value(&mut self, at: &At<'_>) -> Result<Option<String>, StoreError>;
}

/// A write transaction's body: `Ok` commits, `Err` rolls back.
pub type Work<'a> = &'a mut dyn FnMut(&mut dyn Tx) -> Result<(), StoreError>;

/// Appends an audit row after the chain's head: who did what about what, its details.
pub(crate) fn append(
    tx: &mut dyn Tx,
    (actor, action, subject): (&str, &str, &str),
    detail: Value,
    now: u64,
) -> Result<AuditRecord, StoreError> {
    let prev = tx.audit_head()?;
    let r = AuditRecord::next(prev.as_ref(), now, actor, action, subject, detail);
    tx.insert_audit(&r)?;
    Ok(r)
}

/// The audit detail of a state change.
pub(crate) fn state_detail(from: State, to: State, event: Event, detail: Value) -> Value {
    serde_json::json!({"from": from, "to": to, "event": event, "detail": detail})
}

/// The roles column, read back.
pub(crate) fn roles_of(column: &str) -> Vec<String> {
    column
        .split(',')
        .filter(|x| !x.is_empty())
        .map(String::from)
        .collect()
}
