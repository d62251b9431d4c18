//! An EVM network as the chains file configures it (`[[evm]]`).

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// A token the coordinator may move.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Token {
    /// Symbol.
    pub symbol: String,
    /// Contract address.
    pub contract: Address,
    /// Decimals.
    pub decimals: u8,
}

/// One EVM network as configured by operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainConfig {
    /// Display name (`ethereum`, `bsc`, `polygon`, …).
    pub name: String,
    /// EIP-155 chain id.
    pub chain_id: u64,
    /// JSON-RPC endpoints, tried in order with failover.
    pub endpoints: Vec<String>,
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<Token>,
    /// Confirmations before a transaction counts as final.
    pub confirmations: u64,
    /// Build legacy (EIP-155) transactions instead of EIP-1559.
    #[serde(default)]
    pub legacy: bool,
    /// Operator cap on the max fee (or gas price) per gas, wei.
    pub max_fee_per_gas_cap: u128,
    /// Operator cap on the priority fee per gas, wei.
    pub max_priority_fee_cap: u128,
    /// Priority fee used when the node's fee history suggests less, wei.
    #[serde(default)]
    pub min_priority_fee: u128,
    /// Percent added to `eth_estimateGas` for contract calls.
    #[serde(default = "default_margin")]
    pub gas_margin_percent: u64,
    /// The registered station whose EVM key is this network's vault (needed when more
    /// than one station holds an EVM key).
    #[serde(default)]
    pub station: Option<String>,
}

fn default_margin() -> u64 {
    20
}

impl ChainConfig {
    /// The network name the station's policy uses for this chain (`evm:<chain id>`).
    pub fn network(&self) -> String {
        format!("evm:{}", self.chain_id)
    }

    /// A token by symbol (case-insensitive).
    pub fn token(&self, symbol: &str) -> Option<&Token> {
        self.tokens
            .iter()
            .find(|t| t.symbol.eq_ignore_ascii_case(symbol))
    }
}
