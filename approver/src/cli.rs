//! The approver's commands: make the approver's key and registration record, read a
//! request the way the station will (never trusting the coordinator's description), show
//! it in full, and sign the approval only when the approver types `approve`.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::{key, Reviewed};
use age::secrecy::SecretString;
use airgap_protocol::summary::SummaryOptions;
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use usb_transfer::cli::Passphrase;

/// An approver's tool: review a transfer request from its bytes, then approve it.
#[derive(Debug, Parser)]
#[command(name = "approver", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The approver's commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Make a new approver key (passphrase-encrypted) and its registration record.
    NewKey {
        /// Directory for the key (keys.age, keys.pub) and approver.json (created).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// The approver's principal at the coordinator.
        #[arg(long)]
        principal: String,
        /// scrypt work factor, log2(N), 10 to 22 (default: age's, about a second).
        #[arg(long, value_parser = clap::value_parser!(u8).range(10..=22))]
        work_factor: Option<u8>,
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// Show a request as it will be signed: every payload decoded here.
    Show(Source),
    /// Show a request, then sign and post the approval if the approver types `approve`.
    Approve {
        #[command(flatten)]
        source: Source,
        /// Directory holding the approver's key.
        #[arg(long, value_name = "DIR")]
        key: PathBuf,
        #[command(flatten)]
        passphrase: Passphrase,
    },
}

/// Where the request comes from: the coordinator's API, or a file.
#[derive(Debug, Clone, Args)]
pub struct Source {
    /// The coordinator's base URL (`https://…`), with `--request`.
    #[arg(long, value_name = "URL", requires = "request")]
    url: Option<String>,
    /// The request id.
    #[arg(long, value_name = "ID")]
    request: Option<String>,
    /// A file holding the API token (else STRONGROOM_TOKEN).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// Or a file holding the request (`strongroom-request` CBOR, raw or hex); the
    /// approval is then printed, not posted.
    #[arg(long, value_name = "FILE", conflicts_with = "url")]
    file: Option<PathBuf>,
}

/// Runs one command.
pub fn run(command: &Command) -> Result<()> {
    match command {
        Command::NewKey {
            dir,
            principal,
            work_factor,
            passphrase,
        } => {
            let pass = secret(passphrase, "a passphrase for the new key")?;
            let record = key::create(dir, principal, pass, *work_factor)?;
            println!("{record:#}");
            println!(
                "Give {} to the coordinator's admin to register (POST /v1/approvers).",
                dir.join(key::RECORD).display()
            );
            Ok(())
        }
        Command::Show(source) => {
            let (reviewed, _) = fetch(source)?;
            println!("{}", reviewed.render(&SummaryOptions::default(), now())?);
            Ok(())
        }
        Command::Approve {
            source,
            key: dir,
            passphrase,
        } => {
            let (reviewed, api) = fetch(source)?;
            println!("{}", reviewed.render(&SummaryOptions::default(), now())?);
            print!("Type `approve` to sign this request, anything else to stop: ");
            std::io::stdout().flush()?;
            let mut answer = String::new();
            std::io::stdin().lock().read_line(&mut answer)?;
            println!();
            if answer.trim() != "approve" {
                bail!("not approved: nothing was signed");
            }
            let signing = key::open(dir, secret(passphrase, "the key's passphrase")?)?;
            let signature = reviewed.approve(&signing);
            match api {
                Some(api) => match api.post_approval(&signature) {
                    Ok(answer) => println!(
                        "approval sent; the coordinator says the request is now {}",
                        crate::visible(answer["request"]["state"].as_str().unwrap_or("?"))
                    ),
                    Err(e) => bail!("the approval was signed and sent, but {e:#}"),
                },
                None => println!("{signature}"),
            }
            Ok(())
        }
    }
}

/// The coordinator a request was read from.
struct Api {
    /// One client for the run; error statuses come back as answers (their reasons are
    /// shown).
    agent: ureq::Agent,
    url: String,
    id: String,
    token: String,
}

impl Api {
    /// `GET /v1/requests/{id}/envelope`.
    fn get(&self) -> Result<serde_json::Value> {
        let resp = self
            .agent
            .get(&self.route("envelope"))
            .header("authorization", &self.bearer())
            .call()?;
        answer(resp)
    }

    /// `POST /v1/requests/{id}/approvals`.
    fn post_approval(&self, signature: &str) -> Result<serde_json::Value> {
        let body = serde_json::json!({ "signature": signature });
        let resp = self
            .agent
            .post(&self.route("approvals"))
            .header("authorization", &self.bearer())
            .send_json(body)?;
        answer(resp)
    }

    fn route(&self, what: &str) -> String {
        format!("{}/v1/requests/{}/{what}", self.url, self.id)
    }

    fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

fn answer(mut resp: ureq::http::Response<ureq::Body>) -> Result<serde_json::Value> {
    let status = resp.status();
    let body: Result<serde_json::Value, _> = resp.body_mut().read_json();
    if !status.is_success() {
        let why = body
            .as_ref()
            .ok()
            .and_then(|b| b["error"].as_str())
            .map_or("no reason given".into(), crate::visible);
        bail!("the coordinator answered {status}: {why}");
    }
    body.map_err(|e| anyhow!("the coordinator's answer is not JSON: {e}"))
}

/// The request, read and checked here; and the coordinator it came from, if any.
fn fetch(source: &Source) -> Result<(Reviewed, Option<Api>)> {
    if let Some(path) = &source.file {
        return Ok((Reviewed::of_cbor(&read_request(path)?)?, None));
    }
    let (Some(url), Some(id)) = (&source.url, &source.request) else {
        bail!("give --url and --request, or --file");
    };
    let token = match &source.token_file {
        Some(f) => std::fs::read_to_string(f).with_context(|| f.display().to_string())?,
        None => std::env::var("STRONGROOM_TOKEN")
            .map_err(|_| anyhow!("no token: give --token-file or set STRONGROOM_TOKEN"))?,
    };
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(30)))
        .build();
    let api = Api {
        agent: ureq::Agent::new_with_config(config),
        url: url.trim_end_matches('/').to_string(),
        id: id.clone(),
        token: token.trim().to_string(),
    };
    let reviewed = Reviewed::of_view(&api.get()?, id)?;
    Ok((reviewed, Some(api)))
}

fn read_request(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).with_context(|| path.display().to_string())?;
    let text = String::from_utf8_lossy(&raw);
    Ok(hex::decode(text.trim()).unwrap_or(raw))
}

/// The passphrase from `--passphrase-file` or STRONGROOM_PASSPHRASE, else asked for on
/// the terminal (never echoed).
fn secret(p: &Passphrase, what: &str) -> Result<SecretString> {
    if let Some(s) = p.secret().map_err(|e| anyhow!(e))? {
        return Ok(s);
    }
    use termion::input::TermRead;
    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .context("no passphrase: give --passphrase-file or set STRONGROOM_PASSPHRASE")?;
    write!(tty, "{what}: ")?;
    tty.flush()?;
    let mut input = tty.try_clone()?;
    let line = input.read_passwd(&mut tty)?.unwrap_or_default();
    writeln!(tty)?;
    Ok(SecretString::from(line))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
