//! Reading QR codes from grayscale frames, with rqrr, rxing, or both in turn.

use std::panic::{catch_unwind, AssertUnwindSafe};

/// A borrowed 8-bit grayscale frame, row-major, `width * height` bytes (a camera's
/// YUYV Y plane, or a decoded image).
#[derive(Debug, Clone, Copy)]
pub struct GrayFrame<'a> {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// Luma bytes.
    pub data: &'a [u8],
}

impl<'a> GrayFrame<'a> {
    /// The frame of a decoded grayscale image.
    pub fn of(img: &'a image::GrayImage) -> Self {
        Self {
            width: img.width() as usize,
            height: img.height() as usize,
            data: img.as_raw(),
        }
    }
}

/// Which QR decoder reads frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DecoderKind {
    /// rqrr (quirc port).
    Rqrr,
    /// rxing (ZXing port), hybrid binariser.
    Rxing,
    /// rqrr first; rxing only when rqrr finds nothing.
    RqrrThenRxing,
    /// rxing first (fast, robust to blur and perspective); rqrr only when rxing finds
    /// nothing. Chosen by measurement on the degraded corpus (docs/PERFORMANCE.md).
    #[default]
    RxingThenRqrr,
}

/// Largest frame accepted (a 4K camera frame).
const MAX_PIXELS: usize = 3840 * 2160;

/// Decodes every QR code found in `frame`. A malformed frame or a decoder panic yields
/// an empty list, never a panic.
pub fn decode_gray(frame: GrayFrame<'_>, kind: DecoderKind) -> Vec<String> {
    let Some(n) = frame.width.checked_mul(frame.height) else {
        return Vec::new();
    };
    if n == 0 || n > MAX_PIXELS || frame.data.len() < n {
        return Vec::new();
    }
    match kind {
        DecoderKind::Rqrr => with_rqrr(frame),
        DecoderKind::Rxing => with_rxing(frame),
        DecoderKind::RqrrThenRxing => first_non_empty(frame, with_rqrr, with_rxing),
        DecoderKind::RxingThenRqrr => first_non_empty(frame, with_rxing, with_rqrr),
    }
}

fn first_non_empty(
    frame: GrayFrame<'_>,
    a: fn(GrayFrame<'_>) -> Vec<String>,
    b: fn(GrayFrame<'_>) -> Vec<String>,
) -> Vec<String> {
    let found = a(frame);
    if found.is_empty() {
        b(frame)
    } else {
        found
    }
}

/// Stretches a low-contrast frame to the full range (1st to 99th percentile), because
/// rxing's binariser treats blocks with little dynamic range as flat.
fn stretch_contrast(data: &[u8]) -> Option<Vec<u8>> {
    let mut hist = [0usize; 256];
    for &v in data {
        hist[usize::from(v)] += 1;
    }
    let cut = data.len() / 100;
    let mut acc = 0;
    let lo = hist.iter().position(|&h| {
        acc += h;
        acc > cut
    })?;
    acc = 0;
    let hi = 255
        - hist.iter().rev().position(|&h| {
            acc += h;
            acc > cut
        })?;
    if hi <= lo || hi - lo >= 128 {
        return None;
    }
    let (lo, span) = (lo as u32, (hi - lo) as u32);
    let lut: Vec<u8> = (0..=255u32)
        .map(|v| (v.saturating_sub(lo) * 255 / span).min(255) as u8)
        .collect();
    Some(data.iter().map(|&v| lut[usize::from(v)]).collect())
}

fn with_rqrr(frame: GrayFrame<'_>) -> Vec<String> {
    // rqrr asserts in grid detection on some images: contain it.
    catch_unwind(AssertUnwindSafe(|| {
        let w = frame.width;
        let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, frame.height, |x, y| {
            frame.data[y * w + x]
        });
        img.detect_grids()
            .into_iter()
            .filter_map(|g| g.decode().ok().map(|(_, text)| text))
            .collect()
    }))
    .unwrap_or_default()
}

fn with_rxing(frame: GrayFrame<'_>) -> Vec<String> {
    let (Ok(w), Ok(h)) = (u32::try_from(frame.width), u32::try_from(frame.height)) else {
        return Vec::new();
    };
    let raw = &frame.data[..frame.width * frame.height];
    let read = |luma: Vec<u8>| {
        catch_unwind(AssertUnwindSafe(|| {
            let mut hints =
                rxing::DecodeHints::default().with(rxing::DecodeHintValue::TryHarder(true));
            rxing::helpers::detect_in_luma_with_hints(
                luma,
                w,
                h,
                Some(rxing::BarcodeFormat::QR_CODE),
                &mut hints,
            )
            .map(|r| vec![r.getText().to_string()])
            .unwrap_or_default()
        }))
        .unwrap_or_default()
    };
    let found = read(raw.to_vec());
    if !found.is_empty() {
        return found;
    }
    // Only a frame that failed pays for the contrast pass.
    stretch_contrast(raw).map(read).unwrap_or_default()
}

/// Why an encoded image could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// Larger than [`MAX_IMAGE_BYTES`].
    #[error("image larger than {MAX_IMAGE_BYTES} bytes")]
    TooLarge,
    /// Neither PNG nor JPEG.
    #[error("not a PNG or JPEG image")]
    Format,
    /// Over [`MAX_IMAGE_SIDE`] pixels on a side, or more pixels than a 4K frame.
    #[error("image larger than {MAX_IMAGE_SIDE} pixels on a side or 3840x2160 in all")]
    Dimensions,
    /// The file is damaged.
    #[error("image unreadable: {0}")]
    Damaged(String),
}

