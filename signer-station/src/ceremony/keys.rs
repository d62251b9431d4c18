//! `keys generate`: chain keys and the station identity key, inside the HSM, each with
//! only the capabilities it needs (sign, and export under wrap for backup).

use std::collections::BTreeMap;

use airgap_protocol::network::{BitcoinNetwork, SolanaCluster};

use crate::hsm::{HsmError, KeyAlgorithm, KeyCapabilities, KeyInfo, NewKey, SigningBackend};
use crate::keys::{
    bitcoin_key_id, solana_key_id, station_key_ids, StationKeys, KEY_EVM, KEY_IDENTITY,
};

/// Generates the station's keys. Refuses if any of the ids is already taken, so a
/// repeated ceremony never replaces a key that funds may depend on.
pub fn generate_station_keys<B: SigningBackend + ?Sized>(hsm: &B) -> Result<StationKeys, HsmError> {
    let keys = make_station_keys(hsm, |key| hsm.generate_key(key))?;
    // The deposit accounts' seed (see `station::deposits`), beside the keys.
    crate::station::deposits::create_seed(hsm)?;
    Ok(keys)
}

/// Makes the station's keys with `make` (id, label, algorithm, capabilities): each with
/// only the capabilities it needs. Refuses if any of the ids is already taken.
pub fn make_station_keys<B: SigningBackend + ?Sized>(
    hsm: &B,
    make: impl Fn(&NewKey<'_>) -> Result<KeyInfo, HsmError>,
) -> Result<StationKeys, HsmError> {
    let existing = hsm.list_keys()?;
    for id in station_key_ids() {
        if existing.iter().any(|k| k.id == id) {
            return Err(HsmError::Device(format!(
                "key {id:#06x} already exists; refusing to replace it"
            )));
        }
    }
    let caps = KeyCapabilities {
        sign: true,
        exportable_under_wrap: true,
    };
    let bitcoin = BitcoinNetwork::ALL
        .into_iter()
        .map(|n| {
            let label = format!("bitcoin:{}", n.name());
            let key = NewKey::new(bitcoin_key_id(n), &label, KeyAlgorithm::Secp256k1, caps);
            Ok((n, make(&key)?))
        })
        .collect::<Result<BTreeMap<_, _>, HsmError>>()?;
    let solana = SolanaCluster::ALL
        .into_iter()
        .map(|c| {
            let label = format!("solana:{}", c.name());
            Ok((
                c,
                make(&NewKey::new(
                    solana_key_id(c),
                    &label,
                    KeyAlgorithm::Ed25519,
                    caps,
                ))?,
            ))
        })
        .collect::<Result<BTreeMap<_, _>, HsmError>>()?;
    Ok(StationKeys {
        identity: make(&NewKey::new(
            KEY_IDENTITY,
            "station-identity",
            KeyAlgorithm::Ed25519,
            caps,
        ))?,
        evm: make(&NewKey::new(KEY_EVM, "evm", KeyAlgorithm::Secp256k1, caps))?,
        bitcoin,
        solana,
    })
}
