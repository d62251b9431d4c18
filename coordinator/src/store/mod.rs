//! Storage: one trait for every backend, a shared conformance suite, and the embedded
//! SQLite backend (WAL, migrations). Every state change writes the request row and its
//! audit row in one transaction, so neither exists without the other.

#[cfg(test)]
mod conformance;
#[cfg(test)]
mod conformance_more;
mod history_cache;
#[cfg(test)]
mod pgtest;
mod postgres;
pub mod schema;
mod sqlite;
#[cfg(test)]
mod tamper;
mod token;
pub mod write;

pub use postgres::Postgres;
pub use sqlite::Sqlite;
pub use token::TokenRecord;
pub use write::{At, NewToken, Tx, Work};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::audit::AuditRecord;
use crate::lifecycle::{Event, State, TransitionError};

/// A stored request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct RequestRow {
    /// Id.
    pub id: String,
    /// The caller's idempotency key.
    pub idempotency_key: Option<String>,
    /// Who created it.
    pub principal: String,
    /// What was asked (chain, network, asset, destination, amount …).
    #[schema(value_type = crate::requests::CreateRequest)]
    pub body: Value,
    /// Lifecycle state.
    pub state: State,
    /// Created, Unix seconds.
    pub created: u64,
    /// Last change, Unix seconds.
    pub updated: u64,
}

/// Which requests a listing returns.
#[derive(Debug, Default, Clone, Copy)]
pub struct Filter<'a> {
    /// Only in this state.
    pub state: Option<State>,
    /// Only by this principal.
    pub principal: Option<&'a str>,
    /// Only on this network.
    pub network: Option<&'a str>,
    /// Only those after this one in the listing's order (its `created` and `id`): the
    /// next page.
    pub after: Option<(u64, &'a str)>,
    /// At most this many.
    pub limit: usize,
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
    /// An artifact already stored with another value (artifacts are write-once).
    #[error("{0} is already recorded with another value")]
    Exists(String),
}

/// The name a state is stored under.
pub(crate) fn state_name(s: State) -> String {
    serde_json::to_value(s)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_default()
}

/// A stored state name, read back.
pub(crate) fn state_of(s: &str) -> Result<State, StoreError> {
    serde_json::from_value(Value::String(s.into()))
        .map_err(|_| StoreError::Backend(format!("unknown state {s:?} in the database")))
}

/// A new random request id (UUID-shaped, from the OS's random source).
pub(crate) fn new_request_id() -> Result<String, StoreError> {
    let mut b = [0u8; 16];
    std::io::Read::read_exact(
        &mut std::fs::File::open("/dev/urandom").map_err(|e| StoreError::Backend(e.to_string()))?,
        &mut b,
    )
    .map_err(|e| StoreError::Backend(e.to_string()))?;
    Ok(format!(
        "{}-{}-{}-{}-{}",
        hex::encode(&b[..4]),
        hex::encode(&b[4..6]),
        hex::encode(&b[6..8]),
        hex::encode(&b[8..10]),
        hex::encode(&b[10..16])
    ))
}

/// The risk engine's decision on a new request from its principal's history: the first
/// event, its actor and its details.
pub type Assessor =
    std::sync::Arc<dyn Fn(&crate::risk::Summary) -> (Event, String, Value) + Send + Sync>;

/// The history entry a request body makes (the risk engine's view of it), if its fields
/// are there.
pub fn past_of(principal: &str, body: &Value, time: u64) -> Option<crate::risk::Past> {
    let field = |k: &str| body.get(k).and_then(Value::as_str).map(String::from);
    past_from(
        principal,
        [
            field("network"),
            field("asset"),
            field("destination"),
            field("amount"),
        ],
        time,
    )
}

/// The history entry of a request's `[network, asset, destination, amount]` (columns or
/// body fields); `None` when one is missing (not a transfer). An amount that does not
/// parse counts as 0.
pub fn past_from(
    principal: &str,
    [network, asset, destination, amount]: [Option<String>; 4],
    time: u64,
) -> Option<crate::risk::Past> {
    Some(crate::risk::Past {
        principal: principal.into(),
        network: network?,
        asset: asset?,
        destination: destination?,
        amount: amount?.parse().unwrap_or(0),
        time,
    })
}

