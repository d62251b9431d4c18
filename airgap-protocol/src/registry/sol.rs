//! Keystone's `sol-sign-request` and `sol-signature`.

use super::*;

// ---------------------------------------------------------------- Solana (Keystone)

/// `sol-sign-request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolSignRequest {
    /// Request id.
    pub request_id: Option<[u8; 16]>,
    /// Serialized message (sign type 1) or message bytes (2).
    pub sign_data: Vec<u8>,
    /// Key path.
    pub derivation_path: KeyPath,
    /// Signer public key.
    pub address: Option<Vec<u8>>,
    /// Requesting wallet.
    pub origin: Option<String>,
    /// 1 transaction, 2 message.
    pub sign_type: Option<u8>,
}

impl SolSignRequest {
    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        map_cbor(&[
            (1, self.request_id.as_ref().map(Val::Uuid)),
            (2, Some(Val::Bytes(&self.sign_data))),
            (3, Some(Val::Path(&self.derivation_path))),
            (4, self.address.as_deref().map(Val::Bytes)),
            (5, self.origin.as_deref().map(Val::Text)),
            (6, self.sign_type.map(|t| Val::Uint(t.into()))),
        ])
    }

    /// Decodes.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        let f = Fields::of(cbor, "sol-sign-request")?;
        Ok(Self {
            request_id: f.get(1, uuid)?,
            sign_data: f.need(2, sign_data)?,
            derivation_path: f.need(3, KeyPath::decode)?,
            address: f.get(4, byte_vec)?,
            origin: f.get(5, text)?,
            sign_type: f.get(6, uint)?,
        })
    }
}

/// `sol-signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SolSignature {
    /// Request id.
    pub request_id: Option<[u8; 16]>,
    /// Ed25519 signature.
    pub signature: [u8; 64],
}

impl SolSignature {
    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        map_cbor(&[
            (1, self.request_id.as_ref().map(Val::Uuid)),
            (2, Some(Val::Bytes(&self.signature))),
        ])
    }

    /// Decodes.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        let f = Fields::of(cbor, "sol-signature")?;
        Ok(Self {
            request_id: f.get(1, uuid)?,
            signature: f.need(2, byte_array)?,
        })
    }
}
