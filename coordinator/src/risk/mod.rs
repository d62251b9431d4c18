//! The risk engine: a chain of pure rules over a proposed transfer and the requester's
//! history, configured in TOML. Outcome: approve, manual review (with reasons) or reject
//! (with reasons). A reject from any rule wins over reviews; reviews over approval.

use serde::{Deserialize, Serialize};

/// A destination on a network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Destination {
    /// Network (`bitcoin`, `evm:1`, `solana:mainnet`, …).
    pub network: String,
    /// Address as the chain writes it (EVM compared case-insensitively).
    pub address: String,
    /// Operator's label.
    #[serde(default)]
    pub label: String,
}

/// Amount limits for an asset, for everyone or one principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    /// Network.
    pub network: String,
    /// `native` or the token contract / mint.
    pub asset: String,
    /// Only for this principal (`None`: everyone without their own entry).
    #[serde(default)]
    pub principal: Option<String>,
    /// Largest single transfer, base units (decimal string).
    pub per_transaction: String,
    /// Largest total per rolling 24 h, base units.
    pub per_day: String,
    /// Above this amount (base units) a request is held for a risk-role review, however
    /// well known its destination: the role condition on amounts.
    #[serde(default)]
    pub review_above: Option<String>,
}

/// A velocity rule: at most `max_count` requests by a principal within `window_secs`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Velocity {
    /// Only for this principal (`None`: everyone).
    #[serde(default)]
    pub principal: Option<String>,
    /// Requests allowed in the window.
    pub max_count: u32,
    /// Window length.
    pub window_secs: u64,
}

/// The risk configuration (TOML).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RiskConfig {
    /// Never pay these.
    #[serde(default)]
    pub blacklist: Vec<Destination>,
    /// Known destinations: no first-time review.
    #[serde(default)]
    pub allow_list: Vec<Destination>,
    /// Registered warm/hot wallet addresses: the only destinations of a refill.
    #[serde(default)]
    pub warm_addresses: Vec<Destination>,
    /// Amount limits; an asset without one is rejected.
    #[serde(default)]
    pub limits: Vec<Limit>,
    /// Velocity rules.
    #[serde(default)]
    pub velocity: Vec<Velocity>,
    /// Review a transfer above this multiple of the principal's largest earlier transfer
    /// of the asset (0 disables the rule).
    #[serde(default = "default_multiple")]
    pub history_multiple: u32,
}

fn default_multiple() -> u32 {
    5
}

impl RiskConfig {
    /// Parses TOML; unknown keys are errors.
    pub fn from_toml(text: &str) -> Result<Self, String> {
        let c: Self = toml::from_str(text).map_err(|e| e.to_string())?;
        for l in &c.limits {
            let above = l.review_above.as_ref();
            for (what, v) in [
                ("per_transaction", Some(&l.per_transaction)),
                ("per_day", Some(&l.per_day)),
                ("review_above", above),
            ]
            .into_iter()
            .filter_map(|(w, v)| Some((w, v?)))
            {
                v.parse::<u128>().map_err(|_| {
                    format!(
                        "limit {} {} {what}: {v:?} is not a whole number of base units",
                        l.network, l.asset
                    )
                })?;
            }
        }
        Ok(c)
    }
}

/// Why money moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Purpose {
    /// To a customer or counterparty.
    Withdrawal,
    /// Cold to warm/hot.
    Refill,
    /// Deposit addresses to the vault.
    Sweep,
    /// Within the vault.
    Consolidation,
}

/// A transfer being assessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proposal {
    /// Who asks.
    pub principal: String,
    /// Why.
    pub purpose: Purpose,
    /// Network.
    pub network: String,
    /// `native` or contract / mint.
    pub asset: String,
    /// Destination.
    pub destination: String,
    /// Base units.
    pub amount: u128,
    /// Unix seconds.
    pub now: u64,
}

/// An earlier transfer (any state but rejected or cancelled).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Past {
    /// Who asked.
    pub principal: String,
    /// Network.
    pub network: String,
    /// Asset.
    pub asset: String,
    /// Destination.
    pub destination: String,
    /// Base units.
    pub amount: u128,
    /// Unix seconds.
    pub time: u64,
}

/// One rule's finding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// Nothing to say.
    Pass,
    /// A person must look.
    Review(String),
    /// Refused.
    Reject(String),
}

/// The engine's outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "outcome", content = "reasons", rename_all = "kebab-case")]
pub enum Outcome {
    /// Goes on to approvals.
    Approve,
    /// Held for the risk role.
    ManualReview(Vec<String>),
    /// Refused.
    Reject(Vec<String>),
}

