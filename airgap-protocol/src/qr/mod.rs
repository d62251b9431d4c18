//! QR frames: one fixed version and error-correction level L for every frame of a
//! stream, rendered to images, SVG or terminal text; and reading QR codes from
//! grayscale frames.

pub mod corpus;
mod read;
mod render;

pub use read::{
    decode_gray, decode_image, DecoderKind, GrayFrame, ImageError, MAX_IMAGE_BYTES, MAX_IMAGE_SIDE,
};
pub use render::{FrameRenderer, RenderError};

use crate::bbqr::ALNUM_CAPACITY_L;

/// Smallest QR version (1..=40) whose alphanumeric capacity at level L holds `len`
/// characters.
pub fn version_for_len(len: usize) -> Option<u8> {
    ALNUM_CAPACITY_L
        .iter()
        .position(|&cap| cap >= len)
        .and_then(|i| u8::try_from(i + 1).ok())
}

/// Alphanumeric capacity of `version` at level L.
pub fn capacity(version: u8) -> Option<usize> {
    ALNUM_CAPACITY_L
        .get(usize::from(version).checked_sub(1)?)
        .copied()
}

/// Largest UR fragment length such that every part of a `message_len`-byte message
/// (any sequence number) fits `version`.
pub fn max_fragment_len_for_version(
    ur_type: &str,
    version: u8,
    message_len: usize,
) -> Option<usize> {
    let cap = capacity(version)?;
    (1..=cap).rev().find(|&f| {
        let k = message_len.div_ceil(f).max(1);
        crate::ur::max_multipart_len(ur_type, k, f) <= cap
    })
}
