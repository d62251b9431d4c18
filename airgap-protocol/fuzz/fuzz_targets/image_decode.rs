//! Any bytes as an uploaded PNG/JPEG camera frame: an error or QR texts, never a panic.
#![no_main]

use airgap_protocol::qr::{decode_image, DecoderKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_image(data, DecoderKind::default());
});
