//! Replacements of an EVM transaction that left for the station: a speed-up (the same
//! call at its nonce with higher fees) or a cancel (nothing, to the vault itself, at its
//! nonce). A replacement is a request of its own — risk, approvals, the station — whose
//! body names what it replaces; whichever transaction lands, the other fails as dropped,
//! so only one of them moves anything.

use serde::{Deserialize, Serialize};

use super::{CreateRequest, Refusal};
use crate::lifecycle::State;
use crate::risk::Purpose;
use crate::store::RequestRow;

/// How a request replaces another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ReplaceKind {
    /// The same call with higher fees.
    SpeedUp,
    /// A zero-value transfer to the vault itself at the same nonce, with higher fees.
    Cancel,
}

/// The request a replacement replaces (set by `POST /v1/requests/{id}/replace` only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Replaces {
    /// The request whose transaction is replaced.
    pub request: String,
    /// Speed-up or cancel.
    pub kind: ReplaceKind,
}

/// Why a replacement is not made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotReplaceable {
    /// Not an EVM request, or nothing of it left the coordinator (422).
    Invalid(String),
    /// Its state does not allow it (409).
    State(String),
}

/// The body of a replacement of `original` (`exported`: its request left for a station
/// and not every station that answered refused it; `vault`: the vault's address, a
/// cancel's destination). A speed-up is for a broadcast transaction that has not
/// confirmed; a cancel also for one that ended after it was exported (a signed
/// transaction may exist: the cancel uses up its nonce). One the stations only refused
/// signed nothing: its nonce is free, maybe taken by the next request already.
pub fn replacement(
    original: &RequestRow,
    body: &CreateRequest,
    kind: ReplaceKind,
    exported: bool,
    vault: &str,
) -> Result<CreateRequest, NotReplaceable> {
    if !body.network.starts_with("evm:") {
        return Err(NotReplaceable::Invalid(format!(
            "only EVM transactions are replaced; {} is on {}",
            original.id, body.network
        )));
    }
    let ok = match (kind, original.state) {
        (_, State::Broadcast) => true,
        (ReplaceKind::Cancel, s) => {
            s.is_final() && !matches!(s, State::Confirmed | State::Rejected) && exported
        }
        _ => false,
    };
    if !ok {
        let why = match kind {
            ReplaceKind::SpeedUp => "a speed-up is for a broadcast transaction",
            ReplaceKind::Cancel => {
                "a cancel is for a broadcast transaction, or one that ended after it was exported and was not refused (a refused request signed nothing)"
            }
        };
        let state = serde_json::to_value(original.state).unwrap_or_default();
        return Err(NotReplaceable::State(format!(
            "request {} is {}: {why}",
            original.id,
            state.as_str().unwrap_or("?")
        )));
    }
    let replaces = Some(Replaces {
        request: original.id.clone(),
        kind,
    });
    Ok(match kind {
        ReplaceKind::SpeedUp => CreateRequest {
            memo: format!("speed-up of {}", original.id),
            replaces,
            ..body.clone()
        },
        ReplaceKind::Cancel => CreateRequest {
            network: body.network.clone(),
            asset: "native".into(),
            destination: vault.into(),
            amount: "0".into(),
            purpose: Purpose::Consolidation,
            memo: format!("cancel of {}: nothing, to the vault itself", original.id),
            batch: Vec::new(),
            replaces,
        },
    })
}

/// A replacement comes only from its route, never from `POST /v1/requests`.
pub fn refuse_in_create(req: &CreateRequest) -> Result<(), Refusal> {
    match req.replaces {
        Some(_) => Err(Refusal::Invalid(
            "replaces: a replacement is made with POST /v1/requests/{id}/replace".into(),
        )),
        None => Ok(()),
    }
}
