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
        let mut steps = Encoder::new(Vec::new());
        let _ = steps.array(2 * self.components.len() as u64);
        for c in &self.components {
            let _ = match c.index {
                Some(i) => steps.u32(i),
                None => steps.array(0),
            };
            let _ = steps.bool(c.hardened);
        }
        let _ = e.tag(Tag::new(self.tag));
        write_map(
            e,
            &[
                (1, Some(Val::Raw(&steps.into_writer()))),
                (2, self.source_fingerprint.map(|f| Val::Uint(f.into()))),
                (3, self.depth.map(|d| Val::Uint(d.into()))),
            ],
        );
    }

    /// A tagged key path at `d` (inside the type `_in`; errors name the key path).
    pub(super) fn decode(d: &mut Decoder<'_>, _in: &'static str) -> Result<Self, RegistryError> {
        const W: &str = "crypto-keypath";
        let tag = expect_tag(d, W, &TAG_KEYPATH)?;
        let f = Fields::read(d, W)?;
        Ok(Self {
            components: f.need(1, |d, _| Self::components(d))?,
            source_fingerprint: f.get(2, uint)?,
            depth: f.get(3, uint)?,
            tag,
        })
    }

    fn components(d: &mut Decoder<'_>) -> Result<Vec<PathComponent>, RegistryError> {
        const W: &str = "crypto-keypath";
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
        let mut steps = Vec::new();
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
            steps.push(PathComponent {
                index,
                hardened: d.bool().map_err(bad(W))?,
            });
        }
        Ok(steps)
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
        let kp = Self::decode(&mut d, "crypto-keypath")?;
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
        let use_info = self.use_info.map(|u| {
            Val::Map(
                TAG_COININFO[self.tag_set],
                vec![
                    (1, u.coin_type.map(|t| Val::Uint(t.into()))),
                    (2, u.network.map(|n| Val::Uint(n.into()))),
                ],
            )
        });
        map_cbor(&[
            (1, self.is_master.then_some(Val::Bool(true))),
            (2, self.is_private.map(Val::Bool)),
            (3, Some(Val::Bytes(&self.key_data))),
            (4, self.chain_code.as_ref().map(|c| Val::Bytes(c))),
            (5, use_info),
            (6, self.origin.as_ref().map(Val::Path)),
            (7, self.children.as_ref().map(Val::Path)),
            (8, self.parent_fingerprint.map(|f| Val::Uint(f.into()))),
            (9, self.name.as_deref().map(Val::Text)),
            (10, self.note.as_deref().map(Val::Text)),
        ])
    }

    /// Decodes `crypto-hdkey` / `hdkey`.
    pub fn from_cbor(cbor: &[u8]) -> Result<Self, RegistryError> {
        let f = Fields::of(cbor, "crypto-hdkey")?;
        let use_info = f.get(5, |d, w| {
            let t = expect_tag(d, w, &TAG_COININFO)?;
            let c = Fields::read(d, w)?;
            let info = CoinInfo {
                coin_type: c.get(1, uint)?,
                network: c.get(2, uint)?,
            };
            Ok((info, t))
        })?;
        let origin = f.get(6, KeyPath::decode)?;
        // The tag set the key came in: its origin's, else its coin info's.
        let v2 = match (&origin, &use_info) {
            (Some(o), _) => o.tag == TAG_KEYPATH[1],
            (None, Some((_, t))) => *t == TAG_COININFO[1],
            (None, None) => false,
        };
        Ok(Self {
            is_master: f.get(1, boolean)?.unwrap_or(false),
            is_private: f.get(2, boolean)?,
            key_data: f.need(3, byte_array)?,
            chain_code: f.get(4, byte_array)?,
            use_info: use_info.map(|(u, _)| u),
            origin,
            children: f.get(7, KeyPath::decode)?,
            parent_fingerprint: f.get(8, uint)?,
            name: f.get(9, text)?,
            note: f.get(10, text)?,
            tag_set: usize::from(v2),
        })
    }
}
