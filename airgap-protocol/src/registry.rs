//! Standard UR registry types, for interop with hardware wallets and wallet apps:
//! `crypto-psbt`/`psbt` (BCR-2020-006), `crypto-keypath` (BCR-2020-007),
//! `crypto-hdkey` (BCR-2020-007), `eth-sign-request`/`eth-signature` (ERC-4527) and
//! `sol-sign-request`/`sol-signature` (Keystone).
//!
//! Encoders write canonical CBOR (keys ascending, minimal integers), byte-identical to
//! the reference vectors. Decoders accept any key order, skip unknown keys, and refuse
//! duplicates, wrong types and oversized fields.

use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

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

// ---------------------------------------------------------------- crypto-psbt

/// `crypto-psbt` / `psbt`: a byte string holding the PSBT.
pub fn encode_psbt(psbt: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    let _ = e.bytes(psbt);
    e.into_writer()
}

/// Decodes `crypto-psbt` or `psbt`.
pub fn decode_psbt(cbor: &[u8]) -> Result<Vec<u8>, RegistryError> {
    let mut d = Decoder::new(cbor);
    let b = d.bytes().map_err(bad("crypto-psbt"))?.to_vec();
    done(&d, cbor, "crypto-psbt")?;
    Ok(b)
}

// ---------------------------------------------------------------- keypath

/// One derivation step; `index: None` is the wildcard `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathComponent {
    /// Child index, or `None` for a wildcard.
    pub index: Option<u32>,
    /// Hardened.
    pub hardened: bool,
}

/// `crypto-keypath`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPath {
    /// Steps.
    pub components: Vec<PathComponent>,
    /// Master key fingerprint.
    pub source_fingerprint: Option<u32>,
    /// Depth.
    pub depth: Option<u8>,
    /// 304 or 40304 (kept so a key path round-trips in the form it came in).
    pub tag: u64,
}

impl KeyPath {
    /// `44'/60'/0'/0/0` style text (no `m/`).
    pub fn path(&self) -> String {
        self.components
            .iter()
            .map(|c| {
                let i = c.index.map_or("*".to_string(), |i| i.to_string());
                if c.hardened {
                    format!("{i}'")
                } else {
                    i
                }
            })
            .collect::<Vec<_>>()
            .join("/")
    }

    /// Parses `m/44'/60'/0'/0/0` (or without `m/`; `h` also marks hardened).
    pub fn parse(path: &str, source_fingerprint: Option<u32>) -> Option<Self> {
        let p = path.trim().trim_start_matches("m/").trim_start_matches('m');
        let components = if p.is_empty() {
            Vec::new()
        } else {
            p.split('/')
                .map(|s| {
                    let hardened = s.ends_with('\'') || s.ends_with('h');
                    let s = s.trim_end_matches(['\'', 'h']);
                    let index = if s == "*" {
                        None
                    } else {
                        Some(s.parse::<u32>().ok().filter(|i| *i < 1 << 31)?)
                    };
                    Some(PathComponent { index, hardened })
                })
                .collect::<Option<Vec<_>>>()?
        };
        Some(Self {
            components,
            source_fingerprint,
            depth: None,
            tag: TAG_KEYPATH[0],
        })
    }

    fn encode(&self, e: &mut Enc) {
        let n = 1 + u64::from(self.source_fingerprint.is_some()) + u64::from(self.depth.is_some());
        let _ = e
            .tag(Tag::new(self.tag))
            .and_then(|e| e.map(n))
            .and_then(|e| e.u8(1));
        let _ = e.array(2 * self.components.len() as u64);
        for c in &self.components {
            let _ = match c.index {
                Some(i) => e.u32(i),
                None => e.array(0),
            };
            let _ = e.bool(c.hardened);
        }
        if let Some(f) = self.source_fingerprint {
            let _ = e.u8(2).and_then(|e| e.u32(f));
        }
        if let Some(dp) = self.depth {
            let _ = e.u8(3).and_then(|e| e.u8(dp));
        }
    }