/// Largest encoded image [`decode_image`] reads.
pub const MAX_IMAGE_BYTES: usize = 8 * 1024 * 1024;
/// Largest side, in pixels, of an image [`decode_image`] reads.
pub const MAX_IMAGE_SIDE: u32 = 4096;

/// Decodes every QR code in an encoded PNG or JPEG image (a photo, a camera frame a
/// browser captured, a screenshot). The size is checked from the header before any
/// pixel is decoded, and the decoder's allocations are capped: a hostile file is an
/// error, never a panic or an exhausted memory.
pub fn decode_image(bytes: &[u8], kind: DecoderKind) -> Result<Vec<String>, ImageError> {
    use image::{ImageFormat, ImageReader, Limits};
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge);
    }
    let format = match image::guess_format(bytes) {
        Ok(f @ (ImageFormat::Png | ImageFormat::Jpeg)) => f,
        _ => return Err(ImageError::Format),
    };
    let open = || {
        let mut reader = ImageReader::with_format(std::io::Cursor::new(bytes), format);
        let mut limits = Limits::default();
        limits.max_image_width = Some(MAX_IMAGE_SIDE);
        limits.max_image_height = Some(MAX_IMAGE_SIDE);
        limits.max_alloc = Some(256 * 1024 * 1024);
        reader.limits(limits);
        reader
    };
    let (w, h) = open()
        .into_dimensions()
        .map_err(|e| ImageError::Damaged(e.to_string()))?;
    if w > MAX_IMAGE_SIDE || h > MAX_IMAGE_SIDE || (w as usize) * (h as usize) > MAX_PIXELS {
        return Err(ImageError::Dimensions);
    }
    let reader = open();
    // The codecs are not ours: contain a panic in them as a damaged file.
    let img = catch_unwind(AssertUnwindSafe(|| reader.decode()))
        .map_err(|_| ImageError::Damaged("decoder failure".into()))?
        .map_err(|e| ImageError::Damaged(e.to_string()))?
        .to_luma8();
    let (width, height) = img.dimensions();
    Ok(decode_gray(
        GrayFrame {
            width: width as usize,
            height: height as usize,
            data: img.as_raw(),
        },
        kind,
    ))
}
