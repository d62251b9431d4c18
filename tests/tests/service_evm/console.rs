//! The operator's web console driven by headless chromium against the running service.

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
