//! A degraded-frame corpus: what a camera in a vault room really sees.
//!
//! Each degradation is a pure function of a clean frame and a seed, so the corpus is
//! the same on every machine and decoders can be compared on it.

use std::io::Cursor;

use image::{GrayImage, ImageFormat, Luma};

/// Width and height of a corpus frame (720p camera).
pub const FRAME_W: u32 = 1280;
/// Height of a corpus frame.
pub const FRAME_H: u32 = 720;

/// One kind of damage.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Degradation {
    /// The clean frame placed on the camera canvas.
    Clean,
    /// Box blur of the given radius in pixels, applied three times (≈ Gaussian).
    Blur(u32),
    /// Additive Gaussian noise with this standard deviation (0..255 scale).
    Noise(f32),
    /// Perspective: corners moved inward by up to this fraction of the code size.
    Perspective(f32),
    /// Contrast squeezed into `[lo, hi]`.
    LowContrast(u8, u8),
    /// JPEG at this quality.
    Jpeg(u8),
    /// A grey bar covering this fraction of the code's area.
    Occlusion(f32),
}

impl Degradation {
    /// Short name for tables.
    pub fn name(&self) -> String {
        match self {
            Self::Clean => "clean".into(),
            Self::Blur(r) => format!("blur r{r}"),
            Self::Noise(s) => format!("noise s{s}"),
            Self::Perspective(f) => format!("perspective {f}"),
            Self::LowContrast(lo, hi) => format!("contrast {lo}-{hi}"),
            Self::Jpeg(q) => format!("jpeg q{q}"),
            Self::Occlusion(f) => format!("occlusion {f}"),
        }
    }

    /// The standard set used by tests and the benchmark.
    pub fn standard_set() -> Vec<Self> {
        vec![
            Self::Clean,
            Self::Blur(1),
            Self::Blur(2),
            Self::Noise(20.0),
            Self::Noise(40.0),
            Self::Perspective(0.08),
            Self::Perspective(0.15),
            Self::LowContrast(90, 160),
            Self::LowContrast(110, 140),
            Self::Jpeg(30),
            Self::Jpeg(10),
            Self::Occlusion(0.04),
            Self::Occlusion(0.10),
        ]
    }
}

/// Small deterministic generator (SplitMix64), so the corpus needs no RNG crate.
#[derive(Debug, Clone)]
pub struct SplitMix(u64);

impl SplitMix {
    /// Seeded generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }
    /// Next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u = self.next_f64().max(1e-12);
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

/// Places a rendered code at the centre of a 1280x720 mid-grey canvas, scaled (nearest
/// neighbour) so its side is `side` pixels, as a camera held at arm's length sees it.
pub fn place_on_canvas(code: &GrayImage, side: u32) -> GrayImage {
    let side = side.clamp(1, FRAME_H);
    let (ox, oy) = ((FRAME_W - side) / 2, (FRAME_H - side) / 2);
    let (cw, ch) = code.dimensions();
    GrayImage::from_fn(FRAME_W, FRAME_H, |x, y| {
        if x >= ox && y >= oy && x < ox + side && y < oy + side {
            let sx = ((x - ox) as u64 * u64::from(cw) / u64::from(side)) as u32;
            let sy = ((y - oy) as u64 * u64::from(ch) / u64::from(side)) as u32;
            *code.get_pixel(sx.min(cw - 1), sy.min(ch - 1))
        } else {
            Luma([128])
        }
    })
}

/// Applies `d` to a canvas frame made by [`place_on_canvas`] with a code of `side` px.
pub fn degrade(frame: &GrayImage, side: u32, d: Degradation, seed: u64) -> GrayImage {
    let mut rng = SplitMix::new(seed);
    match d {
        Degradation::Clean => frame.clone(),
        Degradation::Blur(r) => {
            let mut img = frame.clone();
            for _ in 0..3 {
                img = box_blur(&img, r);
            }
            img
        }
        Degradation::Noise(sigma) => map_pixels(frame, |v| {
            (f64::from(v) + rng.normal() * f64::from(sigma))
                .round()
                .clamp(0.0, 255.0) as u8
        }),
        Degradation::Perspective(f) => perspective(frame, side, f, &mut rng),
        Degradation::LowContrast(lo, hi) => {
            let (lo, hi) = (f64::from(lo), f64::from(hi));
            map_pixels(frame, |v| {
                (lo + (hi - lo) * f64::from(v) / 255.0).round() as u8
            })
        }
        Degradation::Jpeg(q) => jpeg(frame, q).unwrap_or_else(|| frame.clone()),
        Degradation::Occlusion(f) => occlude(frame, side, f, &mut rng),
    }
}

fn map_pixels(img: &GrayImage, mut f: impl FnMut(u8) -> u8) -> GrayImage {
    let mut out = img.clone();
    for p in out.pixels_mut() {
        p.0[0] = f(p.0[0]);
    }
    out
}

fn box_blur(img: &GrayImage, r: u32) -> GrayImage {
    let (w, h) = img.dimensions();
    let r = r as i64;
    let pass = |src: &GrayImage, horizontal: bool| {
        GrayImage::from_fn(w, h, |x, y| {
            let mut sum = 0u32;
            let mut n = 0u32;
            for d in -r..=r {
                let (sx, sy) = if horizontal {
                    (x as i64 + d, y as i64)
                } else {
                    (x as i64, y as i64 + d)
                };
                if sx >= 0 && sy >= 0 && sx < w as i64 && sy < h as i64 {
                    sum += u32::from(src.get_pixel(sx as u32, sy as u32).0[0]);
                    n += 1;
                }
            }
            Luma([(sum / n.max(1)) as u8])
        })
    };
    pass(&pass(img, true), false)
}

fn jpeg(img: &GrayImage, quality: u8) -> Option<GrayImage> {
    let mut buf = Cursor::new(Vec::new());
    let enc = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut buf, quality);
    img.write_with_encoder(enc).ok()?;
    let decoded = image::load_from_memory_with_format(buf.get_ref(), ImageFormat::Jpeg).ok()?;
    Some(decoded.to_luma8())
}