/// What a write-once artifact is; the `kind` column holds its [`Kind::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// The built, unsigned transaction (key: the chain).
    Unsigned,
    /// The request approvers sign (key: `request`).
    Envelope,
    /// An approver's signature (key: the principal).
    Approval,
    /// The exported envelope: approvals and the coordinator's signature (key: `request`).
    Export,
    /// A station's signed answer (key: the station).
    Response,
    /// A hardware-wallet cosigner's signed PSBT (key: its fingerprint).
    Cosigner,
    /// The transaction to broadcast (key: the chain).
    Final,
    /// A registered station (installation; key: its name).
    Station,
    /// An approver's Ed25519 key (installation; key: the principal).
    Approver,
    /// A deposit address handed out (key: its index).
    Address,
}

impl Kind {
    /// The stored name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::Envelope => "envelope",
            Self::Approval => "approval",
            Self::Export => "export",
            Self::Response => "response",
            Self::Cosigner => "cosigner",
            Self::Final => "final",
            Self::Station => "station",
            Self::Approver => "approver",
            Self::Address => "address",
        }
    }
}

/// A request to create.
#[derive(Debug, Clone, Copy)]
pub struct NewRequest<'a> {
    /// The caller's idempotency key.
    pub idempotency_key: Option<&'a str>,
    /// Who creates it.
    pub principal: &'a str,
    /// What is asked.
    pub body: &'a Value,
    /// When, Unix seconds.
    pub now: u64,
}

/// How a new request's first event is decided.
pub enum Initial {
    /// None: the request stays a draft.
    Draft,
    /// This event, actor and details.
    Fixed(Event, String, Value),
    /// By the risk engine, from the summary of the principal's history, read inside the
    /// creating transaction.
    Assess(crate::risk::HistoryQuery, Assessor),
}

impl std::fmt::Debug for Initial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Draft => f.write_str("Draft"),
            Self::Fixed(e, a, _) => write!(f, "Fixed({e:?}, {a:?})"),
            Self::Assess(q, _) => write!(f, "Assess({:?})", q.principal),
        }
    }
}

/// A step lease: `owner` holds step `step` of request `id` until `until`.
#[derive(Debug, Clone, Copy)]
pub struct Lease<'a> {
    /// The request.
    pub id: &'a str,
    /// `export`, `finalise` or `broadcast`.
    pub step: &'a str,
    /// Who takes it (a replica).
    pub owner: &'a str,
    /// Now, Unix seconds: a lease that ended by now is free.
    pub now: u64,
    /// Until when.
    pub until: u64,
}

/// Runs `work` once in one of `store`'s write transactions and returns what it made.
fn write_once<T>(
    store: &(impl Store + ?Sized),
    work: impl FnOnce(&mut dyn Tx) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let (mut work, mut out) = (Some(work), None);
    store.write(&mut |tx| {
        let work = work
            .take()
            .ok_or_else(|| StoreError::Backend("a write ran twice".into()))?;
        out = Some(work(tx)?);
        Ok(())
    })?;
    out.ok_or_else(|| StoreError::Backend("a write did not run".into()))
}

/// What every backend provides.
pub trait Store: Send + Sync {
    /// Creates a request, or returns the one created before with the same principal and
    /// idempotency key (and `false`). The same key with another body is refused. When the
    /// request is new, `initial` decides its first event in the same transaction: one
    /// commit.
    fn create(
        &self,
        new: NewRequest<'_>,
        initial: Initial,
    ) -> Result<(RequestRow, bool), StoreError>;

    /// [`Store::create`] with a first event given (an event, its actor and details).
    fn create_with(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
        initial: Option<(Event, &str, Value)>,
    ) -> Result<(RequestRow, bool), StoreError> {
        let new = NewRequest {
            idempotency_key,
            principal,
            body,
            now,
        };
        let initial = match initial {
            Some((e, a, d)) => Initial::Fixed(e, a.to_string(), d),
            None => Initial::Draft,
        };
        self.create(new, initial)
    }

    /// [`Store::create_with`] without an initial event.
    fn create_request(
        &self,
        idempotency_key: Option<&str>,
        principal: &str,
        body: &Value,
        now: u64,
    ) -> Result<(RequestRow, bool), StoreError> {
        self.create_with(idempotency_key, principal, body, now, None)
    }