fn same_address(network: &str, a: &str, b: &str) -> bool {
    if network.starts_with("evm:") {
        a.eq_ignore_ascii_case(b)
    } else {
        a == b
    }
}

fn listed(list: &[Destination], p: &Proposal) -> bool {
    list.iter()
        .any(|d| d.network == p.network && same_address(&p.network, &d.address, &p.destination))
}

/// What the rules ask of a principal's history for one proposal. A backend answers it
/// with its own query; [`Summary::of`] is the reference answer over rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// Whose requests.
    pub principal: String,
    /// The proposal's network.
    pub network: String,
    /// The proposal's asset (compared without case).
    pub asset: String,
    /// The proposal's destination (compared without case on EVM networks).
    pub destination: String,
    /// Now, Unix seconds.
    pub now: u64,
    /// Requests created before this do not count.
    pub since: u64,
    /// The velocity rules' windows, seconds, in the configuration's order.
    pub windows: Vec<u64>,
}

impl HistoryQuery {
    /// The query for `p` under `c`, over requests since `since`.
    pub fn new(c: &RiskConfig, p: &Proposal, since: u64) -> Self {
        Self {
            principal: p.principal.clone(),
            network: p.network.clone(),
            asset: p.asset.clone(),
            destination: p.destination.clone(),
            now: p.now,
            since,
            windows: c.velocity.iter().map(|v| v.window_secs).collect(),
        }
    }
}

/// A principal's history as the rules see it for one proposal (requests in any state
/// but rejected or cancelled, since the query's `since`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Amounts of the same network and asset in the last 24 hours (saturating).
    pub day_total: u128,
    /// Requests within each of the query's windows.
    pub in_window: Vec<u64>,
    /// The largest amount of the same network and asset.
    pub largest: Option<u128>,
    /// Whether the destination was paid on this network before.
    pub paid_before: bool,
}

impl Summary {
    /// The summary of `history` (other principals' rows and rows before `since` are
    /// ignored).
    pub fn of(q: &HistoryQuery, history: &[Past]) -> Self {
        let mut s = Self {
            in_window: vec![0; q.windows.len()],
            ..Self::default()
        };
        for x in history {
            s.add(q, x);
        }
        s
    }

    /// Counts one more earlier request.
    pub fn add(&mut self, q: &HistoryQuery, x: &Past) {
        if x.principal != q.principal || x.time < q.since {
            return;
        }
        if self.in_window.len() != q.windows.len() {
            self.in_window.resize(q.windows.len(), 0);
        }
        let age = q.now.saturating_sub(x.time);
        let same_asset = x.network == q.network && x.asset.eq_ignore_ascii_case(&q.asset);
        if same_asset {
            if age < 86_400 {
                self.day_total = self.day_total.saturating_add(x.amount);
            }
            self.largest = Some(self.largest.map_or(x.amount, |m| m.max(x.amount)));
        }
        for (w, n) in q.windows.iter().zip(self.in_window.iter_mut()) {
            if age < *w {
                *n += 1;
            }
        }
        if x.network == q.network && same_address(&q.network, &x.destination, &q.destination) {
            self.paid_before = true;
        }
    }
}

/// A rule.
pub type Rule = fn(&RiskConfig, &Proposal, &Summary) -> Finding;

/// Blacklisted destinations are rejected.
pub fn blacklist(c: &RiskConfig, p: &Proposal, _: &Summary) -> Finding {
    if listed(&c.blacklist, p) {
        Finding::Reject(format!("destination {} is blacklisted", p.destination))
    } else {
        Finding::Pass
    }
}

/// A refill goes only to a registered warm address.
pub fn refill_destination(c: &RiskConfig, p: &Proposal, _: &Summary) -> Finding {
    if p.purpose == Purpose::Refill && !listed(&c.warm_addresses, p) {
        Finding::Reject(format!(
            "refill to {}, which is not a registered warm address",
            p.destination
        ))
    } else {
        Finding::Pass
    }
}

fn limit_for<'a>(c: &'a RiskConfig, p: &Proposal) -> Option<&'a Limit> {
    let matches = |l: &&Limit| l.network == p.network && l.asset.eq_ignore_ascii_case(&p.asset);
    c.limits
        .iter()
        .filter(matches)
        .find(|l| l.principal.as_deref() == Some(p.principal.as_str()))
        .or_else(|| {
            c.limits
                .iter()
                .filter(matches)
                .find(|l| l.principal.is_none())
        })
}

