//! The custodians' TUI on ratatui's TestBackend: every screen at 80x24 and 160x48, the
//! whole flow from the keyboard, and refusals.

use airgap_protocol::envelope::{
    decode_envelope, verify_response, Envelope, Outcome, PayloadBody, RESPONSE_UR_TYPE,
};
use ratatui::backend::TestBackend;
use ratatui::Terminal;
use signer_station::ceremony::generate_station_keys;
use signer_station::hsm::software::SoftwareBackend;
use signer_station::hsm::SigningBackend;
use signer_station::tui::{self, rehearsal, App, Event, Key};

const NOW: u64 = 1_795_000_000;

struct Rig {
    app: App,
    keys: signer_station::ceremony::StationKeys,
    dir: std::path::PathBuf,
}

fn rig(name: &str, edit: impl FnOnce(&mut airgap_protocol::envelope::SignRequest)) -> Rig {
    let dir = std::env::temp_dir().join(format!("strongroom-tui-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    let backend = SoftwareBackend::default();
    let keys = generate_station_keys(&backend).unwrap();
    let station = rehearsal::station_on(&backend, &keys, &dir, NOW).unwrap();
    let mut req = rehearsal::request(&keys, NOW).unwrap();
    edit(&mut req);
    rehearsal::write_frames(&req, &dir.join("incoming")).unwrap();
    let (quorum, _) = rehearsal::quorum().unwrap();
    // Software keys are deterministic: a new backend holds the same keys.
    let opener: tui::Opener = Box::new(|_| {
        let b = SoftwareBackend::default();
        generate_station_keys(&b)?;
        Ok(Box::new(b) as Box<dyn SigningBackend>)
    });
    let info = backend.info().unwrap();
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

fn screen(app: &App, w: u16, h: u16) -> String {
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

fn both(app: &App, name: &str) {
    insta::assert_snapshot!(format!("{name}_80x24"), screen(app, 80, 24));
    insta::assert_snapshot!(format!("{name}_160x48"), screen(app, 160, 48));
}

fn keys(app: &mut App, ks: &[Key]) {
    for k in ks {
        app.key(*k);
    }
}

fn typed(app: &mut App, s: &str) {
    for c in s.chars() {
        app.key(Key::Char(c));
    }
}

fn capture(app: &mut App) {
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
fn shows_whole(screen: &str, needle: &str) -> bool {
    let flat: String = screen
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '│')
        .collect();
    flat.contains(&needle.replace(' ', ""))
}

#[test]
fn home_and_capture() {
    let mut r = rig("home", |_| {});
    both(&r.app, "home");
    r.app.key(Key::Char('c'));
    // Before the worker reports anything, the gauge is at zero.
    insta::assert_snapshot!("capture_80x24", screen(&r.app, 80, 24));
    assert!(screen(&r.app, 80, 24).contains("capture from frames in"));
    r.app.key(Key::Esc);
    r.app.key(Key::Char('k'));
    assert!(matches!(
        r.app.screen,
        tui::Screen::Home | tui::Screen::Capture(_)
    ));
}

#[test]
fn review_pages_then_unlock_sign_and_response() {
    let mut r = rig("flow", |_| {});
    capture(&mut r.app);
    both(&r.app, "review_bitcoin");
    let s = screen(&r.app, 80, 24);
    assert!(s.contains("CHANGE (verified: station key)"));
    // Approve is refused until every payload has been read.
    r.app.key(Key::Char('a'));
    assert!(screen(&r.app, 80, 24).contains("read every payload first"));
    r.app.key(Key::Right);
    both(&r.app, "review_evm");
    assert!(shows_whole(
        &screen(&r.app, 80, 24),
        "0x5290 8400 0985 2788 6E0F 7030 0698 57D2 E416 9EE7"
    ));
    r.app.key(Key::Right);
    both(&r.app, "review_solana_durable_nonce");
    assert!(screen(&r.app, 160, 48).contains("durable nonce account"));
    r.app.key(Key::Char('a'));
    both(&r.app, "unlock");
    // A wrong passphrase names the custodian and counts for nothing.
    r.app.key(Key::Enter);
    typed(&mut r.app, "not it");
    r.app.key(Key::Enter);
    assert!(screen(&r.app, 80, 24).contains("wrong passphrase for ana"));
    r.app.key(Key::Enter);
    typed(&mut r.app, "ana-rehearsal");
    assert!(screen(&r.app, 80, 24).contains("•••••••••••••"), "masked");
    assert!(
        !screen(&r.app, 80, 24).contains("ana-rehearsal"),
        "never shown"
    );
    r.app.key(Key::Enter);
    keys(&mut r.app, &[Key::Down, Key::Down, Key::Enter]);
    typed(&mut r.app, "cy-rehearsal");
    r.app.key(Key::Enter);
    assert!(screen(&r.app, 80, 24).contains("sign 3 payload(s)? y / n"));
    r.app.key(Key::Char('y'));
    assert!(
        matches!(r.app.screen, tui::Screen::Response(_)),
        "{}",
        screen(&r.app, 80, 24)
    );
    both(&r.app, "response");
    // What was written answers the request, signed by the station identity key.
    let bytes = std::fs::read(r.dir.join("outgoing/response.envelope")).unwrap();
    let Envelope::Response(resp) = decode_envelope(RESPONSE_UR_TYPE, &bytes).unwrap() else {
        panic!()
    };
    let req = rehearsal::request(&r.keys, NOW).unwrap();
    let id = ed25519_dalek::VerifyingKey::from_bytes(
        &r.keys.identity.public_key.clone().try_into().unwrap(),
    )
    .unwrap();
    verify_response(&resp, &req, &id).unwrap();
    assert!(matches!(resp.outcome, Outcome::Signed(ref s) if s.len() == 3));
}

#[test]
fn policy_failure_is_shown_and_a_refusal_is_signed() {
    // An ERC-20 call to a token the station's policy has no limit for.
    let mut r = rig("refuse", |req| {
        if let PayloadBody::EvmTx { tx, .. } = &mut req.payloads[1].body {
            let mut data = vec![0xa9, 0x05, 0x9c, 0xbb];
            data.extend_from_slice(&[0; 12]);
            data.extend_from_slice(&[0x52; 20]);
            data.extend_from_slice(&[0; 31]);
            data.push(9);
            *tx = erc20_tx(&data);
        }
        rehearsal::resign(req);
    });
    capture(&mut r.app);
    keys(&mut r.app, &[Key::Right]);
    both(&r.app, "review_erc20_policy_failure");
    assert!(screen(&r.app, 160, 48).contains("STATION REFUSES"));
    r.app.key(Key::Char('a'));
    assert!(screen(&r.app, 80, 24).contains("cannot approve"));
    r.app.key(Key::Char('r'));
    keys(&mut r.app, &[Key::Backspace; 200]);
    typed(&mut r.app, "token not in the station list");
    both(&r.app, "refuse");
    r.app.key(Key::Enter);
    r.app.key(Key::Enter);
    typed(&mut r.app, "ana-rehearsal");
    r.app.key(Key::Enter);
    keys(&mut r.app, &[Key::Down, Key::Enter]);
    typed(&mut r.app, "ben-rehearsal");
    r.app.key(Key::Enter);
    r.app.key(Key::Char('y'));
    let bytes = std::fs::read(r.dir.join("outgoing/response.envelope")).unwrap();
    let Envelope::Response(resp) = decode_envelope(RESPONSE_UR_TYPE, &bytes).unwrap() else {
        panic!()
    };
    assert!(
        matches!(&resp.outcome, Outcome::Refused { code: 60, reason } if reason.contains("token not in the station list"))
    );
}

fn erc20_tx(data: &[u8]) -> Vec<u8> {
    use alloy_rlp::{Encodable, Header};
    let mut f = Vec::new();
    1u64.encode(&mut f);
    1u64.encode(&mut f);
    1_000_000_000u64.encode(&mut f);
    30_000_000_000u64.encode(&mut f);
    60_000u64.encode(&mut f);
    [0xa0u8; 20].as_slice().encode(&mut f);
    0u64.encode(&mut f);
    data.encode(&mut f);
    Header {
        list: true,
        payload_length: 0,
    }
    .encode(&mut f);
    let mut out = vec![2];
    Header {
        list: true,
        payload_length: f.len(),
    }
    .encode(&mut out);
    out.extend_from_slice(&f);
    out
}

#[test]
fn ledger_view() {
    let mut r = rig("ledger", |_| {});
    capture(&mut r.app);
    r.app.key(Key::Esc);
    r.app.key(Key::Char('l'));
    let s = screen(&r.app, 160, 48);
    assert!(s.contains("request_seen"), "{s}");
    let _ = Event::Tick;
}

#[test]
fn request_from_a_usb_bundle() {
    let mut r = rig("usb", |_| {});
    let req = rehearsal::request(&r.keys, NOW).unwrap();
    let usb = rehearsal::request_bundle(&req, &r.dir.join("usb"), NOW).unwrap();
    // A bundle for another station on the same stick is named, not opened.
    let other = rehearsal::request_bundle(&req, &r.dir.join("other"), NOW).unwrap();
    for e in std::fs::read_dir(&other.dir).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(
            &p,
            r.dir
                .join("usb")
                .join(format!("x-{}", p.file_name().unwrap().to_string_lossy())),
        )
        .unwrap();
    }
    let mut app = std::mem::replace(&mut r.app, rig("usb2", |_| {}).app).with_usb(usb);
    assert!(screen(&app, 80, 24).contains("u read USB bundle"));
    app.key(Key::Char('u'));
    assert!(
        matches!(app.screen, tui::Screen::Review(_)),
        "{}",
        screen(&app, 80, 24)
    );
    let s = screen(&app, 160, 48);
    assert!(s.contains("for another station"), "{s}");
    app.key(Key::Esc);
    app.key(Key::Char('u'));
    assert!(screen(&app, 160, 48).contains("already imported"));
}
