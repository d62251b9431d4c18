//! Rendering frames at one fixed QR version, error-correction level L.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, Luma};
use qrcode::{Color, EcLevel, QrCode, Version};

/// Modules of quiet zone around every code (the QR specification's minimum).
pub const QUIET_ZONE: usize = 4;

/// Errors from rendering.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RenderError {
    /// The version is outside 1..=40.
    #[error("QR version {0} is outside 1..=40")]
    BadVersion(u8),
    /// The text does not fit the stream's version.
    #[error("{len} characters do not fit QR version {version} at level L")]
    TooLong {
        /// Characters.
        len: usize,
        /// The version.
        version: u8,
    },
    /// Image encoding failed.
    #[error("image encoding failed: {0}")]
    Image(String),
}

/// Renders every frame of a stream at the same version, so the code does not change
/// size while the receiver's camera is locked on it.
#[derive(Debug, Clone, Copy)]
pub struct FrameRenderer {
    version: u8,
}

/// A QR symbol as a square of modules, `true` for dark.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Modules {
    /// Modules per side (without quiet zone).
    pub width: usize,
    /// Row-major, `true` for dark.
    pub dark: Vec<bool>,
}

impl Modules {
    fn is_dark(&self, x: isize, y: isize) -> bool {
        let w = self.width as isize;
        if x < 0 || y < 0 || x >= w || y >= w {
            return false;
        }
        self.dark[(y * w + x) as usize]
    }
}

impl FrameRenderer {
    /// A renderer for `version` (1..=40).
    pub fn new(version: u8) -> Result<Self, RenderError> {
        if !(1..=40).contains(&version) {
            return Err(RenderError::BadVersion(version));
        }
        Ok(Self { version })
    }

    /// The version.
    pub fn version(&self) -> u8 {
        self.version
    }

    /// Encodes `text` at the renderer's version and level L.
    pub fn modules(&self, text: &str) -> Result<Modules, RenderError> {
        let code = QrCode::with_version(text, Version::Normal(i16::from(self.version)), EcLevel::L)
            .map_err(|_| RenderError::TooLong {
                len: text.len(),
                version: self.version,
            })?;
        Ok(Modules {
            width: code.width(),
            dark: code
                .to_colors()
                .into_iter()
                .map(|c| c == Color::Dark)
                .collect(),
        })
    }

    /// A grayscale image, `scale` pixels a module, with the quiet zone.
    pub fn to_gray(&self, text: &str, scale: u32) -> Result<GrayImage, RenderError> {
        let m = self.modules(text)?;
        let scale = scale.max(1);
        let side = (m.width + 2 * QUIET_ZONE) as u32 * scale;
        Ok(GrayImage::from_fn(side, side, |x, y| {
            let mx = (x / scale) as isize - QUIET_ZONE as isize;
            let my = (y / scale) as isize - QUIET_ZONE as isize;
            Luma([if m.is_dark(mx, my) { 0 } else { 255 }])
        }))
    }

    /// PNG bytes of [`Self::to_gray`].
    pub fn to_png(&self, text: &str, scale: u32) -> Result<Vec<u8>, RenderError> {
        let img = self.to_gray(text, scale)?;
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png)
            .map_err(|e| RenderError::Image(e.to_string()))?;
        Ok(out.into_inner())
    }

    /// An SVG document, one unit a module, dark modules as one path.
    pub fn to_svg(&self, text: &str) -> Result<String, RenderError> {
        let m = self.modules(text)?;
        let side = m.width + 2 * QUIET_ZONE;
        let mut path = String::new();
        for y in 0..m.width {
            for x in 0..m.width {
                if m.dark[y * m.width + x] {
                    path.push_str(&format!("M{},{}h1v1h-1z", x + QUIET_ZONE, y + QUIET_ZONE));
                }
            }
        }
        Ok(format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {side} {side}\" \
             shape-rendering=\"crispEdges\"><rect width=\"{side}\" height=\"{side}\" fill=\"#fff\"/>\
             <path fill=\"#000\" d=\"{path}\"/></svg>"
        ))
    }

    /// Terminal text with Unicode half blocks, two module rows a line. Light modules are
    /// drawn as blocks (for light-on-dark terminals); `invert` draws dark modules instead.
    pub fn to_halfblock(&self, text: &str, invert: bool) -> Result<String, RenderError> {
        let m = self.modules(text)?;
        let q = QUIET_ZONE as isize;
        let w = m.width as isize;
        let ink = |x, y| m.is_dark(x, y) == invert;
        let mut out = String::new();
        let mut y = -q;
        while y < w + q {
            for x in -q..w + q {
                out.push(match (ink(x, y), ink(x, y + 1)) {
                    (true, true) => '█',
                    (true, false) => '▀',
                    (false, true) => '▄',
                    (false, false) => ' ',
                });
            }
            out.push('\n');
            y += 2;
        }
        Ok(out)
    }
}
