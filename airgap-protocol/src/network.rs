//! Networks as typed values, with one canonical name each.
//!
//! A payload's network label is text the coordinator wrote; the station derives the
//! network from the transaction (EVM chain id) or from which of its per-network keys it
//! signs with (Bitcoin, Solana), and compares. Names are normalised here, once, so that
//! `mainnet` and `bitcoin`, or `eip155:1` and `evm:1`, are one network everywhere (limits,
//! history, allow-lists).

use std::fmt;
use std::str::FromStr;

use crate::envelope::Chain;

/// A Bitcoin network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BitcoinNetwork {
    /// Bitcoin mainnet (`bitcoin`).
    Mainnet,
    /// testnet3 (`testnet`).
    Testnet,
    /// testnet4.
    Testnet4,
    /// signet.
    Signet,
    /// regtest.
    Regtest,
}

/// A Solana cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SolanaCluster {
    /// `solana:mainnet-beta`.
    MainnetBeta,
    /// `solana:testnet`.
    Testnet,
    /// `solana:devnet`.
    Devnet,
    /// `solana:localnet` (a local validator or test runtime).
    Localnet,
}

impl BitcoinNetwork {
    /// Every Bitcoin network, in key-id order.
    pub const ALL: [Self; 5] = [
        Self::Mainnet,
        Self::Testnet,
        Self::Testnet4,
        Self::Signet,
        Self::Regtest,
    ];

    /// The canonical name.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mainnet => "bitcoin",
            Self::Testnet => "testnet",
            Self::Testnet4 => "testnet4",
            Self::Signet => "signet",
            Self::Regtest => "regtest",
        }
    }

    /// rust-bitcoin's network.
    pub fn to_bitcoin(self) -> bitcoin::Network {
        match self {
            Self::Mainnet => bitcoin::Network::Bitcoin,
            Self::Testnet => bitcoin::Network::Testnet,
            Self::Testnet4 => bitcoin::Network::Testnet4,
            Self::Signet => bitcoin::Network::Signet,
            Self::Regtest => bitcoin::Network::Regtest,
        }
    }
}

impl SolanaCluster {
    /// Every cluster, in key-id order.
    pub const ALL: [Self; 4] = [
        Self::MainnetBeta,
        Self::Testnet,
        Self::Devnet,
        Self::Localnet,
    ];

    /// The canonical name (without the `solana:` prefix).
    pub fn name(self) -> &'static str {
        match self {
            Self::MainnetBeta => "mainnet-beta",
            Self::Testnet => "testnet",
            Self::Devnet => "devnet",
            Self::Localnet => "localnet",
        }
    }
}

/// A network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Network {
    /// A Bitcoin network.
    Bitcoin(BitcoinNetwork),
    /// An EVM chain, by its EIP-155 chain id.
    Evm(u64),
    /// A Solana cluster.
    Solana(SolanaCluster),
}

/// A name that is no network this build knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network `{0}` (expected bitcoin, testnet, testnet4, signet, regtest, evm:<chain id> or solana:<cluster>)")]
pub struct UnknownNetwork(pub String);

impl Network {
    /// The chain family.
    pub fn chain(self) -> Chain {
        match self {
            Self::Bitcoin(_) => Chain::Bitcoin,
            Self::Evm(_) => Chain::Evm,
            Self::Solana(_) => Chain::Solana,
        }
    }

    /// Parses a name, accepting the usual aliases (`mainnet`, `bitcoin:regtest`,
    /// `eip155:1`, `solana:mainnet`, …); [`Display`](fmt::Display) gives the canonical one.
    pub fn parse(label: &str) -> Result<Self, UnknownNetwork> {
        let unknown = || UnknownNetwork(label.chars().take(64).collect());
        let l = label.trim().to_ascii_lowercase();
        if let Some(id) = l.strip_prefix("evm:").or_else(|| l.strip_prefix("eip155:")) {
            // Digits only: no sign, no spaces; leading zeros name the same chain.
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(unknown());
            }
            return id.parse().map(Self::Evm).map_err(|_| unknown());
        }
        if let Some(c) = l.strip_prefix("solana:") {
            return Ok(Self::Solana(match c {
                "mainnet-beta" | "mainnet" => SolanaCluster::MainnetBeta,
                "testnet" => SolanaCluster::Testnet,
                "devnet" => SolanaCluster::Devnet,
                "localnet" | "localhost" => SolanaCluster::Localnet,
                _ => return Err(unknown()),
            }));
        }
        let b = l.strip_prefix("bitcoin:").unwrap_or(&l);
        Ok(Self::Bitcoin(match b {
            "bitcoin" | "mainnet" | "main" => BitcoinNetwork::Mainnet,
            "testnet" | "testnet3" | "test" => BitcoinNetwork::Testnet,
            "testnet4" => BitcoinNetwork::Testnet4,
            "signet" => BitcoinNetwork::Signet,
            "regtest" => BitcoinNetwork::Regtest,
            _ => return Err(unknown()),
        }))
    }

    /// The Bitcoin network, if this is one.
    pub fn bitcoin(self) -> Option<BitcoinNetwork> {
        match self {
            Self::Bitcoin(n) => Some(n),
            _ => None,
        }
    }

    /// The Solana cluster, if this is one.
    pub fn solana(self) -> Option<SolanaCluster> {
        match self {
            Self::Solana(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bitcoin(n) => f.write_str(n.name()),
            Self::Evm(id) => write!(f, "evm:{id}"),
            Self::Solana(c) => write!(f, "solana:{}", c.name()),
        }
    }
}

impl FromStr for Network {
    type Err = UnknownNetwork;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Whether two labels name the same network (unknown names are equal only to themselves).
pub fn same_network(a: &str, b: &str) -> bool {
    match (Network::parse(a), Network::parse(b)) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalise_to_one_name() {
        for (alias, canonical) in [
            ("bitcoin", "bitcoin"),
            ("mainnet", "bitcoin"),
            ("Bitcoin:Mainnet", "bitcoin"),
            ("testnet3", "testnet"),
            ("testnet4", "testnet4"),
            ("bitcoin:regtest", "regtest"),
            ("evm:1", "evm:1"),
            ("eip155:1", "evm:1"),
            ("evm:0137", "evm:137"),
            ("solana:mainnet", "solana:mainnet-beta"),
            ("solana:devnet", "solana:devnet"),
        ] {
            assert_eq!(
                Network::parse(alias).unwrap().to_string(),
                canonical,
                "{alias}"
            );
        }
    }

    #[test]
    fn fail_unknown_names() {
        for bad in [
            "",
            "evm:",
            "evm:-1",
            "evm:+1",
            "evm:1x",
            "evm:18446744073709551616",
            "solana:",
            "solana:moon",
            "litecoin",
            "regtest2",
        ] {
            assert!(Network::parse(bad).is_err(), "{bad}");
        }
    }
}
