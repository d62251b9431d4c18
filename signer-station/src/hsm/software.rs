//! A software backend with in-memory keys that times its own signing calls, so a
//! benchmark can report the station's overhead beyond the HSM. Tests and benches only.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::{Duration, Instant};

use k256::ecdsa::signature::hazmat::PrehashSigner;

use super::NewKey;
use super::{BackendInfo, DeviceLog, HsmError, KeyAlgorithm, KeyInfo, SigningBackend};

enum Secret {
    K256(k256::ecdsa::SigningKey),
    Ed(ed25519_dalek::SigningKey),
}

/// Keys in memory, deterministic from their id.
#[derive(Default)]
pub struct SoftwareBackend {
    keys: RefCell<Vec<(KeyInfo, Secret)>>,
    opaque: RefCell<HashMap<u16, Vec<u8>>>,
    spent: Cell<Duration>,
}

impl std::fmt::Debug for SoftwareBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SoftwareBackend").finish_non_exhaustive()
    }
}

impl SoftwareBackend {
    /// Time spent inside signing calls so far.
    pub fn time_in_backend(&self) -> Duration {
        self.spent.get()
    }

    fn secret<T>(
        &self,
        id: u16,
        f: impl FnOnce(&Secret) -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        let t = Instant::now();
        let keys = self.keys.borrow();
        let (_, s) = keys
            .iter()
            .find(|(k, _)| k.id == id)
            .ok_or(HsmError::NoSuchKey(id))?;
        let r = f(s);
        self.spent.set(self.spent.get() + t.elapsed());
        r
    }
}

impl SigningBackend for SoftwareBackend {
    fn info(&self) -> Result<BackendInfo, HsmError> {
        Ok(BackendInfo {
            is_mock: true,
            model: "software keys (benchmark)".into(),
            serial: "0".into(),
            firmware: "-".into(),
        })
    }
    fn list_keys(&self) -> Result<Vec<KeyInfo>, HsmError> {
        Ok(self.keys.borrow().iter().map(|(k, _)| k.clone()).collect())
    }
    fn generate_key(&self, key: &NewKey<'_>) -> Result<KeyInfo, HsmError> {
        let (id, algorithm) = (key.id, key.algorithm);
        let mut seed = [0u8; 32];
        seed[..2].copy_from_slice(&id.to_be_bytes());
        seed[31] = 1;
        let (secret, public_key) = match algorithm {
            KeyAlgorithm::Secp256k1 => {
                let k = k256::ecdsa::SigningKey::from_slice(&seed)
                    .map_err(|e| HsmError::Device(e.to_string()))?;
                let pk = k.verifying_key().to_sec1_bytes().to_vec();
                (Secret::K256(k), pk)
            }
            KeyAlgorithm::Ed25519 => {
                let k = ed25519_dalek::SigningKey::from_bytes(&seed);
                let pk = k.verifying_key().to_bytes().to_vec();
                (Secret::Ed(k), pk)
            }
        };
        let info = KeyInfo {
            id,
            label: key.label.into(),
            algorithm,
            capabilities: key.caps,
            public_key,
        };
        self.keys.borrow_mut().push((info.clone(), secret));
        Ok(info)
    }
    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError> {
        self.secret(id, |s| match s {
            Secret::K256(k) => {
                let sig: k256::ecdsa::Signature = k
                    .sign_prehash(digest)
                    .map_err(|e| HsmError::Device(e.to_string()))?;
                Ok(sig.to_der().as_bytes().to_vec())
            }
            Secret::Ed(_) => Err(HsmError::Capability(id)),
        })
    }
    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], HsmError> {
        use ed25519_dalek::Signer;
        self.secret(id, |s| match s {
            Secret::Ed(k) => Ok(k.sign(message).to_bytes()),
            Secret::K256(_) => Err(HsmError::Capability(id)),
        })
    }
    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, HsmError> {
        Ok(self.opaque.borrow().get(&id).cloned())
    }
    fn write_opaque(&self, id: u16, _label: &str, data: &[u8]) -> Result<(), HsmError> {
        self.opaque.borrow_mut().insert(id, data.to_vec());
        Ok(())
    }
    /// A software backend keeps no audit log.
    fn audit_log(&self) -> Result<DeviceLog, HsmError> {
        Ok(DeviceLog::default())
    }
    fn consume_log(&self, _item: u16) -> Result<(), HsmError> {
        Ok(())
    }
}
