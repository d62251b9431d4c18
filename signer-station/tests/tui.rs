//! The custodians' TUI on ratatui's TestBackend: every screen at 80x24 and 160x48, the
//! whole flow from the keyboard, and refusals.

use airgap_protocol::envelope::{
    decode_envelope, verify_response, Envelope, Outcome, PayloadBody, RESPONSE_UR_TYPE,
};
use signer_station::tui::{self, rehearsal, App, Event, Key};

#[path = "tui/rig.rs"]
mod rig;

use rig::*;

fn both(app: &App, name: &str) {
    // The HSM's ECDSA nonces are random, as the device's are: a response's QR code and
    // frame count differ from run to run, so the snapshot shows where they are.
    insta::with_settings!({filters => vec![
        (r"frame 1 of \d+", "frame 1 of [N]"),
        (r"\(\d+ parts\)", "([N] parts)"),
        (r"(?m)^[█▄▀ ]{20,}$", "[QR row]"),
    ]}, {
        insta::assert_snapshot!(format!("{name}_80x24"), screen(app, 80, 24));
        insta::assert_snapshot!(format!("{name}_160x48"), screen(app, 160, 48));
    });
}

/// At 80×24 the verdict is on screen above the payload, a marker says what is below, and
/// a payload counts as read only once its last row was shown: paging past it is not
/// reading it.
#[test]
fn small_screen_shows_the_verdict_and_needs_each_payload_read_to_its_end() {
    let mut r = rig("small", |_| {});
    capture(&mut r.app);
    let first = screen(&r.app, 80, 24);
    assert!(
        first.contains("station policy: all checks passed"),
        "{first}"
    );
    assert!(first.contains("more row(s) below"), "{first}");
    assert!(
        first.contains("3 payload(s) not read to the end"),
        "{first}"
    );
    // Paging through every payload without scrolling: not read.
    for _ in 0..2 {
        r.app.key(Key::Right);
        let s = screen(&r.app, 80, 24);
        assert!(s.contains("station policy: all checks passed"), "{s}");
    }
    r.app.key(Key::Char('a'));
    assert!(screen(&r.app, 80, 24).contains("read every payload to its end first"));
    assert!(matches!(r.app.screen, tui::Screen::Review(_)));
    // Scrolling each one to its end reads it; then approval opens the unlock.
    for page in 0..3 {
        for _ in 0..60 {
            r.app.key(Key::Down);
            let s = screen(&r.app, 80, 24);
            if !s.contains("more row(s) below") {
                assert!(s.contains("— end of this payload —"), "page {page}: {s}");
                break;
            }
        }
        if page < 2 {
            r.app.key(Key::Left);
        }
    }
    let s = screen(&r.app, 80, 24);
    assert!(!s.contains("not read to the end"), "{s}");
    r.app.key(Key::Char('a'));
    assert!(
        matches!(r.app.screen, tui::Screen::Unlock(..)),
        "{}",
        screen(&r.app, 80, 24)
    );
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
    assert!(
        s.contains("CHANGE (proven: the station's own regtest key)"),
        "{s}"
    );
    // Approve is refused until the end of every payload has been on screen.
    r.app.key(Key::Char('a'));
    assert!(screen(&r.app, 80, 24).contains("read every payload to its end first"));
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
    // Masked, and its length not shown.
    let s = screen(&r.app, 80, 24);
    assert!(
        s.contains("passphrase: (hidden)") && !s.contains('•'),
        "{s}"
    );
    assert!(
        !screen(&r.app, 80, 24).contains("ana-rehearsal"),
        "never shown"
    );
    r.app.key(Key::Enter);
    keys(&mut r.app, &[Key::Down, Key::Down, Key::Enter]);
    typed(&mut r.app, "cy-rehearsal");
    r.app.key(Key::Enter);
    assert!(screen(&r.app, 80, 24).contains("sign 3 payload(s)? y / n"));
    // The last look repeats what leaves and the totals per asset.
    let s = screen(&r.app, 160, 48);
    assert!(
        s.contains("payload 1: 0.0006 BTC (60000 base units) to bcrt1 qa0q"),
        "{s}"
    );
    assert!(
        s.contains("in all, with fees: 0.00061 BTC (61000 base units); 0.50063 ETH"),
        "{s}"
    );
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
    let id = r.keys.identity.ed25519().unwrap();
    verify_response(&resp, &req, &id).unwrap();
    assert!(matches!(resp.outcome, Outcome::Signed(ref s) if s.len() == 3));
    // Closed, the answer can be shown again from the home screen (a camera missed it).
    r.app.key(Key::Esc);
    assert!(screen(&r.app, 80, 24).contains("a last answer"));
    r.app.key(Key::Char('a'));
    assert!(matches!(r.app.screen, tui::Screen::Response(_)));
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
    let token = alloy_primitives::Address::repeat_byte(0xa0);
    rehearsal::evm_tx(1, token, alloy_primitives::U256::ZERO, data, 60_000)
}