    fn decode(d: &mut Decoder<'_>) -> Result<Self, RegistryError> {
        const W: &str = "crypto-keypath";
        let tag = expect_tag(d, W, &TAG_KEYPATH)?;
        let mut kp = Self {
            components: Vec::new(),
            source_fingerprint: None,
            depth: None,
            tag,
        };
        let mut have_components = false;
        each_key(d, W, |k, d| {
            match k {
                1 => {
                    have_components = true;
                    let n = d.array().map_err(bad(W))?.ok_or(RegistryError::Malformed {
                        what: W,
                        reason: "indefinite".into(),
                    })?;
                    if n % 2 != 0 || n > 2 * 64 {
                        return Err(RegistryError::Malformed {
                            what: W,
                            reason: format!("{n} component items"),
                        });
                    }
                    for _ in 0..n / 2 {
                        let index = match d.datatype().map_err(bad(W))? {
                            Type::Array => {
                                if d.array().map_err(bad(W))? != Some(0) {
                                    return Err(RegistryError::Unsupported(
                                        "key path ranges and pairs are not supported".into(),
                                    ));
                                }
                                None
                            }
                            _ => Some(d.u32().map_err(bad(W))?),
                        };
                        kp.components.push(PathComponent {
                            index,
                            hardened: d.bool().map_err(bad(W))?,
                        });
                    }
                }
                2 => kp.source_fingerprint = Some(d.u32().map_err(bad(W))?),
                3 => kp.depth = Some(d.u8().map_err(bad(W))?),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if !have_components {
            return Err(RegistryError::Missing { what: W, key: 1 });
        }
        Ok(kp)
    }

    /// Canonical CBOR (tagged).
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        self.encode(&mut e);
        e.into_writer()
    }

    /// Decodes a tagged or untagged key path (URs carry the untagged form).
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        let tagged;
        let input = if cbor.first() == Some(&0xd9) {
            cbor
        } else {
            let mut e = Encoder::new(Vec::new());
            let _ = e.tag(Tag::new(TAG_KEYPATH[0]));
            tagged = [e.into_writer(), cbor.to_vec()].concat();
            &tagged
        };
        let mut d = Decoder::new(input);
        let kp = Self::decode(&mut d)?;
        done(&d, input, "crypto-keypath")?;
        Ok(kp)
    }
}

// ---------------------------------------------------------------- hdkey

/// `crypto-coin-info`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CoinInfo {
    /// SLIP-44 coin type (0 BTC, 60 ETH); `None` is the default (BTC).
    pub coin_type: Option<u32>,
    /// 0 mainnet, 1 testnet; `None` is the default (mainnet).
    pub network: Option<u32>,
}

/// `crypto-hdkey` (public keys as a station or hardware wallet exports them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HdKey {
    /// A master key.
    pub is_master: bool,
    /// Private (never produced by Strongroom; parsed to be refused).
    pub is_private: Option<bool>,
    /// 33-byte key data.
    pub key_data: [u8; 33],
    /// Chain code.
    pub chain_code: Option<[u8; 32]>,
    /// Coin and network.
    pub use_info: Option<CoinInfo>,
    /// Where the key sits under the master.
    pub origin: Option<KeyPath>,
    /// Children to derive.
    pub children: Option<KeyPath>,
    /// Parent fingerprint.
    pub parent_fingerprint: Option<u32>,
    /// Name.
    pub name: Option<String>,
    /// Note.
    pub note: Option<String>,
    /// Tag set: 0 for v1 (303/304/305), 1 for v2 (40303/...).
    pub tag_set: usize,
}