    /// Creates a request whose first event the risk engine decides (`assess`) from the
    /// summary of its principal's history (`query`), read inside the creating
    /// transaction after every earlier create has committed: concurrent creates by one
    /// principal (from any replica) see each other, so two never both pass a limit that
    /// only one fits. A replay (same principal and key, same body) returns the stored
    /// request without assessing.
    fn create_assessed(
        &self,
        idempotency_key: Option<&str>,
        body: &Value,
        query: &crate::risk::HistoryQuery,
        assess: Assessor,
    ) -> Result<(RequestRow, bool), StoreError> {
        let (principal, now) = (&query.principal, query.now);
        let new = NewRequest {
            idempotency_key,
            principal,
            body,
            now,
        };
        self.create(new, Initial::Assess(query.clone(), assess))
    }

    /// A request.
    fn get(&self, id: &str) -> Result<Option<RequestRow>, StoreError>;

    /// Requests, newest first, filtered by state and principal.
    fn list(
        &self,
        state: Option<State>,
        by: Option<&str>,
        n: usize,
    ) -> Result<Vec<RequestRow>, StoreError> {
        let f = Filter {
            state,
            principal: by,
            limit: n,
            ..Filter::default()
        };
        self.page(&f)
    }

    /// One page of requests, newest first (`created` descending, then `id`), as `f`
    /// selects; at most 10,000.
    fn page(&self, f: &Filter<'_>) -> Result<Vec<RequestRow>, StoreError>;

    /// The last audit row's sequence number (0 when there is none).
    fn audit_tip(&self) -> Result<u64, StoreError>;

    /// The audit rows about `subject` (a request id), oldest first; at most 10,000.
    fn audit_of(&self, subject: &str) -> Result<Vec<AuditRecord>, StoreError>;

    /// Every request in `state` (on `network` when given), oldest first, without a cap:
    /// what the worker must move on and what holds a nonce or a coin. (`list` is for
    /// people and stops at 10,000.)
    fn in_state(&self, state: State, network: Option<&str>) -> Result<Vec<RequestRow>, StoreError>;

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
    ) -> Result<RequestRow, StoreError> {
        self.transition_alerting(id, event, actor, detail, None, now)
    }

