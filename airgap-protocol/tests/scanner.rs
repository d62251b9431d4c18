//! The scanner: format detection, routing, strangers, and progress.

use airgap_protocol::bbqr::{self, Encoding, FileType, SplitOptions};
use airgap_protocol::scanner::{detect_format, Format, Payload, ScanError, ScanEvent, Scanner};
use airgap_protocol::ur::{UrEncoder, UrError};

#[test]
fn detects_formats() {
    assert_eq!(detect_format("UR:BYTES/IEHSJYHSPMWFWFIA"), Format::UrSingle);
    assert_eq!(detect_format("ur:bytes/1-9/lpadascfadax"), Format::UrMulti);
    assert_eq!(detect_format("B$ZU0801ABCD"), Format::Bbqr);
    assert_eq!(
        detect_format("bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq"),
        Format::Plain
    );
}

#[test]
fn ur_stream_reports_progress_then_completes() {
    let msg = vec![42u8; 1000];
    let mut enc = UrEncoder::new("crypto-psbt", &msg, 100).unwrap();
    let mut s = Scanner::default();
    let mut last_fraction = 0.0;
    loop {
        match s.push_text(&enc.next_part()) {
            ScanEvent::Progress(p) => {
                assert_eq!(p.format, Some(Format::UrMulti));
                assert_eq!(p.total, 10);
                assert!(p.fraction > last_fraction);
                assert_eq!(p.useful + p.remaining, 10);
                last_fraction = p.fraction;
            }
            ScanEvent::Complete(Payload::Ur { ur_type, message }) => {
                assert_eq!((ur_type.as_str(), message), ("crypto-psbt", msg));
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn fail_other_format_and_other_stream_are_rejected_and_counted() {
    let mut a = UrEncoder::new("bytes", &[1u8; 500], 100).unwrap();
    let mut b = UrEncoder::new("bytes", &[2u8; 500], 100).unwrap();
    let bb = bbqr::split(
        &[3u8; 500],
        FileType::Binary,
        SplitOptions {
            encoding: Encoding::Hex,
            max_version: 5,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = Scanner::default();
    assert!(matches!(
        s.push_text(&a.next_part()),
        ScanEvent::Progress(_)
    ));
    assert!(matches!(
        s.push_text(&bb.parts[0]),
        ScanEvent::Rejected(ScanError::OtherFormat {
            expected: Format::UrMulti,
            found: Format::Bbqr
        })
    ));
    assert!(matches!(
        s.push_text(&b.next_part()),
        ScanEvent::Rejected(ScanError::Ur(UrError::Stranger { .. }))
    ));
    assert!(matches!(
        s.push_text("hello"),
        ScanEvent::Rejected(ScanError::OtherFormat { .. })
    ));
    assert_eq!(s.progress().strangers, 3);
    let done = (0..50).any(|_| matches!(s.push_text(&a.next_part()), ScanEvent::Complete(Payload::Ur { ref message, .. }) if message == &[1u8; 500]));
    assert!(done);
}

#[test]
fn fail_damaged_first_part_does_not_fix_the_format() {
    let mut s = Scanner::default();
    assert!(matches!(
        s.push_text("ur:bytes/1-2/zzzz"),
        ScanEvent::Rejected(ScanError::Ur(_))
    ));
    assert_eq!(s.progress().format, None);
    assert_eq!(s.progress().rejected, 1);
    // A BBQr stream can still start.
    let bb = bbqr::split(b"psbt bytes", FileType::Psbt, SplitOptions::default()).unwrap();
    assert!(matches!(
        s.push_text(&bb.parts[0]),
        ScanEvent::Complete(Payload::Bbqr {
            file_type: FileType::Psbt,
            ..
        })
    ));
}

#[test]
fn plain_text_completes_at_once_and_repeated_frames_are_cheap() {
    let mut s = Scanner::default();
    let addr = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
    assert_eq!(
        s.push_text(addr),
        ScanEvent::Complete(Payload::Plain(addr.into()))
    );
    assert_eq!(s.push_text(addr), ScanEvent::Nothing);
}
