//! `signer-station tui`: the custodians' screen.
//!
//! `--hsm mock --rehearse DIR` sets up a rehearsal station on MockHsm and writes a demo
//! request as QR frames (DIR/incoming) and as a USB bundle (DIR/usb); `--hsm usb
//! --station DIR [--usb DIR --bundle-keys DIR --bundle-trust PUBFILE]` runs on the
//! station directory a ceremony created and a YubiHSM 2.

use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::Duration;

use airgap_protocol::envelope::{decode_envelope, Envelope, DESCRIPTOR_UR_TYPE};
use ratatui::backend::TermionBackend;
use ratatui::Terminal;
use signer_station::ceremony::OPERATING_KEY_ID;
use signer_station::hsm::{BackendInfo, Connection, SigningBackend, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::ledger::Ledger;
use signer_station::station::{policy, registration, Station};
#[cfg(feature = "rehearsal")]
use signer_station::tui::rehearsal;
use signer_station::tui::{self, App, Event, Key};
use termion::input::TermRead;
use termion::raw::IntoRawMode;
use termion::screen::IntoAlternateScreen;

use super::ceremony::{now, StationDir};

/// `signer-station tui`.
#[derive(Debug, clap::Args)]
pub struct TuiArgs {
    /// usb: the station's YubiHSM 2 (mock: a rehearsal station on MockHsm, in a build with
    /// the `rehearsal` feature).
    #[arg(long, value_enum, default_value = "usb")]
    pub hsm: super::ceremony::args::Hsm,
    /// With --hsm mock: where to set up the rehearsal station and its demo request.
    #[cfg(feature = "rehearsal")]
    #[arg(long, value_name = "DIR", required_if_eq("hsm", "mock"))]
    pub rehearse: Option<PathBuf>,
    /// With --hsm usb: the station directory a ceremony created.
    #[arg(long, value_name = "DIR", required_if_eq("hsm", "usb"))]
    pub station: Option<PathBuf>,
    /// Where QR frames are read from (default: STATION/incoming).
    #[arg(long, value_name = "DIR")]
    pub incoming: Option<PathBuf>,
}

fn build(a: &TuiArgs) -> Result<App, String> {
    use super::ceremony::args::Hsm;
    let missing = |flag: &str| format!("--{flag} is required with --hsm {:?}", a.hsm);
    match a.hsm {
        #[cfg(feature = "rehearsal")]
        Hsm::Mock => {
            let dir = a.rehearse.clone().ok_or_else(|| missing("rehearse"))?;
            let r = rehearsal::station(&dir, now())?;
            let req = rehearsal::request_frames(&r.keys, &dir.join("incoming"), now())?;
            let usb = rehearsal::request_bundle(&req, &dir.join("usb"), now())?;
            let info = r.hsm.info().map_err(|e| e.to_string())?;
            let descriptor = std::fs::read(dir.join("descriptor.envelope"))
                .map_err(|e| format!("descriptor.envelope: {e}"))?;
            let base = r.hsm;
            let opener: tui::Opener = Box::new(move |cred| {
                base.reopen(OPERATING_KEY_ID, cred)
                    .map(|s| Box::new(s) as Box<dyn SigningBackend>)
            });
            Ok(App::new(
                r.station,
                r.quorum,
                info,
                opener,
                dir.join("incoming"),
                dir.join("outgoing"),
                Box::new(now),
            )
            .with_usb(usb)
            .with_descriptor(dir.join("descriptor.envelope"), descriptor)
            .with_rehearsal_passphrases(&rehearsal::CUSTODIANS))
        }
        Hsm::Usb => {
            let dir = StationDir(a.station.clone().ok_or_else(|| missing("station"))?);
            let quorum = dir.read_quorum()?;
            let bytes = std::fs::read(dir.path("descriptor.envelope"))
                .map_err(|e| format!("descriptor.envelope: {e}"))?;
            let Envelope::Descriptor(d) =
                decode_envelope(DESCRIPTOR_UR_TYPE, &bytes).map_err(|e| e.to_string())?
            else {
                return Err("descriptor.envelope is not a descriptor".into());
            };
            d.verify().map_err(|e| e.to_string())?;
            let keys = StationKeys::from_descriptor(&d).map_err(|e| e.to_string())?;
            let identity =
                ed25519_dalek::VerifyingKey::from_bytes(&d.identity).map_err(|e| e.to_string())?;
            let read =
                |f: &str| std::fs::read_to_string(dir.path(f)).map_err(|e| format!("{f}: {e}"));
            let anchors = registration::load(&read("registration.json")?, &identity)
                .map_err(|e| e.to_string())?;
            let p = policy::load(&read("policy.json")?, &identity).map_err(|e| e.to_string())?;
            let ledger = Ledger::open(&dir.path("ledger.jsonl")).map_err(|e| e.to_string())?;
            let station = Station::new(keys, anchors, p, Default::default(), ledger);
            let info = BackendInfo {
                is_mock: false,
                model: "YubiHSM 2 (locked until custodians unlock)".into(),
                serial: "-".into(),
                firmware: "-".into(),
            };
            let opener: tui::Opener = Box::new(|cred| {
                YubiHsm::open(Connection::Usb, OPERATING_KEY_ID, cred)
                    .map(|s| Box::new(s) as Box<dyn SigningBackend>)
            });
            let incoming = a.incoming.clone().unwrap_or_else(|| dir.path("incoming"));
            Ok(App::new(
                station,
                quorum,
                info,
                opener,
                incoming,
                dir.path("outgoing"),
                Box::new(now),
            )
            .with_descriptor(dir.path("descriptor.envelope"), bytes))
        }
    }
}

fn key_of(k: termion::event::Key) -> Option<Key> {
    use termion::event::Key as T;
    Some(match k {
        T::Char('\n') => Key::Enter,
        T::Char(c) => Key::Char(c),
        T::Esc => Key::Esc,
        T::Backspace => Key::Backspace,
        T::Left => Key::Left,
        T::Right => Key::Right,
        T::Up => Key::Up,
        T::Down => Key::Down,
        T::Ctrl('c') => Key::Char('q'),
        _ => return None,
    })
}

pub fn run(a: &TuiArgs) -> Result<(), String> {
    let mut app = build(a)?;
    // A QR decoder's contained panic (rqrr asserts on some images) must not print over
    // the screen: panics go to a log file beside the ledger instead.
    #[cfg(feature = "rehearsal")]
    let dir = a.rehearse.clone().or(a.station.clone());
    #[cfg(not(feature = "rehearsal"))]
    let dir = a.station.clone();
    let log = dir
        .unwrap_or_else(|| PathBuf::from("."))
        .join("station-panics.log");
    std::panic::set_hook(Box::new(move |info| {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
        {
            let _ = writeln!(f, "{} {info}", now());
        }
    }));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for k in std::io::stdin().keys().map_while(Result::ok) {
            if let Some(k) = key_of(k) {
                if tx.send(k).is_err() {
                    break;
                }
            }
        }
    });
    let events = std::iter::from_fn(move || match rx.recv_timeout(Duration::from_millis(100)) {
        Ok(k) => Some(Event::Key(k)),
        Err(mpsc::RecvTimeoutError::Timeout) => Some(Event::Tick),
        Err(mpsc::RecvTimeoutError::Disconnected) => None,
    });
    let stdout = std::io::stdout()
        .into_raw_mode()
        .map_err(|e| e.to_string())?
        .into_alternate_screen()
        .map_err(|e| e.to_string())?;
    let mut terminal = Terminal::new(TermionBackend::new(stdout)).map_err(|e| e.to_string())?;
    let result = tui::run(&mut terminal, &mut app, events).map_err(|e| e.to_string());
    drop(terminal);
    let _ = std::io::stdout().flush();
    result
}
