//! ERC-4527: `eth-sign-request` and `eth-signature`.

use minicbor::{Decoder, Encoder};

use super::*;

// ---------------------------------------------------------------- ERC-4527

/// ERC-4527 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EthDataType {
    /// 1: legacy transaction RLP.
    LegacyTransaction,
    /// 2: EIP-712 typed data (parsed, refused).
    TypedData,
    /// 3: personal message (parsed, refused).
    PersonalMessage,
    /// 4: EIP-2718 typed transaction.
    TypedTransaction,
}

/// `eth-sign-request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthSignRequest {
    /// Request id (UUID).
    pub request_id: Option<[u8; 16]>,
    /// What to sign.
    pub sign_data: Vec<u8>,
    /// Data type.
    pub data_type: EthDataType,
    /// Chain id.
    pub chain_id: Option<i64>,
    /// Key path of the signing key.
    pub derivation_path: KeyPath,
    /// Signer address.
    pub address: Option<[u8; 20]>,
    /// Requesting wallet.
    pub origin: Option<String>,
}

impl EthSignRequest {
    /// Decodes; EIP-712 and personal messages decode but [`Self::require_transaction`]
    /// refuses them.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        const W: &str = "eth-sign-request";
        let mut d = Decoder::new(cbor);
        let (mut id, mut data, mut ty, mut chain, mut path, mut addr, mut origin) =
            (None, None, None, None, None, None, None);
        each_key(&mut d, W, |k, d| {
            match k {
                1 => id = Some(uuid(d, W)?),
                2 => data = Some(sign_data(d, W)?),
                3 => {
                    ty = Some(match d.u64().map_err(bad(W))? {
                        1 => EthDataType::LegacyTransaction,
                        2 => EthDataType::TypedData,
                        3 => EthDataType::PersonalMessage,
                        4 => EthDataType::TypedTransaction,
                        t => {
                            return Err(RegistryError::Unsupported(format!(
                                "eth-sign-request data type {t}"
                            )))
                        }
                    })
                }
                4 => chain = Some(d.i64().map_err(bad(W))?),
                5 => path = Some(KeyPath::decode(d)?),
                6 => addr = Some(fixed(W, d.bytes().map_err(bad(W))?)?),
                7 => origin = Some(d.str().map_err(bad(W))?.to_string()),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        done(&d, cbor, W)?;
        Ok(Self {
            request_id: id,
            sign_data: data.ok_or(RegistryError::Missing { what: W, key: 2 })?,
            data_type: ty.unwrap_or(EthDataType::LegacyTransaction),
            chain_id: chain,
            derivation_path: path.ok_or(RegistryError::Missing { what: W, key: 5 })?,
            address: addr,
            origin,
        })
    }

    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let n = 3
            + u64::from(self.request_id.is_some())
            + u64::from(self.chain_id.is_some())
            + u64::from(self.address.is_some())
            + u64::from(self.origin.is_some());
        let _ = e.map(n);
        put_request_id(&mut e, self.request_id.as_ref());
        let code = match self.data_type {
            EthDataType::LegacyTransaction => 1,
            EthDataType::TypedData => 2,
            EthDataType::PersonalMessage => 3,
            EthDataType::TypedTransaction => 4,
        };
        let _ = e
            .u8(2)
            .and_then(|e| e.bytes(&self.sign_data))
            .and_then(|e| e.u8(3))
            .and_then(|e| e.u8(code));
        if let Some(c) = self.chain_id {
            let _ = e.u8(4).and_then(|e| e.i64(c));
        }
        let _ = e.u8(5);
        self.derivation_path.encode(&mut e);
        if let Some(a) = &self.address {
            let _ = e.u8(6).and_then(|e| e.bytes(a));
        }
        if let Some(o) = &self.origin {
            let _ = e.u8(7).and_then(|e| e.str(o));
        }
        e.into_writer()
    }

    /// Refuses, politely, what Strongroom does not sign: EIP-712 and personal messages.
    pub fn require_transaction(&self) -> Result<(), RegistryError> {
        match self.data_type {
            EthDataType::LegacyTransaction | EthDataType::TypedTransaction => Ok(()),
            EthDataType::TypedData => Err(RegistryError::Unsupported(
                "EIP-712 typed data is not signed by this station: only transactions are".into(),
            )),
            EthDataType::PersonalMessage => Err(RegistryError::Unsupported(
                "personal messages are not signed by this station: only transactions are".into(),
            )),
        }
    }
}

/// `eth-signature`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EthSignature {
    /// Request id answered.
    pub request_id: Option<[u8; 16]>,
    /// `r || s || v`, `v` big-endian: the y-parity for typed transactions, and
    /// `chain_id * 2 + 35 + parity` (EIP-155) for legacy ones, which may take more than
    /// one byte.
    pub signature: Vec<u8>,
    /// Signing device.
    pub origin: Option<String>,
}

impl EthSignature {
    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e.map(1 + u64::from(self.request_id.is_some()) + u64::from(self.origin.is_some()));
        put_request_id(&mut e, self.request_id.as_ref());
        let _ = e.u8(2).and_then(|e| e.bytes(&self.signature));
        if let Some(o) = &self.origin {
            let _ = e.u8(3).and_then(|e| e.str(o));
        }
        e.into_writer()
    }

    /// Decodes.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        const W: &str = "eth-signature";
        let mut d = Decoder::new(cbor);
        let (mut id, mut sig, mut origin) = (None, None, None);
        each_key(&mut d, W, |k, d| {
            match k {
                1 => id = Some(uuid(d, W)?),
                2 => {
                    let b = d.bytes().map_err(bad(W))?;
                    // r, s and a v of one to nine bytes (a 64-bit EIP-155 chain id).
                    if !(65..=73).contains(&b.len()) {
                        return Err(RegistryError::Malformed {
                            what: W,
                            reason: format!("signature of {} bytes", b.len()),
                        });
                    }
                    sig = Some(b.to_vec());
                }
                3 => origin = Some(d.str().map_err(bad(W))?.to_string()),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        done(&d, cbor, W)?;
        Ok(Self {
            request_id: id,
            signature: sig.ok_or(RegistryError::Missing { what: W, key: 2 })?,
            origin,
        })
    }
}
