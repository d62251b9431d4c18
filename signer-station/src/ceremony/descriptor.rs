//! `export descriptor`: the station's public material, signed by its identity key.

use airgap_protocol::envelope::{DescriptorKey, StationDescriptor};
use sha2::{Digest, Sha256};

use crate::hsm::{HsmError, SigningBackend};
use crate::keys::StationKeys;
use crate::sign::sign_ed25519;
use crate::station::Policy;

/// SHA-256 of the policy's canonical JSON.
pub fn policy_digest(policy: &Policy) -> [u8; 32] {
    Sha256::digest(serde_json::to_vec(policy).unwrap_or_default()).into()
}

/// Builds and signs the descriptor.
pub fn export_descriptor<B: SigningBackend + ?Sized>(
    hsm: &B,
    keys: &StationKeys,
    name: &str,
    policy: &Policy,
    now: u64,
) -> Result<StationDescriptor, HsmError> {
    let identity: [u8; 32] = keys
        .identity
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| HsmError::BadSignature(keys.identity.id))?;
    let keys_out = keys
        .chain_keys()
        .into_iter()
        .map(|(chain, network, k)| DescriptorKey {
            chain,
            network,
            id: k.id,
            public_key: k.public_key.clone(),
            label: k.label.clone(),
        })
        .collect();
    let mut d = StationDescriptor {
        name: name.to_string(),
        identity,
        created: now,
        keys: keys_out,
        policy_digest: policy_digest(policy),
        mock_hsm: hsm.info()?.is_mock,
        signature: [0; 64],
    };
    d.signature = sign_ed25519(hsm, &keys.identity, &d.signing_message())?;
    Ok(d)
}
