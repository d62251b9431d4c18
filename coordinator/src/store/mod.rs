//! Storage: one trait for every backend, a shared conformance suite, and the embedded
//! SQLite backend (WAL, migrations). Every state change writes the request row and its
//! audit row in one transaction, so neither exists without the other.

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod pgtest;
mod postgres;
mod sqlite;

pub use postgres::Postgres;
pub use sqlite::Sqlite;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State, TransitionError};

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRow {
    /// Id.
    pub id: String,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Who created it.
    pub principal: String,
    /// What was asked (chain, network, asset, destination, amount …).
    pub body: Value,
    /// Lifecycle state.
    pub state: State,
    /// Created, Unix seconds.
    pub created: u64,
    /// Last change, Unix seconds.
    pub updated: u64,
}

/// Storage errors.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed.
    #[error("storage: {0}")]
    Backend(String),
    /// No such request.
    #[error("no request {0}")]
    NotFound(String),
    /// The same idempotency key with a different body.
    #[error("idempotency key {0} was used for a different request")]
    KeyReuse(String),
    /// A lifecycle transition that is not allowed.
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// What every backend provides.
pub trait Store: Send + Sync {
    /// Creates a request, or returns the one created before with the same principal and
    /// idempotency key (and `false`). The same key with another body is refused.
    fn create_request(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
    ) -> Result<(RequestRow, bool), StoreError>;

    /// As [`Store::create_request`], and when the request is new, applies `event` (the
    /// risk engine's outcome) by `actor` in the same transaction: one commit.
    #[allow(clippy::too_many_arguments)]
    fn create_assessed(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
        event: Event,
        actor: &str,
        detail: Value,
    ) -> Result<(RequestRow, bool), StoreError>;

    /// A request.
    fn get(&self, id: &str) -> Result<Option<RequestRow>, StoreError>;

    /// Requests, newest first, filtered by state and principal.
    fn list(
        &self,
        state: Option<State>,
        principal: Option<&str>,
        limit: usize,
    ) -> Result<Vec<RequestRow>, StoreError>;

    /// A principal's requests since `since` (not rejected or cancelled, and not
    /// `exclude`), as the risk engine's history.
    fn history(
        &self,
        principal: &str,
        since: u64,
        exclude: &str,
    ) -> Result<Vec<crate::risk::Past>, StoreError>;

    /// Applies `event` (idempotently) and records it in the audit chain, atomically.
    fn transition(
        &self,
        id: &str,
        event: Event,
        actor: &str,
        detail: Value,
        now: u64,
    ) -> Result<RequestRow, StoreError>;

    /// Takes an exclusive lease on a step of a request (`export`, `finalise`,
    /// `broadcast`) for `owner` until `now + ttl`: `false` when another owner holds a
    /// live lease. Two replicas never run the same step of the same request at once.
    fn claim(
        &self,
        id: &str,
        step: &str,
        owner: &str,
        now: u64,
        ttl: u64,
    ) -> Result<bool, StoreError>;

    /// Appends an audit row.
    fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: Value,
        now: u64,
    ) -> Result<AuditRecord, StoreError>;

    /// Stores an API token's hash for a principal with roles (audited).
    fn add_token(
        &self,
        hash: &str,
        principal: &str,
        roles: &[String],
        now: u64,
    ) -> Result<(), StoreError>;

    /// The principal and roles of a token hash.
    fn token(&self, hash: &str) -> Result<Option<(String, Vec<String>)>, StoreError>;

    /// Audit rows from `from_seq`, in order.
    fn audit_rows(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;
}
