//! The station TUI's state and key handling. Drawing lives in `view.rs`; the event loop,
//! generic over the ratatui backend, in `mod.rs`.

use std::path::PathBuf;

use age::secrecy::SecretString;
use airgap_protocol::envelope::{decode_envelope, encode_envelope, Envelope, SignResponse};
use airgap_protocol::qr::{self, FrameRenderer};
use airgap_protocol::scanner::{Payload as Scanned, ScanEvent, ScanProgress, Scanner};
use zeroize::Zeroizing;

use crate::capture::{Decoded, FilesSource, FrameSource, FrameWorker};
use crate::hsm::{BackendInfo, HsmError, SigningBackend};
use crate::quorum::QuorumFile;
use crate::station::{Refusal, Review, Station};

/// Opens an HSM session with a reconstructed credential.
pub type Opener = Box<dyn Fn(&[u8; 32]) -> Result<Box<dyn SigningBackend>, HsmError>>;

/// A key press, independent of the terminal library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A character.
    Char(char),
    /// Enter.
    Enter,
    /// Escape.
    Esc,
    /// Backspace.
    Backspace,
    /// Arrows.
    Left,
    /// Arrows.
    Right,
    /// Arrows.
    Up,
    /// Arrows.
    Down,
}

/// Capture in progress: a worker thread decodes frames; the UI feeds what it reads to
/// the scanner.
#[derive(Debug)]
pub struct Capture {
    pub(crate) source: String,
    pub(crate) worker: FrameWorker,
    pub(crate) scanner: Scanner,
    pub(crate) progress: ScanProgress,
    pub(crate) frames: usize,
    pub(crate) unreadable: usize,
    pub(crate) last: String,
}

/// Review of a captured request.
#[derive(Debug)]
pub struct ReviewState {
    pub(crate) review: Review,
    pub(crate) page: usize,
    pub(crate) seen: Vec<bool>,
    pub(crate) scroll: u16,
}

/// What the unlock is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Intent {
    /// Sign the reviewed request.
    Sign,
    /// Sign a refusal with this reason.
    Refuse(String),
}

/// Custodian unlock.
pub struct UnlockState {
    pub(crate) intent: Intent,
    pub(crate) selected: usize,
    pub(crate) typing: Option<Zeroizing<String>>,
    pub(crate) entered: Vec<(String, SecretString)>,
    pub(crate) confirm: bool,
}

impl std::fmt::Debug for UnlockState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.entered.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("UnlockState")
            .field("intent", &self.intent)
            .field("entered", &names)
            .finish_non_exhaustive()
    }
}

/// The signed answer, shown as an animated QR.
#[derive(Debug)]
pub struct ResponseState {
    /// What is shown: signed response, refusal, station descriptor.
    pub(crate) title: &'static str,
    /// PNG frames written.
    pub(crate) parts: usize,
    pub(crate) ur_type: &'static str,
    pub(crate) message: Vec<u8>,
    pub(crate) frame: usize,
    pub(crate) ticks_per_frame: u32,
    pub(crate) tick: u32,
    pub(crate) invert: bool,
    /// Largest QR version the custodians asked for (the screen may allow less).
    pub(crate) max_version: u8,
    pub(crate) written: PathBuf,
    /// Fragment length per QR version, computed once.
    pub(crate) fragments: std::cell::RefCell<std::collections::HashMap<u8, Option<usize>>>,
}

/// Where USB bundles are read from, and the keys to open them.
pub struct UsbSource {
    /// The bundle directory (the mounted stick).
    pub dir: PathBuf,
    /// The station's bundle decryption identity.
    pub identity: age::x25519::Identity,
    /// Coordinator bundle signing keys trusted.
    pub trusted: Vec<ed25519_dalek::VerifyingKey>,
}

impl std::fmt::Debug for UsbSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UsbSource")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

