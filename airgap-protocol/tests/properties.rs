//! Random messages round-trip through every format.

use airgap_protocol::bbqr::{self, Encoding, FileType, SplitOptions};
use airgap_protocol::qr::{decode_gray, DecoderKind, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};
use airgap_protocol::ur::{Received, UrEncoder, UrReceiver};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn ur_round_trips_with_any_drop_pattern(
        msg in proptest::collection::vec(any::<u8>(), 1..4000),
        frag in 10usize..400,
        skip in proptest::collection::vec(any::<bool>(), 0..64),
        start in 0usize..40,
    ) {
        let mut enc = UrEncoder::new("bytes", &msg, frag).unwrap();
        for _ in 0..start { enc.next_part(); }
        let mut rx = UrReceiver::default();
        let mut got = None;
        for i in 0..(enc.fragment_count() * 4 + 200) {
            let part = enc.next_part();
            if skip.get(i).copied().unwrap_or(false) { continue; }
            if let Received::Complete { message, .. } = rx.receive(&part).unwrap() {
                got = Some(message);
                break;
            }
        }
        prop_assert_eq!(got, Some(msg));
    }

    #[test]
    fn bbqr_round_trips_every_encoding_and_type(
        msg in proptest::collection::vec(any::<u8>(), 1..6000),
        enc in prop_oneof![Just(Encoding::Hex), Just(Encoding::Base32), Just(Encoding::Zlib)],
        ft in prop_oneof![Just(FileType::Psbt), Just(FileType::Transaction), Just(FileType::Json),
                          Just(FileType::Cbor), Just(FileType::UnicodeText), Just(FileType::Binary)],
        max_version in 5u8..30,
        rot in 0usize..50,
    ) {
        let split = bbqr::split(&msg, ft, SplitOptions { encoding: enc, max_version, ..Default::default() }).unwrap();
        let mut parts = split.parts.clone();
        let n = parts.len();
        parts.rotate_left(rot % n);
        parts.push(parts[0].clone());
        let joined = bbqr::join(&parts).unwrap();
        prop_assert_eq!(joined.data, msg);
        prop_assert_eq!(joined.file_type, ft);
        let cap = airgap_protocol::qr::capacity(split.version).unwrap();
        prop_assert!(split.parts.iter().all(|p| p.len() <= cap));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(12))]

    #[test]
    fn qr_frames_round_trip_through_scanner(
        msg in proptest::collection::vec(any::<u8>(), 1..1500),
        version in 8u8..20,
    ) {
        let frag = airgap_protocol::qr::max_fragment_len_for_version("bytes", version, msg.len()).unwrap();
        let mut enc = UrEncoder::new("bytes", &msg, frag).unwrap();
        prop_assert!(enc.max_part_len() <= airgap_protocol::qr::capacity(version).unwrap());
        let r = FrameRenderer::new(version).unwrap();
        let mut scanner = Scanner::default();
        let mut got = None;
        for _ in 0..enc.fragment_count() * 3 + 5 {
            let img = r.to_gray(&enc.next_part(), 4).unwrap();
            let frame = GrayFrame::of(&img);
            for ev in scanner.push_frame(frame) {
                if let ScanEvent::Complete(Payload::Ur { message, .. }) = ev { got = Some(message); }
            }
            if got.is_some() { break; }
        }
        prop_assert_eq!(got, Some(msg));
    }

    #[test]
    fn decoder_never_panics_on_noise(
        w in 1usize..300, h in 1usize..300, seed in any::<u64>(),
    ) {
        let mut r = airgap_protocol::qr::corpus::SplitMix::new(seed);
        let data: Vec<u8> = (0..w * h).map(|_| if r.next_u64() % 2 == 0 { 0 } else { 255 }).collect();
        for kind in [DecoderKind::Rqrr, DecoderKind::Rxing] {
            let _ = decode_gray(GrayFrame { width: w, height: h, data: &data }, kind);
        }
        // A frame whose buffer is shorter than it claims is refused, not read out of bounds.
        let short = GrayFrame { width: w + 1, height: h, data: &data };
        prop_assert!(decode_gray(short, DecoderKind::Rqrr).is_empty());
    }
}