impl HdKey {
    /// Canonical CBOR (untagged top level, as a UR carries it).
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let mut n = 1u64;
        n += u64::from(self.is_master)
            + u64::from(self.is_private.is_some())
            + u64::from(self.chain_code.is_some())
            + u64::from(self.use_info.is_some())
            + u64::from(self.origin.is_some())
            + u64::from(self.children.is_some())
            + u64::from(self.parent_fingerprint.is_some())
            + u64::from(self.name.is_some())
            + u64::from(self.note.is_some());
        let _ = e.map(n);
        if self.is_master {
            let _ = e.u8(1).and_then(|e| e.bool(true));
        }
        if let Some(p) = self.is_private {
            let _ = e.u8(2).and_then(|e| e.bool(p));
        }
        let _ = e.u8(3).and_then(|e| e.bytes(&self.key_data));
        if let Some(c) = &self.chain_code {
            let _ = e.u8(4).and_then(|e| e.bytes(c));
        }
        if let Some(u) = &self.use_info {
            let m = u64::from(u.coin_type.is_some()) + u64::from(u.network.is_some());
            let _ = e
                .u8(5)
                .and_then(|e| e.tag(Tag::new(TAG_COININFO[self.tag_set])))
                .and_then(|e| e.map(m));
            if let Some(t) = u.coin_type {
                let _ = e.u8(1).and_then(|e| e.u32(t));
            }
            if let Some(n) = u.network {
                let _ = e.u8(2).and_then(|e| e.u32(n));
            }
        }
        if let Some(o) = &self.origin {
            let _ = e.u8(6);
            o.encode(&mut e);
        }
        if let Some(c) = &self.children {
            let _ = e.u8(7);
            c.encode(&mut e);
        }
        if let Some(f) = self.parent_fingerprint {
            let _ = e.u8(8).and_then(|e| e.u32(f));
        }
        if let Some(s) = &self.name {
            let _ = e.u8(9).and_then(|e| e.str(s));
        }
        if let Some(s) = &self.note {
            let _ = e.u8(10).and_then(|e| e.str(s));
        }
        e.into_writer()
    }

    /// Decodes `crypto-hdkey` / `hdkey`.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        const W: &str = "crypto-hdkey";
        let mut d = Decoder::new(cbor);
        let mut k = Self {
            is_master: false,
            is_private: None,
            key_data: [0; 33],
            chain_code: None,
            use_info: None,
            origin: None,
            children: None,
            parent_fingerprint: None,
            name: None,
            note: None,
            tag_set: 0,
        };
        let mut have_key = false;
        each_key(&mut d, W, |key, d| {
            match key {
                1 => k.is_master = d.bool().map_err(bad(W))?,
                2 => k.is_private = Some(d.bool().map_err(bad(W))?),
                3 => {
                    k.key_data = fixed(W, d.bytes().map_err(bad(W))?)?;
                    have_key = true;
                }
                4 => k.chain_code = Some(fixed(W, d.bytes().map_err(bad(W))?)?),
                5 => {
                    let t = expect_tag(d, W, &TAG_COININFO)?;
                    k.tag_set = usize::from(t == TAG_COININFO[1]);
                    let mut u = CoinInfo {
                        coin_type: None,
                        network: None,
                    };
                    each_key(d, W, |ck, d| {
                        match ck {
                            1 => u.coin_type = Some(d.u32().map_err(bad(W))?),
                            2 => u.network = Some(d.u32().map_err(bad(W))?),
                            _ => return Ok(false),
                        }
                        Ok(true)
                    })?;
                    k.use_info = Some(u);
                }
                6 => {
                    let o = KeyPath::decode(d)?;
                    k.tag_set = usize::from(o.tag == TAG_KEYPATH[1]);
                    k.origin = Some(o);
                }
                7 => k.children = Some(KeyPath::decode(d)?),
                8 => k.parent_fingerprint = Some(d.u32().map_err(bad(W))?),
                9 => k.name = Some(d.str().map_err(bad(W))?.to_string()),
                10 => k.note = Some(d.str().map_err(bad(W))?.to_string()),
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        if !have_key {
            return Err(RegistryError::Missing { what: W, key: 3 });
        }
        done(&d, cbor, W)?;
        Ok(k)
    }
}

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
