//! The station descriptor: the public material a station exports to the coordinator at
//! its ceremony — identity key, chain keys, policy digest — signed by its identity key.
//! The coordinator pins it after an operator compares the identity fingerprint shown on
//! the station's screen.

use ed25519_dalek::{Signature, VerifyingKey};
use minicbor::{Decoder, Encoder};
use sha2::{Digest, Sha256};

use super::{Chain, EnvelopeError, KeyId, FORMAT_VERSION};
use crate::network::Network;

const DOMAIN: &[u8] = b"strongroom/descriptor/v1";

/// A key the station holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DescriptorKey {
    /// Chain it signs for.
    pub chain: Chain,
    /// The one network it signs for; `None` for a key of every network of its chain
    /// (the EVM key: the chain id inside each transaction binds its signature).
    pub network: Option<Network>,
    /// HSM object id.
    pub id: u16,
    /// Public key: 33-byte compressed secp256k1, or 32-byte Ed25519.
    pub public_key: Vec<u8>,
    /// Label.
    pub label: String,
}

/// A station descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StationDescriptor {
    /// Station name.
    pub name: String,
    /// Ed25519 identity public key.
    pub identity: [u8; 32],
    /// Unix seconds.
    pub created: u64,
    /// Chain keys.
    pub keys: Vec<DescriptorKey>,
    /// SHA-256 of the station policy in force.
    pub policy_digest: [u8; 32],
    /// True when the station runs on MockHsm: never fund such a station.
    pub mock_hsm: bool,
    /// Identity signature.
    pub signature: [u8; 64],
}

fn chain_code(c: Chain) -> u8 {
    match c {
        Chain::Bitcoin => 0,
        Chain::Evm => 1,
        Chain::Solana => 2,
    }
}