/// Screens.
#[derive(Debug)]
pub enum Screen {
    /// Station status.
    Home,
    /// Reading frames.
    Capture(Capture),
    /// Reviewing payloads.
    Review(ReviewState),
    /// Typing a refusal reason.
    Refuse(ReviewState, String),
    /// Custodians entering passphrases.
    Unlock(ReviewState, UnlockState),
    /// The response.
    Response(ResponseState),
    /// The ledger.
    Ledger(usize),
    /// Ceremony entry points; the selected one.
    Ceremony(usize),
}

/// A ceremony step as offered on the ceremony screen.
#[derive(Debug, Clone, Copy)]
pub struct CeremonyStep {
    /// Name.
    pub name: &'static str,
    /// What it does and who must be present.
    pub what: &'static str,
    /// How it is run (the steps that need the factory or a second HSM run from the
    /// ceremony command with this TUI closed, so no other session holds the device).
    pub run: &'static str,
}

/// The ceremony steps, in runbook order.
pub const CEREMONY_STEPS: [CeremonyStep; 5] = [
    CeremonyStep {
        name: "export descriptor",
        what: "Shows this station's self-signed descriptor (station id, public keys, policy digest) as an animated QR for the coordinator to register. Nothing secret is shown; no unlock is needed.",
        run: "Enter: show it here",
    },
    CeremonyStep {
        name: "init",
        what: "New HSM: k of n custodians choose passphrases; the operating credential is split among them and the factory authentication key is deleted.",
        run: "close this screen (q), then: signer-station ceremony init --station DIR --threshold K --custodian NAME=PASSFILE ...",
    },
    CeremonyStep {
        name: "keys",
        what: "Generates the identity, Bitcoin, EVM and Solana keys inside the HSM (k custodians unlock).",
        run: "close this screen (q), then: signer-station ceremony keys --station DIR --custodian NAME=PASSFILE ... ; then ceremony register",
    },
    CeremonyStep {
        name: "backup",
        what: "Exports every key wrapped under a new wrap key split among backup holders (k of m); see firmware-notes/BACKUP.md.",
        run: "close this screen (q), then: signer-station ceremony backup --station DIR --custodian ... --threshold K --holder NAME=PASSFILE ... --out FILE",
    },
    CeremonyStep {
        name: "restore",
        what: "Restores a backup into a fresh, initialised HSM and checks every key against the descriptor.",
        run: "close this screen (q), then: signer-station ceremony restore --station DIR --custodian ... --backup FILE --holder NAME=PASSFILE ... --descriptor FILE",
    },
];

/// Status line severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Neutral.
    Info,
    /// Good.
    Ok,
    /// Bad.
    Error,
}

/// The TUI application.
pub struct App {
    pub(crate) station: Station,
    pub(crate) quorum: QuorumFile,
    opener: Opener,
    pub(crate) info: BackendInfo,
    pub(crate) incoming: PathBuf,
    pub(crate) outgoing: PathBuf,
    clock: Box<dyn Fn() -> u64>,
    pub(crate) usb: Option<UsbSource>,
    descriptor: Option<(PathBuf, Vec<u8>)>,
    imported: std::collections::HashSet<[u8; 32]>,
    /// Current screen.
    pub screen: Screen,
    /// Status line.
    pub status: Option<(Level, String)>,
    /// Set when the user quits.
    pub quit: bool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("screen", &self.screen)
            .finish_non_exhaustive()
    }
}

impl App {
    /// An app over a station; frames are read from `incoming`, responses written to `outgoing`.
    pub fn new(
        station: Station,
        quorum: QuorumFile,
        info: BackendInfo,
        opener: Opener,
        incoming: PathBuf,
        outgoing: PathBuf,
        clock: Box<dyn Fn() -> u64>,
    ) -> Self {
        Self {
            station,
            quorum,
            opener,
            info,
            incoming,
            outgoing,
            clock,
            usb: None,
            descriptor: None,
            imported: Default::default(),
            screen: Screen::Home,
            status: None,
            quit: false,
        }
    }

