//! `examples/policy.json` is a policy the station takes: it parses, and its amounts and
//! networks are ones the station understands.

use signer_station::station::policy::{parse_amount, Policy};

#[test]
fn example_policy_parses() {
    let path = format!("{}/../examples/policy.json", env!("CARGO_MANIFEST_DIR"));
    let p: Policy = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    for l in &p.limits {
        assert!(p.networks.contains(&l.network), "{}", l.network);
        parse_amount(&l.per_transaction).unwrap();
        parse_amount(&l.per_24h).unwrap();
    }
    for n in &p.networks {
        assert!(
            airgap_protocol::network::Network::parse(n).is_ok(),
            "{n} is not a network the station knows"
        );
    }
    assert_eq!(p.approvals, 2);
}
