//! API tokens: made (shown once, stored only as SHA-256), listed with their last use,
//! expiring, revoked and rotated — from the CLI (`coordinator token …`) and the API
//! (`/v1/tokens`, admin). A token is named by its id, the first 16 hex digits of its
//! hash, which is safe to show and log.

use anyhow::{anyhow, Result};

use crate::api::{token_hash, ROLES};
use crate::service::{now, DbArgs};
use crate::store::{Store, StoreError, TokenRecord};

/// `coordinator token …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum TokenCommand {
    /// Create an API token (printed once; stored hashed).
    Add {
        /// Who the token is for.
        #[arg(long, value_name = "NAME")]
        principal: String,
        /// Roles: admin, treasury, approver, risk, auditor, warm-tier.
        #[arg(long, value_delimiter = ',', required = true, value_name = "ROLE,…")]
        roles: Vec<String>,
        /// Valid for this many days [default: until revoked].
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u64>,
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
    },
    /// List every token: id, principal, roles, made, expiry, revocation, last use.
    List {
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Revoke a token at once (by its id, from `token list`).
    Revoke {
        /// The token's id.
        #[arg(long, value_name = "ID")]
        id: String,
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Replace a token: a new one (printed once) for the same principal and roles, the
    /// old one revoked.
    Rotate {
        /// The token's id.
        #[arg(long, value_name = "ID")]
        id: String,
        /// The new token is valid for this many days [default: until revoked].
        #[arg(long, value_name = "DAYS")]
        expires_in_days: Option<u64>,
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
    },
}

/// Why a token was not made, revoked or rotated.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// Bad input (a 400).
    #[error("{0}")]
    Invalid(String),
    /// No live token with that id (a 404).
    #[error("no live token with id {0}")]
    NotFound(String),
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn secret() -> Result<String, TokenError> {
    let raw = crate::random32().map_err(|e| TokenError::Invalid(e.to_string()))?;
    Ok(format!("sr_{}", hex::encode(&raw[..])))
}

/// Makes a token for `principal` with `roles`, valid `days` days when given (by
/// `actor`, audited): the token (to show once) and its record.
pub fn issue(
    store: &dyn Store,
    (principal, roles): (&str, &[String]),
    days: Option<u64>,
    actor: &str,
    now: u64,
) -> Result<(String, TokenRecord), TokenError> {
    if let Some(r) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        return Err(TokenError::Invalid(format!(
            "unknown role {r:?} ({})",
            ROLES.join(", ")
        )));
    }
    if roles.is_empty() || principal.trim().is_empty() || principal.len() > 128 {
        return Err(TokenError::Invalid(
            "a principal (1 to 128 characters) and roles are needed".into(),
        ));
    }
    if days == Some(0) || days.is_some_and(|d| d > 3650) {
        return Err(TokenError::Invalid("expiry: 1 to 3,650 days".into()));
    }
    let token = secret()?;
    let hash = token_hash(&token);
    let expires = days.map(|d| now + d * 86_400);
    store.add_token_expiring(&hash, (principal, roles), expires, actor, now)?;
    let record = store
        .token(&hash)?
        .ok_or_else(|| TokenError::Store(StoreError::NotFound("the new token".into())))?;
    Ok((token, record))
}

/// Replaces live token `id`: a new token for its principal and roles, then the old one
/// revoked (by `actor`).
pub fn rotate(
    store: &dyn Store,
    id: &str,
    days: Option<u64>,
    actor: &str,
    now: u64,
) -> Result<(String, TokenRecord), TokenError> {
    let old = store
        .tokens()?
        .into_iter()
        .find(|t| t.id == id && t.live(now))
        .ok_or_else(|| TokenError::NotFound(id.into()))?;
    let made = issue(store, (&old.principal, &old.roles), days, actor, now)?;
    revoke(store, id, actor, now)?;
    Ok(made)
}

/// Revokes live token `id` (by `actor`): its principal.
pub fn revoke(store: &dyn Store, id: &str, actor: &str, now: u64) -> Result<String, TokenError> {
    store.revoke_token(id, actor, now).map_err(|e| match e {
        StoreError::NotFound(_) => TokenError::NotFound(id.into()),
        e => TokenError::Store(e),
    })
}

/// Runs `coordinator token …`.
pub fn run(command: &TokenCommand) -> Result<()> {
    let fail = |e: TokenError| anyhow!(e.to_string());
    match command {
        TokenCommand::Add {
            principal,
            roles,
            expires_in_days,
            db,
        } => {
            let store = db.open(true)?;
            let (token, _) = issue(
                store.as_ref(),
                (principal, roles),
                *expires_in_days,
                "admin",
                now(),
            )
            .map_err(fail)?;
            // Shown once; only its hash is stored.
            println!("{token}");
        }
        TokenCommand::List { db } => {
            let store = db.open(true)?;
            let t = now();
            let when = |v: Option<u64>| v.map_or("-".to_string(), |s| s.to_string());
            println!("id\tprincipal\troles\tcreated\texpires\trevoked\tlast_used\tstate");
            for r in store.tokens()? {
                let state = if r.live(t) {
                    "live"
                } else if r.revoked.is_some() {
                    "revoked"
                } else {
                    "expired"
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{state}",
                    r.id,
                    r.principal,
                    r.roles.join(","),
                    r.created,
                    when(r.expires),
                    when(r.revoked),
                    when(r.last_used)
                );
            }
        }
        TokenCommand::Revoke { id, db } => {
            let store = db.open(true)?;
            let principal = revoke(store.as_ref(), id, "admin", now()).map_err(fail)?;
            println!("revoked token {id} of {principal}");
        }
        TokenCommand::Rotate {
            id,
            expires_in_days,
            db,
        } => {
            let store = db.open(true)?;
            let (token, r) =
                rotate(store.as_ref(), id, *expires_in_days, "admin", now()).map_err(fail)?;
            eprintln!("token {id} revoked; the new one is {} (shown once):", r.id);
            println!("{token}");
        }
    }
    Ok(())
}
