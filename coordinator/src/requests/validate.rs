//! Input checks for the API: amounts, addresses per network, assets.

use std::str::FromStr;

/// A positive whole number of base units, canonical decimal, fitting 128 bits.
pub fn validate_amount(s: &str) -> Result<u128, String> {
    if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "amount {s:?} must be a whole number of base units, digits only"
        ));
    }
    if s.starts_with('0') {
        return Err(format!(
            "amount {s:?} must be positive, without leading zeros"
        ));
    }
    s.parse::<u128>()
        .map_err(|_| format!("amount {s:?} is out of range"))
}

/// The Bitcoin network a request names (the one parser of network names).
fn bitcoin_network(n: &str) -> Option<bitcoin::Network> {
    airgap_protocol::network::Network::parse(n)
        .ok()?
        .bitcoin()
        .map(|b| b.to_bitcoin())
}

fn evm_address(a: &str) -> Result<(), String> {
    let hex = a
        .strip_prefix("0x")
        .filter(|h| h.len() == 40 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| format!("{a:?} is not an EVM address (0x and 40 hex digits)"))?;
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        alloy_primitives::Address::parse_checksummed(a, None)
            .map_err(|_| format!("{a:?} fails its EIP-55 checksum"))?;
    }
    Ok(())
}

fn solana_address(a: &str) -> Result<(), String> {
    match bs58::decode(a).into_vec() {
        Ok(b) if b.len() == 32 => Ok(()),
        _ => Err(format!("{a:?} is not a Solana address (base58, 32 bytes)")),
    }
}

/// A destination valid for `network`.
pub fn validate_destination(network: &str, a: &str) -> Result<(), String> {
    if let Some(n) = bitcoin_network(network) {
        let addr =
            bitcoin::Address::from_str(a).map_err(|_| format!("{a:?} is not a Bitcoin address"))?;
        addr.require_network(n)
            .map(|_| ())
            .map_err(|_| format!("{a:?} is not an address for {network}"))
    } else if network.starts_with("evm:") {
        evm_address(a)
    } else if network.starts_with("solana:") {
        solana_address(a)
    } else {
        Err(format!("unknown network {network:?}"))
    }
}

/// `native`, or a token on a network that has tokens.
pub fn validate_asset(network: &str, asset: &str) -> Result<(), String> {
    if asset == "native" {
        return Ok(());
    }
    if network.starts_with("evm:") {
        evm_address(asset).map_err(|e| format!("asset: {e}"))
    } else if network.starts_with("solana:") {
        solana_address(asset).map_err(|e| format!("asset: {e}"))
    } else {
        Err(format!("{network} has no tokens: asset must be \"native\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every Bitcoin network the station has keys for takes its own addresses, and only
    /// those: testnet4 shares testnet's address format, mainnet's is refused.
    #[test]
    fn bitcoin_networks_take_their_addresses() {
        let test = "tb1qw508d6qejxtdg4y5r3zarvary0c5xw7kxpjzsx";
        let main = "bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4";
        for n in ["testnet", "testnet4", "signet"] {
            assert_eq!(validate_destination(n, test), Ok(()), "{n}");
            assert!(validate_destination(n, main).is_err(), "{n}");
        }
        assert_eq!(validate_destination("bitcoin", main), Ok(()));
        assert!(validate_destination("bitcoin", test).is_err());
        assert!(validate_destination("testnet5", test).is_err());
    }
}