/// Per-transaction and per-day limits (per principal where configured).
pub fn limits(c: &RiskConfig, p: &Proposal, h: &Summary) -> Finding {
    let Some(l) = limit_for(c, p) else {
        return Finding::Reject(format!(
            "no limit configured for {} on {}",
            p.asset, p.network
        ));
    };
    let per_tx: u128 = l.per_transaction.parse().unwrap_or(0);
    let per_day: u128 = l.per_day.parse().unwrap_or(0);
    if p.amount > per_tx {
        return Finding::Reject(format!(
            "{} over the per-transaction limit {per_tx}",
            p.amount
        ));
    }
    let day = h.day_total.saturating_add(p.amount);
    if day > per_day {
        return Finding::Reject(format!(
            "{day} in 24 h with this one, over the daily limit {per_day}"
        ));
    }
    Finding::Pass
}

/// Above the limit's `review_above`: held for a risk-role review.
pub fn amount_review(c: &RiskConfig, p: &Proposal, _: &Summary) -> Finding {
    let above = limit_for(c, p)
        .and_then(|l| l.review_above.as_deref())
        // Checked when the rules were read; a value that does not parse holds everything.
        .map(|v| v.parse::<u128>().unwrap_or(0));
    match above {
        Some(x) if p.amount > x => Finding::Review(format!(
            "{} above {x}: a request this large needs a risk-role review",
            p.amount
        )),
        _ => Finding::Pass,
    }
}

/// Too many requests in a window: held for review.
pub fn velocity(c: &RiskConfig, p: &Proposal, h: &Summary) -> Finding {
    for (k, v) in c.velocity.iter().enumerate() {
        if v.principal.as_deref().is_some_and(|x| x != p.principal) {
            continue;
        }
        let n = h.in_window.get(k).copied().unwrap_or(0) + 1;
        if n > u64::from(v.max_count) {
            return Finding::Review(format!(
                "{n} requests by {} within {} s (at most {})",
                p.principal, v.window_secs, v.max_count
            ));
        }
    }
    Finding::Pass
}

/// A destination never paid before (and not allow-listed or a warm address): review.
pub fn first_time_destination(c: &RiskConfig, p: &Proposal, h: &Summary) -> Finding {
    if matches!(p.purpose, Purpose::Consolidation | Purpose::Sweep)
        || listed(&c.allow_list, p)
        || listed(&c.warm_addresses, p)
        || h.paid_before
    {
        Finding::Pass
    } else {
        Finding::Review(format!("first transfer to {}", p.destination))
    }
}

/// Far above the principal's largest earlier transfer of the asset: review.
pub fn unusual_amount(c: &RiskConfig, p: &Proposal, h: &Summary) -> Finding {
    if c.history_multiple == 0 {
        return Finding::Pass;
    }
    match h.largest {
        Some(m) if p.amount > m.saturating_mul(u128::from(c.history_multiple)) => {
            Finding::Review(format!(
                "{} is more than {}x {}'s largest earlier transfer ({m})",
                p.amount, c.history_multiple, p.principal
            ))
        }
        _ => Finding::Pass,
    }
}

/// The rules, in order.
pub const RULES: [Rule; 7] = [
    blacklist,
    refill_destination,
    limits,
    amount_review,
    velocity,
    first_time_destination,
    unusual_amount,
];

/// Runs every rule.
pub fn assess(c: &RiskConfig, p: &Proposal, history: &Summary) -> Outcome {
    let (mut rejects, mut reviews) = (Vec::new(), Vec::new());
    for rule in RULES {
        match rule(c, p, history) {
            Finding::Pass => {}
            Finding::Review(r) => reviews.push(r),
            Finding::Reject(r) => rejects.push(r),
        }
    }
    if !rejects.is_empty() {
        Outcome::Reject(rejects)
    } else if !reviews.is_empty() {
        Outcome::ManualReview(reviews)
    } else {
        Outcome::Approve
    }
}

/// The worse of two outcomes, with the reasons of both (each once).
pub fn worse(a: Outcome, b: Outcome) -> Outcome {
    let merge = |mut x: Vec<String>, y: Vec<String>| {
        for r in y {
            if !x.contains(&r) {
                x.push(r);
            }
        }
        x
    };
    match (a, b) {
        (Outcome::Reject(x), Outcome::Reject(y)) => Outcome::Reject(merge(x, y)),
        (Outcome::Reject(x), _) | (_, Outcome::Reject(x)) => Outcome::Reject(x),
        (Outcome::ManualReview(x), Outcome::ManualReview(y)) => Outcome::ManualReview(merge(x, y)),
        (Outcome::ManualReview(x), _) | (_, Outcome::ManualReview(x)) => Outcome::ManualReview(x),
        (Outcome::Approve, Outcome::Approve) => Outcome::Approve,
    }
}

#[cfg(test)]
mod tests;