    /// Reads requests from USB bundles too.
    pub fn with_usb(mut self, usb: UsbSource) -> Self {
        self.usb = Some(usb);
        self
    }

    /// The station's descriptor envelope (and where it is kept), for the ceremony screen.
    pub fn with_descriptor(mut self, path: PathBuf, envelope: Vec<u8>) -> Self {
        self.descriptor = Some((path, envelope));
        self
    }

    fn say(&mut self, level: Level, msg: impl Into<String>) {
        self.status = Some((level, msg.into()));
    }

    /// A timer tick: advances capture and the response animation.
    pub fn tick(&mut self) {
        match &mut self.screen {
            Screen::Capture(_) => self.capture_step(),
            Screen::Response(r) => {
                r.tick += 1;
                if r.tick >= r.ticks_per_frame {
                    r.tick = 0;
                    r.frame = r.frame.wrapping_add(1);
                }
            }
            _ => {}
        }
    }

    /// A key press.
    pub fn key(&mut self, key: Key) {
        let screen = std::mem::replace(&mut self.screen, Screen::Home);
        self.screen = match screen {
            Screen::Home => self.home_key(key),
            Screen::Capture(c) => match key {
                Key::Esc => {
                    self.say(Level::Info, "capture cancelled");
                    Screen::Home
                }
                _ => Screen::Capture(c),
            },
            Screen::Review(r) => self.review_key(r, key),
            Screen::Refuse(r, reason) => self.refuse_key(r, reason, key),
            Screen::Unlock(r, u) => self.unlock_key(r, u, key),
            Screen::Response(mut r) => match key {
                Key::Esc => Screen::Home,
                Key::Char('+') => {
                    r.ticks_per_frame = r.ticks_per_frame.saturating_sub(1).max(1);
                    Screen::Response(r)
                }
                Key::Char('-') => {
                    r.ticks_per_frame = (r.ticks_per_frame + 1).min(20);
                    Screen::Response(r)
                }
                Key::Char('i') => {
                    r.invert = !r.invert;
                    Screen::Response(r)
                }
                Key::Char('d') => {
                    r.max_version = r.max_version.saturating_sub(1).max(2);
                    Screen::Response(r)
                }
                Key::Char('D') => {
                    r.max_version = (r.max_version + 1).min(25);
                    Screen::Response(r)
                }
                _ => Screen::Response(r),
            },
            Screen::Ceremony(i) => self.ceremony_key(i, key),
            Screen::Ledger(s) => match key {
                Key::Esc => Screen::Home,
                Key::Down => Screen::Ledger(s + 1),
                Key::Up => Screen::Ledger(s.saturating_sub(1)),
                _ => Screen::Ledger(s),
            },
        };
    }

    fn home_key(&mut self, key: Key) -> Screen {
        match key {
            Key::Char('q') => {
                self.quit = true;
                Screen::Home
            }
            Key::Char('l') => Screen::Ledger(0),
            Key::Char('e') => Screen::Ceremony(0),
            Key::Char('u') => self.read_usb(),
            Key::Char('c') => {
                let dir = self.incoming.clone();
                match FilesSource::new(&dir, 3) {
                    Ok(src) => {
                        self.say(
                            Level::Info,
                            format!("reading {} frames from {}", src.len(), dir.display()),
                        );
                        let worker =
                            FrameWorker::start(move || Ok(Box::new(src) as Box<dyn FrameSource>));
                        self.capturing(format!("frames in {}", self.incoming.display()), worker)
                    }
                    Err(e) => {
                        self.say(Level::Error, e);
                        Screen::Home
                    }
                }
            }
            Key::Char('k') => self.camera(),
            _ => Screen::Home,
        }
    }

