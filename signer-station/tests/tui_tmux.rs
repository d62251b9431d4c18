//! The real binary in tmux, driven from the keyboard as custodians would: capture a
//! request from PNG frames, review every payload, unlock with 2 of 3 custodians on
//! MockHsm, sign, and read the response frames back with the coordinator's scanner.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use airgap_protocol::envelope::{decode_envelope, verify_response, Envelope, Outcome};
use airgap_protocol::qr::GrayFrame;
use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};

fn tmux(args: &[&str]) -> String {
    let o = Command::new("tmux")
        .args(args)
        .output()
        .expect("tmux is required (scripts/test.sh installs it)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn wait_for(session: &str, text: &str) -> String {
    let start = Instant::now();
    loop {
        let screen = tmux(&["capture-pane", "-p", "-t", session]);
        if screen.contains(text) {
            return screen;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "`{text}` never appeared; screen:\n{screen}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn keys(session: &str, ks: &[&str]) {
    for k in ks {
        tmux(&["send-keys", "-t", session, k]);
        std::thread::sleep(Duration::from_millis(60));
    }
}

fn typed(session: &str, s: &str) {
    tmux(&["send-keys", "-t", session, "-l", s]);
}

fn read_frames(dir: &Path) -> Envelope {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "png"))
        .collect();
    files.sort();
    let mut s = Scanner::default();
    for f in files.iter().cycle().take(files.len() * 3) {
        let img = image::open(f).unwrap().to_luma8();
        for ev in s.push_frame(GrayFrame {
            width: img.width() as usize,
            height: img.height() as usize,
            data: img.as_raw(),
        }) {
            if let ScanEvent::Complete(Payload::Ur { ur_type, message }) = ev {
                return decode_envelope(&ur_type, &message).unwrap();
            }
        }
    }
    panic!("frames in {} never completed", dir.display())
}

#[test]
fn custodians_complete_the_flow_from_the_keyboard() {
    assert!(
        Command::new("tmux")
            .arg("-V")
            .output()
            .is_ok_and(|o| o.status.success()),
        "tmux is required (scripts/test.sh installs it)"
    );
    let dir = std::env::temp_dir().join(format!("strongroom-tmux-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let session = format!("strongroom-{}", std::process::id());
    let cmd = format!(
        "{} tui --hsm mock --rehearse {}",
        env!("CARGO_BIN_EXE_signer-station"),
        dir.display()
    );
    tmux(&[
        "new-session",
        "-d",
        "-s",
        &session,
        "-x",
        "100",
        "-y",
        "40",
        &cmd,
    ]);
    let result = std::panic::catch_unwind(|| {
        wait_for(&session, "c capture");
        keys(&session, &["c"]);
        wait_for(&session, "payload 1 of 3");
        keys(&session, &["Right"]);
        wait_for(&session, "payload 2 of 3");
        keys(&session, &["Right"]);
        let s = wait_for(&session, "payload 3 of 3");
        assert!(s.contains("durable nonce account"));
        keys(&session, &["a"]);
        wait_for(&session, "unlock to sign");
        keys(&session, &["Enter"]);
        typed(&session, "ana-rehearsal");
        keys(&session, &["Enter"]);
        wait_for(&session, "ana entered");
        keys(&session, &["Down", "Down", "Enter"]);
        typed(&session, "cy-rehearsal");
        keys(&session, &["Enter"]);
        wait_for(&session, "y / n");
        keys(&session, &["y"]);
        wait_for(&session, "SIGNED RESPONSE");
        keys(&session, &["Escape", "q"]);
    });
    tmux(&["kill-session", "-t", &session]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    let Envelope::Request(req) = read_frames(&dir.join("incoming")) else {
        panic!("request expected")
    };
    let Envelope::Response(resp) = read_frames(&dir.join("outgoing")) else {
        panic!("response expected")
    };
    let d = std::fs::read(dir.join("descriptor.envelope")).unwrap();
    let Envelope::Descriptor(d) = decode_envelope("strongroom-descriptor", &d).unwrap() else {
        panic!()
    };
    verify_response(
        &resp,
        &req,
        &ed25519_dalek::VerifyingKey::from_bytes(&d.identity).unwrap(),
    )
    .unwrap();
    assert!(matches!(resp.outcome, Outcome::Signed(ref s) if s.len() == 3));
    std::fs::remove_dir_all(&dir).ok();
}