#[test]
fn ledger_view() {
    let mut r = rig("ledger", |_| {});
    capture(&mut r.app);
    r.app.key(Key::Esc);
    r.app.key(Key::Char('l'));
    let s = screen(&r.app, 160, 48);
    assert!(s.contains("captured and verified"), "{s}");
    assert!(!s.contains("\"kind\""), "sentences, not JSON: {s}");
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

/// A 2-of-3 P2WSH vault withdrawal with change back to the vault: the station's key is
/// one of three, and the change output is recognised as the vault's.
#[test]
fn review_bitcoin_multisig_withdrawal_with_change() {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use bitcoin::*;
    let regtest = airgap_protocol::network::BitcoinNetwork::Regtest;
    let cosigners: Vec<PublicKey> = [21u8, 22]
        .iter()
        .map(|n| {
            let sk = SecretKey::from_slice(&[*n; 32]).unwrap();
            PublicKey::new(sk.public_key(&Secp256k1::new()))
        })
        .collect();
    // The custodians registered the 2-of-3 vault in the station's signed policy.
    let register = |k: &signer_station::keys::StationKeys| {
        let mut p = rehearsal::policy().unwrap();
        let station = PublicKey::from_slice(&k.bitcoin(regtest).unwrap().public_key).unwrap();
        p.vaults
            .push(signer_station::station::policy::RegisteredVault {
                name: "cold 2-of-3".into(),
                network: "regtest".into(),
                descriptor: format!(
                    "wsh(sortedmulti(2,{station},{},{}))",
                    cosigners[0], cosigners[1]
                ),
                deposit: false,
            });
        p
    };
    let mut r = rig_with("multisig", register, |req| {
        // The station's key is fixed by the deterministic software backend.
        let k = known_keys();
        let ours = PublicKey::from_slice(&k.bitcoin(regtest).unwrap().public_key).unwrap();
        let ws = signer_station::fixtures::sortedmulti_2_of_3([ours, cosigners[0], cosigners[1]]);
        let vault = ScriptBuf::new_p2wsh(&ws.wscript_hash());
        let dest = rehearsal::btc_dest().unwrap().script_pubkey();
        let mut psbt = signer_station::fixtures::coin_and_spend(
            &vault,
            250_000,
            101,
            &[(dest, 80_000), (vault.clone(), 168_500)],
        );
        psbt.inputs[0].witness_script = Some(ws.clone());
        psbt.outputs[1].witness_script = Some(ws);
        req.payloads = vec![airgap_protocol::envelope::Payload {
            network: "regtest".into(),
            signer: "vault 2-of-3".into(),
            body: PayloadBody::Psbt {
                version: 0,
                bytes: psbt.serialize(),
            },
            hints: Default::default(),
        }];
        req.memo = "treasury: 2-of-3 vault withdrawal".into();
        rehearsal::resign(req);
    });
    capture(&mut r.app);
    both(&r.app, "review_bitcoin_multisig");
    let s = screen(&r.app, 80, 24);
    assert!(s.contains("CHANGE (proven"), "{s}");
    let tall = screen(&r.app, 160, 48);
    assert!(tall.contains("0.0008 BTC (80000 base units)"), "{tall}");
    assert!(
        tall.contains("fee 0.000015 BTC (1500 base units)"),
        "fee shown: {tall}"
    );
    assert!(
        matches!(&r.app.screen, tui::Screen::Review(_)),
        "policy passes"
    );
    assert!(screen(&r.app, 160, 48).contains("a approve"));
}

/// An SPL USDC transfer_checked with a durable nonce, creating the recipient's token
/// account idempotently first.
#[test]
fn review_spl_transfer_with_durable_nonce() {
    use solana_address::Address;
    use solana_instruction::{AccountMeta, Instruction};
    let mut r = rig("spl", |req| {
        let k = known_keys();
        let devnet = airgap_protocol::network::SolanaCluster::Devnet;
        let ours = Address::new_from_array(
            k.solana(devnet)
                .unwrap()
                .public_key
                .clone()
                .try_into()
                .unwrap(),
        );
        let system = Address::new_from_array([0; 32]);
        let recent: Address = "SysvarRecentB1ockHashes11111111111111111111"
            .parse()
            .unwrap();
        let token: Address = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
            .parse()
            .unwrap();
        let ata_program: Address = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL"
            .parse()
            .unwrap();
        let mint: Address = rehearsal::SOLANA_USDC.parse().unwrap();
        let ours_ata = Address::new_from_array([7; 32]);
        let dest_ata = Address::new_from_array(rehearsal::SPL_RECIPIENT_TOKEN_ACCOUNT);
        let dest_owner = Address::new_from_array([2; 32]);
        let nonce = Address::new_from_array([5; 32]);
        let advance = Instruction {
            program_id: system,
            accounts: vec![
                AccountMeta::new(nonce, false),
                AccountMeta::new_readonly(recent, false),
                AccountMeta::new_readonly(ours, true),
            ],
            data: 4u32.to_le_bytes().to_vec(),
        };
        let create = Instruction {
            program_id: ata_program,
            accounts: vec![
                AccountMeta::new(ours, true),
                AccountMeta::new(dest_ata, false),
                AccountMeta::new_readonly(dest_owner, false),
                AccountMeta::new_readonly(mint, false),
                AccountMeta::new_readonly(system, false),
                AccountMeta::new_readonly(token, false),
            ],
            data: vec![1],
        };
        let mut data = vec![12];
        data.extend_from_slice(&1_250_000_000u64.to_le_bytes());
        data.push(6);
        let transfer = Instruction {
            program_id: token,
            accounts: vec![
                AccountMeta::new(ours_ata, false),
                AccountMeta::new_readonly(mint, false),
                AccountMeta::new(dest_ata, false),
                AccountMeta::new_readonly(ours, true),
            ],
            data,
        };
        let message = solana_message::legacy::Message::new_with_blockhash(
            &[advance, create, transfer],
            Some(&ours),
            &solana_hash::Hash::new_from_array([9; 32]),
        )
        .serialize();
        req.payloads = vec![airgap_protocol::envelope::Payload {
            network: "solana:devnet".into(),
            signer: bs58::encode(ours.to_bytes()).into_string(),
            body: PayloadBody::SolanaMessage {
                message,
                signers: vec![ours.to_bytes()],
                nonce_account: Some([5; 32]),
            },
            hints: Default::default(),
        }];
        req.memo = "treasury: USDC to the market maker".into();
        rehearsal::resign(req);
    });
    capture(&mut r.app);
    both(&r.app, "review_spl_durable_nonce");
    let tall = screen(&r.app, 160, 48);
    assert!(tall.contains("1250 USDC (1250000000 base units)"), "{tall}");
    assert!(tall.contains("durable nonce account"), "{tall}");
    assert!(shows_whole(&tall, "create (idempotent)"), "{tall}");
    assert!(tall.contains("a approve"), "policy passes: {tall}");
}

/// The ceremony screen: every step described; the descriptor shown as a QR stream that
/// decodes back to the station's own descriptor.
#[test]
fn ceremony_screen_and_descriptor_export() {
    let r = rig("ceremony", |_| {});
    let descriptor = std::fs::read(r.dir.join("descriptor.envelope")).unwrap();
    let mut app = r
        .app
        .with_descriptor(r.dir.join("descriptor.envelope"), descriptor.clone());
    app.key(Key::Char('e'));
    both(&app, "ceremony");
    keys(&mut app, &[Key::Down, Key::Down, Key::Down]);
    let s = screen(&app, 80, 24);
    assert!(shows_whole(&s, "signer-station ceremony backup"), "{s}");
    app.key(Key::Enter);
    assert!(matches!(app.screen, tui::Screen::Ceremony(3)));
    keys(&mut app, &[Key::Up; 5]);
    app.key(Key::Enter);
    assert!(
        matches!(app.screen, tui::Screen::Response(_)),
        "{}",
        screen(&app, 80, 24)
    );
    assert!(screen(&app, 160, 48).contains("STATION DESCRIPTOR"));
    // The written frames decode back to the descriptor.
    let mut scanner = airgap_protocol::scanner::Scanner::default();
    let mut got = None;
    let mut pngs: Vec<_> = std::fs::read_dir(r.dir.join("outgoing/descriptor"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pngs.sort();
    assert!(!pngs.is_empty());
    for p in pngs {
        let img = image::open(&p).unwrap().to_luma8();
        let (w, h) = img.dimensions();
        let frame = airgap_protocol::qr::GrayFrame {
            width: w as usize,
            height: h as usize,
            data: img.as_raw(),
        };
        for t in airgap_protocol::qr::decode_gray(frame, Default::default()) {
            if let airgap_protocol::scanner::ScanEvent::Complete(c) = scanner.push_text(&t) {
                got = Some(c);
            }
        }
    }
    let Some(airgap_protocol::scanner::Payload::Ur { ur_type, message }) = got else {
        panic!("descriptor frames did not decode")
    };
    assert_eq!(ur_type, airgap_protocol::envelope::DESCRIPTOR_UR_TYPE);
    assert_eq!(message, descriptor);
}

#[test]
fn a_rehearsal_shows_its_passphrases_where_they_are_typed() {
    let mut r = rig("rehearsal-hints", |_| {});
    r.app = r.app.with_rehearsal_passphrases(&rehearsal::CUSTODIANS);
    capture(&mut r.app);
    for _ in 0..3 {
        screen(&r.app, 200, 120);
        r.app.key(Key::Right);
    }
    r.app.key(Key::Char('a'));
    let s = screen(&r.app, 80, 24);
    for (name, pass) in rehearsal::CUSTODIANS {
        assert!(
            s.contains(&format!("{name}  (rehearsal passphrase: {pass})")),
            "{s}"
        );
    }
}

#[test]
fn a_rehearsal_run_again_in_its_folder_starts_clean() {
    let dir =
        std::env::temp_dir().join(format!("strongroom-rehearsal-again-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let first = rehearsal::station(&dir, NOW).unwrap();
    let req = rehearsal::request_frames(&first.keys, &dir.join("incoming"), NOW).unwrap();
    rehearsal::request_bundle(&req, &dir.join("usb"), NOW).unwrap();
    let frames = std::fs::read_dir(dir.join("incoming")).unwrap().count();
    std::fs::write(dir.join("incoming/9999.png"), b"a frame of another request").unwrap();
    std::fs::create_dir_all(dir.join("outgoing")).unwrap();
    std::fs::write(dir.join("outgoing/response.envelope"), b"an old answer").unwrap();
    let ledger = || signer_station::ledger::Ledger::verify(&dir.join("ledger.jsonl")).unwrap();
    let entries = ledger();
    drop(first);
    // Again: a new device, a new ledger, nothing left of the first run.
    let second = rehearsal::station(&dir, NOW).unwrap();
    assert!(!dir.join("incoming/9999.png").exists());
    assert!(!dir.join("outgoing").exists());
    assert_eq!(ledger(), entries, "the ledger starts again");
    let req = rehearsal::request_frames(&second.keys, &dir.join("incoming"), NOW).unwrap();
    rehearsal::request_bundle(&req, &dir.join("usb"), NOW).unwrap();
    assert_eq!(
        std::fs::read_dir(dir.join("incoming")).unwrap().count(),
        frames
    );
    assert_eq!(std::fs::read_dir(dir.join("usb")).unwrap().count(), 1);
    // A folder that holds something else is never emptied.
    let other = dir.join("someone-elses");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("ledger.jsonl"), b"{}").unwrap();
    let refused = rehearsal::station(&other, NOW).map(drop).unwrap_err();
    assert!(refused.contains("is not a rehearsal folder"), "{refused}");
    assert_eq!(std::fs::read(other.join("ledger.jsonl")).unwrap(), b"{}");
    let _ = std::fs::remove_dir_all(&dir);
}
