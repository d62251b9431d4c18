//! Envelopes as UR messages: `strongroom-request` and `strongroom-response`.
//!
//! The UR message is a small CBOR wrapper `[1, compression, body]` where compression is 0
//! (none) or 1 (raw deflate, window bits 10); the encoder picks whichever is shorter.

use std::io::{Read, Write};

use flate2::{Compress, Compression, Decompress};
use minicbor::{Decoder, Encoder};

use super::limits::MAX_ENVELOPE_BYTES;
use super::{EnvelopeError, SignRequest, SignResponse, StationDescriptor};

/// UR type of a signing request.
pub const REQUEST_UR_TYPE: &str = "strongroom-request";
/// UR type of a signing response.
pub const RESPONSE_UR_TYPE: &str = "strongroom-response";
/// UR type of a station descriptor.
pub const DESCRIPTOR_UR_TYPE: &str = "strongroom-descriptor";

/// Either envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// A request.
    Request(SignRequest),
    /// A response.
    Response(SignResponse),
    /// A station descriptor.
    Descriptor(StationDescriptor),
}

impl Envelope {
    /// The UR type this envelope travels as.
    pub fn ur_type(&self) -> &'static str {
        match self {
            Self::Request(_) => REQUEST_UR_TYPE,
            Self::Response(_) => RESPONSE_UR_TYPE,
            Self::Descriptor(_) => DESCRIPTOR_UR_TYPE,
        }
    }
}

fn deflate(data: &[u8]) -> Option<Vec<u8>> {
    let c = Compress::new_with_window_bits(Compression::best(), false, 10);
    let mut z = flate2::write::ZlibEncoder::new_with_compress(Vec::new(), c);
    z.write_all(data).ok()?;
    z.finish().ok()
}

fn inflate(data: &[u8]) -> Result<Vec<u8>, EnvelopeError> {
    let d = Decompress::new_with_window_bits(false, 10);
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new_with_decompress(data, d)
        .take(MAX_ENVELOPE_BYTES as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| EnvelopeError::Inflate(e.to_string()))?;
    if out.len() > MAX_ENVELOPE_BYTES {
        return Err(EnvelopeError::TooLarge {
            what: "inflated envelope",
            found: out.len(),
            limit: MAX_ENVELOPE_BYTES,
        });
    }
    Ok(out)
}

fn wrap(compression: u8, body: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    let _ = e
        .array(3)
        .and_then(|e| e.u8(1))
        .and_then(|e| e.u8(compression))
        .and_then(|e| e.bytes(body));
    e.into_writer()
}

/// The UR type and message for an envelope, compressed when that is shorter.
pub fn encode_envelope(env: &Envelope) -> (&'static str, Vec<u8>) {
    let cbor = match env {
        Envelope::Request(r) => r.to_cbor(),
        Envelope::Response(r) => r.to_cbor(),
        Envelope::Descriptor(d) => d.to_cbor(),
    };
    let plain = wrap(0, &cbor);
    let message = match deflate(&cbor) {
        Some(z) if z.len() + 8 < cbor.len() => wrap(1, &z),
        _ => plain,
    };
    (env.ur_type(), message)
}

/// Decodes a UR message of one of the envelope types.
pub fn decode_envelope(ur_type: &str, message: &[u8]) -> Result<Envelope, EnvelopeError> {
    let bad = |e: minicbor::decode::Error| EnvelopeError::Malformed(e.to_string());
    let mut d = Decoder::new(message);
    if d.array().map_err(bad)? != Some(3) || d.u8().map_err(bad)? != 1 {
        return Err(EnvelopeError::Malformed(
            "not a Strongroom envelope wrapper".into(),
        ));
    }
    let compression = d.u8().map_err(bad)?;
    let body = d.bytes().map_err(bad)?;
    if d.position() != message.len() {
        return Err(EnvelopeError::Malformed("trailing bytes".into()));
    }
    let cbor = match compression {
        0 => body.to_vec(),
        1 => inflate(body)?,
        code => {
            return Err(EnvelopeError::UnknownCode {
                what: "compression",
                code: code.into(),
            })
        }
    };
    match ur_type {
        REQUEST_UR_TYPE => SignRequest::from_cbor(&cbor).map(Envelope::Request),
        RESPONSE_UR_TYPE => SignResponse::from_cbor(&cbor).map(Envelope::Response),
        DESCRIPTOR_UR_TYPE => StationDescriptor::from_cbor(&cbor).map(Envelope::Descriptor),
        other => Err(EnvelopeError::Malformed(format!(
            "UR type `{other}` is not an envelope"
        ))),
    }
}
