//! The people a service test plays: their API tokens, the rehearsal approvers' keys,
//! and the `coordinator serve` arguments the tests share.

use std::ffi::OsStr;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use age::secrecy::SecretString;
use anyhow::{bail, Result};
use serde_json::Value;

use crate::service::{args, Service};

/// Creates an API token with `roles` for `principal` in `db`, as `coordinator token add`.
pub fn add_token(exe: &Path, db: &Path, principal: &str, roles: &str) -> Result<String> {
    let out = Command::new(exe)
        .args(["coordinator", "token", "add", "--db"])
        .arg(db)
        .args(["--principal", principal, "--roles", roles])
        .output()?;
    if !out.status.success() {
        bail!("token add: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_string())
}

/// A rehearsal approver's key (`<who>-approver`, the keys rehearsal stations pin).
pub fn approver_key(who: &str) -> ed25519_dalek::SigningKey {
    signer_station::tui::rehearsal::seed_key(&format!("{who}-approver"))
}

/// The passphrase of the rehearsal approvers' key files.
pub const APPROVER_PASSPHRASE: &str = "rehearsal approver passphrase";

/// The key directory of rehearsal approver `who` as the approver's tool keeps it, with
/// its registration record: the key the rehearsal stations pin. Written on first use,
/// under this process's temporary folder.
pub fn approver_dir(who: &str) -> Result<PathBuf> {
    static WRITING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _one_at_a_time = WRITING.lock().unwrap_or_else(|p| p.into_inner());
    let dir = std::env::temp_dir()
        .join(format!("strongroom-approvers-{}", std::process::id()))
        .join(who);
    if !dir.join(approver::key::RECORD).exists() {
        let pass = SecretString::from(APPROVER_PASSPHRASE.to_string());
        approver::key::adopt(&dir, who, &approver_key(who), pass, Some(10))?;
    }
    Ok(dir)
}

/// `who`'s approval of `request` made with the approver's tool offline (the request
/// carried to the approver as a file; the tool prints the signature). `exe` is the
/// `strongroom` binary.
pub fn approve_offline(
    exe: &Path,
    who: &str,
    request: &airgap_protocol::envelope::SignRequest,
) -> Result<airgap_protocol::envelope::Approval> {
    let dir = approver_dir(who)?;
    let file = dir.join(format!("request-{}.cbor", hex::encode(request.request_id)));
    std::fs::write(&file, request.to_cbor())?;
    let source = [OsStr::new("--file"), file.as_os_str()];
    let out = run_approver(exe, &source, &dir, None, "approve")?;
    if !out.status.success() {
        bail!("{who}'s approval: {}", String::from_utf8_lossy(&out.stderr));
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let signature = hex::decode(stdout.lines().last().unwrap_or_default().trim())?;
    let record = approver::key::read_record(&dir)?;
    let key: [u8; 32] = hex::decode(record["public_key"].as_str().unwrap_or_default())?
        .try_into()
        .map_err(|_| anyhow::anyhow!("{who}'s public key"))?;
    Ok(airgap_protocol::envelope::Approval {
        approver: airgap_protocol::envelope::KeyId::of(&ed25519_dalek::VerifyingKey::from_bytes(
            &key,
        )?),
        signature: airgap_protocol::approval::ApprovalSignature::from_bytes(&signature)
            .map_err(|e| anyhow::anyhow!("{who}'s signature: {e}"))?,
    })
}

/// Runs `exe approver approve` on the request `source` names with the key in `dir`
/// (and `token`, when the request comes from the API), answering its confirmation
/// with `answer`.
fn run_approver(
    exe: &Path,
    source: &[&OsStr],
    dir: &Path,
    token: Option<&str>,
    answer: &str,
) -> Result<std::process::Output> {
    let mut cmd = Command::new(exe);
    cmd.args(["approver", "approve"])
        .args(source)
        .arg("--key")
        .arg(dir);
    if let Some(token) = token {
        cmd.env("STRONGROOM_TOKEN", token);
    }
    let mut child = cmd
        .env("STRONGROOM_PASSPHRASE", APPROVER_PASSPHRASE)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{answer}")?;
    }
    Ok(child.wait_with_output()?)
}

/// The API tokens of the people a service test plays, one principal each.
#[derive(Debug, Clone)]
pub struct Desks {
    /// `admin`: registers stations and approvers.
    pub admin: String,
    /// `treasury-desk`: creates, exports and imports.
    pub treasury: String,
    /// `risk-desk`: reviews.
    pub risk: String,
    /// `ana`, an approver.
    pub ana: String,
    /// `ben`, another approver.
    pub ben: String,
    /// `auditor`: reads the audit chain.
    pub auditor: String,
    /// `warm-tier`: the exchange's warm wallet service.
    pub warm: String,
}

impl Desks {
    /// Adds every desk's token to `db` (created if missing), as `coordinator token add`.
    pub fn add(exe: &Path, db: &Path) -> Result<Self> {
        Ok(Self {
            admin: add_token(exe, db, "admin", "admin")?,
            treasury: add_token(exe, db, "treasury-desk", "treasury")?,
            risk: add_token(exe, db, "risk-desk", "risk")?,
            ana: add_token(exe, db, "ana", "approver")?,
            ben: add_token(exe, db, "ben", "approver")?,
            auditor: add_token(exe, db, "auditor", "auditor")?,
            warm: add_token(exe, db, "warm-tier", "warm-tier")?,
        })
    }

    /// Adds the desks' tokens to `db`, then starts the service over it with
    /// [`serve_args`]`(chains, key, &[])`.
    pub fn serve(exe: &Path, db: &Path, chains: &Path, key: &Path) -> Result<(Self, Service)> {
        let desks = Self::add(exe, db)?;
        let svc = Service::start(exe, db, &serve_args(chains, key, &[]))?;
        Ok((desks, svc))
    }
}

/// `coordinator serve` arguments of a service test: `chains`, the request `key`, two
/// approvals, the test HSM allowed and 100 ms worker rounds (unless `extra` sets
/// `--poll-ms`), then `extra`.
pub fn serve_args(chains: &Path, key: &Path, extra: &[&str]) -> Vec<String> {
    let mut a = args(&[
        "--chains",
        &chains.to_string_lossy(),
        "--key",
        &key.to_string_lossy(),
    ]);
    a.extend(args(&["--approvals", "2", "--allow-mock-hsm"]));
    if !extra.contains(&"--poll-ms") {
        a.extend(args(&["--poll-ms", "100"]));
    }
    a.extend(args(extra));
    a
}

impl Service {
    /// Runs the approver's tool as `who` (their key, `token` as the caller) on request
    /// `id`, answering its confirmation with `answer`: whether it succeeded, and what it
    /// printed (stdout, then stderr).
    pub fn approver(
        &self,
        who: &str,
        token: &str,
        id: &str,
        answer: &str,
    ) -> Result<(bool, String)> {
        let source = ["--url", &self.url, "--request", id].map(OsStr::new);
        let out = run_approver(&self.exe, &source, &approver_dir(who)?, Some(token), answer)?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok((out.status.success(), text))
    }

    /// Registers the rehearsal approvers (as admin) from the records their tool wrote.
    pub fn register_approvers(&self, admin: &str, who: &[&str]) -> Result<()> {
        for w in who {
            let record: Value = approver::key::read_record(&approver_dir(w)?)?;
            let a = self.call("POST", "/v1/approvers", Some(admin), Some(&record))?;
            if a.status != 201 {
                bail!("registering approver {w}: {} {}", a.status, a.json);
            }
        }
        Ok(())
    }

    /// Waits for a request's envelope, then each (approver, token) approves it with the
    /// approver's tool; returns the envelope view.
    pub fn approve(&self, id: &str, approvers: &[(&str, &str)]) -> Result<Value> {
        let view = self.wait_envelope(id, approvers.first().map_or("", |a| a.1))?;
        for (who, token) in approvers {
            let (ok, said) = self.approver(who, token, id, "approve")?;
            if !ok {
                bail!("approval by {who}: {said}");
            }
        }
        Ok(view)
    }
}
