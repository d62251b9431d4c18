//! The operator's web console driven by headless chromium against the running service.

use strongroom_e2e::console::starts;

use super::*;

/// Runs `tests/console/console.cjs` against the service and checks what it saw.
pub(super) fn console_checks(
    svc: &Service,
    token: &str,
    id: &str,
    digest: &str,
    (treasury, camera_id, video): (&str, &str, &std::path::Path),
) -> Result<()> {
    let out = strongroom_e2e::console::screenshots()?;
    let args = [svc.url.as_str(), token, id].map(std::ffi::OsStr::new);
    let mut all = args.to_vec();
    all.push(out.as_os_str());
    all.extend([treasury, camera_id].map(std::ffi::OsStr::new));
    all.push(video.as_os_str());
    let seen = strongroom_e2e::console::run("console.cjs", &all)?;
    assert_eq!(seen["refused"], "unauthorized", "{seen}");
    assert!(seen["rows"].as_u64().unwrap() >= 3, "{seen}");
    assert_eq!(seen["state"], "confirmed");
    assert_eq!(seen["digest"], digest);
    assert!(
        seen["approvals"].as_str().unwrap().starts_with("2 of 2"),
        "{seen}"
    );
    assert_eq!(seen["transferNone"], true, "{seen}");
    assert_eq!(seen["playHidden"], true, "{seen}");
    assert_ne!(seen["first"], seen["later"], "the player advances: {seen}");
    assert!(
        seen["verify"].as_str().unwrap().starts_with("chain intact"),
        "{seen}"
    );
    assert!(seen["auditRows"].as_u64().unwrap() > 20, "{seen}");
    assert_eq!(seen["errors"], serde_json::json!([]), "no script errors");
    // The camera import: the station's frames read from the fake camera's video, the
    // response imported, the camera switched off.
    assert_eq!(seen["before"], "exported", "{seen}");
    let imported = seen["imported"].as_str().unwrap();
    assert!(imported.starts_with("imported from the camera"), "{seen}");
    assert!(
        imported.contains("state finalised")
            || imported.contains("state signed")
            || imported.contains("state broadcast"),
        "{seen}"
    );
    assert!(
        seen["progress"]
            .as_str()
            .unwrap()
            .starts_with("frames read: "),
        "progress shown while scanning: {seen}"
    );
    assert_eq!(seen["cameraHidden"], true, "{seen}");
    assert_eq!(
        seen["stateAfter"].as_str(),
        imported.rsplit("state ").next(),
        "the page shows the new state: {seen}"
    );
    // An independent reader decodes the QR frame on the player's screenshot.
    let z = std::process::Command::new("zbarimg")
        .args(["--raw", "-q"])
        .arg(out.join("player.png"))
        .output()?;
    let text = String::from_utf8_lossy(&z.stdout).to_lowercase();
    assert!(
        text.starts_with("ur:strongroom-request/"),
        "zbarimg read {text:?} from the player"
    );
    Ok(())
}

/// The station's side of a USB transfer: its keys and the coordinator's signing key.
pub(super) struct Usb<'a> {
    pub station: &'a usb_transfer::keyfile::KeyPair,
    pub coordinator: &'a usb_transfer::keyfile::PublicKeys,
}

/// A request's whole life through the console, in browsers that stay open: treasury
/// creates it with the form (ETH), risk clears it if held, the approvers' tool approves,
/// treasury exports it, downloads the USB bundle for the station and uploads the
/// station's sealed answer; the page follows it to confirmed by its live updates.
pub(super) fn walk(
    svc: &Service,
    t: &Desks,
    (station, hsm): (
        &mut signer_station::station::Station,
        &signer_station::hsm::YubiHsm,
    ),
    usb: Usb<'_>,
    anvil: &Anvil,
    dir: &std::path::Path,
) -> Result<()> {
    let mut desk = strongroom_e2e::console::Session::open(&svc.url, &t.treasury, "treasury")?;
    let mut risk = strongroom_e2e::console::Session::open(&svc.url, &t.risk, "risk")?;
    let to = RECIPIENT.to_checksum(None);
    let id = desk.create(
        &mut risk,
        json!({"network": "evm:1", "amount": "0.1", "destination": to.to_lowercase(), "memo": "console payout"}),
    )?;
    svc.approve(&id, &[("ana", &t.ana), ("ben", &t.ben)])?;
    desk.wait("approved")?;
    let seen = desk.look()?;
    // The transaction as built names the destination in its EIP-55 form.
    let payload = seen["payloads"][0].as_str().unwrap_or_default();
    assert!(payload.contains(&format!("0.1 ETH to {to}")), "{seen}");
    desk.export_and_play("evm-player")?;
    // To the station on a USB stick, and back.
    let stick = dir.join("stick");
    std::fs::create_dir_all(&stick)?;
    let got = desk.run(json!({"do": "download", "dir": stick}))?;
    starts(&got, "result", "bundle for vault-a downloaded")?;
    let bundle = std::fs::read(got["file"].as_str().unwrap_or_default())?;
    let opened =
        usb_transfer::open_bundle(&bundle, &usb.station.identity, &[usb.coordinator.ed25519])?;
    let Envelope::Request(req) = decode_envelope(REQUEST_UR_TYPE, &opened.envelope)? else {
        bail!("the bundle does not carry a request")
    };
    let resp = station_signs(station, hsm, &req)?;
    let (_, message) = encode_envelope(&Envelope::Response(resp));
    let sealed = usb_transfer::seal_bundle(
        usb_transfer::BundleKind::Response,
        &message,
        &usb.coordinator.x25519,
        &usb.station.signing,
        now(),
    )?;
    let answer =
        usb_transfer::write_bundle(&stick, usb_transfer::BundleKind::Response, &id, &sealed)?;
    let imported = desk.run(json!({"do": "upload", "path": answer}))?;
    starts(&imported, "result", "imported; state ")?;
    svc.wait_state(&id, &t.auditor, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    desk.confirmed_after(&strongroom_e2e::console::PAID)?;
    desk.shot("evm-confirmed")
}
