//! Envelopes through real QR frames: rendered to PNG, decoded from the pixels by the
//! scanner, in memory.

use airgap_protocol::envelope::{decode_envelope, encode_envelope, Envelope};
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};
use anyhow::{bail, Context, Result};

/// QR version the harness renders at.
pub const VERSION: u8 = 15;

/// Renders `env` as an animated QR stream (each fragment shown twice over), reads every
/// frame back from its pixels, and returns what the scanner assembled, with the number
/// of frames shown.
pub fn through_qr(env: &Envelope) -> Result<(Envelope, usize)> {
    let (ur_type, message) = encode_envelope(env);
    let (ur_type, message, shown) = ur_through_qr(ur_type, &message)?;
    Ok((decode_envelope(&ur_type, &message)?, shown))
}

/// As [`through_qr`] for any UR (the standard wallet types): the type and CBOR read back.
pub fn ur_through_qr(ur_type: &str, message: &[u8]) -> Result<(String, Vec<u8>, usize)> {
    let frag = qr::max_fragment_len_for_version(ur_type, VERSION, message.len())
        .context("fragment length")?;
    let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, message, frag)?;
    let renderer = FrameRenderer::new(VERSION)?;
    let total = if enc.is_single_part() {
        1
    } else {
        enc.fragment_count() * 2 + 2
    };
    let mut scanner = Scanner::default();
    for shown in 1..=total {
        let png = renderer.to_png(&enc.next_part(), 4)?;
        let img = image::load_from_memory(&png)?.to_luma8();
        let frame = GrayFrame {
            width: img.width() as usize,
            height: img.height() as usize,
            data: img.as_raw(),
        };
        for ev in scanner.push_frame(frame) {
            match ev {
                ScanEvent::Complete(Payload::Ur { ur_type, message }) => {
                    return Ok((ur_type, message, shown));
                }
                ScanEvent::Complete(other) => bail!("not a UR: {other:?}"),
                ScanEvent::Rejected(e) => bail!("frame refused: {e}"),
                _ => {}
            }
        }
    }
    bail!("{total} frames did not complete the stream")
}
