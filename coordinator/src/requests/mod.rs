//! Request creation, for the API's `POST /v1/requests` and the requests the coordinator
//! drafts itself (treasury refills): what a caller may ask ([`check`]), and the risk
//! engine's assessment stored with the request in one transaction ([`submit`]).

pub mod decoded;
mod replace;
mod validate;

use std::sync::Arc;

use serde::Deserialize;
use serde_json::Value;

use crate::lifecycle::Event;
use crate::risk::{self, Outcome, Purpose, RiskConfig};
use crate::store::{RequestRow, Store, StoreError};

pub use replace::{replacement, NotReplaceable, ReplaceKind, Replaces};
pub use validate::{validate_amount, validate_asset, validate_destination};

/// The body of `POST /v1/requests`.
#[derive(Debug, Clone, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRequest {
    /// Network (`bitcoin`, `regtest`, `evm:1`, `solana:mainnet`, …).
    #[schema(examples("bitcoin", "evm:1", "solana:mainnet"))]
    pub network: String,
    /// `native`, or a token contract / mint.
    pub asset: String,
    /// Destination address.
    pub destination: String,
    /// Amount in base units, as a decimal string.
    #[schema(pattern = "^[1-9][0-9]*$")]
    pub amount: String,
    /// `withdrawal`, `refill`, `sweep` or `consolidation`.
    pub purpose: Purpose,
    /// Free text for the custodians.
    #[serde(default)]
    #[schema(max_length = 500)]
    pub memo: String,
    /// More recipients in the same transaction, a batched payout: Bitcoin (at most 500
    /// recipients in all) or Solana (at most 19 of SOL, or 8 of a token: what one
    /// transaction holds). `amount` is then the first recipient's; the risk engine
    /// limits the total.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schema(max_items = 499)]
    pub batch: Vec<Recipient>,
    /// The transaction this request replaces (speed-up or cancel): set by
    /// `POST /v1/requests/{id}/replace`, refused here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Replaces>,
}

/// One more recipient of a batched payout.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Recipient {
    /// Destination address.
    pub destination: String,
    /// Amount in base units, as a decimal string.
    #[schema(pattern = "^[1-9][0-9]*$")]
    pub amount: String,
}

/// Most recipients a batched payout pays.
pub const MAX_RECIPIENTS: usize = 500;

impl CreateRequest {
    /// Every recipient: the request's destination and amount, then its batch.
    pub fn recipients(&self) -> impl Iterator<Item = (&str, &str)> {
        std::iter::once((self.destination.as_str(), self.amount.as_str())).chain(
            self.batch
                .iter()
                .map(|r| (r.destination.as_str(), r.amount.as_str())),
        )
    }

    /// The typed body of a stored request (unreadable: the store was edited).
    pub fn of(row: &RequestRow) -> Result<Self, crate::pipeline::PipelineError> {
        serde_json::from_value(row.body.clone()).map_err(crate::chain::corrupt)
    }
}

/// Why a request is refused before anything is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// What was asked is malformed or not served here (400).
    Invalid(String),
    /// The caller's roles may not ask for it (403).
    Forbidden(String),
}

/// How many recipients one request of `req`'s network and asset pays, and why.
fn most_recipients(req: &CreateRequest) -> (usize, &'static str) {
    use crate::solana::{MAX_SOL_RECIPIENTS, MAX_TOKEN_RECIPIENTS};
    if req.network.starts_with("evm:") {
        (1, "an EVM transaction pays one destination; batched payouts are built for Bitcoin and Solana vaults")
    } else if !req.network.starts_with("solana:") {
        (MAX_RECIPIENTS, "one Bitcoin transaction")
    } else if req.asset == "native" {
        (MAX_SOL_RECIPIENTS, "what one Solana transaction holds")
    } else {
        (
            MAX_TOKEN_RECIPIENTS,
            "what one Solana transaction holds of token transfers",
        )
    }
}

