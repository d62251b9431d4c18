//! BBQr (Coinkite): split data into QR-sized parts and join them back.
//!
//! Header: `B$`, then the encoding (`H` hex, `2` base32, `Z` raw deflate wbits 10 then
//! base32), the file type, and the part count and part index as two base-36 digits
//! each. All parts but the last carry the same amount of encoded data, a multiple of 2
//! (hex) or 8 (base32).
//! The split follows the reference implementation's choice of QR version and count so
//! that `H` and `2` output is byte-identical to it.

use std::io::{Read, Write};

use data_encoding::{BASE32_NOPAD, HEXUPPER};
use flate2::{Compress, Compression, Decompress};

/// Largest number of parts a BBQr stream can have (two base-36 digits).
pub const MAX_PARTS: usize = 1295;
const HEADER_LEN: usize = 8;
/// Cap on an inflated `Z` payload: far above any PSBT, far below what hurts the station.
pub const MAX_INFLATED: usize = 16 * 1024 * 1024;

/// Alphanumeric capacity of QR versions 1..=40 at error correction level L.
pub const ALNUM_CAPACITY_L: [usize; 40] = [
    25, 47, 77, 114, 154, 195, 224, 279, 335, 395, 468, 535, 619, 667, 758, 854, 938, 1046, 1153,
    1249, 1352, 1460, 1588, 1704, 1853, 1990, 2132, 2223, 2369, 2520, 2677, 2840, 3009, 3183, 3351,
    3537, 3729, 3927, 4087, 4296,
];

/// BBQr encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Upper-case hex.
    Hex,
    /// RFC 4648 base32 without padding.
    Base32,
    /// Raw deflate (window bits 10), then base32.
    Zlib,
}

impl Encoding {
    fn code(self) -> char {
        match self {
            Self::Hex => 'H',
            Self::Base32 => '2',
            Self::Zlib => 'Z',
        }
    }
    fn from_code(c: char) -> Option<Self> {
        match c {
            'H' => Some(Self::Hex),
            '2' => Some(Self::Base32),
            'Z' => Some(Self::Zlib),
            _ => None,
        }
    }
    fn split_mod(self) -> usize {
        match self {
            Self::Hex => 2,
            Self::Base32 | Self::Zlib => 8,
        }
    }
}

/// BBQr file types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// `P`: a PSBT.
    Psbt,
    /// `T`: a signed wire transaction.
    Transaction,
    /// `J`: JSON.
    Json,
    /// `C`: CBOR.
    Cbor,
    /// `U`: UTF-8 text.
    UnicodeText,
    /// `B`: binary data.
    Binary,
    /// `X`: executable data (accepted on read, never produced by Strongroom).
    Executable,
}

impl FileType {
    /// The header letter.
    pub fn code(self) -> char {
        match self {
            Self::Psbt => 'P',
            Self::Transaction => 'T',
            Self::Json => 'J',
            Self::Cbor => 'C',
            Self::UnicodeText => 'U',
            Self::Binary => 'B',
            Self::Executable => 'X',
        }
    }
    /// From the header letter.
    pub fn from_code(c: char) -> Option<Self> {
        Some(match c {
            'P' => Self::Psbt,
            'T' => Self::Transaction,
            'J' => Self::Json,
            'C' => Self::Cbor,
            'U' => Self::UnicodeText,
            'B' => Self::Binary,
            'X' => Self::Executable,
            _ => return None,
        })
    }
}

