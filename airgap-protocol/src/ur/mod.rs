//! Uniform Resources (BCR-2020-005), Bytewords (BCR-2020-012) and multipart fountain
//! codes (BCR-2024-001).
//!
//! The `ur` crate supplies Bytewords and the fountain encoder and index chooser. This
//! module adds what a vault channel needs on top: single-part syntax when a message fits
//! one fragment (the crate always emits `1-1`), upper-case output for alphanumeric QR
//! mode, strict part parsing with size caps checked before anything is allocated, and
//! [`UrReceiver`], which solves the fountain code by elimination.

mod gf2;
mod receiver;

pub use receiver::{Progress, Received, ReceiverLimits, UrReceiver};

use ur::bytewords::{self, Style};

/// A scanned QR text longer than this cannot be a UR part: the largest QR code holds
/// 4,296 alphanumeric characters.
pub const MAX_PART_TEXT_LEN: usize = 8_192;

/// Errors from parsing or receiving UR parts.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UrError {
    /// The text does not start with `ur:`.
    #[error("not a UR: missing `ur:` scheme")]
    NotUr,
    /// The text is longer than any QR code can hold.
    #[error("part text is {found} characters, more than the {limit} any QR code can hold")]
    TextTooLong {
        /// Characters found.
        found: usize,
        /// The limit.
        limit: usize,
    },
    /// The UR type is empty or has characters other than `a-z`, `0-9` and `-`.
    #[error("invalid UR type `{0}`")]
    InvalidType(String),
    /// The `seq-len` component is malformed.
    #[error("invalid sequence component `{0}`")]
    InvalidSequence(String),
    /// The Bytewords body failed to decode (bad word, bad length or CRC mismatch).
    #[error("bytewords body rejected: {0}")]
    Bytewords(String),
    /// The fountain part's CBOR is malformed.
    #[error("malformed fountain part: {0}")]
    MalformedPart(String),
    /// A size in the part is over the receiver's configured cap.
    #[error("{what} is {found}, over the limit of {limit}")]
    TooLarge {
        /// Which quantity.
        what: &'static str,
        /// Found value.
        found: u64,
        /// Configured limit.
        limit: u64,
    },
    /// A part claims the same stream (UR type and checksum) as the parts before it but
    /// disagrees on its shape.
    #[error("part inconsistent with its stream: {field} is {found}, expected {expected}")]
    Inconsistent {
        /// Which header field.
        field: &'static str,
        /// Value of the stream.
        expected: u64,
        /// Value in this part.
        found: u64,
    },
    /// A part of another stream was scanned; the stream in progress is kept.
    #[error("part of another stream ({found}) while receiving {expected}; ignored")]
    Stranger {
        /// The stream being received.
        expected: String,
        /// The stream the part belongs to.
        found: String,
    },
    /// All fragments were solved but the message fails its checksum or padding check.
    /// The stream is discarded so that scanning again can recover.
    #[error("assembled message failed its {0} check; stream discarded, scan again")]
    CorruptMessage(&'static str),
    /// Encoding was asked for something impossible.
    #[error("cannot encode: {0}")]
    Encode(&'static str),
}

/// One parsed UR part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UrPart {
    /// A whole message in one part.
    Single {
        /// The UR type, lower case.
        ur_type: String,
        /// The message (usually CBOR).
        message: Vec<u8>,
    },
    /// One fountain part of a multipart message.
    Multi {
        /// The UR type, lower case.
        ur_type: String,
        /// The fountain part.
        part: FountainPart,
    },
}

/// A fountain part as carried in a multipart UR: `[seq, seqLen, messageLen, checksum, data]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FountainPart {
    /// Sequence number, from 1.
    pub seq: u32,
    /// Number of fragments K.
    pub seq_len: u32,
    /// Length of the message in bytes.
    pub message_len: u32,
    /// CRC-32 of the message.
    pub checksum: u32,
    /// The XOR of the fragments this part mixes.
    pub data: Vec<u8>,
}

impl FountainPart {
    /// Indexes (0-based) of the fragments XOR-ed into this part, as chosen by the
    /// BCR-2024-001 generator (`ur` crate). Callers must have checked `seq >= 1` and
    /// `seq_len >= 1`, as [`parse_part`] does.
    pub fn fragment_indexes(&self) -> Result<Vec<usize>, UrError> {
        if self.seq == 0 || self.seq_len == 0 {
            return Err(UrError::MalformedPart("zero sequence".into()));
        }
        let cbor = self.to_cbor();
        let part: ur::fountain::Part =
            minicbor::decode(&cbor).map_err(|e| UrError::MalformedPart(e.to_string()))?;
        Ok(part.indexes())
    }

