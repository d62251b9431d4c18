//! The example configuration in `examples/` is what the coordinator reads: the chains
//! file and the risk rules parse with the service's own types (unknown keys refused),
//! and every adapter, watch and deposit pool in it is built as the service builds them
//! at start (no node is contacted).

use coordinator::chain::ChainAdapter;
use coordinator::service::ChainsFile;

fn example(name: &str) -> String {
    let path = format!("{}/../examples/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn example_chains_file_builds_every_adapter() {
    let chains: ChainsFile = toml::from_str(&example("chains.toml")).unwrap();
    assert_eq!(
        (chains.bitcoin.len(), chains.evm.len(), chains.solana.len()),
        (1, 1, 1)
    );
    let mut adapters: Vec<Box<dyn ChainAdapter>> = Vec::new();
    for c in chains.bitcoin {
        adapters.push(Box::new(
            coordinator::bitcoin::BtcChain::from_config(c).unwrap(),
        ));
    }
    for c in chains.evm {
        adapters.push(Box::new(
            coordinator::evm::EvmChain::from_config(c).unwrap(),
        ));
    }
    for c in chains.solana {
        adapters.push(Box::new(
            coordinator::solana::SolChain::from_config(c).unwrap(),
        ));
    }
    let networks: Vec<String> = adapters.iter().map(|a| a.network()).collect();
    assert_eq!(networks, ["bitcoin", "evm:1", "solana:mainnet"]);
    for w in &chains.watch {
        let a = adapters.iter().find(|a| a.network() == w.network).unwrap();
        a.check_watch(w).unwrap();
    }
    for d in chains.deposits {
        let pool = coordinator::treasury::Deposits::new(d).unwrap();
        assert_eq!(pool.config.network, "bitcoin");
    }
}

#[test]
fn example_risk_rules_parse() {
    let risk = coordinator::risk::RiskConfig::from_toml(&example("risk.toml")).unwrap();
    assert_eq!(risk.limits.len(), 4);
    assert_eq!(risk.warm_addresses.len(), 1);
    assert_eq!(risk.blacklist.len(), 1);
}
