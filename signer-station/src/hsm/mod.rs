//! The signing backend: a trait with the YubiHSM implementation (USB device, or MockHsm
//! for tests and the demo) and, for tests, a fault-injecting wrapper.

#[cfg(feature = "rehearsal")]
pub mod emulated;
#[cfg(any(test, feature = "fault-injection"))]
pub mod faulty;
pub mod log;
#[cfg(any(test, feature = "fault-injection"))]
pub mod software;
mod yubi;

pub use log::{DeviceLog, LogEntry};
pub use yubi::{Connection, YubiHsm};

/// Key algorithms the station uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum KeyAlgorithm {
    /// ECDSA over secp256k1 (Bitcoin, EVM).
    Secp256k1,
    /// Ed25519 (Solana, the station identity key).
    Ed25519,
}

/// What a key may do; the least each key needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeyCapabilities {
    /// May sign (ECDSA or EdDSA according to its algorithm).
    pub sign: bool,
    /// May be exported wrapped under the backup wrap key.
    pub exportable_under_wrap: bool,
}

/// A key to make: its object id, label, algorithm and capabilities.
#[derive(Debug, Clone, Copy)]
pub struct NewKey<'a> {
    /// Object id.
    pub id: u16,
    /// Label.
    pub label: &'a str,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Capabilities.
    pub caps: KeyCapabilities,
}

impl<'a> NewKey<'a> {
    /// A key to make.
    pub fn new(id: u16, label: &'a str, algorithm: KeyAlgorithm, caps: KeyCapabilities) -> Self {
        Self {
            id,
            label,
            algorithm,
            caps,
        }
    }
}

/// A key in the HSM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// Object id.
    pub id: u16,
    /// Label.
    pub label: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Capabilities.
    pub capabilities: KeyCapabilities,
    /// Public key: 33-byte compressed SEC1 for secp256k1, 32 bytes for Ed25519.
    pub public_key: Vec<u8>,
}

impl KeyInfo {
    /// An Ed25519 key's public key, to verify what it signed.
    pub fn ed25519(&self) -> Result<ed25519_dalek::VerifyingKey, HsmError> {
        let pk: [u8; 32] = self
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| HsmError::BadSignature(self.id))?;
        ed25519_dalek::VerifyingKey::from_bytes(&pk).map_err(|_| HsmError::BadSignature(self.id))
    }
}

/// What backend this is, for the home screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendInfo {
    /// True for MockHsm: the UI must say so loudly.
    pub is_mock: bool,
    /// Model name.
    pub model: String,
    /// Serial number.
    pub serial: String,
    /// Firmware version.
    pub firmware: String,
}

/// HSM errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// Could not open a session (device missing, wrong credential).
    #[error("cannot open an HSM session: {0}")]
    Session(String),
    /// No such key.
    #[error("no key with id {0} in the HSM")]
    NoSuchKey(u16),
    /// The key's algorithm does not fit the operation.
    #[error("key {id} is {found:?}, the operation needs {expected:?}")]
    WrongAlgorithm {
        /// Key id.
        id: u16,
        /// Needed.
        expected: KeyAlgorithm,
        /// Found.
        found: KeyAlgorithm,
    },
    /// The key lacks the capability.
    #[error("key {0} lacks the capability for this operation")]
    Capability(u16),
    /// The device refused or failed.
    #[error("HSM operation failed: {0}")]
    Device(String),
    /// The session's authentication key may not do this.
    #[error("the HSM refused: {0}")]
    Permission(String),
    /// Forced auditing is on and the audit log is full.
    #[error(
        "the HSM's audit log is full and forced auditing is on: it must be read into the \
         ledger before the HSM signs again"
    )]
    LogFull,
    /// The device returned a signature that does not verify or does not parse.
    #[error("HSM returned an invalid signature for key {0}")]
    BadSignature(u16),
}

/// A signing backend.
pub trait SigningBackend {
    /// Model, serial, firmware; MockHsm flagged.
    fn info(&self) -> Result<BackendInfo, HsmError>;
    /// Keys.
    fn list_keys(&self) -> Result<Vec<KeyInfo>, HsmError>;
    /// One key.
    fn key(&self, id: u16) -> Result<KeyInfo, HsmError> {
        self.list_keys()?
            .into_iter()
            .find(|k| k.id == id)
            .ok_or(HsmError::NoSuchKey(id))
    }
    /// Generates a key inside the HSM.
    fn generate_key(&self, key: &NewKey<'_>) -> Result<KeyInfo, HsmError>;
    /// Raw ECDSA over a 32-byte prehash: DER, as the device returns it (maybe high-S).
    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError>;
    /// Ed25519 over a message.
    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], HsmError>;
    /// The data of an opaque object, `None` when there is none with this id.
    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, HsmError>;
    /// Stores `data` as opaque object `id`, replacing any there.
    fn write_opaque(&self, id: u16, label: &str, data: &[u8]) -> Result<(), HsmError>;
    /// The device's audit log as it stands (a backend without one: empty).
    fn audit_log(&self) -> Result<DeviceLog, HsmError>;
    /// Marks the audit log's entries up to `item` as read, freeing their space.
    fn consume_log(&self, item: u16) -> Result<(), HsmError>;
}

/// A borrowed backend is a backend (so wrappers such as the fault injector can borrow a
/// session rather than own it).
impl<B: SigningBackend + ?Sized> SigningBackend for &B {
    fn info(&self) -> Result<BackendInfo, HsmError> {
        (**self).info()
    }
    fn list_keys(&self) -> Result<Vec<KeyInfo>, HsmError> {
        (**self).list_keys()
    }
    fn key(&self, id: u16) -> Result<KeyInfo, HsmError> {
        (**self).key(id)
    }
    fn generate_key(&self, key: &NewKey<'_>) -> Result<KeyInfo, HsmError> {
        (**self).generate_key(key)
    }
    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError> {
        (**self).sign_ecdsa_prehash(id, digest)
    }
    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], HsmError> {
        (**self).sign_ed25519(id, message)
    }
    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, HsmError> {
        (**self).read_opaque(id)
    }
    fn write_opaque(&self, id: u16, label: &str, data: &[u8]) -> Result<(), HsmError> {
        (**self).write_opaque(id, label, data)
    }
    fn audit_log(&self) -> Result<DeviceLog, HsmError> {
        (**self).audit_log()
    }
    fn consume_log(&self, item: u16) -> Result<(), HsmError> {
        (**self).consume_log(item)
    }
}
