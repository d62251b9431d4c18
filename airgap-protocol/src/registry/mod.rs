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

/// A definite CBOR map read once: its keys (duplicates refused), and where each value
/// lies, decoded when a field is asked for. Unknown keys are passed over.
struct Fields<'b> {
    what: &'static str,
    input: &'b [u8],
    spans: Vec<(u64, usize, usize)>,
}

impl<'b> Fields<'b> {
    /// The map at `d`'s position; `d` moves past it.
    fn read(d: &mut Decoder<'b>, what: &'static str) -> Result<Self, RegistryError> {
        let n = d
            .map()
            .map_err(bad(what))?
            .ok_or(RegistryError::Malformed {
                what,
                reason: "indefinite map".into(),
            })?;
        let mut spans: Vec<(u64, usize, usize)> = Vec::new();
        for _ in 0..n {
            let k = d.u64().map_err(bad(what))?;
            if spans.iter().any(|s| s.0 == k) {
                return Err(RegistryError::Duplicate { what, key: k });
            }
            let start = d.position();
            d.skip().map_err(bad(what))?;
            spans.push((k, start, d.position()));
        }
        Ok(Self {
            what,
            input: d.input(),
            spans,
        })
    }

    /// A whole input that is one map, nothing after it.
    fn of(cbor: &'b [u8], what: &'static str) -> Result<Self, RegistryError> {
        let mut d = Decoder::new(cbor);
        let f = Self::read(&mut d, what)?;
        done(&d, cbor, what)?;
        Ok(f)
    }

    /// Field `key` decoded by `f`, if present; `f` must take the whole value.
    fn get<T>(
        &self,
        key: u64,
        f: impl FnOnce(&mut Decoder<'b>, &'static str) -> Result<T, RegistryError>,
    ) -> Result<Option<T>, RegistryError> {
        let Some(&(_, start, end)) = self.spans.iter().find(|s| s.0 == key) else {
            return Ok(None);
        };
        let mut d = Decoder::new(&self.input[..end]);
        d.set_position(start);
        let v = f(&mut d, self.what)?;
        done(&d, &self.input[..end], self.what)?;
        Ok(Some(v))
    }

    /// Field `key`, which must be present.
    fn need<T>(
        &self,
        key: u64,
        f: impl FnOnce(&mut Decoder<'b>, &'static str) -> Result<T, RegistryError>,
    ) -> Result<T, RegistryError> {
        self.get(key, f)?.ok_or(RegistryError::Missing {
            what: self.what,
            key,
        })
    }
}

fn text(d: &mut Decoder<'_>, what: &'static str) -> Result<String, RegistryError> {
    Ok(d.str().map_err(bad(what))?.to_string())
}

fn byte_vec(d: &mut Decoder<'_>, what: &'static str) -> Result<Vec<u8>, RegistryError> {
    Ok(d.bytes().map_err(bad(what))?.to_vec())
}

fn byte_array<const N: usize>(
    d: &mut Decoder<'_>,
    what: &'static str,
) -> Result<[u8; N], RegistryError> {
    fixed(what, d.bytes().map_err(bad(what))?)
}

fn uint<T: TryFrom<u64>>(d: &mut Decoder<'_>, what: &'static str) -> Result<T, RegistryError> {
    let n = d.u64().map_err(bad(what))?;
    T::try_from(n).map_err(|_| RegistryError::Malformed {
        what,
        reason: format!("{n} out of range"),
    })
}

fn boolean(d: &mut Decoder<'_>, what: &'static str) -> Result<bool, RegistryError> {
    d.bool().map_err(bad(what))
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

/// A value written into a registry map.
enum Val<'a> {
    Bool(bool),
    Uint(u64),
    Int(i64),
    Bytes(&'a [u8]),
    Text(&'a str),
    /// CBOR written already.
    Raw(&'a [u8]),
    /// A request id: a tagged UUID.
    Uuid(&'a [u8; 16]),
    /// A tagged key path.
    Path(&'a KeyPath),
    /// A tagged map.
    Map(u64, Vec<(u8, Option<Val<'a>>)>),
}

/// Writes a map of the present fields, keys ascending (canonical CBOR).
fn write_map(e: &mut Enc, fields: &[(u8, Option<Val<'_>>)]) {
    debug_assert!(fields.windows(2).all(|w| w[0].0 < w[1].0));
    let _ = e.map(fields.iter().filter(|f| f.1.is_some()).count() as u64);
    for (k, v) in fields {
        let Some(v) = v else { continue };
        let _ = e.u8(*k);
        let _ = match v {
            Val::Bool(b) => e.bool(*b),
            Val::Uint(n) => e.u64(*n),
            Val::Int(n) => e.i64(*n),
            Val::Bytes(b) => e.bytes(b),
            Val::Text(t) => e.str(t),
            Val::Raw(b) => {
                e.writer_mut().extend_from_slice(b);
                Ok(&mut *e)
            }
            Val::Uuid(id) => e.tag(Tag::new(TAG_UUID)).and_then(|e| e.bytes(*id)),
            Val::Path(p) => {
                p.encode(e);
                Ok(&mut *e)
            }
            Val::Map(tag, inner) => {
                let _ = e.tag(Tag::new(*tag));
                write_map(e, inner);
                Ok(&mut *e)
            }
        };
    }
}

/// A map of the present fields as canonical CBOR.
fn map_cbor(fields: &[(u8, Option<Val<'_>>)]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    write_map(&mut e, fields);
    e.into_writer()
}
