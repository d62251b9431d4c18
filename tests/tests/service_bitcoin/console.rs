//! A Bitcoin request's whole life through the operator console, in browsers that stay
//! open while the approvers' tool and both stations of the 2-of-2 vault act.

use airgap_protocol::envelope::Envelope;
use strongroom_e2e::console::{starts, Session};
use strongroom_e2e::service::ur_texts;

use super::*;

/// Treasury creates the request with the form (BTC), risk clears it if held, the
/// approvers' tool approves; treasury plays the export as UR and as BBQr, pastes each
/// station's answer (partially signed after the first) and watches it confirm. Its id.
pub(super) fn walk(
    svc: &Service,
    desk: &Desks,
    stations: [&mut Registered; 2],
    server: &BtcServer,
) -> Result<String> {
    let mut t = Session::open(&svc.url, &desk.treasury, "treasury")?;
    let mut risk = Session::open(&svc.url, &desk.risk, "risk")?;
    let id = t.create(
        &mut risk,
        json!({"network": "regtest", "amount": "0.001", "destination": recipient(1).to_string(), "memo": "console payout"}),
    )?;
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    t.wait("approved")?;
    let seen = t.look()?;
    let payload = seen["payloads"][0].as_str().unwrap_or_default();
    assert!(
        payload.contains(&format!("0.001 BTC to {}", recipient(1))),
        "{seen}"
    );
    t.export_and_play("bitcoin-player")?;
    // The same PSBT as BBQr for a hardware-wallet cosigner, read off the screen by zbar.
    let played = t.play("bbqr", "bitcoin-bbqr")?;
    starts(&played, "kind", "BBQr, QR version ")?;
    let z = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(played["shot"].as_str().unwrap_or_default())
        .output()?;
    let text = String::from_utf8_lossy(&z.stdout);
    assert!(
        text.starts_with("B$ZP") || text.starts_with("B$2P"),
        "zbarimg read {text:?}"
    );

    let req = svc.export(&id, &desk.treasury)?;
    // The .psbt a hardware-wallet cosigner takes on a card, saved from the page.
    let dir = std::env::temp_dir().join(format!("strongroom-psbt-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let saved = t.run(json!({"do": "download", "dir": dir, "button": "#download-psbt"}))?;
    starts(&saved, "result", ".psbt saved")?;
    let file = std::fs::read(saved["file"].as_str().unwrap_or_default())?;
    let airgap_protocol::envelope::PayloadBody::Psbt { bytes, .. } = &req.payloads[0].body else {
        anyhow::bail!("not a PSBT")
    };
    assert_eq!(&file, bytes, "the saved .psbt is the exported one");
    for (n, v) in stations.into_iter().enumerate() {
        let resp = station_signs(&mut v.station, &v.hsm, &req)?;
        let frames = ur_texts(&Envelope::Response(resp));
        let imported = t.run(json!({"do": "paste", "frames": frames}))?;
        let said = imported["result"].as_str().unwrap_or_default();
        if n == 0 {
            assert_eq!(said, "imported; state partially-signed", "{imported}");
            t.wait("partially-signed")?;
        } else {
            assert!(said.starts_with("imported; state "), "{imported}");
        }
    }
    svc.wait_state(&id, &desk.ana, "confirmed", || server.mine_empty())?;
    t.confirmed_after(&[
        "created",
        "approval recorded",
        "exported → partially-signed",
        "broadcast → confirmed",
    ])?;
    t.shot("bitcoin-confirmed")?;
    Ok(id)
}
