//! The scanner: camera or image frames in, an assembled payload out.
//!
//! Frames are decoded to QR texts; each text's format is detected (UR single or
//! multipart, BBQr, plain) and routed to the matching receiver. The first format seen
//! fixes the stream; texts of another format or stream are counted as strangers and
//! reported, never mixed in.

use crate::bbqr::{self, BbqrError, BbqrJoiner, BbqrReceived, FileType};
use crate::qr::{decode_gray, DecoderKind, GrayFrame};
use crate::ur::{self, Received, ReceiverLimits, UrError, UrReceiver};

/// The format of one scanned text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `ur:type/body`.
    UrSingle,
    /// `ur:type/seq-len/body`.
    UrMulti,
    /// `B$...`.
    Bbqr,
    /// Anything else (an address, a hex string).
    Plain,
}

/// Detects the format of a scanned text from its shape alone.
pub fn detect_format(text: &str) -> Format {
    let t = text.trim();
    let is_ur = t.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("ur:"));
    if is_ur {
        return if t.matches('/').count() >= 2 {
            Format::UrMulti
        } else {
            Format::UrSingle
        };
    }
    if t.starts_with("B$") {
        return Format::Bbqr;
    }
    Format::Plain
}

/// An assembled payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Payload {
    /// A UR message.
    Ur {
        /// UR type.
        ur_type: String,
        /// The message (CBOR for registry types).
        message: Vec<u8>,
    },
    /// A BBQr file.
    Bbqr {
        /// File type.
        file_type: FileType,
        /// The data.
        data: Vec<u8>,
    },
    /// A plain text QR.
    Plain(String),
}

/// Scanner progress, for a gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanProgress {
    /// The format of the stream, once known.
    pub format: Option<Format>,
    /// Parts (UR fragments or BBQr parts) in the stream.
    pub total: usize,
    /// Parts that added information.
    pub useful: usize,
    /// Further parts needed, estimated.
    pub remaining: usize,
    /// 0.0 ..= 1.0.
    pub fraction: f64,
    /// Frames pushed.
    pub frames: usize,
    /// Frames in which no QR code was read.
    pub frames_without_code: usize,
    /// Texts of another stream or format, ignored.
    pub strangers: usize,
    /// Texts rejected as damaged or inconsistent.
    pub rejected: usize,
}

/// What the scanner says after a text or frame.
#[derive(Debug, Clone, PartialEq)]
pub enum ScanEvent {
    /// Nothing new (no code in the frame, or a duplicate).
    Nothing,
    /// Progress made.
    Progress(ScanProgress),
    /// A text was refused; the stream in progress is unaffected.
    Rejected(ScanError),
    /// The payload is complete.
    Complete(Payload),
}

/// Why a scanned text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// UR part refused.
    #[error(transparent)]
    Ur(#[from] UrError),
    /// BBQr part refused.
    #[error(transparent)]
    Bbqr(#[from] BbqrError),
    /// A text of another format while a stream is in progress.
    #[error("a {found:?} code while receiving a {expected:?} stream; ignored")]
    OtherFormat {
        /// Stream format.
        expected: Format,
        /// Format of the text.
        found: Format,
    },
}

#[derive(Debug)]
enum State {
    Idle,
    Ur(UrReceiver),
    Bbqr(BbqrJoiner),
    Done,
}

/// Push scanner.
#[derive(Debug)]
pub struct Scanner {
    decoder: DecoderKind,
    limits: ReceiverLimits,
    state: State,
    format: Option<Format>,
    frames: usize,
    frames_without_code: usize,
    strangers: usize,
    rejected: usize,
    last_text: Option<String>,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new(DecoderKind::default(), ReceiverLimits::default())
    }
}

impl Scanner {
    /// A scanner with a frame decoder and UR caps.
    pub fn new(decoder: DecoderKind, limits: ReceiverLimits) -> Self {
        Self {
            decoder,
            limits,
            state: State::Idle,
            format: None,
            frames: 0,
            frames_without_code: 0,
            strangers: 0,
            rejected: 0,
            last_text: None,
        }
    }

    /// Feeds one camera or image frame. Returns one event per QR text in it (or
    /// `Nothing` for an empty frame).
    pub fn push_frame(&mut self, frame: GrayFrame<'_>) -> Vec<ScanEvent> {
        self.frames += 1;
        let texts = decode_gray(frame, self.decoder);
        if texts.is_empty() {
            self.frames_without_code += 1;
            return vec![ScanEvent::Nothing];
        }
        texts.iter().map(|t| self.push_text(t)).collect()
    }

