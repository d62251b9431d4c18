//! The risk rules as a table of cases.

use super::*;

const CONFIG: &str = include_str!("tests.toml");

const NOW: u64 = 1_800_000_000;

/// One case of `cases.toml`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    principal: Option<String>,
    purpose: Option<Purpose>,
    network: Option<String>,
    asset: Option<String>,
    to: String,
    amount: u128,
    #[serde(default)]
    history: Vec<Earlier>,
    want: String,
}

/// A request of the principal's history (the case's principal unless named).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Earlier {
    principal: Option<String>,
    to: String,
    amount: u128,
    ago: u64,
    times: Option<usize>,
}

#[derive(Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[test]
fn table() {
    let c = RiskConfig::from_toml(CONFIG).unwrap();
    let cases: Cases = toml::from_str(include_str!("cases.toml")).unwrap();
    assert_eq!(cases.case.len(), 22);
    let cases = cases.case.into_iter().map(|k| {
        let principal = k.principal.unwrap_or_else(|| "treasury".into());
        let network = k.network.unwrap_or_else(|| "bitcoin".into());
        let history = k
            .history
            .iter()
            .flat_map(|e| {
                let past = Past {
                    principal: e.principal.clone().unwrap_or_else(|| principal.clone()),
                    network: "bitcoin".into(),
                    asset: "native".into(),
                    destination: e.to.clone(),
                    amount: e.amount,
                    time: NOW - e.ago,
                };
                std::iter::repeat_n(past, e.times.unwrap_or(1))
            })
            .collect::<Vec<_>>();
        let proposal = Proposal {
            principal,
            purpose: k.purpose.unwrap_or(Purpose::Withdrawal),
            network,
            asset: k.asset.unwrap_or_else(|| "native".into()),
            destination: k.to,
            amount: k.amount,
            now: NOW,
        };
        (k.name, proposal, history, k.want)
    });
    for (name, proposal, history, want) in cases {
        let q = HistoryQuery::new(&c, &proposal, 0);
        let got = assess(&c, &proposal, &Summary::of(&q, &history));
        let kind = match &got {
            Outcome::Approve => "approve",
            Outcome::ManualReview(r) => {
                assert!(!r.is_empty());
                "review"
            }
            Outcome::Reject(r) => {
                assert!(!r.is_empty());
                "reject"
            }
        };
        assert_eq!(kind, want, "{name}: {got:?}");
    }
}

#[test]
fn config_errors_are_clear() {
    assert!(RiskConfig::from_toml("unknown = 1")
        .unwrap_err()
        .contains("unknown"));
    let e = RiskConfig::from_toml(
        "[[limits]]\nnetwork='bitcoin'\nasset='native'\nper_transaction='1.5'\nper_day='2'",
    )
    .unwrap_err();
    assert!(e.contains("not a whole number"), "{e}");
    let e = RiskConfig::from_toml(
        "[[limits]]\nnetwork='bitcoin'\nasset='native'\nper_transaction='1'\nper_day='2'\nreview_above='1 BTC'",
    )
    .unwrap_err();
    assert!(e.contains("review_above"), "{e}");
    assert_eq!(RiskConfig::from_toml("").unwrap().history_multiple, 5);
}
