//! Capturing a request: QR frames from files or a camera, or a USB bundle, then the review it starts.

use super::*;

impl App {
    pub(super) fn capturing(&mut self, source: String, worker: FrameWorker) -> Screen {
        let scanner = Scanner::default();
        let progress = scanner.progress();
        Screen::Capture(Capture {
            source,
            worker,
            scanner,
            progress,
            frames: 0,
            unreadable: 0,
            last: String::new(),
        })
    }

    #[cfg(feature = "camera")]
    pub(super) fn camera(&mut self) -> Screen {
        self.say(
            Level::Info,
            "hold the coordinator's screen in front of the camera",
        );
        let worker = FrameWorker::start(|| {
            crate::capture::camera::CameraSource::open(0)
                .map(|c| Box::new(c) as Box<dyn FrameSource>)
        });
        self.capturing("camera 0".into(), worker)
    }

    #[cfg(not(feature = "camera"))]
    pub(super) fn camera(&mut self) -> Screen {
        self.say(
            Level::Error,
            "this build has no camera support: capture from frame files (c) or USB (u)",
        );
        Screen::Home
    }

    pub(super) fn capture_step(&mut self) {
        let Screen::Capture(c) = &mut self.screen else {
            return;
        };
        let mut done = None;
        let mut ended = false;
        for d in c.worker.drain() {
            match d {
                Decoded::Texts(texts) => {
                    c.frames += 1;
                    for t in texts {
                        match c.scanner.push_text(&t) {
                            ScanEvent::Complete(p) => done = Some(p),
                            ScanEvent::Rejected(e) => c.last = format!("part refused: {e}"),
                            ScanEvent::Progress(_) | ScanEvent::Nothing => {}
                        }
                    }
                }
                Decoded::Nothing => {
                    c.frames += 1;
                    c.unreadable += 1;
                }
                Decoded::BadFrame(e) => c.last = e,
                Decoded::End => ended = true,
            }
            if done.is_some() {
                break;
            }
        }
        c.progress = c.scanner.progress();
        if done.is_none() && ended {
            let why = if c.last.is_empty() {
                "the frames ran out before the request was complete".to_string()
            } else {
                c.last.clone()
            };
            self.say(Level::Error, why);
            self.screen = Screen::Home;
            return;
        }
        let Some(payload) = done else { return };
        if let Scanned::Ur { ur_type, message } = &payload {
            if let Some(standard) = StandardRequest::decode(ur_type, message) {
                self.screen = self.start_standard(standard);
                return;
            }
        }
        let envelope = match payload {
            Scanned::Ur { ur_type, message } => {
                decode_envelope(&ur_type, &message).map_err(|e| e.to_string())
            }
            other => Err(format!("not a Strongroom request ({other:?})")),
        };
        self.screen = self.start_review(envelope);
    }

    /// A standard wallet request: reviewed like an envelope's payload once the policy
    /// answers such requests; its answer goes back in the wallet's format.
    fn start_standard(&mut self, standard: Result<StandardRequest, String>) -> Screen {
        let standard = match standard {
            Ok(s) => s,
            Err(e) => {
                self.say(
                    Level::Error,
                    format!("captured wallet request refused: {e}"),
                );
                return Screen::Home;
            }
        };
        let review = self.station.review_standard(&standard, (self.clock)());
        let screen = self.reviewing(
            review.map_err(|e| format!("wallet request refused: {e}")),
            "a standard wallet request (no coordinator, no approvals: your review is its \
             only approval); read it before approving",
        );
        match screen {
            Screen::Review(mut state) => {
                state.standard = Some(standard);
                Screen::Review(state)
            }
            other => other,
        }
    }

    /// The review screen of `review` (saying `ok`, or the policy's refusal), or home
    /// with why there is no review.
    fn reviewing(&mut self, review: Result<Review, String>, ok: &str) -> Screen {
        match review {
            Ok(review) => {
                match &review.verdict {
                    Ok(()) => self.say(Level::Ok, ok),
                    Err(e) => self.say(Level::Error, format!("station policy refuses: {e}")),
                }
                Screen::Review(ReviewState::new(review))
            }
            Err(e) => {
                self.say(Level::Error, e);
                Screen::Home
            }
        }
    }

    pub(super) fn start_review(&mut self, envelope: Result<Envelope, String>) -> Screen {
        let now = (self.clock)();
        match envelope {
            Ok(Envelope::Request(req)) => {
                let review = self.station.review(&req, now);
                self.reviewing(
                    review.map_err(|e| format!("request refused before review: {e}")),
                    "request verified; read every payload before approving",
                )
            }
            Ok(_) => {
                self.say(
                    Level::Error,
                    "captured an envelope that is not a signing request",
                );
                Screen::Home
            }
            Err(e) => {
                self.say(Level::Error, format!("captured data refused: {e}"));
                Screen::Home
            }
        }
    }

    /// Opens the first valid, not yet imported request bundle on the stick; says what
    /// every other file is.
    pub(super) fn read_usb(&mut self) -> Screen {
        let Some(usb) = &self.usb else {
            self.say(
                Level::Error,
                "no USB bundle folder configured for this station",
            );
            return Screen::Home;
        };
        let list =
            match usb_transfer::scan_dir(&usb.dir, &usb.identity, &usb.trusted, &self.imported) {
                Ok(l) => l,
                Err(e) => {
                    let msg = format!("{}: {e}", usb.dir.display());
                    self.say(Level::Error, msg);
                    return Screen::Home;
                }
            };
        let mut notes = Vec::new();
        let mut chosen = None;
        for l in &list {
            let name = l
                .path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            match &l.state {
                usb_transfer::BundleState::Valid {
                    kind: usb_transfer::BundleKind::Request,
                    envelope_sha256,
                } if chosen.is_none() => {
                    chosen = Some((l.path.clone(), *envelope_sha256));
                }
                usb_transfer::BundleState::Valid { .. } => {}
                usb_transfer::BundleState::AlreadyImported => {
                    notes.push(format!("{name}: already imported"))
                }
                usb_transfer::BundleState::ForAnotherRecipient(_) => {
                    notes.push(format!("{name}: for another station"))
                }
                usb_transfer::BundleState::Damaged(e) => notes.push(format!("{name}: {e}")),
                usb_transfer::BundleState::Incomplete => {
                    notes.push(format!("{name}: incomplete copy"))
                }
            }
        }
        let Some((path, digest)) = chosen else {
            let msg = if notes.is_empty() {
                "no request bundle on the stick".to_string()
            } else {
                notes.join("; ")
            };
            self.say(Level::Error, msg);
            return Screen::Home;
        };
        let opened = std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| {
                usb_transfer::open_bundle(&b, &usb.identity, &usb.trusted)
                    .map_err(|e| e.to_string())
            });
        let envelope = opened.and_then(|b| {
            decode_envelope(airgap_protocol::envelope::REQUEST_UR_TYPE, &b.envelope)
                .map_err(|e| e.to_string())
        });
        self.imported.insert(digest);
        let screen = self.start_review(envelope);
        if !notes.is_empty() {
            if let Some((level, msg)) = self.status.take() {
                self.status = Some((
                    level,
                    format!("{msg} (also on the stick: {})", notes.join("; ")),
                ));
            }
        }
        screen
    }
}
