//! The station's keys: their HSM object ids and the set a station holds, as the HSM
//! lists them or as its signed descriptor names them. Generated once by the ceremony
//! (`ceremony::generate_station_keys`); read by the station for every decision.
//!
//! Bitcoin and Solana transactions do not name their network, so each network has its
//! own key: a payload mislabelled for another network is signed (if at all) by a key that
//! holds nothing there, and the station learns a payload's network from the key it needs.
//! One EVM key serves every chain: the chain id inside each transaction binds its
//! signature (EIP-155, EIP-1559).

use std::collections::BTreeMap;

use airgap_protocol::envelope::Chain;
use airgap_protocol::network::{BitcoinNetwork, Network, SolanaCluster};

use crate::hsm::{HsmError, KeyAlgorithm, KeyCapabilities, KeyInfo};

/// Station identity key (Ed25519): signs responses and descriptors.
pub const KEY_IDENTITY: u16 = 0x0100;
/// First Bitcoin key (secp256k1); one per network, in [`BitcoinNetwork::ALL`] order.
pub const KEY_BITCOIN: u16 = 0x0200;
/// EVM key (secp256k1).
pub const KEY_EVM: u16 = 0x0300;
/// First Solana key (Ed25519); one per cluster, in [`SolanaCluster::ALL`] order.
pub const KEY_SOLANA: u16 = 0x0400;

/// The HSM object id of the Bitcoin key for `n`.
pub fn bitcoin_key_id(n: BitcoinNetwork) -> u16 {
    KEY_BITCOIN
        + BitcoinNetwork::ALL
            .iter()
            .position(|x| *x == n)
            .unwrap_or(0) as u16
}

/// The HSM object id of the Solana key for `c`.
pub fn solana_key_id(c: SolanaCluster) -> u16 {
    KEY_SOLANA + SolanaCluster::ALL.iter().position(|x| *x == c).unwrap_or(0) as u16
}

/// The keys a station holds.
#[derive(Debug, Clone)]
pub struct StationKeys {
    /// Identity.
    pub identity: KeyInfo,
    /// EVM (every chain id).
    pub evm: KeyInfo,
    /// Bitcoin, one per network.
    pub bitcoin: BTreeMap<BitcoinNetwork, KeyInfo>,
    /// Solana, one per cluster.
    pub solana: BTreeMap<SolanaCluster, KeyInfo>,
}

impl StationKeys {
    /// The Bitcoin key for a network.
    pub fn bitcoin(&self, n: BitcoinNetwork) -> Option<&KeyInfo> {
        self.bitcoin.get(&n)
    }

    /// The Solana key for a cluster.
    pub fn solana(&self, c: SolanaCluster) -> Option<&KeyInfo> {
        self.solana.get(&c)
    }

    /// Every chain key with its chain and the network it signs for (`None`: every
    /// network of its chain), identity excluded.
    pub fn chain_keys(&self) -> Vec<(Chain, Option<Network>, &KeyInfo)> {
        let mut v = Vec::new();
        for (n, k) in &self.bitcoin {
            v.push((Chain::Bitcoin, Some(Network::Bitcoin(*n)), k));
        }
        v.push((Chain::Evm, None, &self.evm));
        for (c, k) in &self.solana {
            v.push((Chain::Solana, Some(Network::Solana(*c)), k));
        }
        v
    }

    /// Every key, identity included.
    pub fn all(&self) -> Vec<&KeyInfo> {
        let mut v = vec![&self.identity];
        v.extend(self.chain_keys().into_iter().map(|(_, _, k)| k));
        v
    }

    /// The station's keys as an HSM lists them (object ids as [`crate::ceremony::generate_station_keys`]
    /// gives them).
    pub fn from_hsm(list: &[KeyInfo]) -> Result<Self, HsmError> {
        let find = |id: u16| {
            list.iter()
                .find(|k| k.id == id)
                .cloned()
                .ok_or(HsmError::NoSuchKey(id))
        };
        let mut bitcoin = BTreeMap::new();
        for n in BitcoinNetwork::ALL {
            bitcoin.insert(n, find(bitcoin_key_id(n))?);
        }
        let mut solana = BTreeMap::new();
        for c in SolanaCluster::ALL {
            solana.insert(c, find(solana_key_id(c))?);
        }
        Ok(Self {
            identity: find(KEY_IDENTITY)?,
            evm: find(KEY_EVM)?,
            bitcoin,
            solana,
        })
    }
}

impl StationKeys {
    /// The station's keys as its signed descriptor lists them (public halves; the HSM
    /// stays locked until custodians unlock it).
    pub fn from_descriptor(
        d: &airgap_protocol::envelope::StationDescriptor,
    ) -> Result<Self, HsmError> {
        let caps = KeyCapabilities {
            sign: true,
            exportable_under_wrap: true,
        };
        let mut list: Vec<KeyInfo> = d
            .keys
            .iter()
            .map(|k| KeyInfo {
                id: k.id,
                label: k.label.clone(),
                algorithm: match k.chain {
                    Chain::Solana => KeyAlgorithm::Ed25519,
                    Chain::Bitcoin | Chain::Evm => KeyAlgorithm::Secp256k1,
                },
                capabilities: caps,
                public_key: k.public_key.clone(),
            })
            .collect();
        list.push(KeyInfo {
            id: KEY_IDENTITY,
            label: "station-identity".into(),
            algorithm: KeyAlgorithm::Ed25519,
            capabilities: caps,
            public_key: d.identity.to_vec(),
        });
        Self::from_hsm(&list)
    }
}

/// Every key id a station holds.
pub fn station_key_ids() -> Vec<u16> {
    let mut ids = vec![KEY_IDENTITY, KEY_EVM];
    ids.extend(BitcoinNetwork::ALL.map(bitcoin_key_id));
    ids.extend(SolanaCluster::ALL.map(solana_key_id));
    ids
}
