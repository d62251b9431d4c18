//! The people a service test plays: their API tokens, the rehearsal approvers' keys,
//! and the `coordinator serve` arguments the tests share.

use std::path::Path;
use std::process::Command;

use anyhow::{bail, Result};

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

/// A rehearsal approver's approval of `digest`.
pub fn approval(who: &str, digest: &[u8; 32]) -> airgap_protocol::envelope::Approval {
    use ed25519_dalek::Signer;
    let key = approver_key(who);
    airgap_protocol::envelope::Approval {
        approver: airgap_protocol::envelope::KeyId::of(&key.verifying_key()),
        signature: key
            .sign(&airgap_protocol::envelope::SignRequest::approval_message(
                digest,
            ))
            .to_bytes(),
    }
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
