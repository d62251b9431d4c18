//! A watched warm or hot wallet (`[[watch]]` in the chains file).

use std::str::FromStr;

/// A warm or hot wallet whose balance the coordinator watches (`[[watch]]` in the chains
/// file): under `low`, a refill from the vault up to `high` is drafted.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// Network (an EVM, Solana or Bitcoin network the pipeline serves).
    pub network: String,
    /// The wallet's address: where refills are paid (on Bitcoin, one of the
    /// descriptor's receiving addresses).
    pub address: String,
    /// Bitcoin only, and required there: the warm wallet's public descriptor (e.g.
    /// `wpkh([fp/84'/0'/0']xpub…/0/*)`), whose every address counts towards the balance.
    #[serde(default)]
    pub descriptor: Option<String>,
    /// What is watched and refilled: `native`, or a token configured for the network
    /// (an ERC-20 contract of the `[[evm]]` table's tokens, an SPL mint of the
    /// `[[solana]]` table's tokens).
    #[serde(default = "native")]
    pub asset: String,
    /// Low watermark, base units.
    pub low: String,
    /// High watermark, base units: a refill brings the balance back here.
    pub high: String,
    /// Seconds between checks.
    #[serde(default = "default_every")]
    pub every_secs: u64,
}

fn default_every() -> u64 {
    60
}

fn native() -> String {
    "native".into()
}

impl Watch {
    /// The watch-only wallet of a Bitcoin watch, from its descriptor; the refill address
    /// must be on `network` and one of the descriptor's, or refills would never raise the
    /// balance watched.
    pub fn bitcoin_wallet(
        &self,
        network: bitcoin::Network,
    ) -> Result<crate::bitcoin::Vault, String> {
        let what = format!("watch {} on {}", self.address, self.network);
        let descriptor = self
            .descriptor
            .as_deref()
            .ok_or_else(|| format!("{what}: a Bitcoin watch needs the warm wallet's descriptor"))?;
        let address = bitcoin::Address::from_str(&self.address)
            .map_err(|e| format!("{what}: {e}"))?
            .require_network(network)
            .map_err(|_| format!("{what}: not an address on {network}"))?;
        let wallet = crate::bitcoin::Vault::from_descriptor(&what, descriptor, network)
            .map_err(|e| format!("{what}: {e}"))?;
        if !wallet.owns(&address.script_pubkey()) {
            return Err(format!(
                "{what}: the address is not one of the descriptor's first addresses"
            ));
        }
        Ok(wallet)
    }

    /// The watermarks, checked (`low < high`).
    pub fn marks(&self) -> Result<(u128, u128), String> {
        let n = |v: &str| {
            v.parse::<u128>()
                .map_err(|_| format!("watermark {v:?} is not a whole number"))
        };
        let (low, high) = (n(&self.low)?, n(&self.high)?);
        if low >= high {
            return Err(format!(
                "watch {}: low {low} must be under high {high}",
                self.address
            ));
        }
        Ok((low, high))
    }
}