/// Errors from splitting or joining BBQr.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BbqrError {
    /// Nothing to split.
    #[error("no data")]
    Empty,
    /// The data does not fit the allowed versions and part counts.
    #[error("data does not fit {max_parts} parts of QR version {max_version} or less")]
    CannotFit {
        /// Largest version allowed.
        max_version: u8,
        /// Largest part count allowed.
        max_parts: usize,
    },
    /// Invalid split options.
    #[error("invalid split options: {0}")]
    Options(&'static str),
    /// The text is not a BBQr part.
    #[error("not a BBQr part: {0}")]
    NotBbqr(&'static str),
    /// A part of another stream was scanned; the stream in progress is kept.
    #[error("part of another BBQr stream ({found}) while receiving {expected}; ignored")]
    Stranger {
        /// Header of the stream in progress.
        expected: String,
        /// Header of the stranger.
        found: String,
    },
    /// Two different parts with the same index.
    #[error("part {index} scanned twice with different content; ignored")]
    Conflict {
        /// Part index.
        index: usize,
    },
    /// A part's payload is not valid for its encoding.
    #[error("part {index} is not valid {encoding}")]
    BadPayload {
        /// Part index.
        index: usize,
        /// Encoding name.
        encoding: &'static str,
    },
    /// Non-final parts differ in length: the stream is damaged or mixed.
    #[error("parts differ in length; stream discarded, scan again")]
    UnevenParts,
    /// Inflating a `Z` payload failed or exceeded the cap.
    #[error("compressed payload invalid: {0}")]
    Inflate(String),
    /// Not every part was given.
    #[error("stream incomplete: {received} of {total} parts")]
    Incomplete {
        /// Distinct parts received.
        received: usize,
        /// Parts in the stream.
        total: usize,
    },
    /// Compressing failed.
    #[error("compression failed: {0}")]
    Deflate(String),
}

/// Options for [`split`], as in the reference implementation.
#[derive(Debug, Clone, Copy)]
pub struct SplitOptions {
    /// Encoding; `Zlib` falls back to `Base32` when compression does not help.
    pub encoding: Encoding,
    /// Smallest QR version to consider.
    pub min_version: u8,
    /// Largest QR version to consider.
    pub max_version: u8,
    /// Fewest parts.
    pub min_split: usize,
    /// Most parts.
    pub max_split: usize,
}

impl Default for SplitOptions {
    fn default() -> Self {
        Self {
            encoding: Encoding::Zlib,
            min_version: 5,
            max_version: 40,
            min_split: 1,
            max_split: MAX_PARTS,
        }
    }
}

/// A split stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The QR version every part fits.
    pub version: u8,
    /// Encoding actually used.
    pub encoding: Encoding,
    /// The parts, in order.
    pub parts: Vec<String>,
}

fn deflate(data: &[u8]) -> Result<Vec<u8>, BbqrError> {
    // A zlib stream without its header is raw deflate; the 1 KiB window keeps it
    // readable by BBQr decoders that inflate with wbits 10.
    let c = Compress::new_with_window_bits(Compression::best(), false, 10);
    let mut z = flate2::write::ZlibEncoder::new_with_compress(Vec::new(), c);
    z.write_all(data)
        .map_err(|e| BbqrError::Deflate(e.to_string()))?;
    z.finish().map_err(|e| BbqrError::Deflate(e.to_string()))
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, BbqrError> {
    let d = Decompress::new_with_window_bits(false, 10);
    let z = flate2::read::ZlibDecoder::new_with_decompress(data, d);
    let mut out = Vec::new();
    z.take(MAX_INFLATED as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BbqrError::Inflate(e.to_string()))?;
    if out.len() > MAX_INFLATED {
        return Err(BbqrError::Inflate(format!(
            "larger than {MAX_INFLATED} bytes"
        )));
    }
    Ok(out)
}

fn base36(n: usize) -> String {
    const D: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let hi = D[(n / 36) % 36] as char;
    let lo = D[n % 36] as char;
    format!("{hi}{lo}")
}

fn parse_base36(s: &str) -> Option<usize> {
    if s.len() != 2
        || !s
            .bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return None;
    }
    usize::from_str_radix(s, 36).ok()
}