    /// As [`Store::transition`]; when the state changes, also an alert row
    /// (`alert`, about the request, with the same detail) in the same transaction.
    fn transition_alerting(
        &self,
        id: &str,
        event: Event,
        actor: &str,
        detail: Value,
        alert: Option<&str>,
        now: u64,
    ) -> Result<RequestRow, StoreError> {
        write_once(self, |tx| {
            let mut row = tx
                .request_for_update(id)?
                .ok_or_else(|| StoreError::NotFound(id.into()))?;
            let next = row.state.apply(event)?;
            if next != row.state {
                tx.set_state(id, next, now)?;
                if let Some(action) = alert {
                    write::append(tx, (actor, action, id), detail.clone(), now)?;
                }
                let detail = write::state_detail(row.state, next, event, detail);
                write::append(tx, (actor, "request.state", id), detail, now)?;
                row.state = next;
                row.updated = now;
            }
            Ok(row)
        })
    }

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
    ) -> Result<bool, StoreError> {
        self.lease(&Lease {
            id,
            step,
            owner,
            now,
            until: now.saturating_add(ttl),
        })
    }

    /// Takes or renews `lease` (see [`Store::claim`]); its expiry never moves back.
    fn lease(&self, lease: &Lease<'_>) -> Result<bool, StoreError>;

    /// How far reader `name` of the audit chain has got (a webhook's outbox): the last
    /// sequence number it handled, 0 at first.
    fn cursor(&self, name: &str) -> Result<u64, StoreError>;

    /// Moves reader `name` from `from` (what it read) to `to`; `false`, and nothing
    /// changed, when another moved it meanwhile.
    fn move_cursor(&self, name: &str, from: u64, to: u64) -> Result<bool, StoreError>;

    /// Runs `work` in one write transaction: committed (and durable) when it returns
    /// `Ok`, rolled back when it returns `Err`.
    fn write(&self, work: Work<'_>) -> Result<(), StoreError>;

    /// Appends an audit row.
    fn audit(
        &self,
        actor: &str,
        action: &str,
        subject: &str,
        detail: Value,
        now: u64,
    ) -> Result<AuditRecord, StoreError> {
        write_once(self, |tx| {
            write::append(tx, (actor, action, subject), detail, now)
        })
    }

    /// Stores an API token's hash for a principal with roles (audited).
    fn add_token(
        &self,
        hash: &str,
        principal: &str,
        roles: &[String],
        now: u64,
    ) -> Result<(), StoreError> {
        self.add_token_expiring(hash, (principal, roles), None, "admin", now)
    }

    /// As [`Store::add_token`], valid until `expires` (Unix seconds) when given.
    fn add_token_expiring(
        &self,
        hash: &str,
        (principal, roles): (&str, &[String]),
        expires: Option<u64>,
        actor: &str,
        now: u64,
    ) -> Result<(), StoreError> {
        write_once(self, |tx| {
            let roles_column = roles.join(",");
            let token = NewToken(hash, principal, &roles_column, expires);
            tx.insert_token(&token, now)?;
            let id = hash.get(..16).unwrap_or(hash);
            let detail = serde_json::json!({ "roles": roles, "id": id, "expires": expires });
            write::append(tx, (actor, "token.add", principal), detail, now).map(drop)
        })
    }

    /// Revokes token `id` (by `actor`, audited): its principal, or `NotFound` when no live
    /// token has that id.
    fn revoke_token(&self, id: &str, actor: &str, now: u64) -> Result<String, StoreError> {
        write_once(self, |tx| {
            let principal = tx
                .revoke_token(id, now)?
                .ok_or_else(|| StoreError::NotFound(format!("live token {id}")))?;
            let detail = serde_json::json!({ "id": id });
            write::append(tx, (actor, "token.revoke", &principal), detail, now)?;
            Ok(principal)
        })
    }

    /// Every token (revoked and expired included), oldest first.
    fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// Records that token `hash` was used at `now` (at most once a minute).
    fn touch_token(&self, hash: &str, now: u64) -> Result<(), StoreError>;

    /// The token with this hash, whatever its state.
    fn token(&self, hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Audit rows from `from_seq`, in order.
    fn audit_rows(&self, from_seq: u64, limit: usize) -> Result<Vec<AuditRecord>, StoreError>;

    /// Records a write-once artifact of `subject` (a request id, or `""` for the
    /// installation: stations, approver keys): the built envelope, an approval, the
    /// exported envelope, a station's response, the final transaction. With it, in the
    /// same transaction, an audit row `artifact.<kind>` by `actor` with `detail`.
    /// `Ok(true)` when stored; `Ok(false)` when the same value was already there (a
    /// retry: nothing written); [`StoreError::Exists`] when another value is.
    #[allow(clippy::too_many_arguments)]
    fn put_artifact(
        &self,
        subject: &str,
        kind: Kind,
        key: &str,
        value: &str,
        actor: &str,
        detail: Value,
        now: u64,
    ) -> Result<bool, StoreError> {
        let at = At { subject, kind, key };
        write_once(self, |tx| {
            if tx.insert_artifact(&at, value, now)? {
                let action = format!("artifact.{}", at.kind.name());
                write::append(tx, (actor, &action, at.subject), detail, now)?;
                return Ok(true);
            }
            match tx.artifact_value(&at)? {
                Some(v) if v == value => Ok(false),
                _ => Err(StoreError::Exists(format!(
                    "{} {:?} of {:?}",
                    at.kind.name(),
                    at.key,
                    at.subject
                ))),
            }
        })
    }

    /// Every artifact of one kind, as `(subject, key, value)`, oldest first.
    fn artifacts_of(&self, kind: Kind) -> Result<Vec<[String; 3]>, StoreError>;

    /// The artifacts of `subject` of one kind, as `(key, value)` in key order.
    fn artifacts(&self, subject: &str, kind: Kind) -> Result<Vec<(String, String)>, StoreError>;

    /// Whether calls from many threads at once run in parallel (a connection pool), as
    /// opposed to one at a time on one connection.
    fn concurrent(&self) -> bool {
        false
    }

    /// One artifact.
    fn artifact(&self, subject: &str, kind: Kind, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self
            .artifacts(subject, kind)?
            .into_iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v))
    }
}
