//! Any grayscale frame into every QR decoder: never panics (rqrr's asserts are contained).
#![no_main]

use airgap_protocol::qr::{decode_gray, DecoderKind, GrayFrame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    // First byte picks the width; the rest is the image, binarised-ish so finder
    // patterns are plausible.
    let width = usize::from(data[0]).max(1);
    let pixels: Vec<u8> = data[1..]
        .iter()
        .map(|b| if b & 1 == 0 { 0 } else { 255 })
        .collect();
    let height = pixels.len() / width;
    let frame = GrayFrame {
        width,
        height,
        data: &pixels,
    };
    for kind in [DecoderKind::Rqrr, DecoderKind::Rxing] {
        let _ = decode_gray(frame, kind);
    }
});
