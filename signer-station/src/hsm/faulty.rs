//! A backend wrapper that behaves like a real device where MockHsm does not, and breaks
//! on purpose: the real YubiHSM returns high-S ECDSA signatures and enforces
//! capabilities; MockHsm does neither.

use std::cell::Cell;

use k256::ecdsa::Signature;

use super::NewKey;
use super::{BackendInfo, DeviceLog, HsmError, KeyAlgorithm, KeyInfo, SigningBackend};

/// Faults to inject.
#[derive(Debug, Clone, Copy, Default)]
pub struct Faults {
    /// Return the high-S twin of every ECDSA signature (as the real device may).
    pub high_s: bool,
    /// Refuse operations a key's capabilities do not allow (as the real device does).
    pub enforce_capabilities: bool,
    /// Return a signature from the wrong key / corrupted.
    pub corrupt_signatures: bool,
    /// Fail every signing call after this many succeeded.
    pub fail_after: Option<usize>,
    /// Crash right after the device returned this many signatures (counting from 1):
    /// the signature exists only in the caller's memory when the thread unwinds, as
    /// when the station loses power between the HSM's answer and the ledger write.
    pub crash_after_signature: Option<usize>,
}

/// Wraps a backend and injects [`Faults`].
#[derive(Debug)]
pub struct FaultyBackend<B> {
    inner: B,
    faults: Faults,
    calls: Cell<usize>,
    signed: Cell<usize>,
}

impl<B: SigningBackend> FaultyBackend<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, faults: Faults) -> Self {
        Self {
            inner,
            faults,
            calls: Cell::new(0),
            signed: Cell::new(0),
        }
    }

    fn after_sign(&self) {
        let n = self.signed.get() + 1;
        self.signed.set(n);
        if self.faults.crash_after_signature == Some(n) {
            std::panic::resume_unwind(Box::new("injected crash after the HSM signed"));
        }
    }

    fn before_sign(&self, id: u16, needs: KeyAlgorithm) -> Result<(), HsmError> {
        let n = self.calls.get();
        if self.faults.fail_after.is_some_and(|limit| n >= limit) {
            return Err(HsmError::Device("injected failure".into()));
        }
        self.calls.set(n + 1);
        if self.faults.enforce_capabilities {
            let k = self.inner.key(id)?;
            if k.algorithm != needs {
                return Err(HsmError::WrongAlgorithm {
                    id,
                    expected: needs,
                    found: k.algorithm,
                });
            }
            if !k.capabilities.sign {
                return Err(HsmError::Capability(id));
            }
        }
        Ok(())
    }
}

impl<B: SigningBackend> SigningBackend for FaultyBackend<B> {
    fn info(&self) -> Result<BackendInfo, HsmError> {
        self.inner.info()
    }
    fn list_keys(&self) -> Result<Vec<KeyInfo>, HsmError> {
        self.inner.list_keys()
    }
    fn generate_key(&self, key: &NewKey<'_>) -> Result<KeyInfo, HsmError> {
        self.inner.generate_key(key)
    }
    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, HsmError> {
        self.before_sign(id, KeyAlgorithm::Secp256k1)?;
        let der = self.inner.sign_ecdsa_prehash(id, digest)?;
        let mut sig = Signature::from_der(&der).map_err(|_| HsmError::BadSignature(id))?;
        if self.faults.high_s && sig.normalize_s().is_none() {
            // Low-S from the mock: flip to the high-S twin, s' = n - s.
            let (r, s) = sig.split_scalars();
            sig = Signature::from_scalars(r, -*s).map_err(|_| HsmError::BadSignature(id))?;
        }
        if self.faults.corrupt_signatures {
            let (r, s) = sig.split_scalars();
            sig = Signature::from_scalars(r, *s + k256::Scalar::ONE)
                .map_err(|_| HsmError::BadSignature(id))?;
        }
        self.after_sign();
        Ok(sig.to_der().as_bytes().to_vec())
    }
    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], HsmError> {
        self.before_sign(id, KeyAlgorithm::Ed25519)?;
        let mut sig = self.inner.sign_ed25519(id, message)?;
        if self.faults.corrupt_signatures {
            sig[0] ^= 1;
        }
        self.after_sign();
        Ok(sig)
    }
    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, HsmError> {
        self.inner.read_opaque(id)
    }
    fn write_opaque(&self, id: u16, label: &str, data: &[u8]) -> Result<(), HsmError> {
        self.inner.write_opaque(id, label, data)
    }
    fn audit_log(&self) -> Result<DeviceLog, HsmError> {
        self.inner.audit_log()
    }
    fn consume_log(&self, item: u16) -> Result<(), HsmError> {
        self.inner.consume_log(item)
    }
}
