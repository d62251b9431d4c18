//! The real binary in tmux, driven from the keyboard as custodians would: capture a
//! request from PNG frames, review every payload, unlock with 2 of 3 custodians on
//! MockHsm, sign, and read the response frames back with the coordinator's scanner; and
//! a Keystone wallet's eth-sign-request and sol-sign-request, answered in its format.

mod common;

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

/// The real binary on a rehearsal station in a new tmux session (100×40); its folder
/// and the session's name.
fn rehearsal_in_tmux(name: &str) -> (std::path::PathBuf, String) {
    let dir = std::env::temp_dir().join(format!("strongroom-tmux-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let session = format!("strongroom-{name}-{}", std::process::id());
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
    (dir, session)
}

/// From a review read to its end: approve, unlock with ana and cy, confirm.
fn approve_and_sign(session: &str) {
    keys(session, &["a"]);
    wait_for(session, "unlock to sign");
    keys(session, &["Enter"]);
    typed(session, "ana-rehearsal");
    keys(session, &["Enter"]);
    wait_for(session, "ana entered");
    keys(session, &["Down", "Down", "Enter"]);
    typed(session, "cy-rehearsal");
    keys(session, &["Enter"]);
    wait_for(session, "y / n");
    keys(session, &["y"]);
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
    let (dir, session) = rehearsal_in_tmux("flow");
    let result = std::panic::catch_unwind(|| {
        wait_for(&session, "c capture");
        keys(&session, &["c"]);
        wait_for(&session, "payload 1 of 3");
        keys(&session, &["Right"]);
        wait_for(&session, "payload 2 of 3");
        keys(&session, &["Right"]);
        let s = wait_for(&session, "payload 3 of 3");
        assert!(s.contains("durable nonce account"));
        approve_and_sign(&session);
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

/// The Keystone registry (npm, in the repository's `.tools/`): `tests/wallet/keystone.cjs`.
fn keystone(args: &[&str]) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let modules = root.join(".tools/node_modules/@keystonehq");
    let run = Command::new("node")
        .arg(root.join("tests/wallet/keystone.cjs"))
        .args(args)
        .env("KEYSTONE", modules.join("bc-ur-registry-eth"))
        .env("KEYSTONE_SOL", modules.join("bc-ur-registry-sol"))
        .output();
    match run {
        Ok(o) if o.status.success() => String::from_utf8(o.stdout).unwrap(),
        other => panic!("keystone {args:?} (node and the registry in .tools/): {other:?}"),
    }
}

/// Replaces the frames in `dir` with `parts` as PNG QR codes.
fn show_parts(dir: &Path, parts: &str) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        std::fs::remove_file(e.path()).unwrap();
    }
    let parts: Vec<String> = parts.lines().map(|p| p.to_uppercase()).collect();
    let longest = parts.iter().map(String::len).max().unwrap();
    let version = (1..=40)
        .find(|v| airgap_protocol::qr::capacity(*v).is_some_and(|c| c >= longest))
        .unwrap();
    let r = airgap_protocol::qr::FrameRenderer::new(version).unwrap();
    for (i, p) in parts.iter().enumerate() {
        std::fs::write(
            dir.join(format!("{:04}.png", i + 1)),
            r.to_png(p, 4).unwrap(),
        )
        .unwrap();
    }
}

/// A Keystone wallet asks (`ask`: the keystone.cjs command, the request id last) on
/// the station's screen; the custodians sign; the wallet reads the station's answer
/// of `answer_type` for that request. The signature it carries.
fn wallet_asks(session: &str, dir: &Path, ask: &[&str], answer_type: &str) -> Vec<u8> {
    show_parts(&dir.join("incoming"), &keystone(ask));
    sign_from_the_keyboard(session);
    let file = dir.join("outgoing/wallet-answer.cbor");
    let answer = keystone(&["read-answer", answer_type, file.to_str().unwrap()]);
    let a: serde_json::Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(a["requestId"], ask[ask.len() - 1].replace('-', ""));
    hex::decode(a["signature"].as_str().unwrap()).unwrap()
}

/// Captures, reads, unlocks with ana and cy, signs; waits for the wallet answer.
fn sign_from_the_keyboard(session: &str) {
    keys(session, &["c"]);
    let s = wait_for(session, "payload 1 of 1");
    assert!(s.contains("a standard wallet request"), "{s}");
    assert!(s.contains("station policy: all checks passed"), "{s}");
    approve_and_sign(session);
    wait_for(session, "SIGNED WALLET ANSWER");
    keys(session, &["Escape"]);
    wait_for(session, "c capture");
}

#[test]
fn keystone_wallet_requests_are_answered_from_the_keyboard() {
    let (dir, session) = rehearsal_in_tmux("wallet");
    let result = std::panic::catch_unwind(|| {
        wait_for(&session, "c capture");
        let d = std::fs::read(dir.join("descriptor.envelope")).unwrap();
        let Envelope::Descriptor(d) = decode_envelope("strongroom-descriptor", &d).unwrap() else {
            panic!()
        };
        let keys_ = signer_station::keys::StationKeys::from_descriptor(&d).unwrap();
        // An EIP-1559 transfer of 0.1 ETH to the allow-listed address, asked by a
        // Keystone-encoded eth-sign-request.
        let p = common::evm_payload(&keys_, 1, 0, 100_000_000_000_000_000, vec![]);
        let airgap_protocol::envelope::PayloadBody::EvmTx { tx, signer, .. } = &p.body else {
            panic!()
        };
        let ask = [
            "ask-eth",
            &hex::encode(tx),
            &format!("0x{}", hex::encode(signer)),
            "9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d",
        ];
        let sig = wallet_asks(&session, &dir, &ask, "eth-signature");
        let hash = alloy_primitives::keccak256(tx);
        let recovered = k256::ecdsa::VerifyingKey::recover_from_prehash(
            hash.as_slice(),
            &k256::ecdsa::Signature::from_slice(&sig[..64]).unwrap(),
            k256::ecdsa::RecoveryId::from_byte(sig[64]).unwrap(),
        )
        .unwrap();
        let point = recovered.to_encoded_point(false);
        assert_eq!(
            &alloy_primitives::keccak256(&point.as_bytes()[1..])[12..],
            signer,
            "signed by the station's EVM key"
        );

        // A SOL transfer on the vault's durable nonce, asked by a sol-sign-request.
        let ours = common::sol_key(&keys_);
        let message = common::sol_message(&keys_, ours, 1_000_000_000, 7);
        let ask = [
            "ask-sol",
            &hex::encode(&message),
            // The registry takes the signer's public key in hex.
            &hex::encode(ours),
            "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        ];
        let sig = wallet_asks(&session, &dir, &ask, "sol-signature");
        let sig: [u8; 64] = sig.try_into().unwrap();
        ed25519_dalek::VerifyingKey::from_bytes(&ours)
            .unwrap()
            .verify_strict(&message, &ed25519_dalek::Signature::from_bytes(&sig))
            .expect("signed by the station's Solana key");
        keys(&session, &["q"]);
    });
    tmux(&["kill-session", "-t", &session]);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
    std::fs::remove_dir_all(&dir).ok();
}