fn occlude(img: &GrayImage, side: u32, fraction: f32, rng: &mut SplitMix) -> GrayImage {
    let mut out = img.clone();
    let (ox, oy) = ((FRAME_W - side) / 2, (FRAME_H - side) / 2);
    // A bar across the code's lower part, where no finder pattern sits: a thumb or a
    // reflection, not a hand over the whole code.
    let bar_h = ((side as f32 * fraction).round() as u32).max(1);
    let lo = side / 2;
    let span = side.saturating_sub(bar_h + lo + side / 8).max(1);
    let top = oy + lo + (rng.next_u64() % u64::from(span)) as u32;
    for y in top..(top + bar_h).min(FRAME_H) {
        for x in ox..ox + side {
            out.put_pixel(x, y, Luma([170]));
        }
    }
    out
}

/// Solves the 8x8 system for the homography mapping `from[i]` to `to[i]`.
fn homography(from: [(f64, f64); 4], to: [(f64, f64); 4]) -> Option<[f64; 9]> {
    let mut a = [[0.0f64; 9]; 8];
    for i in 0..4 {
        let ((x, y), (u, v)) = (from[i], to[i]);
        a[2 * i] = [x, y, 1.0, 0.0, 0.0, 0.0, -u * x, -u * y, u];
        a[2 * i + 1] = [0.0, 0.0, 0.0, x, y, 1.0, -v * x, -v * y, v];
    }
    for c in 0..8 {
        let p = (c..8).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[p][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, p);
        for r in 0..8 {
            if r != c {
                let f = a[r][c] / a[c][c];
                let pivot = a[c];
                for (x, p) in a[r].iter_mut().zip(pivot).skip(c) {
                    *x -= f * p;
                }
            }
        }
    }
    let h: Vec<f64> = (0..8).map(|i| a[i][8] / a[i][i]).collect();
    Some([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7], 1.0])
}

fn perspective(img: &GrayImage, side: u32, f: f32, rng: &mut SplitMix) -> GrayImage {
    let (ox, oy) = (
        f64::from((FRAME_W - side) / 2),
        f64::from((FRAME_H - side) / 2),
    );
    let s = f64::from(side);
    let margin = s * 0.25;
    // The code's quiet-zone square plus a margin of background, warped as a tilted page.
    let src = [
        (ox - margin, oy - margin),
        (ox + s + margin, oy - margin),
        (ox + s + margin, oy + s + margin),
        (ox - margin, oy + s + margin),
    ];
    let mut dst = src;
    let amount = f64::from(f) * s;
    for (i, p) in dst.iter_mut().enumerate() {
        let jx = amount * rng.next_f64();
        let jy = amount * rng.next_f64();
        let (sx, sy) = [(1.0, 1.0), (-1.0, 1.0), (-1.0, -1.0), (1.0, -1.0)][i];
        p.0 += sx * jx;
        p.1 += sy * jy;
    }
    // Inverse map: for each output pixel, where in the source it came from.
    let Some(h) = homography(dst, src) else {
        return img.clone();
    };
    let (w, hgt) = img.dimensions();
    GrayImage::from_fn(w, hgt, |x, y| {
        let (xf, yf) = (f64::from(x), f64::from(y));
        let d = h[6] * xf + h[7] * yf + h[8];
        let u = (h[0] * xf + h[1] * yf + h[2]) / d;
        let v = (h[3] * xf + h[4] * yf + h[5]) / d;
        Luma([bilinear(img, u, v)])
    })
}

fn bilinear(img: &GrayImage, u: f64, v: f64) -> u8 {
    let (w, h) = img.dimensions();
    if !(u >= 0.0 && v >= 0.0 && u < f64::from(w - 1) && v < f64::from(h - 1)) {
        return 128;
    }
    let (x0, y0) = (u.floor() as u32, v.floor() as u32);
    let (fx, fy) = (u - f64::from(x0), v - f64::from(y0));
    let p = |x, y| f64::from(img.get_pixel(x, y).0[0]);
    let top = p(x0, y0) * (1.0 - fx) + p(x0 + 1, y0) * fx;
    let bot = p(x0, y0 + 1) * (1.0 - fx) + p(x0 + 1, y0 + 1) * fx;
    (top * (1.0 - fy) + bot * fy).round() as u8
}
