//! The station TUI's state and key handling. Drawing lives in `view.rs`; the event loop,
//! generic over the ratatui backend, in `mod.rs`.

mod capture;
mod review;
mod unlock;

use std::path::PathBuf;

use age::secrecy::SecretString;
use airgap_protocol::envelope::{decode_envelope, encode_envelope, Envelope, SignResponse};
use airgap_protocol::qr::{self, FrameRenderer};
use airgap_protocol::scanner::{Payload as Scanned, ScanEvent, ScanProgress, Scanner};
use zeroize::Zeroizing;

use crate::capture::{Decoded, FilesSource, FrameSource, FrameWorker};
use crate::hsm::{BackendInfo, HsmError, SigningBackend};
use crate::quorum::QuorumFile;
use crate::station::standard::StandardRequest;
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
    /// Per payload: whether its last row has been on screen (set when drawn).
    pub(crate) seen: Vec<std::cell::Cell<bool>>,
    pub(crate) scroll: u16,
    /// The current payload's rows as last drawn: (rows visible, rows in all).
    pub(crate) rows: std::cell::Cell<(u16, u16)>,
    /// A standard wallet request (`eth-sign-request`, `sol-sign-request`), answered
    /// in its wallet's format.
    pub(crate) standard: Option<StandardRequest>,
}

impl ReviewState {
    /// A review opened on its first payload, nothing shown yet.
    pub(crate) fn new(review: Review) -> Self {
        let n = review.payloads.len().max(1);
        Self {
            review,
            page: 0,
            seen: vec![std::cell::Cell::new(false); n],
            scroll: 0,
            rows: std::cell::Cell::new((0, 0)),
            standard: None,
        }
    }

    /// Whether every payload's end has been on screen.
    pub(crate) fn all_read(&self) -> bool {
        self.seen.iter().all(std::cell::Cell::get)
    }

    /// How many payloads' ends have not been on screen.
    pub(crate) fn unread(&self) -> usize {
        self.seen.iter().filter(|s| !s.get()).count()
    }
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
#[derive(derive_more::Debug)]
pub struct UsbSource {
    /// The bundle directory (the mounted stick).
    pub dir: PathBuf,
    /// The station's bundle decryption identity.
    #[debug(skip)]
    pub identity: age::x25519::Identity,
    /// Coordinator bundle signing keys trusted.
    #[debug(skip)]
    pub trusted: Vec<ed25519_dalek::VerifyingKey>,
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
    /// The last answer shown, to show again from the home screen (`a`).
    pub(crate) last_answer: Option<ResponseState>,
    /// A rehearsal's custodians and their passphrases, shown where they are typed (on
    /// MockHsm only).
    pub(crate) rehearsal_passphrases: Vec<(String, String)>,
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
            last_answer: None,
            rehearsal_passphrases: Vec::new(),
            screen: Screen::Home,
            status: None,
            quit: false,
        }
    }

    /// A rehearsal's custodians and passphrases, shown beside each custodian where
    /// passphrases are typed. Ignored unless the backend is MockHsm: a station with a
    /// real device never shows a passphrase.
    pub fn with_rehearsal_passphrases(mut self, list: &[(&str, &str)]) -> Self {
        if self.info.is_mock {
            self.rehearsal_passphrases = list
                .iter()
                .map(|(n, p)| (n.to_string(), p.to_string()))
                .collect();
        }
        self
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
            Screen::Response(r) if key == Key::Esc => {
                self.say(Level::Info, "a on the home screen shows this answer again");
                self.last_answer = Some(r);
                Screen::Home
            }
            Screen::Response(mut r) => {
                match key {
                    Key::Char('+') => {
                        r.ticks_per_frame = r.ticks_per_frame.saturating_sub(1).max(1)
                    }
                    Key::Char('-') => r.ticks_per_frame = (r.ticks_per_frame + 1).min(20),
                    Key::Char('i') => r.invert = !r.invert,
                    Key::Char('d') => r.max_version = r.max_version.saturating_sub(1).max(2),
                    Key::Char('D') => r.max_version = (r.max_version + 1).min(25),
                    _ => {}
                }
                Screen::Response(r)
            }
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
            Key::Char('a') => match self.last_answer.take() {
                Some(r) => Screen::Response(r),
                None => {
                    self.say(
                        Level::Info,
                        "no answer has been shown since the station started",
                    );
                    Screen::Home
                }
            },
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
}
