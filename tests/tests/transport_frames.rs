//! End to end: a payload rendered as PNG frames, read back as a camera would see them
//! through the full scanner, with 30 % frame loss, duplicates, JPEG damage and a second
//! stream interleaved.

use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};
use airgap_protocol::ur::UrEncoder;

#[test]
fn png_frames_survive_loss_duplicates_jpeg_and_a_stranger_stream() {
    let mut rng = SplitMix::new(11);
    let ours: Vec<u8> = (0..6000).map(|_| rng.next_u64() as u8).collect();
    let theirs: Vec<u8> = (0..6000).map(|_| rng.next_u64() as u8).collect();
    let version = 15;
    let frag = qr::max_fragment_len_for_version("crypto-psbt", version, ours.len()).unwrap();
    let mut a = UrEncoder::new("crypto-psbt", &ours, frag).unwrap();
    let mut b = UrEncoder::new("crypto-psbt", &theirs, frag).unwrap();
    let r = FrameRenderer::new(version).unwrap();
    let mut scanner = Scanner::default();
    let read = |scanner: &mut Scanner, png: &[u8], d: Degradation, seed: u64| {
        let code = image::load_from_memory(png).unwrap().to_luma8();
        let canvas = place_on_canvas(&code, 480);
        let frame = degrade(&canvas, 480, d, seed);
        let g = GrayFrame {
            width: frame.width() as usize,
            height: frame.height() as usize,
            data: frame.as_raw(),
        };
        scanner.push_frame(g)
    };
    // Ours is seen first, so the scanner locks on to it; every third step a frame of the
    // other stream is interleaved and must be refused.
    let mut shown = 0;
    for step in 0..10 * a.fragment_count() {
        shown += 1;
        let png = r.to_png(&a.next_part(), 4).unwrap();
        if step % 3 == 1 {
            let stranger = r.to_png(&b.next_part(), 4).unwrap();
            read(&mut scanner, &stranger, Degradation::Clean, step as u64);
        }
        if rng.next_f64() < 0.3 {
            continue;
        }
        let d = if step % 2 == 0 {
            Degradation::Jpeg(30)
        } else {
            Degradation::Clean
        };
        let mut events = read(&mut scanner, &png, d, step as u64);
        if rng.next_f64() < 0.2 {
            events.extend(read(&mut scanner, &png, Degradation::Clean, 0));
        }
        for e in events {
            if let ScanEvent::Complete(p) = e {
                assert_eq!(
                    p,
                    Payload::Ur {
                        ur_type: "crypto-psbt".into(),
                        message: ours.clone()
                    }
                );
                let progress = scanner.progress();
                assert!(
                    progress.strangers > 0,
                    "the stranger stream was seen and refused"
                );
                assert!(
                    shown <= 2 * a.fragment_count() + 10,
                    "took {shown} frames for K={}",
                    a.fragment_count()
                );
                return;
            }
        }
    }
    panic!("stream never completed");
}
