//! `register`: the coordinator's request key and the approvers' keys with their roles,
//! pinned in a file signed by the station identity key (usable only under custodian
//! quorum), so an edited file is refused at load.

use airgap_protocol::envelope::{Approver, Role, TrustAnchors};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::hsm::{HsmError, KeyInfo, SigningBackend};
use crate::sign::sign_ed25519;

/// A pinned approver.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredApprover {
    /// Name shown to custodians.
    pub name: String,
    /// `treasury`, `risk` or `security`.
    pub role: String,
    /// Ed25519 public key, hex (the approver's tool); or an Ethereum address, `0x` and
    /// 40 hex digits (typed approvals from the approver's own wallet).
    pub key: String,
}

/// What the station trusts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    /// Coordinator request keys, hex.
    pub coordinator_keys: Vec<String>,
    /// Approvers.
    pub approvers: Vec<RegisteredApprover>,
}

/// A registration with the identity signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedRegistration {
    /// The registration.
    pub registration: Registration,
    /// Identity signature, hex.
    pub signature: String,
}

/// Registration errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistrationError {
    /// Does not parse.
    #[error("registration file does not parse: {0}")]
    Parse(String),
    /// Signature invalid: edited after custodians signed it.
    #[error("registration signature invalid: the file was changed after the custodians signed it")]
    BadSignature,
    /// A key or role that does not parse.
    #[error("registration entry invalid: {0}")]
    Entry(String),
    /// The HSM failed.
    #[error("HSM: {0}")]
    Hsm(HsmError),
    /// A weak (small-order) Ed25519 key.
    #[error("key {0} is a weak (small-order) Ed25519 key and cannot be registered")]
    WeakKey(String),
}

fn message(r: &Registration) -> Vec<u8> {
    [
        b"strongroom/registration/v1".as_slice(),
        &Sha256::digest(serde_json::to_vec(r).unwrap_or_default()),
    ]
    .concat()
}

fn key32(s: &str) -> Option<[u8; 32]> {
    hex::decode(s).ok()?.try_into().ok()
}

/// Signs a registration with the identity key (the HSM session is the custodians' quorum),
/// after checking every key and role in it.
pub fn sign<B: SigningBackend + ?Sized>(
    hsm: &B,
    identity: &KeyInfo,
    r: Registration,
) -> Result<SignedRegistration, RegistrationError> {
    anchors_of(&r)?;
    let sig = sign_ed25519(hsm, identity, &message(&r)).map_err(RegistrationError::Hsm)?;
    Ok(SignedRegistration {
        registration: r,
        signature: hex::encode(sig),
    })
}

/// Loads and verifies a registration; returns trust anchors (thresholds come from policy).
pub fn load(
    json: &str,
    identity: &ed25519_dalek::VerifyingKey,
) -> Result<TrustAnchors, RegistrationError> {
    let s: SignedRegistration =
        serde_json::from_str(json).map_err(|e| RegistrationError::Parse(e.to_string()))?;
    let sig = hex::decode(&s.signature).map_err(|_| RegistrationError::BadSignature)?;
    let sig: [u8; 64] = sig
        .try_into()
        .map_err(|_| RegistrationError::BadSignature)?;
    identity
        .verify_strict(
            &message(&s.registration),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| RegistrationError::BadSignature)?;
    anchors_of(&s.registration)
}

/// The trust anchors a registration pins, every key and role checked.
fn anchors_of(r: &Registration) -> Result<TrustAnchors, RegistrationError> {
    let mut a = TrustAnchors::new(usize::MAX);
    let vk = |h: &str| {
        let k = key32(h)
            .and_then(|k| ed25519_dalek::VerifyingKey::from_bytes(&k).ok())
            .ok_or_else(|| RegistrationError::Entry(format!("key {h}")))?;
        // A small-order key (all zeros, the identity, …) "verifies" forged signatures
        // under lax checks: never pin one.
        if k.is_weak() {
            return Err(RegistrationError::WeakKey(h.chars().take(64).collect()));
        }
        Ok(k)
    };
    for c in &r.coordinator_keys {
        a.pin_coordinator(vk(c)?);
    }
    let mut seen = std::collections::HashSet::new();
    for ap in &r.approvers {
        if !seen.insert(ap.name.as_str()) {
            return Err(RegistrationError::Entry(format!(
                "approver {} is pinned twice",
                ap.name
            )));
        }
        let role = match ap.role.as_str() {
            "treasury" => Role::Treasury,
            "risk" => Role::Risk,
            "security" => Role::Security,
            other => return Err(RegistrationError::Entry(format!("role {other}"))),
        };
        let key = if ap.key.starts_with("0x") {
            airgap_protocol::approval::ApproverKey::parse(&ap.key)
                .map_err(|e| RegistrationError::Entry(format!("approver {}: {e}", ap.name)))?
        } else {
            vk(&ap.key)?.into()
        };
        // One key, one approver: the same key under two names would count twice.
        if a.approver(&key.id()).is_some() {
            return Err(RegistrationError::Entry(format!(
                "approver {}: that key is already pinned for another approver",
                ap.name
            )));
        }
        a.pin_approver(Approver {
            name: ap.name.clone(),
            role,
            key,
        });
    }
    Ok(a)
}