impl StationDescriptor {
    fn encode(&self, signed: bool) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e
            .array(if signed { 8 } else { 7 })
            .and_then(|e| e.u8(FORMAT_VERSION))
            .and_then(|e| e.str(&self.name))
            .and_then(|e| e.bytes(&self.identity))
            .and_then(|e| e.u64(self.created))
            .and_then(|e| e.array(self.keys.len() as u64));
        for k in &self.keys {
            let _ = e
                .array(if k.network.is_some() { 5 } else { 4 })
                .and_then(|e| e.u8(chain_code(k.chain)))
                .and_then(|e| e.u16(k.id))
                .and_then(|e| e.bytes(&k.public_key))
                .and_then(|e| e.str(&k.label));
            if let Some(n) = k.network {
                let _ = e.str(&n.to_string());
            }
        }
        let _ = e
            .bytes(&self.policy_digest)
            .and_then(|e| e.bool(self.mock_hsm));
        if signed {
            let _ = e.bytes(&self.signature);
        }
        e.into_writer()
    }

    /// The key that signs for `network`: the one made for that network, or else a key of
    /// every network of its chain (an EVM key; or a Bitcoin or Solana key of a
    /// descriptor exported before keys were made per network).
    pub fn key_for(&self, network: Network) -> Option<&DescriptorKey> {
        let chain = network.chain();
        self.keys
            .iter()
            .find(|k| k.chain == chain && k.network == Some(network))
            .or_else(|| {
                self.keys
                    .iter()
                    .find(|k| k.chain == chain && k.network.is_none())
            })
    }

    /// What the identity key signs.
    pub fn signing_message(&self) -> Vec<u8> {
        [DOMAIN, &Sha256::digest(self.encode(false))].concat()
    }

    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        self.encode(true)
    }

    /// The identity key id, for the operator to compare with the station screen.
    pub fn station_id(&self) -> Result<KeyId, EnvelopeError> {
        VerifyingKey::from_bytes(&self.identity)
            .map(|k| KeyId::of(&k))
            .map_err(|_| EnvelopeError::Malformed("identity key is not a valid Ed25519 key".into()))
    }

    /// Checks the self-signature.
    pub fn verify(&self) -> Result<(), EnvelopeError> {
        let k = VerifyingKey::from_bytes(&self.identity).map_err(|_| {
            EnvelopeError::Malformed("identity key is not a valid Ed25519 key".into())
        })?;
        k.verify_strict(
            &self.signing_message(),
            &Signature::from_bytes(&self.signature),
        )
        .map_err(|_| EnvelopeError::Malformed("descriptor signature invalid".into()))
    }

    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let bad = |e: minicbor::decode::Error| EnvelopeError::Malformed(e.to_string());
        let fixed = |b: &[u8], what: &str| -> Result<Vec<u8>, EnvelopeError> {
            if b.len() > 64 {
                return Err(EnvelopeError::Malformed(format!("{what} too long")));
            }
            Ok(b.to_vec())
        };
        let mut d = Decoder::new(bytes);
        if d.array().map_err(bad)? != Some(8) {
            return Err(EnvelopeError::Malformed(
                "descriptor: expected an array of 8".into(),
            ));
        }
        let v = d.u8().map_err(bad)?;
        if v != FORMAT_VERSION {
            return Err(EnvelopeError::Version {
                expected: FORMAT_VERSION,
                found: v,
            });
        }
        let name = d.str().map_err(bad)?.to_string();
        let identity = fixed(d.bytes().map_err(bad)?, "identity")?
            .try_into()
            .map_err(|_| EnvelopeError::Malformed("identity key length".into()))?;
        let created = d.u64().map_err(bad)?;
        let n = d
            .array()
            .map_err(bad)?
            .ok_or_else(|| EnvelopeError::Malformed("indefinite".into()))?;
        if n > 64 {
            return Err(EnvelopeError::TooLarge {
                what: "descriptor keys",
                found: n as usize,
                limit: 64,
            });
        }
        let mut keys = Vec::new();
        for _ in 0..n {
            let fields = d.array().map_err(bad)?;
            if fields != Some(4) && fields != Some(5) {
                return Err(EnvelopeError::Malformed("descriptor key".into()));
            }
            let chain = match d.u8().map_err(bad)? {
                0 => Chain::Bitcoin,
                1 => Chain::Evm,
                2 => Chain::Solana,
                c => {
                    return Err(EnvelopeError::UnknownCode {
                        what: "chain",
                        code: c.into(),
                    })
                }
            };
            let id = d.u16().map_err(bad)?;
            let public_key = fixed(d.bytes().map_err(bad)?, "public key")?;
            let label = d.str().map_err(bad)?.to_string();
            let network = if fields == Some(5) {
                let n = Network::parse(d.str().map_err(bad)?)
                    .map_err(|e| EnvelopeError::Malformed(e.to_string()))?;
                if n.chain() != chain {
                    return Err(EnvelopeError::Malformed(format!(
                        "descriptor key {id:#06x}: network {n} is not of its chain"
                    )));
                }
                Some(n)
            } else {
                None
            };
            keys.push(DescriptorKey {
                chain,
                network,
                id,
                public_key,
                label,
            });
        }
        let policy_digest = d
            .bytes()
            .map_err(bad)?
            .try_into()
            .map_err(|_| EnvelopeError::Malformed("policy digest".into()))?;
        let mock_hsm = d.bool().map_err(bad)?;
        let signature = d
            .bytes()
            .map_err(bad)?
            .try_into()
            .map_err(|_| EnvelopeError::Malformed("signature".into()))?;
        if d.position() != bytes.len() {
            return Err(EnvelopeError::Malformed("trailing bytes".into()));
        }
        let s = Self {
            name,
            identity,
            created,
            keys,
            policy_digest,
            mock_hsm,
            signature,
        };
        if s.to_cbor() != bytes {
            return Err(EnvelopeError::NonCanonical);
        }
        Ok(s)
    }
}
