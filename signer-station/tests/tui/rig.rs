//! The TUI test rig: a station on the emulated YubiHSM 2 with keys fixed by their ids
//! (stable snapshots), the rehearsal request as frames, and keyboard and screen helpers.
#![allow(dead_code)]

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use signer_station::ceremony::{init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, SigningBackend, YubiHsm};
use signer_station::tui::{self, rehearsal, App, Key};

pub const NOW: u64 = 1_795_000_000;

pub struct Rig {
    pub app: App,
    pub keys: signer_station::keys::StationKeys,
    pub dir: std::path::PathBuf,
}

pub fn rig(name: &str, edit: impl FnOnce(&mut airgap_protocol::envelope::SignRequest)) -> Rig {
    rig_with(name, |_| rehearsal::policy().unwrap(), edit)
}

/// As [`rig`], with a policy made once the station's keys exist.
pub fn rig_with(
    name: &str,
    policy: impl FnOnce(&signer_station::keys::StationKeys) -> signer_station::station::Policy,
    edit: impl FnOnce(&mut airgap_protocol::envelope::SignRequest),
) -> Rig {
    let dir = std::env::temp_dir().join(format!("strongroom-tui-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    // The emulated YubiHSM 2, with keys fixed by their ids (stable snapshots),
    // initialised with the rehearsal quorum as a station would be.
    let (quorum, cred) = rehearsal::quorum().unwrap();
    let factory = YubiHsm::open_factory(Connection::Mock).unwrap();
    let backend = init(&factory, &cred).unwrap();
    let keys = signer_station::fixtures::known_station_keys(&backend).unwrap();
    let station = rehearsal::station_with(
        &backend,
        &keys,
        &dir,
        NOW,
        policy(&keys),
        rehearsal::tokens(),
    )
    .unwrap();
    let mut req = rehearsal::request(&keys, NOW).unwrap();
    edit(&mut req);
    rehearsal::write_frames(&req, &dir.join("incoming")).unwrap();
    let info = backend.info().unwrap();
    let opener: tui::Opener = Box::new(move |cred| {
        backend
            .reopen(OPERATING_KEY_ID, cred)
            .map(|s| Box::new(s) as Box<dyn SigningBackend>)
    });
    let app = App::new(
        station,
        quorum,
        info,
        opener,
        dir.join("incoming"),
        dir.join("outgoing"),
        Box::new(|| NOW),
    );
    Rig { app, keys, dir }
}

/// The keys every rig's device holds (fixed by their ids), for building requests to them.
pub fn known_keys() -> signer_station::keys::StationKeys {
    let hsm = YubiHsm::open_factory(Connection::Mock).unwrap();
    signer_station::fixtures::known_station_keys(&hsm).unwrap()
}

pub fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| tui::draw(app, f)).unwrap();
    let buf = t.backend().buffer().clone();
    (0..h)
        .map(|y| {
            (0..w)
                .map(|x| buf[(x, y)].symbol().to_string())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn keys(app: &mut App, ks: &[Key]) {
    for k in ks {
        app.key(*k);
    }
}

pub fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.key(Key::Char(c));
    }
}

pub fn capture(app: &mut App) {
    app.key(Key::Char('c'));
    // Frames are decoded on a worker thread; ticks collect what it has read.
    for _ in 0..2000 {
        app.tick();
        if !matches!(app.screen, tui::Screen::Capture(_)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    panic!("capture did not finish");
}

/// Every character of `needle` (spaces aside) appears, in order, in the screen text:
/// wrapped and grouped, never cut.
pub fn shows_whole(screen: &str, needle: &str) -> bool {
    let flat: String = screen
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect();
    flat.contains(&needle.replace(' ', ""))
}