    fn ceremony_key(&mut self, i: usize, key: Key) -> Screen {
        match key {
            Key::Esc => Screen::Home,
            Key::Up => Screen::Ceremony(i.saturating_sub(1)),
            Key::Down => Screen::Ceremony((i + 1).min(CEREMONY_STEPS.len() - 1)),
            Key::Enter if i == 0 => {
                let Some((path, envelope)) = self.descriptor.clone() else {
                    self.say(
                        Level::Error,
                        "no descriptor for this station: run ceremony register first",
                    );
                    return Screen::Ceremony(i);
                };
                match self.show_stream(
                    "STATION DESCRIPTOR",
                    airgap_protocol::envelope::DESCRIPTOR_UR_TYPE,
                    envelope,
                    "descriptor",
                    path,
                ) {
                    Ok(s) => {
                        self.say(
                            Level::Ok,
                            "show these frames to the coordinator to register this station",
                        );
                        s
                    }
                    Err(e) => {
                        self.say(Level::Error, e);
                        Screen::Ceremony(i)
                    }
                }
            }
            Key::Enter => {
                self.say(
                    Level::Info,
                    format!("{}: {}", CEREMONY_STEPS[i].name, CEREMONY_STEPS[i].run),
                );
                Screen::Ceremony(i)
            }
            _ => Screen::Ceremony(i),
        }
    }

