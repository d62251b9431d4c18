//! `crypto-keypath` and `crypto-hdkey` (BCR-2020-007): key paths, extended keys.

use minicbor::data::{Tag, Type};
use minicbor::{Decoder, Encoder};

use super::*;

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
    /// A key path of no steps and no fingerprint (tag 304): the wallet's own key, as a
    /// request names it when the signer holds one key.
    pub fn none() -> Self {
        Self {
            components: Vec::new(),
            source_fingerprint: None,
            depth: None,
            tag: 304,
        }
    }

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

    pub(super) fn encode(&self, e: &mut Enc) {
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

    pub(super) fn decode(d: &mut Decoder<'_>) -> Result<Self, RegistryError> {
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
