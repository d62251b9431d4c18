//! Frame capture: sources of grayscale frames (image files; a V4L2 camera behind the
//! `camera` feature) and a worker thread that decodes QR codes off the UI thread, so the
//! screen never stalls. Frames without a readable code are counted, never fatal.

use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, TryRecvError};
use std::thread::JoinHandle;

use airgap_protocol::qr::{decode_gray, DecoderKind, GrayFrame};

/// An owned grayscale frame.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Width.
    pub width: usize,
    /// Height.
    pub height: usize,
    /// Luma, row-major.
    pub luma: Vec<u8>,
}

/// The Y (luma) plane of a YUYV 4:2:2 frame: every other byte, no colour conversion.
/// `None` when the buffer is shorter than the frame claims.
pub fn yuyv_luma(data: &[u8], width: usize, height: usize) -> Option<Frame> {
    let n = width.checked_mul(height)?;
    if data.len() < n.checked_mul(2)? {
        return None;
    }
    Some(Frame {
        width,
        height,
        luma: data.iter().step_by(2).take(n).copied().collect(),
    })
}

/// Somewhere frames come from. Built on the worker thread that reads it, so a camera
/// handle never crosses threads.
pub trait FrameSource {
    /// The next frame; `None` when the source is exhausted.
    fn next_frame(&mut self) -> Option<Result<Frame, String>>;
    /// What it is, for the screen.
    fn describe(&self) -> String;
}

/// Image files (PNG, JPEG), shown in a loop as a display would: for rehearsal and tests.
#[derive(Debug)]
pub struct FilesSource {
    files: Vec<PathBuf>,
    next: usize,
    passes: usize,
}

impl FilesSource {
    /// The images in `dir`, in name order, read `passes` times over.
    pub fn new(dir: &std::path::Path, passes: usize) -> Result<Self, String> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|x| x == "png" || x == "jpg" || x == "jpeg")
            })
            .collect();
        files.sort();
        if files.is_empty() {
            return Err(format!("no image frames in {}", dir.display()));
        }
        Ok(Self {
            files,
            next: 0,
            passes,
        })
    }

    /// Number of files.
    pub fn len(&self) -> usize {
        self.files.len()
    }

    /// Whether there are no files.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }
}

impl FrameSource for FilesSource {
    fn next_frame(&mut self) -> Option<Result<Frame, String>> {
        if self.next >= self.files.len() * self.passes {
            return None;
        }
        let path = &self.files[self.next % self.files.len()];
        self.next += 1;
        Some(
            image::open(path)
                .map(|i| {
                    let g = i.to_luma8();
                    Frame {
                        width: g.width() as usize,
                        height: g.height() as usize,
                        luma: g.into_raw(),
                    }
                })
                .map_err(|e| format!("{}: {e}", path.display())),
        )
    }

    fn describe(&self) -> String {
        format!("{} image files", self.files.len())
    }
}

/// What the worker reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// QR texts read from one frame.
    Texts(Vec<String>),
    /// A frame with no readable code.
    Nothing,
    /// A frame the source could not deliver.
    BadFrame(String),
    /// The source has no more frames.
    End,
}

/// Decodes frames from a source on its own thread.
#[derive(Debug)]
pub struct FrameWorker {
    rx: Receiver<Decoded>,
    stop: mpsc::Sender<()>,
    handle: Option<JoinHandle<()>>,
}

impl FrameWorker {
    /// Builds a source on a new thread with `make` and decodes its frames there.
    pub fn start<F>(make: F) -> Self
    where
        F: FnOnce() -> Result<Box<dyn FrameSource>, String> + Send + 'static,
    {
        let (tx, rx) = mpsc::sync_channel(64);
        let (stop, stopped) = mpsc::channel::<()>();
        let handle = std::thread::spawn(move || {
            let mut source = match make() {
                Ok(s) => s,
                Err(e) => {
                    let _ = tx.send(Decoded::BadFrame(e));
                    let _ = tx.send(Decoded::End);
                    return;
                }
            };
            loop {
                if !matches!(stopped.try_recv(), Err(TryRecvError::Empty)) {
                    return;
                }
                let msg = match source.next_frame() {
                    None => {
                        let _ = tx.send(Decoded::End);
                        return;
                    }
                    Some(Err(e)) => Decoded::BadFrame(e),
                    Some(Ok(f)) => {
                        let texts = decode_gray(
                            GrayFrame {
                                width: f.width,
                                height: f.height,
                                data: &f.luma,
                            },
                            DecoderKind::default(),
                        );
                        if texts.is_empty() {
                            Decoded::Nothing
                        } else {
                            Decoded::Texts(texts)
                        }
                    }
                };
                if tx.send(msg).is_err() {
                    return;
                }
            }
        });
        Self {
            rx,
            stop,
            handle: Some(handle),
        }
    }

    /// Everything decoded since the last call, without waiting.
    pub fn drain(&self) -> Vec<Decoded> {
        self.rx.try_iter().collect()
    }
}

impl Drop for FrameWorker {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        // Unblock a worker waiting on a full channel, then let it finish.
        while self.rx.try_recv().is_ok() {}
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// A V4L2 camera through nokhwa, asking for YUYV so the luma plane is taken directly.
#[cfg(feature = "camera")]
pub mod camera {
    use nokhwa::pixel_format::LumaFormat;
    use nokhwa::utils::{CameraIndex, RequestedFormat, RequestedFormatType};
    use nokhwa::Camera;

    use super::{yuyv_luma, Frame, FrameSource};

    /// A camera.
    #[derive(derive_more::Debug)]
    pub struct CameraSource {
        #[debug(skip)]
        cam: Camera,
        index: u32,
    }

    impl CameraSource {
        /// Opens camera `index` (0 is /dev/video0).
        pub fn open(index: u32) -> Result<Self, String> {
            let format =
                RequestedFormat::new::<LumaFormat>(RequestedFormatType::AbsoluteHighestFrameRate);
            let mut cam =
                Camera::new(CameraIndex::Index(index), format).map_err(|e| e.to_string())?;
            cam.open_stream().map_err(|e| e.to_string())?;
            Ok(Self { cam, index })
        }
    }

    impl FrameSource for CameraSource {
        fn next_frame(&mut self) -> Option<Result<Frame, String>> {
            Some(self.cam.frame().map_err(|e| e.to_string()).and_then(|buf| {
                let res = buf.resolution();
                let (w, h) = (res.width() as usize, res.height() as usize);
                match buf.source_frame_format() {
                    nokhwa::utils::FrameFormat::YUYV => {
                        yuyv_luma(buf.buffer(), w, h).ok_or_else(|| "short YUYV frame".to_string())
                    }
                    _ => buf
                        .decode_image::<LumaFormat>()
                        .map(|img| Frame {
                            width: w,
                            height: h,
                            luma: img.into_raw(),
                        })
                        .map_err(|e| e.to_string()),
                }
            }))
        }

        fn describe(&self) -> String {
            format!("camera {}", self.index)
        }
    }
}
