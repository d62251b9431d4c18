//! Signing on top of a backend: ECDSA normalised to low-S with the recovery id found by
//! trial recovery, Ed25519; every signature verified against the key's public key before
//! it is returned, so a faulty device cannot hand out a bad or foreign signature.

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use crate::hsm::{HsmError, KeyAlgorithm, KeyInfo, SigningBackend};

/// A secp256k1 signature as chains want it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EcdsaSignature {
    /// r.
    pub r: [u8; 32],
    /// s, low half of the order.
    pub s: [u8; 32],
    /// y-parity of R (0 or 1), found by trial recovery.
    pub recovery_id: u8,
    /// Whether the device's signature was high-S and was normalised.
    pub normalised: bool,
}

impl EcdsaSignature {
    /// `r || s || v` with v the y-parity (EIP-2718 typed transactions, `eth-signature`).
    pub fn to_rsv(&self) -> [u8; 65] {
        let mut out = [0u8; 65];
        out[..32].copy_from_slice(&self.r);
        out[32..64].copy_from_slice(&self.s);
        out[64] = self.recovery_id;
        out
    }

    /// DER encoding (Bitcoin partial signatures, before the sighash byte).
    pub fn to_der(&self) -> Vec<u8> {
        Signature::from_scalars(self.r, self.s)
            .map(|s| s.to_der().as_bytes().to_vec())
            .unwrap_or_default()
    }
}

fn check_key(key: &KeyInfo, needs: KeyAlgorithm) -> Result<(), HsmError> {
    if key.algorithm != needs {
        return Err(HsmError::WrongAlgorithm {
            id: key.id,
            expected: needs,
            found: key.algorithm,
        });
    }
    Ok(())
}

/// Signs a 32-byte digest with a secp256k1 key: low-S, recovery id, verified.
pub fn sign_secp256k1<B: SigningBackend + ?Sized>(
    backend: &B,
    key: &KeyInfo,
    digest: &[u8; 32],
) -> Result<EcdsaSignature, HsmError> {
    check_key(key, KeyAlgorithm::Secp256k1)?;
    let vk = VerifyingKey::from_sec1_bytes(&key.public_key)
        .map_err(|_| HsmError::BadSignature(key.id))?;
    let der = backend.sign_ecdsa_prehash(key.id, digest)?;
    let sig = Signature::from_der(&der).map_err(|_| HsmError::BadSignature(key.id))?;
    let (sig, normalised) = match sig.normalize_s() {
        Some(low) => (low, true),
        None => (sig, false),
    };
    // Trial recovery proves the signature is by this key over this digest.
    let rid = RecoveryId::trial_recovery_from_prehash(&vk, digest, &sig)
        .map_err(|_| HsmError::BadSignature(key.id))?;
    let (r, s) = sig.split_bytes();
    Ok(EcdsaSignature {
        r: r.into(),
        s: s.into(),
        recovery_id: rid.to_byte() & 1,
        normalised,
    })
}

/// Signs a message with an Ed25519 key, verified before it is returned.
pub fn sign_ed25519<B: SigningBackend + ?Sized>(
    backend: &B,
    key: &KeyInfo,
    message: &[u8],
) -> Result<[u8; 64], HsmError> {
    check_key(key, KeyAlgorithm::Ed25519)?;
    let vk = key.ed25519()?;
    let sig = backend.sign_ed25519(key.id, message)?;
    vk.verify_strict(message, &ed25519_dalek::Signature::from_bytes(&sig))
        .map_err(|_| HsmError::BadSignature(key.id))?;
    Ok(sig)
}