    /// The part's canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.data.len() + 24);
        let mut e = minicbor::Encoder::new(&mut out);
        // Writing into a Vec cannot fail.
        let _ = e
            .array(5)
            .and_then(|e| e.u32(self.seq))
            .and_then(|e| e.u32(self.seq_len))
            .and_then(|e| e.u32(self.message_len))
            .and_then(|e| e.u32(self.checksum))
            .and_then(|e| e.bytes(&self.data));
        out
    }

    fn from_cbor(cbor: &[u8]) -> Result<Self, UrError> {
        let bad = |e: minicbor::decode::Error| UrError::MalformedPart(e.to_string());
        let mut d = minicbor::Decoder::new(cbor);
        if d.array().map_err(bad)? != Some(5) {
            return Err(UrError::MalformedPart("expected an array of 5".into()));
        }
        let seq = d.u32().map_err(bad)?;
        let seq_len = d.u32().map_err(bad)?;
        let message_len = d.u32().map_err(bad)?;
        let checksum = d.u32().map_err(bad)?;
        let data = d.bytes().map_err(bad)?.to_vec();
        if d.position() != cbor.len() {
            return Err(UrError::MalformedPart("trailing bytes after part".into()));
        }
        Ok(Self {
            seq,
            seq_len,
            message_len,
            checksum,
            data,
        })
    }

    /// Checks the header fields agree with each other (BCR-2024-001 partitioning).
    fn check_shape(&self) -> Result<(), UrError> {
        let bad = |m: &str| Err(UrError::MalformedPart(m.into()));
        if self.seq == 0 {
            return bad("sequence number 0");
        }
        if self.seq_len == 0 || self.message_len == 0 || self.data.is_empty() {
            return bad("empty part");
        }
        let k = u64::from(self.seq_len);
        let frag = self.data.len() as u64;
        let len = u64::from(self.message_len);
        // The message is cut into K fragments of `frag` bytes, the last zero-padded.
        if len.div_ceil(frag) != k {
            return bad("fragment length does not match message length and fragment count");
        }
        Ok(())
    }
}

