//! Capture: the YUYV luma plane, and the worker thread decoding frames off the UI thread.

use airgap_protocol::qr::FrameRenderer;
use signer_station::capture::{yuyv_luma, Decoded, FilesSource, Frame, FrameSource, FrameWorker};

#[test]
fn yuyv_luma_takes_every_other_byte() {
    // Y0 U Y1 V for a 2x2 frame.
    let data = [10, 128, 20, 128, 30, 128, 40, 128];
    let f = yuyv_luma(&data, 2, 2).unwrap();
    assert_eq!(f.luma, vec![10, 20, 30, 40]);
    assert!(
        yuyv_luma(&data[..7], 2, 2).is_none(),
        "a short buffer is refused"
    );
    assert!(
        yuyv_luma(&data, usize::MAX, 2).is_none(),
        "overflow is refused"
    );
}

struct Synthetic(Vec<Frame>);

impl FrameSource for Synthetic {
    fn next_frame(&mut self) -> Option<Result<Frame, String>> {
        if self.0.is_empty() {
            None
        } else {
            Some(Ok(self.0.remove(0)))
        }
    }
    fn describe(&self) -> String {
        "synthetic".into()
    }
}

fn drain_all(w: &FrameWorker) -> Vec<Decoded> {
    let mut out = Vec::new();
    for _ in 0..2000 {
        out.extend(w.drain());
        if out.last() == Some(&Decoded::End) {
            return out;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("worker never ended: {out:?}");
}

#[test]
fn worker_decodes_codes_and_counts_blank_frames() {
    let code = FrameRenderer::new(5)
        .unwrap()
        .to_gray("UR:BYTES/IEHSJYHSPMWFWFIA", 4)
        .unwrap();
    let qr = Frame {
        width: code.width() as usize,
        height: code.height() as usize,
        luma: code.into_raw(),
    };
    let blank = Frame {
        width: 64,
        height: 64,
        luma: vec![255; 64 * 64],
    };
    let w =
        FrameWorker::start(
            move || Ok(Box::new(Synthetic(vec![blank, qr])) as Box<dyn FrameSource>),
        );
    let got = drain_all(&w);
    assert_eq!(
        got,
        vec![
            Decoded::Nothing,
            Decoded::Texts(vec!["UR:BYTES/IEHSJYHSPMWFWFIA".into()]),
            Decoded::End
        ]
    );
}

#[test]
fn fail_a_source_that_cannot_open_is_reported_not_fatal() {
    let w = FrameWorker::start(|| Err("no camera at /dev/video0".to_string()));
    assert_eq!(
        drain_all(&w),
        vec![
            Decoded::BadFrame("no camera at /dev/video0".into()),
            Decoded::End
        ]
    );
    let dir = std::env::temp_dir().join(format!("empty-frames-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    assert!(FilesSource::new(&dir, 1)
        .unwrap_err()
        .contains("no image frames"));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn dropping_a_busy_worker_stops_it() {
    struct Endless;
    impl FrameSource for Endless {
        fn next_frame(&mut self) -> Option<Result<Frame, String>> {
            Some(Ok(Frame {
                width: 8,
                height: 8,
                luma: vec![0; 64],
            }))
        }
        fn describe(&self) -> String {
            "endless".into()
        }
    }
    let w = FrameWorker::start(|| Ok(Box::new(Endless) as Box<dyn FrameSource>));
    std::thread::sleep(std::time::Duration::from_millis(50));
    drop(w); // joins: must not hang with a full channel
}
