//! Standard UR registry types, for interop with hardware wallets and wallet apps:
//! `crypto-psbt`/`psbt` (BCR-2020-006), `crypto-keypath` (BCR-2020-007),
//! `crypto-hdkey` (BCR-2020-007), `eth-sign-request`/`eth-signature` (ERC-4527) and
//! `sol-sign-request`/`sol-signature` (Keystone).
//!
//! Encoders write canonical CBOR (keys ascending, minimal integers), byte-identical to
//! the reference vectors. Decoders accept any key order, skip unknown keys, and refuse
//! duplicates, wrong types and oversized fields.

mod eth;
mod keys;
mod psbt;
mod sol;

use minicbor::data::Tag;
use minicbor::{Decoder, Encoder};

pub use eth::{EthDataType, EthSignRequest, EthSignature};
pub use keys::{CoinInfo, HdKey, KeyPath, PathComponent};
pub use psbt::{decode_psbt, encode_psbt};
pub use sol::{SolSignRequest, SolSignature};

/// CBOR tag of a UUID (request ids).
pub const TAG_UUID: u64 = 37;
/// `crypto-hdkey` tag (v1) and `hdkey` (v2).
pub const TAG_HDKEY: [u64; 2] = [303, 40303];
/// `crypto-keypath` (v1) and `keypath` (v2).
pub const TAG_KEYPATH: [u64; 2] = [304, 40304];
/// `crypto-coin-info` (v1) and `coin-info` (v2).
pub const TAG_COININFO: [u64; 2] = [305, 40305];
/// Largest sign-data accepted from a foreign request.
const MAX_SIGN_DATA: usize = 4 * 1024 * 1024;

/// Errors decoding a registry type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Malformed CBOR or a wrong type.
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Type being decoded.
        what: &'static str,
        /// Why.
        reason: String,
    },
    /// A required field is missing.
    #[error("{what}: missing field {key}")]
    Missing {
        /// Type.
        what: &'static str,
        /// Map key.
        key: u64,
    },
    /// A key appears twice.
    #[error("{what}: field {key} appears twice")]
    Duplicate {
        /// Type.
        what: &'static str,
        /// Map key.
        key: u64,
    },
    /// Understood but refused (e.g. EIP-712 typed data).
    #[error("{0}")]
    Unsupported(String),
}

fn bad(what: &'static str) -> impl Fn(minicbor::decode::Error) -> RegistryError {
    move |e| RegistryError::Malformed {
        what,
        reason: e.to_string(),
    }
}

fn fixed<const N: usize>(what: &'static str, b: &[u8]) -> Result<[u8; N], RegistryError> {
    b.try_into().map_err(|_| RegistryError::Malformed {
        what,
        reason: format!("expected {N} bytes, found {}", b.len()),
    })
}

/// Iterates a definite map, calling `f` for every key; refuses duplicates.
fn each_key<'b>(
    d: &mut Decoder<'b>,
    what: &'static str,
    mut f: impl FnMut(u64, &mut Decoder<'b>) -> Result<bool, RegistryError>,
) -> Result<(), RegistryError> {
    let n = d
        .map()
        .map_err(bad(what))?
        .ok_or(RegistryError::Malformed {
            what,
            reason: "indefinite map".into(),
        })?;
    let mut seen = Vec::new();
    for _ in 0..n {
        let k = d.u64().map_err(bad(what))?;
        if seen.contains(&k) {
            return Err(RegistryError::Duplicate { what, key: k });
        }
        seen.push(k);
        if !f(k, d)? {
            d.skip().map_err(bad(what))?;
        }
    }
    Ok(())
}

fn expect_tag(
    d: &mut Decoder<'_>,
    what: &'static str,
    allowed: &[u64],
) -> Result<u64, RegistryError> {
    let t = d.tag().map_err(bad(what))?.as_u64();
    if !allowed.contains(&t) {
        return Err(RegistryError::Malformed {
            what,
            reason: format!("unexpected tag {t}"),
        });
    }
    Ok(t)
}

fn uuid(d: &mut Decoder<'_>, what: &'static str) -> Result<[u8; 16], RegistryError> {
    expect_tag(d, what, &[TAG_UUID])?;
    fixed(what, d.bytes().map_err(bad(what))?)
}

fn sign_data(d: &mut Decoder<'_>, what: &'static str) -> Result<Vec<u8>, RegistryError> {
    let b = d.bytes().map_err(bad(what))?;
    if b.len() > MAX_SIGN_DATA {
        return Err(RegistryError::Malformed {
            what,
            reason: "sign data too large".into(),
        });
    }
    Ok(b.to_vec())
}

fn done(d: &Decoder<'_>, input: &[u8], what: &'static str) -> Result<(), RegistryError> {
    if d.position() != input.len() {
        return Err(RegistryError::Malformed {
            what,
            reason: "trailing bytes".into(),
        });
    }
    Ok(())
}

// Writing to a Vec cannot fail.
type Enc = Encoder<Vec<u8>>;

/// Key 1, the request id as a tagged UUID, when there is one.
fn put_request_id(e: &mut Enc, id: Option<&[u8; 16]>) {
    if let Some(id) = id {
        let _ = e
            .u8(1)
            .and_then(|e| e.tag(Tag::new(TAG_UUID)))
            .and_then(|e| e.bytes(id));
    }
}
