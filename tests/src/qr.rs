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
    let pngs = (0..total).map(|_| renderer.to_png(&enc.next_part(), 4));
    scan_pngs(pngs).with_context(|| format!("{total} frames shown"))
}

/// Reads PNG frames in order until the scanner completes a UR: its type and CBOR, and
/// how many frames it took. A frame the scanner refuses, or a stream that does not
/// complete, is an error.
pub fn scan_pngs<E: Into<anyhow::Error>>(
    pngs: impl IntoIterator<Item = std::result::Result<Vec<u8>, E>>,
) -> Result<(String, Vec<u8>, usize)> {
    let mut scanner = Scanner::default();
    for (n, png) in pngs.into_iter().enumerate() {
        let img = image::load_from_memory(&png.map_err(Into::into)?)?.to_luma8();
        let frame = GrayFrame::of(&img);
        for ev in scanner.push_frame(frame) {
            match ev {
                ScanEvent::Complete(Payload::Ur { ur_type, message }) => {
                    return Ok((ur_type, message, n + 1));
                }
                ScanEvent::Complete(other) => bail!("not a UR: {other:?}"),
                ScanEvent::Rejected(e) => bail!("frame refused: {e}"),
                _ => {}
            }
        }
    }
    bail!("the frames did not complete the stream")
}

/// A standard wallet request (`ur_type`, CBOR) carried to `station` as QR frames,
/// reviewed (its verdict must pass) and signed with `hsm`; the answer carried back as QR
/// frames: its UR type and CBOR as the wallet reads them.
pub fn standard_round_trip(
    station: &mut signer_station::station::Station,
    hsm: &dyn signer_station::hsm::SigningBackend,
    ur_type: &str,
    cbor: &[u8],
) -> Result<(String, Vec<u8>)> {
    use signer_station::station::standard::StandardRequest;
    let (ur_type, cbor, _) = ur_through_qr(ur_type, cbor)?;
    let seen = StandardRequest::decode(&ur_type, &cbor)
        .with_context(|| format!("{ur_type} is not a standard request"))?
        .map_err(anyhow::Error::msg)?;
    let now = crate::requests::now();
    let review = station
        .review_standard(&seen, now)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    review
        .verdict
        .clone()
        .map_err(|e| anyhow::anyhow!("station refused: {e}"))?;
    let answer = station
        .sign_standard(&seen, &review, hsm, now)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let (ur_type, cbor) = answer.to_ur();
    let (ur_type, cbor, _) = ur_through_qr(ur_type, &cbor)?;
    Ok((ur_type, cbor))
}

/// Writes `env` as an animated QR stream into a YUV4MPEG2 video (640x480, 10 fps, each
/// frame held for two video frames), the file format Chromium plays as a fake camera
/// (`--use-file-for-fake-video-capture`). Rendered at `version`, so a small envelope
/// still spans several frames. Returns how many QR frames the video shows.
pub fn y4m_video(env: &Envelope, version: u8, path: &std::path::Path) -> Result<usize> {
    use std::io::Write;
    const W: u32 = 640;
    const H: u32 = 480;
    let (ur_type, message) = encode_envelope(env);
    let frag = qr::max_fragment_len_for_version(ur_type, version, message.len())
        .context("fragment length")?;
    let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag)?;
    let renderer = FrameRenderer::new(version)?;
    let shown = enc.fragment_count() * 2;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "YUV4MPEG2 W{W} H{H} F10:1 Ip A1:1 C420jpeg")?;
    let chroma = vec![128u8; (W * H / 2) as usize];
    for _ in 0..shown {
        let text = enc.next_part();
        let probe = renderer.to_gray(&text, 1)?;
        let scale = (H - 40) / probe.width();
        let code = renderer.to_gray(&text, scale)?;
        let mut luma = image::GrayImage::from_pixel(W, H, image::Luma([235]));
        image::imageops::overlay(
            &mut luma,
            &code,
            i64::from((W - code.width()) / 2),
            i64::from((H - code.height()) / 2),
        );
        for _ in 0..2 {
            out.write_all(b"FRAME\n")?;
            out.write_all(luma.as_raw())?;
            out.write_all(&chroma)?;
        }
    }
    out.flush()?;
    Ok(shown)
}
