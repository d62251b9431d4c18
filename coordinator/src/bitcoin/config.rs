//! A Bitcoin vault as the chains file configures it (`[[bitcoin]]`).

use std::str::FromStr;

use crate::chain::PipelineError;

/// One Bitcoin vault as configured (`[[bitcoin]]` in the chains file).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BtcConfig {
    /// Vault name.
    pub name: String,
    /// Request network: `bitcoin`, `testnet`, `signet` or `regtest`.
    pub network: String,
    /// Esplora API bases, tried in order.
    #[serde(default)]
    pub esplora: Vec<String>,
    /// Bitcoin Core JSON-RPC endpoints (without authentication), when no Esplora.
    #[serde(default)]
    pub core: Vec<String>,
    /// Signatures needed.
    pub threshold: usize,
    /// Registered stations whose Bitcoin keys make the vault, in any order
    /// (`wsh(sortedmulti)`; one station with threshold 1 is `wpkh`).
    pub stations: Vec<String>,
    /// Confirmations before a transaction counts as final.
    pub confirmations: u32,
    /// Confirmation target for the fee estimate, blocks.
    #[serde(default = "default_target")]
    pub fee_target: u16,
    /// Refuse to build above this fee rate, sat/vB.
    pub max_fee_rate: u64,
    /// Hardware-wallet cosigners whose keys are in the vault beside the stations'
    /// (`wsh(sortedmulti)` over all of them). Each signs the exported PSBT (BBQr or
    /// `crypto-psbt`) on its own screen, and the signed PSBT is imported back.
    #[serde(default)]
    pub cosigners: Vec<Cosigner>,
}

/// A hardware wallet that cosigns a Bitcoin vault.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cosigner {
    /// Name, as the audit chain shows it.
    pub name: String,
    /// Its key as a descriptor key with origin, `[fingerprint/path]02…`, so that the
    /// device finds its key in the PSBT's derivation paths.
    pub key: String,
}

impl Cosigner {
    /// The public key (the origin checked for shape: `[8 hex digits/path]`).
    pub fn public_key(&self) -> Result<bitcoin::PublicKey, String> {
        let what = format!("cosigner {}", self.name);
        let bare = match self.key.strip_prefix('[') {
            Some(rest) => {
                let (origin, key) = rest
                    .split_once(']')
                    .ok_or_else(|| format!("{what}: key origin not closed"))?;
                let fingerprint = origin.split('/').next().unwrap_or_default();
                if fingerprint.len() != 8 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!(
                        "{what}: key origin must start with an 8-digit fingerprint"
                    ));
                }
                key
            }
            None => self.key.as_str(),
        };
        let key = bitcoin::PublicKey::from_str(bare)
            .map_err(|e| format!("{what}: not a public key: {e}"))?;
        if !key.compressed {
            return Err(format!("{what}: segwit needs a compressed key"));
        }
        Ok(key)
    }
}

fn default_target() -> u16 {
    6
}

/// A Bitcoin network by its request name (aliases as `airgap_protocol::network` knows
/// them: `mainnet` is `bitcoin`).
pub fn btc_network(name: &str) -> Result<bitcoin::Network, PipelineError> {
    match airgap_protocol::network::Network::parse(name) {
        Ok(airgap_protocol::network::Network::Bitcoin(n)) => Ok(n.to_bitcoin()),
        _ => Err(PipelineError::Unconfigured(format!(
            "unknown Bitcoin network {name}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::treasury::Watch;

    /// A cosigner's key: a compressed public key, optionally with an origin that starts
    /// with an 8-digit fingerprint; anything else says what is wrong.
    #[test]
    fn cosigner_keys() {
        let key = "02d8e4f6a1d0b7b1b5e9b3c1a6e1e9a8d2f36c4c2a0f6b3f1b4a0d3e5f6a7b8c9d";
        let pk = bitcoin::PublicKey::from_str(
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        )
        .unwrap();
        let c = |key: &str| Cosigner {
            name: "coldcard".into(),
            key: key.into(),
        };
        assert_eq!(c(&pk.to_string()).public_key().unwrap(), pk);
        assert_eq!(
            c(&format!("[d34db33f/48'/0'/0'/2']{pk}"))
                .public_key()
                .unwrap(),
            pk
        );
        let uncompressed = bitcoin::PublicKey::new_uncompressed(pk.inner).to_string();
        for (bad, says) in [
            (format!("[d34db33f/48'/0'/0'/2'{pk}"), "not closed"),
            (format!("[d34d/48']{pk}"), "8-digit fingerprint"),
            (format!("[zzzzzzzz/48']{pk}"), "8-digit fingerprint"),
            (key[..20].to_string(), "not a public key"),
            (uncompressed, "compressed"),
        ] {
            let e = c(&bad).public_key().unwrap_err();
            assert!(e.contains(says) && e.contains("coldcard"), "{bad}: {e}");
        }
    }

    fn tpub(seed: u8) -> bitcoin::bip32::Xpub {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let master = bitcoin::bip32::Xpriv::new_master(bitcoin::NetworkKind::Test, &[seed; 32])
            .expect("seed");
        bitcoin::bip32::Xpub::from_priv(&secp, &master)
    }

    /// A Bitcoin watch is a descriptor and a refill address that belongs to it, on the
    /// vault's network; anything else is refused with the reason.
    #[test]
    fn bitcoin_watch_needs_its_descriptor_and_one_of_its_addresses() {
        let desc = format!("wpkh({}/0/*)", tpub(1));
        let own = crate::bitcoin::Vault::from_descriptor("w", &desc, bitcoin::Network::Regtest)
            .unwrap()
            .address()
            .to_string();
        let other = crate::bitcoin::Vault::from_descriptor(
            "o",
            &format!("wpkh({}/0/*)", tpub(2)),
            bitcoin::Network::Regtest,
        )
        .unwrap()
        .address()
        .to_string();
        let mainnet = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
        let watch = |address: &str, descriptor: Option<&str>| Watch {
            network: "regtest".into(),
            address: address.into(),
            descriptor: descriptor.map(Into::into),
            asset: "native".into(),
            low: "1".into(),
            high: "2".into(),
            every_secs: 60,
        };
        let cases: [(Watch, Option<&str>); 5] = [
            (watch(&own, Some(&desc)), None),
            (
                watch(&own, None),
                Some("needs the warm wallet's descriptor"),
            ),
            (
                watch(&other, Some(&desc)),
                Some("not one of the descriptor's"),
            ),
            (
                watch(mainnet, Some(&desc)),
                Some("not an address on regtest"),
            ),
            (watch(&own, Some("wpkh(nonsense)")), Some("watch ")),
        ];
        for (w, refusal) in cases {
            let got = w.bitcoin_wallet(bitcoin::Network::Regtest);
            match (got, refusal) {
                (Ok(_), None) => {}
                (Err(e), Some(says)) => assert!(e.contains(says), "{e} should say {says}"),
                (Ok(_), Some(says)) => panic!("{} accepted; should say {says}", w.address),
                (Err(e), None) => panic!("{} refused: {e}", w.address),
            }
        }
    }
}