fn valid_type(t: &str) -> bool {
    !t.is_empty()
        && t.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Parses one scanned UR string (either case). Checks Bytewords CRC, CBOR shape and
/// that the `seq-len` in the path matches the part's CBOR.
pub fn parse_part(text: &str) -> Result<UrPart, UrError> {
    let text = text.trim();
    if text.len() > MAX_PART_TEXT_LEN {
        return Err(UrError::TextTooLong {
            found: text.len(),
            limit: MAX_PART_TEXT_LEN,
        });
    }
    let lower = text.to_ascii_lowercase();
    let rest = lower.strip_prefix("ur:").ok_or(UrError::NotUr)?;
    let (ur_type, rest) = rest
        .split_once('/')
        .ok_or_else(|| UrError::InvalidType(rest.to_string()))?;
    if !valid_type(ur_type) {
        return Err(UrError::InvalidType(ur_type.to_string()));
    }
    let ur_type = ur_type.to_string();
    match rest.split_once('/') {
        None => {
            let message = decode_bytewords(rest)?;
            if message.is_empty() {
                return Err(UrError::MalformedPart("empty message".into()));
            }
            Ok(UrPart::Single { ur_type, message })
        }
        Some((seq, body)) => {
            let (s, n) = parse_seq(seq)?;
            let part = FountainPart::from_cbor(&decode_bytewords(body)?)?;
            if part.seq != s || part.seq_len != n {
                return Err(UrError::InvalidSequence(format!(
                    "{seq} in path but {}-{} in part",
                    part.seq, part.seq_len
                )));
            }
            part.check_shape()?;
            Ok(UrPart::Multi { ur_type, part })
        }
    }
}

fn decode_bytewords(body: &str) -> Result<Vec<u8>, UrError> {
    if body.contains('/') {
        return Err(UrError::InvalidSequence(body.to_string()));
    }
    bytewords::decode(body, Style::Minimal).map_err(|e| UrError::Bytewords(e.to_string()))
}

fn parse_seq(s: &str) -> Result<(u32, u32), UrError> {
    let bad = || UrError::InvalidSequence(s.to_string());
    let (a, b) = s.split_once('-').ok_or_else(bad)?;
    let num = |x: &str| -> Result<u32, UrError> {
        if x.is_empty() || x.len() > 10 || !x.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        x.parse::<u32>().map_err(|_| bad())
    };
    let (a, b) = (num(a)?, num(b)?);
    if a == 0 || b == 0 {
        return Err(bad());
    }
    Ok((a, b))
}

/// Produces the parts of one UR message for display, forever.
///
/// A message that fits one fragment is a single-part UR; otherwise parts 1..=K carry
/// the fragments in order and later parts are fountain mixes. Output is upper case so a
/// QR encoder uses alphanumeric mode.
#[derive(Debug)]
pub struct UrEncoder {
    ur_type: String,
    inner: EncoderKind,
}

#[derive(Debug)]
enum EncoderKind {
    Single(String),
    Fountain {
        encoder: ur::fountain::Encoder,
        fragment_len: usize,
    },
}

impl UrEncoder {
    /// Encodes `message` of `ur_type` into fragments of at most `max_fragment_len` bytes.
    pub fn new(ur_type: &str, message: &[u8], max_fragment_len: usize) -> Result<Self, UrError> {
        if !valid_type(ur_type) {
            return Err(UrError::InvalidType(ur_type.to_string()));
        }
        if message.is_empty() {
            return Err(UrError::Encode("empty message"));
        }
        if max_fragment_len == 0 {
            return Err(UrError::Encode("zero fragment length"));
        }
        if u32::try_from(message.len()).is_err() {
            return Err(UrError::Encode("message longer than 4 GiB"));
        }
        let inner = if message.len() <= max_fragment_len {
            let body = bytewords::encode(message, Style::Minimal);
            EncoderKind::Single(format!("ur:{ur_type}/{body}").to_ascii_uppercase())
        } else {
            let encoder = ur::fountain::Encoder::new(message, max_fragment_len)
                .map_err(|_| UrError::Encode("fountain encoder refused the message"))?;
            // The fragment length the `ur` crate chose (BCR-2024-001 partitioning).
            let fragment_len = message
                .len()
                .div_ceil(message.len().div_ceil(max_fragment_len));
            EncoderKind::Fountain {
                encoder,
                fragment_len,
            }
        };
        Ok(Self {
            ur_type: ur_type.to_string(),
            inner,
        })
    }

    /// Number of fragments K (1 for a single-part message).
    pub fn fragment_count(&self) -> usize {
        match &self.inner {
            EncoderKind::Single(_) => 1,
            EncoderKind::Fountain { encoder, .. } => encoder.fragment_count(),
        }
    }

    /// Whether the message travels as a single-part UR.
    pub fn is_single_part(&self) -> bool {
        matches!(self.inner, EncoderKind::Single(_))
    }

    /// Bytes of message data carried per part.
    pub fn fragment_len(&self) -> usize {
        match &self.inner {
            EncoderKind::Single(s) => s.len(),
            EncoderKind::Fountain { fragment_len, .. } => *fragment_len,
        }
    }

    /// The UR type.
    pub fn ur_type(&self) -> &str {
        &self.ur_type
    }

    /// The next part to show. A single-part message returns the same text every time.
    pub fn next_part(&mut self) -> String {
        match &mut self.inner {
            EncoderKind::Single(s) => s.clone(),
            EncoderKind::Fountain { encoder, .. } => {
                let part = encoder.next_part();
                let seq = encoder.current_sequence();
                let cbor = minicbor::to_vec(&part).unwrap_or_default();
                let body = bytewords::encode(&cbor, Style::Minimal);
                format!(
                    "ur:{}/{}-{}/{}",
                    self.ur_type,
                    seq,
                    encoder.fragment_count(),
                    body
                )
                .to_ascii_uppercase()
            }
        }
    }

    /// Upper bound on the length of any part this encoder will ever emit (sequence
    /// numbers up to `u32::MAX`), used to choose one QR version for the whole stream.
    pub fn max_part_len(&self) -> usize {
        match &self.inner {
            EncoderKind::Single(s) => s.len(),
            EncoderKind::Fountain {
                encoder,
                fragment_len,
            } => max_multipart_len(&self.ur_type, encoder.fragment_count(), *fragment_len),
        }
    }
}

/// Worst-case length of a multipart UR string for a stream of `k` fragments of
/// `fragment_len` bytes, with sequence numbers up to `u32::MAX`.
pub fn max_multipart_len(ur_type: &str, k: usize, fragment_len: usize) -> usize {
    let digits = |n: usize| n.to_string().len();
    // CBOR: array head 1, four u32 of at most 5 bytes, byte-string head, data.
    let bstr_head = match fragment_len {
        0..=23 => 1,
        24..=255 => 2,
        256..=65535 => 3,
        _ => 5,
    };
    let cbor = 1 + 4 * 5 + bstr_head + fragment_len;
    // Bytewords minimal: 2 characters a byte, plus the 4-byte CRC.
    let body = 2 * (cbor + 4);
    "ur:".len() + ur_type.len() + 1 + digits(u32::MAX as usize) + 1 + digits(k) + 1 + body
}

#[cfg(test)]
mod tests;
