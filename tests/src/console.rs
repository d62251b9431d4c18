//! The operator's web console in headless Chromium (Debian `chromium`, `playwright-core`
//! from npm in `.tools/`): the scripts under `tests/console/` drive it and print what
//! the page showed as JSON. Screenshots go to `target/console-screenshots/`.

use std::path::PathBuf;

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};

use anyhow::{anyhow, bail, Result};
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

/// `node tests/console/<script>` with playwright-core and Chromium found.
fn node(script: &str) -> Result<std::process::Command> {
    let playwright = root().join(".tools/node_modules/playwright-core");
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !playwright.exists() || !std::path::Path::new(&chromium).exists() {
        bail!(
            "the console test needs Debian chromium and playwright-core in .tools/ \
             (bash scripts/test.sh installs both)"
        );
    }
    let mut c = std::process::Command::new("node");
    c.arg(root().join("tests/console").join(script))
        .env("PLAYWRIGHT_CORE", &playwright)
        .env("CHROMIUM", &chromium);
    Ok(c)
}

/// Runs `tests/console/<script>` with `args`; what it printed, as JSON.
pub fn run(script: &str, args: &[&std::ffi::OsStr]) -> Result<Value> {
    let run = node(script)?.args(args).output()?;
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

/// What the history of a request paid from a single station shows, in order.
pub const PAID: [&str; 5] = [
    "created",
    "approval recorded",
    "exported for the station",
    "station's answer stored",
    "broadcast → confirmed",
];

/// One console session in a browser that stays open while the test acts around it
/// (`tests/console/drive.cjs`): each command is answered when the page has done it.
/// What the page shows between commands arrives by its own live updates.
#[derive(Debug)]
pub struct Session {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
    /// Who is signed in, for messages.
    pub who: String,
}

impl Session {
    /// A browser on the console at `url`, signed in with `token`.
    pub fn open(url: &str, token: &str, who: &str) -> Result<Self> {
        Self::open_paged(url, token, who, None)
    }

    /// Like [`Session::open`], with `page_size` rows a queue page.
    pub fn open_paged(url: &str, token: &str, who: &str, page_size: Option<u32>) -> Result<Self> {
        let out = screenshots()?;
        let mut child = node("drive.cjs")?
            .arg(url)
            .arg(&out)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = child.stdin.take().ok_or_else(|| anyhow!("no stdin"))?;
        let output = BufReader::new(child.stdout.take().ok_or_else(|| anyhow!("no stdout"))?);
        let mut s = Self {
            child,
            input,
            output,
            who: who.into(),
        };
        s.run(serde_json::json!({"do": "login", "token": token, "page_size": page_size}))?;
        Ok(s)
    }

    /// Runs one command (see `drive.cjs`); its answer. A failed command or a script
    /// error on the page is an error.
    pub fn run(&mut self, command: Value) -> Result<Value> {
        writeln!(self.input, "{command}")?;
        self.input.flush()?;
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            bail!("the browser of {} stopped at {command}", self.who);
        }
        let answer: Value = serde_json::from_str(&line)?;
        if answer["ok"] != true {
            bail!(
                "console as {}: {command} failed: {}",
                self.who,
                answer["error"]
            );
        }
        if answer["errors"] != serde_json::json!([]) {
            bail!(
                "console as {}: script errors at {command}: {}",
                self.who,
                answer["errors"]
            );
        }
        Ok(answer)
    }

    /// Opens request `id`'s page.
    pub fn open_request(&mut self, id: &str) -> Result<Value> {
        self.run(serde_json::json!({"do": "open", "id": id}))
    }

    /// Waits until the open page shows `state`, without reloading it.
    pub fn wait(&mut self, state: &str) -> Result<Value> {
        self.run(serde_json::json!({"do": "wait", "state": state}))
    }

    /// What the open request's page shows.
    pub fn look(&mut self) -> Result<Value> {
        self.run(serde_json::json!({"do": "look"}))
    }

    /// Creates a request with the console's New request form (`body`: network, amount
    /// in units, destination, purpose, memo); when the risk engine holds it, `risk`
    /// clears it with a reason on its own page and this page sees it move on. Its id.
    pub fn create(&mut self, risk: &mut Session, body: Value) -> Result<String> {
        let mut command = body;
        command["do"] = "create".into();
        let made = self.run(command)?;
        let said = made["result"].as_str().unwrap_or_default();
        if !said.starts_with("created; risk engine:") {
            bail!("the form did not create it: {made}");
        }
        let id = made["id"].as_str().unwrap_or_default().to_string();
        if made["state"] == "manual-review" {
            risk.open_request(&id)?;
            let reason = "counterparty checked by phone";
            let cleared =
                risk.run(serde_json::json!({"do": "decide", "action": "clear", "reason": reason}))?;
            if cleared["state"] != "awaiting-approvals" {
                bail!("risk could not clear it: {cleared}");
            }
        }
        self.wait("awaiting-approvals")?;
        Ok(id)
    }

    /// Plays the open request's frames (`kind` `ur`: exported first when it is
    /// approved; `bbqr`) and checks the player moves on through more than one frame;
    /// what it showed.
    pub fn play(&mut self, kind: &str, name: &str) -> Result<Value> {
        let played = self.run(serde_json::json!({"do": "play", "kind": kind, "name": name}))?;
        if played["total"].as_u64().unwrap_or(0) > 1 && played["first"] == played["later"] {
            bail!("the player did not advance: {played}");
        }
        Ok(played)
    }

    /// Exports the open request (it is approved) and plays its `strongroom-request`
    /// frames; waits for the page to show it exported.
    pub fn export_and_play(&mut self, name: &str) -> Result<Value> {
        let played = self.play("ur", name)?;
        starts(&played, "kind", "UR strongroom-request")?;
        self.wait("exported")?;
        Ok(played)
    }

    /// Waits for the page to show the request confirmed, with each of `steps` in its
    /// history; what the page shows.
    pub fn confirmed_after(&mut self, steps: &[&str]) -> Result<Value> {
        self.wait("confirmed")?;
        let seen = self.look()?;
        let history = seen["history"].to_string();
        if let Some(missing) = steps.iter().find(|s| !history.contains(*s)) {
            bail!("the history lacks {missing:?}: {seen}");
        }
        Ok(seen)
    }

    /// A full-page screenshot, `<name>.png`.
    pub fn shot(&mut self, name: &str) -> Result<()> {
        self.run(serde_json::json!({"do": "shot", "name": name}))
            .map(drop)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An error unless `v[field]` is text starting with `prefix`.
pub fn starts(v: &Value, field: &str, prefix: &str) -> Result<()> {
    if !v[field].as_str().unwrap_or_default().starts_with(prefix) {
        bail!("{field} does not start with {prefix:?}: {v}");
    }
    Ok(())
}
