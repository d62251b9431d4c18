//! The station's verdict: a pure function of the facts it derived, its signed policy and
//! its ledger's history. Nothing here reads a label, a purpose's name or a display string.

use airgap_protocol::envelope::Purpose;
use airgap_protocol::network::Network;

use super::facts::{Class, Facts, Feature};
use super::policy::Policy;
use super::refusal::Refusal;
use crate::ledger::ReplayIndex;

/// Seconds in the velocity window.
pub const DAY: u64 = 86_400;

/// The policy name of a purpose (approvals per purpose).
pub fn purpose_name(p: Purpose) -> &'static str {
    match p {
        Purpose::Withdrawal => "withdrawal",
        Purpose::Refill => "refill",
        Purpose::Sweep => "sweep",
        Purpose::Consolidation => "consolidation",
        Purpose::KeyRegistration => "key-registration",
    }
}

/// The purpose whose approval count a class of transfer needs: back to the station is a
/// consolidation, to a registered internal destination a refill, anything else a
/// withdrawal.
pub fn purpose_of(class: &Class) -> Purpose {
    match class {
        Class::Own { .. } => Purpose::Consolidation,
        Class::Internal => Purpose::Refill,
        Class::External => Purpose::Withdrawal,
    }
}

/// Whether the new spend key `new` conflicts with `signed`, a key signed before. Keys
/// are `resource` or `resource#content`: the same resource with other content (or none)
/// conflicts; identical keys do not (the same content again, e.g. an EVM fee bump of the
/// same call at the same nonce). A new EVM cancel (nothing, to the station's own
/// address) conflicts with nothing: whichever transaction lands, the cancel moves no
/// funds. A cancel signed before still conflicts with any other new call.
fn spend_conflict(signed: &str, new: &str) -> bool {
    let split = |k| resource(k).unwrap_or((k, ""));
    let ((r_signed, _), (r_new, c_new)) = (split(signed), split(new));
    let cancel = r_new.starts_with("evm:") && c_new == super::evm::CANCEL;
    signed != new && r_signed == r_new && !cancel
}

/// A spend key's resource and content, when it names its content (`resource#content`).
fn resource(key: &str) -> Option<(&str, &str)> {
    key.split_once('#')
}

/// The resources a payload's spend keys consume when each key names its content too (an
/// EVM account's nonce, `resource#call`): payloads with the same resources are
/// alternatives, of which one at most is mined. `None` for anything else (a Bitcoin
/// outpoint or a Solana nonce value is never signed twice): counted on its own.
fn alternatives(spends: &[String]) -> Option<Vec<&str>> {
    let mut r = spends
        .iter()
        .map(|k| resource(k).map(|(r, _)| r))
        .collect::<Option<Vec<&str>>>()?;
    if r.is_empty() {
        return None;
    }
    r.sort_unstable();
    Some(r)
}

fn same_asset(network: Network, a: &str, b: &str) -> bool {
    match network {
        Network::Evm(_) => a.eq_ignore_ascii_case(b),
        _ => a == b,
    }
}

