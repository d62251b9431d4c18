//! Keystone's `sol-sign-request` and `sol-signature`.

use minicbor::{Decoder, Encoder};

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
        let mut e = Encoder::new(Vec::new());
        let n = 2
            + u64::from(self.request_id.is_some())
            + u64::from(self.address.is_some())
            + u64::from(self.origin.is_some())
            + u64::from(self.sign_type.is_some());
        let _ = e.map(n);
        put_request_id(&mut e, self.request_id.as_ref());
        let _ = e
            .u8(2)
            .and_then(|e| e.bytes(&self.sign_data))
            .and_then(|e| e.u8(3));
        self.derivation_path.encode(&mut e);
        if let Some(a) = &self.address {
            let _ = e.u8(4).and_then(|e| e.bytes(a));
        }
        if let Some(o) = &self.origin {
            let _ = e.u8(5).and_then(|e| e.str(o));
        }
        if let Some(t) = self.sign_type {
            let _ = e.u8(6).and_then(|e| e.u8(t));
        }
        e.into_writer()
    }

    /// Decodes.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        const W: &str = "sol-sign-request";
        let mut d = Decoder::new(cbor);
        let (mut id, mut data, mut path, mut addr, mut origin, mut ty) =
            (None, None, None, None, None, None);
        each_key(&mut d, W, |k, d| {
            match k {
                1 => id = Some(uuid(d, W)?),
                2 => data = Some(sign_data(d, W)?),
                3 => path = Some(KeyPath::decode(d)?),
                4 => addr = Some(d.bytes().map_err(bad(W))?.to_vec()),
                5 => origin = Some(d.str().map_err(bad(W))?.to_string()),
                6 => ty = Some(d.u8().map_err(bad(W))?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        done(&d, cbor, W)?;
        Ok(Self {
            request_id: id,
            sign_data: data.ok_or(RegistryError::Missing { what: W, key: 2 })?,
            derivation_path: path.ok_or(RegistryError::Missing { what: W, key: 3 })?,
            address: addr,
            origin,
            sign_type: ty,
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
        let mut e = Encoder::new(Vec::new());
        let _ = e.map(1 + u64::from(self.request_id.is_some()));
        put_request_id(&mut e, self.request_id.as_ref());
        let _ = e.u8(2).and_then(|e| e.bytes(&self.signature));
        e.into_writer()
    }

    /// Decodes.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        const W: &str = "sol-signature";
        let mut d = Decoder::new(cbor);
        let (mut id, mut sig) = (None, None);
        each_key(&mut d, W, |k, d| {
            match k {
                1 => id = Some(uuid(d, W)?),
                2 => sig = Some(fixed(W, d.bytes().map_err(bad(W))?)?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        done(&d, cbor, W)?;
        Ok(Self {
            request_id: id,
            signature: sig.ok_or(RegistryError::Missing { what: W, key: 2 })?,
        })
    }
}
