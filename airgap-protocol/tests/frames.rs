//! QR frames: rendered at one version, read back by our decoders and by zbarimg.

use std::process::Command;

use airgap_protocol::bbqr::{self, Encoding, FileType, SplitOptions};
use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, decode_gray, DecoderKind, FrameRenderer, GrayFrame};
use airgap_protocol::ur::UrEncoder;

fn gray(img: &image::GrayImage) -> GrayFrame<'_> {
    GrayFrame::of(img)
}

fn message(len: usize, seed: u64) -> Vec<u8> {
    let mut r = SplitMix::new(seed);
    (0..len).map(|_| r.next_u64() as u8).collect()
}

/// Every frame of a UR and a BBQr stream, rendered to PNG, is read back exactly by
/// zbarimg, an independent reader.
#[test]
fn zbarimg_reads_every_rendered_frame() {
    let zbar = Command::new("zbarimg").arg("--version").output();
    assert!(
        zbar.is_ok_and(|o| o.status.success()),
        "zbarimg is required (Debian zbar-tools); scripts/test.sh installs it"
    );
    let dir = std::env::temp_dir().join(format!("strongroom-zbar-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let msg = message(2500, 1);
    let mut texts = Vec::new();
    for version in [10u8, 15, 20, 25] {
        let frag = qr::max_fragment_len_for_version("crypto-psbt", version, msg.len()).unwrap();
        let mut enc = UrEncoder::new("crypto-psbt", &msg, frag).unwrap();
        for _ in 0..enc.fragment_count() + 2 {
            texts.push((version, enc.next_part()));
        }
    }
    let split = bbqr::split(
        &msg,
        FileType::Psbt,
        SplitOptions {
            encoding: Encoding::Zlib,
            max_version: 15,
            ..Default::default()
        },
    )
    .unwrap();
    texts.extend(split.parts.iter().map(|p| (split.version, p.clone())));
    for (i, (version, text)) in texts.iter().enumerate() {
        let r = FrameRenderer::new(*version).unwrap();
        let path = dir.join(format!("{i}.png"));
        std::fs::write(&path, r.to_png(text, 3).unwrap()).unwrap();
        let out = Command::new("zbarimg")
            .args(["-q", "--raw", "-Sdisable", "-Sqrcode.enable"])
            .arg(&path)
            .output()
            .unwrap();
        let got = String::from_utf8(out.stdout).unwrap();
        assert_eq!(
            got.trim_end_matches('\n'),
            text,
            "frame {i} (version {version})"
        );
        // Every frame of one stream is the same size: one version for the whole stream.
        let size = image::open(&path).unwrap().width();
        assert_eq!(size, (17 + 4 * u32::from(*version) + 8) * 3);
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn ur_stream_uses_one_version_and_alphanumeric_mode() {
    let msg = message(5000, 2);
    let version = 12;
    let frag = qr::max_fragment_len_for_version("crypto-psbt", version, msg.len()).unwrap();
    let mut enc = UrEncoder::new("crypto-psbt", &msg, frag).unwrap();
    let r = FrameRenderer::new(version).unwrap();
    let width = r.modules(&enc.next_part()).unwrap().width;
    assert_eq!(width, 17 + 4 * 12);
    for _ in 0..200 {
        let p = enc.next_part();
        assert!(p
            .bytes()
            .all(|b| b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".contains(&b)));
        assert_eq!(r.modules(&p).unwrap().width, width);
    }
    // One fragment byte more would not fit the version in the worst case.
    assert!(
        airgap_protocol::ur::max_multipart_len(
            "crypto-psbt",
            msg.len().div_ceil(frag + 1),
            frag + 1
        ) > qr::capacity(version).unwrap()
    );
}

#[test]
fn svg_and_halfblock_carry_the_same_modules() {
    let r = FrameRenderer::new(5).unwrap();
    let text = "UR:BYTES/IEHSJYHSPMWFWFIA";
    let m = r.modules(text).unwrap();
    let dark = m.dark.iter().filter(|d| **d).count();
    let svg = r.to_svg(text).unwrap();
    assert_eq!(svg.matches("h1v1h-1z").count(), dark);
    // Rebuild the module grid from the half-block text and compare.
    for invert in [false, true] {
        let hb = r.to_halfblock(text, invert).unwrap();
        let side = m.width + 8;
        let lines: Vec<Vec<char>> = hb.lines().map(|l| l.chars().collect()).collect();
        assert_eq!(lines.len(), side.div_ceil(2));
        for y in 0..m.width {
            for x in 0..m.width {
                let c = lines[(y + 4) / 2][x + 4];
                let top = (y + 4) % 2 == 0;
                let ink = match c {
                    '█' => true,
                    '▀' => top,
                    '▄' => !top,
                    _ => false,
                };
                assert_eq!(ink != invert, !m.dark[y * m.width + x], "module ({x},{y})");
            }
        }
    }
}

#[test]
fn fail_text_too_long_for_version_is_an_error() {
    let r = FrameRenderer::new(1).unwrap();
    assert!(r.to_png(&"A".repeat(100), 2).is_err());
    assert!(FrameRenderer::new(41).is_err());
}

/// The default decoder reads the mild part of the corpus, as a camera in a lit room sees it.
#[test]
fn default_decoder_reads_mildly_degraded_frames() {
    let msg = message(2000, 3);
    let frag = qr::max_fragment_len_for_version("crypto-psbt", 15, msg.len()).unwrap();
    let mut enc = UrEncoder::new("crypto-psbt", &msg, frag).unwrap();
    let r = FrameRenderer::new(15).unwrap();
    let mild = [
        Degradation::Clean,
        Degradation::Blur(1),
        Degradation::Noise(20.0),
        Degradation::Perspective(0.08),
        Degradation::LowContrast(110, 140),
        Degradation::Jpeg(30),
    ];
    for i in 0..3 {
        let text = enc.next_part();
        let canvas = place_on_canvas(&r.to_gray(&text, 4).unwrap(), 420);
        for d in mild {
            let img = degrade(&canvas, 420, d, i);
            let got = decode_gray(gray(&img), DecoderKind::default());
            assert_eq!(got, vec![text.clone()], "{}", d.name());
        }
    }
}

/// An encoded camera frame or photo (PNG or JPEG) is read; what is not an image, or
/// claims dimensions beyond the limit, is a clear error before any pixel is decoded.
#[test]
fn decode_image_reads_png_and_jpeg_and_refuses_the_rest() {
    use airgap_protocol::qr::{decode_image, ImageError};
    let text = "ur:strongroom-response/1-3/lpadaxcfaxhdcxdmdrfdgmzm";
    let code = FrameRenderer::new(10).unwrap().to_gray(text, 4).unwrap();
    let frame = place_on_canvas(&code, 640);
    let mut png = Vec::new();
    frame
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 70)
        .encode_image(&frame)
        .unwrap();
    for (name, bytes) in [("png", &png), ("jpeg", &jpeg)] {
        let found = decode_image(bytes, DecoderKind::default()).unwrap();
        assert_eq!(found, vec![text.to_string()], "{name}");
    }
    // A blank frame: read, nothing found.
    let blank = image::GrayImage::from_pixel(320, 240, image::Luma([200]));
    let mut blank_png = Vec::new();
    blank
        .write_to(
            &mut std::io::Cursor::new(&mut blank_png),
            image::ImageFormat::Png,
        )
        .unwrap();
    assert!(decode_image(&blank_png, DecoderKind::default())
        .unwrap()
        .is_empty());
    assert!(matches!(
        decode_image(b"GIF89a not ours", DecoderKind::default()),
        Err(ImageError::Format)
    ));
    assert!(matches!(
        decode_image(&png[..png.len() / 2], DecoderKind::default()),
        Err(ImageError::Damaged(_))
    ));
    // A PNG header claiming 100,000 x 100,000 pixels: refused from the header alone.
    let mut huge = png.clone();
    huge[16..20].copy_from_slice(&100_000u32.to_be_bytes());
    huge[20..24].copy_from_slice(&100_000u32.to_be_bytes());
    let ihdr_crc = crc32fast::hash(&huge[12..29]);
    huge[29..33].copy_from_slice(&ihdr_crc.to_be_bytes());
    assert!(matches!(
        decode_image(&huge, DecoderKind::default()),
        Err(ImageError::Dimensions | ImageError::Damaged(_))
    ));
    assert!(matches!(
        decode_image(&vec![0u8; 9 * 1024 * 1024], DecoderKind::default()),
        Err(ImageError::TooLarge)
    ));
}