/// Checks what a caller with `roles` asks, on the networks served here; returns the
/// amount in base units.
pub fn check(networks: &[String], roles: &[String], req: &CreateRequest) -> Result<u128, Refusal> {
    if !networks.contains(&req.network) {
        return Err(Refusal::Invalid(format!(
            "network {:?} is not served here ({})",
            req.network,
            networks.join(", ")
        )));
    }
    replace::refuse_in_create(req)?;
    let mut amount: u128 = 0;
    if !req.batch.is_empty() {
        let (most, what) = most_recipients(req);
        if most == 1 {
            return Err(Refusal::Invalid(format!("batch: {what}")));
        }
        if req.batch.len() >= most {
            return Err(Refusal::Invalid(format!(
                "batch: at most {most} recipients in all ({what})"
            )));
        }
    }
    for (n, (to, a)) in req.recipients().enumerate() {
        let at = |e: String| match n {
            0 => Refusal::Invalid(e),
            n => Refusal::Invalid(format!("batch[{}]: {e}", n - 1)),
        };
        let a = validate_amount(a).map_err(at)?;
        validate_destination(&req.network, to).map_err(at)?;
        amount = amount
            .checked_add(a)
            .ok_or_else(|| Refusal::Invalid("the batch's total is out of range".into()))?;
    }
    validate_asset(&req.network, &req.asset).map_err(Refusal::Invalid)?;
    if req.memo.chars().count() > 500 {
        return Err(Refusal::Invalid("memo over 500 characters".into()));
    }
    if roles.iter().all(|r| r == "warm-tier")
        && !matches!(req.purpose, Purpose::Refill | Purpose::Withdrawal)
    {
        return Err(Refusal::Forbidden(
            "the warm tier may ask for refills and withdrawals only".into(),
        ));
    }
    Ok(amount)
}

/// Assesses a validated request with the risk engine and stores it with its outcome in
/// one transaction (the API's create, and requests the coordinator drafts itself). The
/// outcome is `None` for a replay. `amount` is what the limits count (a batch's total);
/// each further recipient of a batch is assessed too (its earlier payments unknown: a
/// first transfer unless listed), and the worst outcome stands.
pub fn submit(
    store: &dyn Store,
    rules: &Arc<RiskConfig>,
    principal: &str,
    req: &CreateRequest,
    key: &str,
    amount: u128,
    now: u64,
) -> Result<(RequestRow, bool, Option<Outcome>), StoreError> {
    let body = serde_json::to_value(req).map_err(|e| StoreError::Backend(e.to_string()))?;
    // The risk engine decides on the principal's last 30 days (not rejected or
    // cancelled), read inside the transaction that stores the request and its outcome:
    // concurrent creates by one principal see each other's amounts.
    let proposal = risk::Proposal {
        principal: principal.to_string(),
        purpose: req.purpose,
        network: req.network.clone(),
        asset: req.asset.clone(),
        destination: req.destination.clone(),
        amount,
        now,
    };
    let query = risk::HistoryQuery::new(rules, &proposal, now.saturating_sub(30 * 86_400));
    let decided = Arc::new(std::sync::Mutex::new(None));
    let (rules, out) = (rules.clone(), decided.clone());
    let others: Vec<String> = req.batch.iter().map(|r| r.destination.clone()).collect();
    let assess: crate::store::Assessor = Arc::new(move |history| {
        let mut outcome = risk::assess(&rules, &proposal, history);
        let unknown = risk::Summary {
            paid_before: false,
            ..history.clone()
        };
        for to in &others {
            let p = risk::Proposal {
                destination: to.clone(),
                ..proposal.clone()
            };
            outcome = risk::worse(outcome, risk::assess(&rules, &p, &unknown));
        }
        let event = match &outcome {
            Outcome::Approve => Event::RiskApproved,
            Outcome::ManualReview(_) => Event::RiskReview,
            Outcome::Reject(_) => Event::RiskRejected,
        };
        let detail = serde_json::to_value(&outcome).unwrap_or(Value::Null);
        *out.lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
        (event, "risk-engine".to_string(), detail)
    });
    let (row, created) = store.create_assessed(Some(key), &body, &query, assess)?;
    let outcome = decided.lock().unwrap_or_else(|p| p.into_inner()).take();
    Ok((row, created, outcome.filter(|_| created)))
}