/// Checks one payload's facts; returns the checks that passed, in words, or why not.
/// `earlier` are the facts of the payloads before it in the same request.
pub fn check_payload(
    f: &Facts,
    policy: &Policy,
    approvals: usize,
    history: &ReplayIndex,
    earlier: &[&Facts],
    now: u64,
) -> Result<Vec<String>, Refusal> {
    let index = f.index;
    let network = f.network;
    if !policy.allows_network(network) {
        return Err(Refusal::NetworkNotAllowed {
            index,
            network: network.to_string(),
        });
    }
    let mut passed = vec![format!(
        "network {network}, derived from the transaction and the station's keys"
    )];

    // Replay: this payload, or anything it spends, signed before (or earlier in this request).
    if let Some(previous) = history.payloads.get(&f.digest) {
        return Err(Refusal::PayloadReplayed {
            index,
            previous: previous.clone(),
        });
    }
    for s in &f.spends {
        let with_content = resource(s).is_some();
        let here = earlier.iter().any(|e| {
            e.digest != f.digest
                && e.spends.iter().any(|k| {
                    if with_content {
                        spend_conflict(k, s)
                    } else {
                        k == s
                    }
                })
        });
        let before = if with_content {
            history.spends.keys().any(|k| spend_conflict(k, s))
        } else {
            history.spends.get(s).is_some_and(|d| *d != f.digest)
        };
        if before || here {
            return Err(Refusal::DoubleSpend {
                index,
                what: s.clone(),
            });
        }
    }
    passed.push("not signed before; spends nothing already spent".into());

    for feature in &f.features {
        let what = match feature {
            Feature::UnknownCall { contract, selector } if !policy.allow_unknown_calldata => Some(
                format!("an undecoded call of {contract} (selector {selector})"),
            ),
            Feature::UnknownProgram { program } if !policy.allow_unknown_programs => {
                Some(format!("an instruction of unknown program {program}"))
            }
            Feature::UnlimitedApproval { spender } => {
                Some(format!("an unlimited token approval to {spender}"))
            }
            Feature::ContractCreation => Some("a contract creation".into()),
            _ => None,
        };
        if let Some(what) = what {
            return Err(Refusal::Disallowed { index, what });
        }
    }

    // Destinations: everything not back to the station is allow-listed (internal
    // destinations are), or off-list sends are allowed with enough approvals.
    for t in &f.transfers {
        match t.class {
            Class::Own { .. } | Class::Internal => {}
            Class::External if policy.allows(network, &t.to) => {}
            Class::External => match policy.off_list_approvals {
                Some(n) if approvals >= n => passed.push(format!(
                    "{} off the allow-list, approved by {approvals}",
                    t.to
                )),
                _ => {
                    return Err(Refusal::NotAllowListed {
                        index,
                        address: t.to.clone(),
                    })
                }
            },
        }
    }

    // Every token the payload touches is one the policy names, even one "moved back to
    // the station": a call is only a token transfer if its contract is that token.
    for t in &f.transfers {
        if let super::facts::AssetId::Token(token) = &t.asset {
            if policy.limit(network, token).is_none() {
                return Err(Refusal::UnlistedAsset {
                    index,
                    network: network.to_string(),
                    asset: token.clone(),
                });
            }
        }
    }

    // Amounts per asset, fees included: per transaction, and the rolling 24 hours of this
    // network.
    let outflow = f.outflow();
    for (asset, amount) in &outflow {
        let asset = asset.policy_name();
        let (per_tx, per_day) =
            policy
                .limit(network, asset)
                .ok_or_else(|| Refusal::UnlistedAsset {
                    index,
                    network: network.to_string(),
                    asset: asset.to_string(),
                })?;
        if *amount > per_tx {
            return Err(Refusal::OverTransactionLimit {
                index,
                asset: asset.to_string(),
                amount: *amount,
                limit: per_tx,
            });
        }
        let window = now.saturating_sub(DAY);
        // Transactions signed at one resource (an EVM account's nonce) replace each
        // other: only one can be mined, so each such group counts its largest, and so
        // does this payload's group with it (a speed-up is not paid twice).
        let mut groups: std::collections::BTreeMap<Vec<&str>, u128> = Default::default();
        let mut alone: u128 = 0;
        for (_, s) in history
            .history
            .iter()
            .filter(|(t, s)| *t > window && Network::parse(&s.network) == Ok(network))
        {
            let paid = s
                .amounts
                .iter()
                .filter(|(a, _)| same_asset(network, a, asset))
                .filter_map(|(_, v)| v.parse::<u128>().ok())
                .fold(0u128, u128::saturating_add);
            match alternatives(&s.spends) {
                Some(key) => {
                    let group = groups.entry(key).or_default();
                    *group = (*group).max(paid);
                }
                None => alone = alone.saturating_add(paid),
            }
        }
        let replaced = alternatives(&f.spends)
            .and_then(|k| groups.remove(&k))
            .unwrap_or(0);
        let past: u128 = groups.values().fold(alone, |a, b| a.saturating_add(*b));
        let this_request: u128 = earlier
            .iter()
            .filter(|e| e.network == network)
            .flat_map(|e| e.outflow())
            .filter(|(a, _)| same_asset(network, a.policy_name(), asset))
            .map(|(_, v)| v)
            .fold(0u128, u128::saturating_add);
        let total = past
            .saturating_add(this_request)
            .saturating_add((*amount).max(replaced));
        if total > per_day {
            return Err(Refusal::OverDailyLimit {
                index,
                asset: asset.to_string(),
                amount: *amount,
                total,
                limit: per_day,
            });
        }
        passed.push(format!(
            "{asset}: {amount} within {per_tx} per transaction and {per_day} per 24 h ({total} with this)"
        ));
    }

    // Fees fail closed: a network without a fee limit signs nothing.
    let (max, per_mille) = policy
        .fee_limit(network)
        .ok_or_else(|| Refusal::FeeTooHigh {
            index,
            fee: f.fee,
            limit: format!("station policy sets no fee limit for {network}"),
        })?;
    if f.fee > max {
        return Err(Refusal::FeeTooHigh {
            index,
            fee: f.fee,
            limit: format!("at most {max}"),
        });
    }
    // fee / paid > per_mille / 1000, without rounding.
    let paid = f.native_paid();
    if paid > 0 && f.fee.saturating_mul(1000) > paid.saturating_mul(u128::from(per_mille)) {
        return Err(Refusal::FeeTooHigh {
            index,
            fee: f.fee,
            limit: format!("at most {per_mille}‰ of the amount"),
        });
    }
    passed.push(format!("fee {} within policy", f.fee));
    Ok(passed)
}

/// The approvals a request needs: the most of its stated purpose's, of every class of
/// transfer it makes, and of a sweep when it spends deposit coins (a stated purpose can
/// only make it stricter).
pub fn required_approvals(facts: &[&Facts], claimed: Purpose, policy: &Policy) -> (usize, Purpose) {
    let mut need = (policy.approvals_for(purpose_name(claimed)), claimed);
    for f in facts {
        // Deposit coins make a sweep, whatever the request is labelled.
        let sweep = f.inputs.iter().any(|i| i.deposit).then_some(Purpose::Sweep);
        for p in f
            .transfers
            .iter()
            .map(|t| purpose_of(&t.class))
            .chain(sweep)
        {
            let n = policy.approvals_for(purpose_name(p));
            if n > need.0 {
                need = (n, p);
            }
        }
    }
    need
}

/// Checks every payload of a request and the approvals its transfers need; returns the
/// checks that passed per payload, or the first refusal.
pub fn check_request(
    facts: &[&Facts],
    claimed: Purpose,
    policy: &Policy,
    approvals: usize,
    history: &ReplayIndex,
    now: u64,
) -> Result<Vec<Vec<String>>, Refusal> {
    let mut out = Vec::new();
    for (i, f) in facts.iter().enumerate() {
        out.push(check_payload(
            f,
            policy,
            approvals,
            history,
            &facts[..i],
            now,
        )?);
    }
    let (need, purpose) = required_approvals(facts, claimed, policy);
    if approvals < need {
        return Err(Refusal::InsufficientApprovals {
            have: approvals,
            need,
            class: purpose_name(purpose).into(),
        });
    }
    Ok(out)
}
