//! The risk rules as a table of cases.

use super::*;

const CONFIG: &str = r#"
history_multiple = 5

[[blacklist]]
network = "evm:1"
address = "0xBAD0000000000000000000000000000000000bad"

[[allow_list]]
network = "bitcoin"
address = "bc1qknown"
label = "market maker"

[[warm_addresses]]
network = "bitcoin"
address = "bc1qwarm"

[[limits]]
network = "bitcoin"
asset = "native"
per_transaction = "100000000"
per_day = "250000000"

[[limits]]
network = "bitcoin"
asset = "native"
principal = "warm-tier"
per_transaction = "20000000"
per_day = "50000000"

[[limits]]
network = "evm:1"
asset = "native"
per_transaction = "10000000000000000000"
per_day = "50000000000000000000"

[[velocity]]
max_count = 3
window_secs = 3600
"#;

const NOW: u64 = 1_800_000_000;

fn p(principal: &str, purpose: Purpose, network: &str, dest: &str, amount: u128) -> Proposal {
    Proposal {
        principal: principal.into(),
        purpose,
        network: network.into(),
        asset: "native".into(),
        destination: dest.into(),
        amount,
        now: NOW,
    }
}

fn past(principal: &str, dest: &str, amount: u128, ago: u64) -> Past {
    Past {
        principal: principal.into(),
        network: "bitcoin".into(),
        asset: "native".into(),
        destination: dest.into(),
        amount,
        time: NOW - ago,
    }
}

#[test]
fn table() {
    let c = RiskConfig::from_toml(CONFIG).unwrap();
    use Purpose::*;
    let known = vec![past("treasury", "bc1qknown", 30_000_000, 7200)];
    let busy: Vec<Past> = (0..3)
        .map(|i| past("treasury", "bc1qknown", 1_000, 60 * i))
        .collect();
    let heavy_day = vec![
        past("treasury", "bc1qknown", 90_000_000, 3600),
        past("treasury", "bc1qknown", 90_000_000, 7200),
    ];
    let cases: Vec<(&str, Proposal, Vec<Past>, &str)> = vec![
        (
            "known destination within limits",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 50_000_000),
            known.clone(),
            "approve",
        ),
        (
            "allow-listed, no history",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 1_000),
            vec![],
            "approve",
        ),
        (
            "first-time destination",
            p("treasury", Withdrawal, "bitcoin", "bc1qnew", 1_000),
            vec![],
            "review",
        ),
        (
            "destination paid before",
            p("treasury", Withdrawal, "bitcoin", "bc1qold", 1_000),
            vec![past("treasury", "bc1qold", 1_000, 99_999)],
            "approve",
        ),
        (
            "blacklisted, case-insensitive on EVM",
            p(
                "treasury",
                Withdrawal,
                "evm:1",
                "0xbad0000000000000000000000000000000000BAD",
                1,
            ),
            vec![],
            "reject",
        ),
        (
            "over per-transaction",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 100_000_001),
            known.clone(),
            "reject",
        ),
        (
            "exactly the per-transaction limit",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 100_000_000),
            known.clone(),
            "approve",
        ),
        (
            "over per-day with earlier ones",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 80_000_000),
            heavy_day.clone(),
            "reject",
        ),
        (
            "earlier ones older than a day",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 80_000_000),
            vec![past("treasury", "bc1qknown", 200_000_000, 86_400)],
            "approve",
        ),
        (
            "principal's own tighter limit",
            p("warm-tier", Refill, "bitcoin", "bc1qwarm", 30_000_000),
            vec![],
            "reject",
        ),
        (
            "refill within the principal's limit",
            p("warm-tier", Refill, "bitcoin", "bc1qwarm", 15_000_000),
            vec![],
            "approve",
        ),
        (
            "refill to a non-warm address",
            p("warm-tier", Refill, "bitcoin", "bc1qknown", 1_000),
            vec![],
            "reject",
        ),
        (
            "asset without a limit",
            Proposal {
                asset: "0xToken".into(),
                ..p("treasury", Withdrawal, "evm:1", "0xabc", 1)
            },
            vec![],
            "reject",
        ),
        (
            "network without a limit",
            p("treasury", Withdrawal, "solana:mainnet", "Abc", 1),
            vec![],
            "reject",
        ),
        (
            "velocity: fourth in the hour",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 1_000),
            busy.clone(),
            "review",
        ),
        (
            "velocity counts only the window",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 1_000),
            vec![past("treasury", "bc1qknown", 1_000, 4000); 5],
            "approve",
        ),
        (
            "far above history",
            p("treasury", Withdrawal, "bitcoin", "bc1qknown", 90_000_000),
            vec![past("treasury", "bc1qknown", 10_000_000, 99_999)],
            "review",
        ),
        (
            "other principals' history does not count",
            p("ops", Withdrawal, "bitcoin", "bc1qknown", 90_000_000),
            vec![past("treasury", "bc1qknown", 10, 99_999)],
            "approve",
        ),
        (
            "consolidation to self, no first-time review",
            p("treasury", Consolidation, "bitcoin", "bc1qvault", 1_000),
            vec![],
            "approve",
        ),
        (
            "reject beats review",
            p("treasury", Withdrawal, "bitcoin", "bc1qnew", 100_000_001),
            vec![],
            "reject",
        ),
    ];
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
    assert_eq!(RiskConfig::from_toml("").unwrap().history_multiple, 5);
}