/// Splits `data` into BBQr parts (reference algorithm: fewest parts, then lowest version).
pub fn split(data: &[u8], file_type: FileType, opts: SplitOptions) -> Result<Split, BbqrError> {
    if data.is_empty() {
        return Err(BbqrError::Empty);
    }
    if !(1..=40).contains(&opts.min_version) || !(opts.min_version..=40).contains(&opts.max_version)
    {
        return Err(BbqrError::Options(
            "versions must satisfy 1 <= min <= max <= 40",
        ));
    }
    if opts.min_split < 1 || opts.min_split > opts.max_split || opts.max_split > MAX_PARTS {
        return Err(BbqrError::Options(
            "splits must satisfy 1 <= min <= max <= 1295",
        ));
    }
    let (encoding, encoded) = match opts.encoding {
        Encoding::Hex => (Encoding::Hex, HEXUPPER.encode(data)),
        Encoding::Base32 => (Encoding::Base32, BASE32_NOPAD.encode(data)),
        Encoding::Zlib => {
            let z = deflate(data)?;
            if z.len() < data.len() {
                (Encoding::Zlib, BASE32_NOPAD.encode(&z))
            } else {
                (Encoding::Base32, BASE32_NOPAD.encode(data))
            }
        }
    };
    let mut best: Option<(usize, u8, usize)> = None;
    for version in opts.min_version..=opts.max_version {
        let base = ALNUM_CAPACITY_L[usize::from(version) - 1] - HEADER_LEN;
        let per = base - base % encoding.split_mod();
        let (count, per_qr) = match encoded.len().div_ceil(per) {
            1 => (1, encoded.len()),
            est if (est - 1) * per + base >= encoded.len() => (est, per),
            est => (est + 1, per),
        };
        if count > MAX_PARTS || count < opts.min_split || count > opts.max_split {
            continue;
        }
        if best.is_none_or(|(c, _, _)| count < c) {
            best = Some((count, version, per_qr));
        }
    }
    let (count, version, per_qr) = best.ok_or(BbqrError::CannotFit {
        max_version: opts.max_version,
        max_parts: opts.max_split,
    })?;
    let header = format!("B${}{}{}", encoding.code(), file_type.code(), base36(count));
    let parts = (0..count)
        .map(|i| {
            let start = (i * per_qr).min(encoded.len());
            let end = ((i + 1) * per_qr).min(encoded.len());
            format!("{header}{}{}", base36(i), &encoded[start..end])
        })
        .collect();
    Ok(Split {
        version,
        encoding,
        parts,
    })
}

/// One parsed BBQr part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BbqrPart {
    /// Encoding.
    pub encoding: Encoding,
    /// File type.
    pub file_type: FileType,
    /// Number of parts.
    pub total: usize,
    /// This part's index (0-based).
    pub index: usize,
    /// Encoded payload.
    pub payload: String,
}

/// Parses one scanned BBQr part.
pub fn parse_part(text: &str) -> Result<BbqrPart, BbqrError> {
    let text = text.trim();
    if !text.is_ascii() {
        return Err(BbqrError::NotBbqr("non-ASCII text"));
    }
    if text.len() > crate::ur::MAX_PART_TEXT_LEN {
        return Err(BbqrError::NotBbqr("longer than any QR code holds"));
    }
    if text.len() <= HEADER_LEN || !text.starts_with("B$") {
        return Err(BbqrError::NotBbqr("missing B$ header"));
    }
    let c = |i: usize| char::from(text.as_bytes()[i]);
    let encoding = Encoding::from_code(c(2)).ok_or(BbqrError::NotBbqr("unknown encoding"))?;
    let file_type = FileType::from_code(c(3)).ok_or(BbqrError::NotBbqr("unknown file type"))?;
    let total = parse_base36(&text[4..6]).ok_or(BbqrError::NotBbqr("bad part count"))?;
    let index = parse_base36(&text[6..8]).ok_or(BbqrError::NotBbqr("bad part index"))?;
    if total == 0 || index >= total {
        return Err(BbqrError::NotBbqr("part index out of range"));
    }
    Ok(BbqrPart {
        encoding,
        file_type,
        total,
        index,
        payload: text[HEADER_LEN..].to_string(),
    })
}

/// A joined BBQr payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    /// File type.
    pub file_type: FileType,
    /// Encoding the stream used.
    pub encoding: Encoding,
    /// The data.
    pub data: Vec<u8>,
}

/// Push joiner: parts in any order, duplicates tolerated; keeps the first stream.
#[derive(Debug, Default)]
pub struct BbqrJoiner {
    header: Option<(Encoding, FileType, usize)>,
    parts: Vec<Option<String>>,
    received: usize,
    strangers: usize,
    done: bool,
}

/// Joiner progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BbqrProgress {
    /// Parts in the stream.
    pub total: usize,
    /// Distinct parts received.
    pub received: usize,
    /// Parts of other streams ignored.
    pub strangers: usize,
}

