//! The operator's web console in headless Chromium (Debian `chromium`, `playwright-core`
//! from npm in `.tools/`): the scripts under `tests/console/` drive it and print what
//! the page showed as JSON. Screenshots go to `target/console-screenshots/`.

use std::path::PathBuf;

use anyhow::{bail, Result};
use serde_json::Value;

/// Where screenshots go.
pub fn screenshots() -> Result<PathBuf> {
    let out = root().join("target/console-screenshots");
    std::fs::create_dir_all(&out)?;
    Ok(out)
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `tests/console/<script>` with `args`; what it printed, as JSON.
pub fn run(script: &str, args: &[&std::ffi::OsStr]) -> Result<Value> {
    let playwright = root().join(".tools/node_modules/playwright-core");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !playwright.exists() || !std::path::Path::new(&chromium).exists() {
        bail!(
            "the console test needs Debian chromium and playwright-core in .tools/ \
             (bash scripts/test.sh installs both)"
        );
    }
    let run = std::process::Command::new("node")
        .arg(root().join("tests/console").join(script))
        .args(args)
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", &chromium)
        .output()?;
    if !run.status.success() {
        bail!(
            "console run failed: {}",
            String::from_utf8_lossy(&run.stderr)
        );
    }
    Ok(serde_json::from_slice(&run.stdout)?)
}

/// Opens request `id`'s page (as `token`) and returns what it showed: `payloads` (the
/// text of each decoded payload), `digest`, `pageError` and script `errors`. The
/// screenshot is `detail-<name>.png`.
pub fn detail(url: &str, token: &str, id: &str, name: &str) -> Result<Value> {
    let out = screenshots()?;
    let args = [url, token, id].map(std::ffi::OsStr::new);
    let mut all: Vec<&std::ffi::OsStr> = args.to_vec();
    all.push(out.as_os_str());
    all.push(std::ffi::OsStr::new(name));
    run("detail.cjs", &all)
}

/// Opens request `id` as `token`: which decisions the page offers (`offered`), whether it
/// offers the approval (`approveShown`), and, with `action` (`clear`, `reject`,
/// `cancel`) and its reason, the answer shown (`result`) and the `state` after it.
pub fn decide(
    url: &str,
    token: &str,
    id: &str,
    name: &str,
    action: Option<(&str, &str)>,
) -> Result<Value> {
    let out = screenshots()?;
    let mut args: Vec<&std::ffi::OsStr> = [url, token, id].map(std::ffi::OsStr::new).to_vec();
    args.push(out.as_os_str());
    args.push(std::ffi::OsStr::new(name));
    if let Some((what, why)) = action {
        args.extend([what, why].map(std::ffi::OsStr::new));
    }
    run("decide.cjs", &args)
}
