//! The fuzz targets' properties on stable, so CI checks them on every run: arbitrary
//! and mutated input never panics any decoder of untrusted input. The coverage-guided
//! runs live in `fuzz/` (cargo fuzz, nightly).

use airgap_protocol::bbqr::{self, BbqrJoiner, SplitOptions};
use airgap_protocol::scanner::Scanner;
use airgap_protocol::ur::{ReceiverLimits, UrEncoder, UrReceiver};
use proptest::prelude::*;

fn valid_parts() -> Vec<String> {
    let mut e = UrEncoder::new("crypto-psbt", &[9u8; 700], 60).unwrap();
    let mut v: Vec<String> = (0..20).map(|_| e.next_part()).collect();
    v.extend(
        bbqr::split(
            &[5u8; 900],
            bbqr::FileType::Psbt,
            SplitOptions {
                max_version: 6,
                ..Default::default()
            },
        )
        .unwrap()
        .parts,
    );
    v
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn arbitrary_strings_never_panic(lines in proptest::collection::vec(".{0,300}", 1..8)) {
        let mut rx = UrReceiver::with_limits(ReceiverLimits { max_seq_len: 256, max_message_len: 1 << 16 });
        let mut j = BbqrJoiner::default();
        let mut s = Scanner::default();
        for l in &lines {
            let _ = rx.receive(l);
            let _ = j.receive(l);
            let _ = s.push_text(l);
        }
    }

    #[test]
    fn mutated_valid_parts_never_panic(
        picks in proptest::collection::vec((0usize..1000, 0usize..2000, any::<u8>()), 1..30),
    ) {
        let parts = valid_parts();
        let mut rx = UrReceiver::default();
        let mut j = BbqrJoiner::default();
        let mut s = Scanner::default();
        for (which, at, byte) in picks {
            let mut p = parts[which % parts.len()].clone().into_bytes();
            let n = p.len();
            p[at % n] = byte;
            let text = String::from_utf8_lossy(&p).into_owned();
            let _ = rx.receive(&text);
            let _ = j.receive(&text);
            let _ = s.push_text(&text);
        }
    }
}

fn small_images() -> Vec<Vec<u8>> {
    let code = airgap_protocol::qr::FrameRenderer::new(2)
        .unwrap()
        .to_gray("UR:BYTES/HDCXLKAHSSQZWF", 3)
        .unwrap();
    let mut png = Vec::new();
    code.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let mut jpeg = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 60)
        .encode_image(&code)
        .unwrap();
    vec![png, jpeg]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// A camera frame or uploaded photo, damaged anywhere: an error or a list of
    /// texts, never a panic.
    #[test]
    fn mutated_images_never_panic(
        which in 0usize..2,
        edits in proptest::collection::vec((0usize..4000, any::<u8>()), 1..12),
        cut in 0usize..4000,
    ) {
        let mut img = small_images().swap_remove(which);
        for (at, byte) in edits {
            let n = img.len();
            img[at % n] = byte;
        }
        let keep = img.len() - cut % (img.len() / 2);
        img.truncate(keep);
        let _ = airgap_protocol::qr::decode_image(&img, airgap_protocol::qr::DecoderKind::default());
    }
}