/// What one part did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BbqrReceived {
    /// Still waiting for parts.
    Progress(BbqrProgress),
    /// Complete.
    Complete(Joined),
}

impl BbqrJoiner {
    /// Feeds one scanned text.
    pub fn receive(&mut self, text: &str) -> Result<BbqrReceived, BbqrError> {
        let part = parse_part(text)?;
        let key = (part.encoding, part.file_type, part.total);
        match self.header {
            None => {
                self.header = Some(key);
                self.parts = vec![None; part.total];
            }
            Some(h) if h != key => {
                self.strangers += 1;
                return Err(BbqrError::Stranger {
                    expected: format!("B${}{}{}", h.0.code(), h.1.code(), base36(h.2)),
                    found: text.get(..6).unwrap_or_default().to_string(),
                });
            }
            Some(_) => {}
        }
        match self.parts.get(part.index) {
            Some(Some(existing)) if *existing != part.payload => {
                self.strangers += 1;
                return Err(BbqrError::Conflict { index: part.index });
            }
            Some(Some(_)) => return Ok(BbqrReceived::Progress(self.progress())),
            Some(None) => {
                self.parts[part.index] = Some(part.payload);
                self.received += 1;
            }
            None => return Err(BbqrError::NotBbqr("part index out of range")),
        }
        if self.received < part.total || self.done {
            return Ok(BbqrReceived::Progress(self.progress()));
        }
        let parts: Vec<&str> = self.parts.iter().flatten().map(String::as_str).collect();
        match decode_parts(&parts, part.encoding) {
            Ok(data) => {
                self.done = true;
                Ok(BbqrReceived::Complete(Joined {
                    file_type: part.file_type,
                    encoding: part.encoding,
                    data,
                }))
            }
            Err(e) => {
                *self = Self {
                    strangers: self.strangers,
                    ..Self::default()
                };
                Err(e)
            }
        }
    }

    /// Progress so far.
    pub fn progress(&self) -> BbqrProgress {
        BbqrProgress {
            total: self.header.map_or(0, |h| h.2),
            received: self.received,
            strangers: self.strangers,
        }
    }
}

fn decode_parts(parts: &[&str], encoding: Encoding) -> Result<Vec<u8>, BbqrError> {
    if let Some((last, rest)) = parts.split_last() {
        let len = rest.first().map_or(last.len(), |p| p.len());
        let aligned = rest.is_empty() || len % encoding.split_mod() == 0;
        if rest.iter().any(|p| p.len() != len) || last.len() > len || !aligned {
            return Err(BbqrError::UnevenParts);
        }
    }
    let joined: String = parts.concat();
    let bad = |encoding| {
        // Name the first part that fails on its own, for the operator.
        let index = parts
            .iter()
            .position(|p| match encoding {
                "hex" => HEXUPPER.decode(p.as_bytes()).is_err(),
                _ => BASE32_NOPAD.decode(p.as_bytes()).is_err(),
            })
            .unwrap_or(parts.len().saturating_sub(1));
        BbqrError::BadPayload { index, encoding }
    };
    match encoding {
        Encoding::Hex => HEXUPPER.decode(joined.as_bytes()).map_err(|_| bad("hex")),
        Encoding::Base32 => BASE32_NOPAD
            .decode(joined.as_bytes())
            .map_err(|_| bad("base32")),
        Encoding::Zlib => inflate(
            &BASE32_NOPAD
                .decode(joined.as_bytes())
                .map_err(|_| bad("base32"))?,
        ),
    }
}

/// Joins a complete set of parts at once (any order, duplicates tolerated).
pub fn join<S: AsRef<str>>(parts: &[S]) -> Result<Joined, BbqrError> {
    let mut joiner = BbqrJoiner::default();
    for p in parts.iter().filter(|p| !p.as_ref().trim().is_empty()) {
        if let BbqrReceived::Complete(joined) = joiner.receive(p.as_ref())? {
            return Ok(joined);
        }
    }
    let p = joiner.progress();
    Err(BbqrError::Incomplete {
        received: p.received,
        total: p.total,
    })
}