    fn capturing(&mut self, source: String, worker: FrameWorker) -> Screen {
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
    fn camera(&mut self) -> Screen {
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
    fn camera(&mut self) -> Screen {
        self.say(
            Level::Error,
            "this build has no camera support: capture from frame files (c) or USB (u)",
        );
        Screen::Home
    }

    fn capture_step(&mut self) {
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
        let envelope = match payload {
            Scanned::Ur { ur_type, message } => {
                decode_envelope(&ur_type, &message).map_err(|e| e.to_string())
            }
            other => Err(format!("not a Strongroom request ({other:?})")),
        };
        self.screen = self.start_review(envelope);
    }

    fn start_review(&mut self, envelope: Result<Envelope, String>) -> Screen {
        let now = (self.clock)();
        match envelope {
            Ok(Envelope::Request(req)) => match self.station.review(&req, now) {
                Ok(review) => {
                    let n = review.payloads.len().max(1);
                    match &review.verdict {
                        Ok(()) => self.say(
                            Level::Ok,
                            "request verified; read every payload before approving",
                        ),
                        Err(e) => self.say(Level::Error, format!("station policy refuses: {e}")),
                    }
                    let mut seen = vec![false; n];
                    seen[0] = true;
                    Screen::Review(ReviewState {
                        review,
                        page: 0,
                        seen,
                        scroll: 0,
                    })
                }
                Err(e) => {
                    self.say(Level::Error, format!("request refused before review: {e}"));
                    Screen::Home
                }
            },
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
    fn read_usb(&mut self) -> Screen {
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

    fn review_key(&mut self, mut r: ReviewState, key: Key) -> Screen {
        let n = r.seen.len();
        match key {
            Key::Right | Key::Char('n') if r.page + 1 < n => {
                r.page += 1;
                r.seen[r.page] = true;
                r.scroll = 0;
            }
            Key::Left | Key::Char('p') if r.page > 0 => {
                r.page -= 1;
                r.scroll = 0;
            }
            Key::Down => r.scroll = r.scroll.saturating_add(1),
            Key::Up => r.scroll = r.scroll.saturating_sub(1),
            Key::Char('a') => {
                if let Err(e) = &r.review.verdict {
                    self.say(Level::Error, format!("cannot approve: {e}"));
                } else if r.seen.iter().any(|s| !s) {
                    self.say(
                        Level::Error,
                        "read every payload first (→ for the next one)",
                    );
                } else {
                    self.say(
                        Level::Info,
                        "custodians: select your name and type your passphrase",
                    );
                    return Screen::Unlock(
                        r,
                        UnlockState {
                            intent: Intent::Sign,
                            selected: 0,
                            typing: None,
                            entered: vec![],
                            confirm: false,
                        },
                    );
                }
            }
            Key::Char('r') => {
                self.say(Level::Info, "type the reason for refusing, then Enter");
                let reason = r
                    .review
                    .verdict
                    .as_ref()
                    .err()
                    .map(|e| e.to_string())
                    .unwrap_or_default();
                return Screen::Refuse(r, reason);
            }
            Key::Esc => {
                self.say(Level::Info, "review closed; nothing signed");
                return Screen::Home;
            }
            _ => {}
        }
        Screen::Review(r)
    }

    fn refuse_key(&mut self, r: ReviewState, mut reason: String, key: Key) -> Screen {
        match key {
            Key::Esc => return Screen::Review(r),
            Key::Backspace => {
                reason.pop();
            }
            Key::Char(c) if reason.chars().count() < 200 => reason.push(c),
            Key::Enter if !reason.trim().is_empty() => {
                self.say(Level::Info, "custodians unlock to sign the refusal");
                return Screen::Unlock(
                    r,
                    UnlockState {
                        intent: Intent::Refuse(reason),
                        selected: 0,
                        typing: None,
                        entered: vec![],
                        confirm: false,
                    },
                );
            }
            _ => {}
        }
        Screen::Refuse(r, reason)
    }

    fn unlock_key(&mut self, r: ReviewState, mut u: UnlockState, key: Key) -> Screen {
        let need = usize::from(self.quorum.threshold);
        let names: Vec<String> = self
            .quorum
            .custodians
            .iter()
            .map(|c| c.name.clone())
            .collect();
        if u.confirm {
            return match key {
                Key::Char('y') => self.finish(r, u),
                Key::Char('n') | Key::Esc => {
                    self.say(Level::Info, "not signed");
                    Screen::Review(r)
                }
                _ => Screen::Unlock(r, u),
            };
        }
        if let Some(buf) = u.typing.as_mut() {
            match key {
                Key::Char(c) => buf.push(c),
                Key::Backspace => {
                    buf.pop();
                }
                Key::Esc => u.typing = None,
                Key::Enter => {
                    let name = names[u.selected].clone();
                    let pass = SecretString::from(buf.to_string());
                    u.typing = None;
                    let mut check = self.quorum.unlock();
                    match check.enter(&name, pass.clone()) {
                        Ok(_) => {
                            u.entered.push((name.clone(), pass));
                            if u.entered.len() >= need {
                                u.confirm = true;
                                let what = match &u.intent {
                                    Intent::Sign => {
                                        format!("sign {} payload(s)", r.review.payloads.len())
                                    }
                                    Intent::Refuse(_) => "sign the refusal".to_string(),
                                };
                                self.say(
                                    Level::Ok,
                                    format!("{need} of {need} custodians entered. {what}? y / n"),
                                );
                            } else {
                                self.say(
                                    Level::Ok,
                                    format!("{name} entered ({} of {need})", u.entered.len()),
                                );
                            }
                        }
                        Err(e) => self.say(Level::Error, e.to_string()),
                    }
                }
                _ => {}
            }
            return Screen::Unlock(r, u);
        }
        match key {
            Key::Up => u.selected = u.selected.saturating_sub(1),
            Key::Down => u.selected = (u.selected + 1).min(names.len().saturating_sub(1)),
            Key::Enter => {
                if u.entered.iter().any(|(n, _)| *n == names[u.selected]) {
                    self.say(
                        Level::Error,
                        format!("{} has already entered a passphrase", names[u.selected]),
                    );
                } else {
                    u.typing = Some(Zeroizing::new(String::new()));
                }
            }
            Key::Esc => {
                self.say(Level::Info, "unlock cancelled; nothing signed");
                return Screen::Review(r);
            }
            _ => {}
        }
        Screen::Unlock(r, u)
    }

    fn finish(&mut self, r: ReviewState, u: UnlockState) -> Screen {
        let mut unlock = self.quorum.unlock();
        for (n, p) in &u.entered {
            if let Err(e) = unlock.enter(n, p.clone()) {
                self.say(Level::Error, e.to_string());
                return Screen::Review(r);
            }
        }
        let session = match unlock
            .finish()
            .map_err(|e| e.to_string())
            .and_then(|c| (self.opener)(c.expose()).map_err(|e| e.to_string()))
        {
            Ok(s) => s,
            Err(e) => {
                self.say(Level::Error, format!("HSM not unlocked: {e}"));
                return Screen::Review(r);
            }
        };
        let now = (self.clock)();
        let result: Result<(SignResponse, Option<String>), Refusal> = match &u.intent {
            Intent::Sign => self
                .station
                .sign(&r.review, session.as_ref(), now)
                .map(|s| (s, None)),
            Intent::Refuse(reason) => {
                let refusal = Refusal::Custodians(reason.clone());
                self.station
                    .refuse(&r.review, &refusal, session.as_ref(), now)
                    .map(|s| (s, Some(reason.clone())))
            }
        };
        drop(session);
        match result
            .map_err(|e| e.to_string())
            .and_then(|(resp, refused)| self.show_response(resp, refused))
        {
            Ok(screen) => screen,
            Err(e) => {
                self.say(Level::Error, format!("nothing released: {e}"));
                Screen::Review(r)
            }
        }
    }

    fn show_response(
        &mut self,
        resp: SignResponse,
        refused: Option<String>,
    ) -> Result<Screen, String> {
        let env = Envelope::Response(resp);
        let (ur_type, message) = encode_envelope(&env);
        let written = self.outgoing.join("response.envelope");
        std::fs::create_dir_all(&self.outgoing).map_err(|e| e.to_string())?;
        std::fs::write(&written, &message).map_err(|e| e.to_string())?;
        let title = if refused.is_some() {
            "REFUSAL"
        } else {
            "SIGNED RESPONSE"
        };
        let screen = self.show_stream(title, ur_type, message, "", written)?;
        let parts = match &screen {
            Screen::Response(r) => r.parts,
            _ => 0,
        };
        match &refused {
            None => self.say(
                Level::Ok,
                format!(
                    "signed and recorded; show these frames to the coordinator ({parts} parts)"
                ),
            ),
            Some(_) => self.say(
                Level::Ok,
                "refusal signed and recorded; show these frames to the coordinator",
            ),
        }
        Ok(screen)
    }

    /// Writes `message` as PNG frames under `outgoing/sub` and shows it animated.
    fn show_stream(
        &mut self,
        title: &'static str,
        ur_type: &'static str,
        message: Vec<u8>,
        sub: &str,
        written: PathBuf,
    ) -> Result<Screen, String> {
        let version = 12;
        let frag = qr::max_fragment_len_for_version(ur_type, version, message.len())
            .ok_or("message too large")?;
        let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag)
            .map_err(|e| e.to_string())?;
        let n = if enc.is_single_part() {
            1
        } else {
            enc.fragment_count() * 3
        };
        let parts: Vec<String> = (0..n).map(|_| enc.next_part()).collect();
        let renderer = FrameRenderer::new(version).map_err(|e| e.to_string())?;
        let dir = self.outgoing.join(sub);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        // Frames of an earlier, longer stream must not be left beside these.
        for e in std::fs::read_dir(&dir)
            .map_err(|e| e.to_string())?
            .flatten()
        {
            if e.path().extension().is_some_and(|x| x == "png") {
                std::fs::remove_file(e.path()).map_err(|e| e.to_string())?;
            }
        }
        for (i, p) in parts.iter().enumerate() {
            std::fs::write(
                dir.join(format!("{:04}.png", i + 1)),
                renderer.to_png(p, 4).map_err(|e| e.to_string())?,
            )
            .map_err(|e| e.to_string())?;
        }
        Ok(Screen::Response(ResponseState {
            title,
            parts: parts.len(),
            ur_type,
            message,
            frame: 0,
            ticks_per_frame: 3,
            tick: 0,
            invert: false,
            max_version: 25,
            written,
            fragments: Default::default(),
        }))
    }
}
