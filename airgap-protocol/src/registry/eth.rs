//! ERC-4527: `eth-sign-request` and `eth-signature`.

use minicbor::Decoder;

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

impl EthDataType {
    fn code(self) -> u64 {
        match self {
            EthDataType::LegacyTransaction => 1,
            EthDataType::TypedData => 2,
            EthDataType::PersonalMessage => 3,
            EthDataType::TypedTransaction => 4,
        }
    }

    fn decode(d: &mut Decoder<'_>, what: &'static str) -> Result<Self, RegistryError> {
        Ok(match d.u64().map_err(bad(what))? {
            1 => EthDataType::LegacyTransaction,
            2 => EthDataType::TypedData,
            3 => EthDataType::PersonalMessage,
            4 => EthDataType::TypedTransaction,
            t => return Err(RegistryError::Unsupported(format!("{what} data type {t}"))),
        })
    }
}

impl EthSignRequest {
    /// Decodes; EIP-712 and personal messages decode but [`Self::require_transaction`]
    /// refuses them.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        let f = Fields::of(cbor, "eth-sign-request")?;
        Ok(Self {
            request_id: f.get(1, uuid)?,
            sign_data: f.need(2, sign_data)?,
            data_type: f
                .get(3, EthDataType::decode)?
                .unwrap_or(EthDataType::LegacyTransaction),
            chain_id: f.get(4, |d, w| d.i64().map_err(bad(w)))?,
            derivation_path: f.need(5, KeyPath::decode)?,
            address: f.get(6, byte_array)?,
            origin: f.get(7, text)?,
        })
    }

    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        map_cbor(&[
            (1, self.request_id.as_ref().map(Val::Uuid)),
            (2, Some(Val::Bytes(&self.sign_data))),
            (3, Some(Val::Uint(self.data_type.code()))),
            (4, self.chain_id.map(Val::Int)),
            (5, Some(Val::Path(&self.derivation_path))),
            (6, self.address.as_ref().map(|a| Val::Bytes(a))),
            (7, self.origin.as_deref().map(Val::Text)),
        ])
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
        map_cbor(&[
            (1, self.request_id.as_ref().map(Val::Uuid)),
            (2, Some(Val::Bytes(&self.signature))),
            (3, self.origin.as_deref().map(Val::Text)),
        ])
    }

    /// Decodes.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        let f = Fields::of(cbor, "eth-signature")?;
        Ok(Self {
            request_id: f.get(1, uuid)?,
            signature: f.need(2, |d, w| {
                let b = d.bytes().map_err(bad(w))?;
                // r, s and a v of one to nine bytes (a 64-bit EIP-155 chain id).
                if !(65..=73).contains(&b.len()) {
                    return Err(RegistryError::Malformed {
                        what: w,
                        reason: format!("signature of {} bytes", b.len()),
                    });
                }
                Ok(b.to_vec())
            })?,
            origin: f.get(3, text)?,
        })
    }
}
