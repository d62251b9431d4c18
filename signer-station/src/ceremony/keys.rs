//! `keys generate`: chain keys and the station identity key, inside the HSM, each with
//! only the capabilities it needs (sign, and export under wrap for backup).

use crate::hsm::{HsmError, KeyAlgorithm, KeyCapabilities, KeyInfo, SigningBackend};

/// Station identity key (Ed25519): signs responses and descriptors.
pub const KEY_IDENTITY: u16 = 0x0100;
/// Bitcoin key (secp256k1).
pub const KEY_BITCOIN: u16 = 0x0200;
/// EVM key (secp256k1).
pub const KEY_EVM: u16 = 0x0300;
/// Solana key (Ed25519).
pub const KEY_SOLANA: u16 = 0x0400;

/// The keys a station holds.
#[derive(Debug, Clone)]
pub struct StationKeys {
    /// Identity.
    pub identity: KeyInfo,
    /// Bitcoin.
    pub bitcoin: KeyInfo,
    /// EVM.
    pub evm: KeyInfo,
    /// Solana.
    pub solana: KeyInfo,
}

/// Generates the station's keys. Refuses if any of the ids is already taken, so a
/// repeated ceremony never replaces a key that funds may depend on.
pub fn generate_station_keys<B: SigningBackend + ?Sized>(hsm: &B) -> Result<StationKeys, HsmError> {
    let existing = hsm.list_keys()?;
    for id in [KEY_IDENTITY, KEY_BITCOIN, KEY_EVM, KEY_SOLANA] {
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
    Ok(StationKeys {
        identity: hsm.generate_key(
            KEY_IDENTITY,
            "station-identity",
            KeyAlgorithm::Ed25519,
            caps,
        )?,
        bitcoin: hsm.generate_key(KEY_BITCOIN, "bitcoin", KeyAlgorithm::Secp256k1, caps)?,
        evm: hsm.generate_key(KEY_EVM, "evm", KeyAlgorithm::Secp256k1, caps)?,
        solana: hsm.generate_key(KEY_SOLANA, "solana", KeyAlgorithm::Ed25519, caps)?,
    })
}