    /// Feeds one decoded QR text.
    pub fn push_text(&mut self, text: &str) -> ScanEvent {
        // A camera sees the same frame many times in a row: skip the work.
        if self.last_text.as_deref() == Some(text) {
            return ScanEvent::Nothing;
        }
        self.last_text = Some(text.to_string());
        let format = detect_format(text);
        if let Some(expected) = self.format {
            let same = match (expected, format) {
                (Format::UrMulti | Format::UrSingle, Format::UrMulti | Format::UrSingle) => true,
                (a, b) => a == b,
            };
            if !same {
                self.strangers += 1;
                return ScanEvent::Rejected(ScanError::OtherFormat {
                    expected,
                    found: format,
                });
            }
        }
        let event = match (&mut self.state, format) {
            (State::Done, _) => return ScanEvent::Nothing,
            (State::Idle, Format::Plain) => {
                self.state = State::Done;
                return ScanEvent::Complete(Payload::Plain(text.trim().to_string()));
            }
            (State::Idle, Format::Bbqr) => {
                self.state = State::Bbqr(BbqrJoiner::default());
                return self.push_text_again(text, format);
            }
            (State::Idle, _) => {
                self.state = State::Ur(UrReceiver::with_limits(self.limits));
                return self.push_text_again(text, format);
            }
            (State::Ur(r), _) => match r.receive(text) {
                Ok(Received::Complete { ur_type, message }) => {
                    ScanEvent::Complete(Payload::Ur { ur_type, message })
                }
                Ok(Received::Useful(_)) => ScanEvent::Progress(self.progress()),
                Ok(Received::Redundant(_)) => ScanEvent::Nothing,
                Err(e) => ScanEvent::Rejected(e.into()),
            },
            (State::Bbqr(j), _) => match j.receive(text) {
                Ok(BbqrReceived::Complete(joined)) => ScanEvent::Complete(Payload::Bbqr {
                    file_type: joined.file_type,
                    data: joined.data,
                }),
                Ok(BbqrReceived::Progress(_)) => ScanEvent::Progress(self.progress()),
                Err(e) => ScanEvent::Rejected(e.into()),
            },
        };
        match &event {
            ScanEvent::Complete(_) => self.state = State::Done,
            ScanEvent::Rejected(e) => {
                if matches!(
                    e,
                    ScanError::Ur(UrError::Stranger { .. })
                        | ScanError::Bbqr(BbqrError::Stranger { .. })
                ) {
                    self.strangers += 1;
                } else {
                    self.rejected += 1;
                }
                if !self.stream_started() {
                    // A rejected first text must not fix the stream's format.
                    self.format = None;
                    self.state = State::Idle;
                }
            }
            _ => {}
        }
        event
    }

    fn push_text_again(&mut self, text: &str, format: Format) -> ScanEvent {
        self.format = Some(format);
        self.last_text = None;
        self.push_text(text)
    }

    fn stream_started(&self) -> bool {
        match &self.state {
            State::Ur(r) => r.progress().fragments > 0,
            State::Bbqr(j) => j.progress().total > 0,
            State::Done => true,
            State::Idle => false,
        }
    }

    /// Progress so far.
    pub fn progress(&self) -> ScanProgress {
        let (total, useful, remaining, fraction) = match &self.state {
            State::Ur(r) => {
                let p = r.progress();
                (
                    p.fragments,
                    p.useful_parts,
                    p.estimated_remaining,
                    p.fraction,
                )
            }
            State::Bbqr(j) => {
                let p = j.progress();
                let f = if p.total == 0 {
                    0.0
                } else {
                    p.received as f64 / p.total as f64
                };
                (p.total, p.received, p.total - p.received, f)
            }
            State::Done => (0, 0, 0, 1.0),
            State::Idle => (0, 0, 0, 0.0),
        };
        ScanProgress {
            format: self.format,
            total,
            useful,
            remaining,
            fraction,
            frames: self.frames,
            frames_without_code: self.frames_without_code,
            strangers: self.strangers,
            rejected: self.rejected,
        }
    }

    /// Forgets the stream in progress (the operator pressed "rescan").
    pub fn reset(&mut self) {
        *self = Self::new(self.decoder, self.limits);
    }
}

/// Re-exported for callers that only need to split or encode.
pub use bbqr::split as bbqr_split;
pub use ur::UrEncoder;
