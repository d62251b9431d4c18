//! `signer-station ceremony …`: each step opens a session (quorum unlock, or the factory
//! credential for `init`), does one thing, and records it in the station ledger.
//!
//! The steps run against a YubiHSM 2 on USB. MockHsm keeps no state between processes,
//! so on `--hsm mock` only `rehearse` (every step in one process) is meaningful.

mod args;
mod backup;
mod init;
mod keys;
mod register;
mod rehearse;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;
use signer_station::ceremony::{StationKeys, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, HsmError, SigningBackend, YubiHsm};
use signer_station::ledger::{Ledger, Record};
use signer_station::quorum::QuorumFile;

pub use args::Args;

pub const USAGE: &str = "signer-station ceremony <step> --station DIR [--hsm usb|mock] ...
  init --threshold K --custodian NAME=PASSFILE ...   new quorum; replace the factory key
  keys --custodian NAME=PASSFILE ... (k of them)     generate identity, bitcoin, evm, solana keys
  register --custodian ... --coordinator HEX --approver NAME:ROLE:HEX ... --policy FILE
                                                    pin the coordinator and approvers, sign the policy
                                                    (with its Bitcoin vaults, each shown with its first
                                                    address to compare), export the descriptor
  backup --custodian ... --threshold K --holder NAME=PASSFILE ... --out FILE
  restore --custodian ... --backup FILE --holder NAME=PASSFILE ... --descriptor FILE
  reanchor --custodian ... --reason TEXT             accept the ledger as it is after it no longer
                                                    matches the HSM's anchor (recorded in the ledger)
  rehearse --threshold K --custodian NAME=PASSFILE ... every step in one process (MockHsm)
A PASSFILE holds one custodian's passphrase; the TUI asks for passphrases interactively.
--work-factor N sets scrypt's log2(N) for new shares (default: age's, about a second).";

pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Files a station keeps in its directory.
pub struct StationDir(pub PathBuf);

impl StationDir {
    pub fn quorum(&self) -> PathBuf {
        self.0.join("quorum.json")
    }
    pub fn ledger(&self) -> Result<Ledger, String> {
        Ledger::open(&self.0.join("ledger.jsonl")).map_err(|e| e.to_string())
    }
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<PathBuf, String> {
        usb_transfer::write_atomically(&self.0, name, bytes)
            .map_err(|e| format!("{}: {e}", self.0.join(name).display()))
    }
    pub fn read_quorum(&self) -> Result<QuorumFile, String> {
        let text = std::fs::read_to_string(self.quorum())
            .map_err(|e| format!("{}: {e}", self.quorum().display()))?;
        let q: QuorumFile =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", self.quorum().display()))?;
        let k = usize::from(q.threshold);
        if k == 0 || k > q.custodians.len() {
            return Err(format!(
                "{}: threshold {k} of {} custodians is not a quorum; the file is damaged",
                self.quorum().display(),
                q.custodians.len()
            ));
        }
        Ok(q)
    }
}

pub fn log(ledger: &mut Ledger, step: &str, detail: String) -> Result<(), String> {
    ledger
        .append(
            now(),
            Record::Ceremony {
                step: step.into(),
                detail,
            },
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Opens a session with k custodians' passphrases.
pub fn unlock(
    dir: &StationDir,
    connection: Connection,
    custodians: &[(String, SecretString)],
) -> Result<YubiHsm, String> {
    let q = dir.read_quorum()?;
    let mut u = q.unlock();
    for (name, pass) in custodians {
        u.enter(name, pass.clone()).map_err(|e| e.to_string())?;
    }
    let cred = u.finish().map_err(|e| e.to_string())?;
    YubiHsm::open(connection, OPERATING_KEY_ID, cred.expose()).map_err(|e| e.to_string())
}

/// The station's keys, read back from the HSM.
pub fn station_keys<B: SigningBackend + ?Sized>(hsm: &B) -> Result<StationKeys, HsmError> {
    StationKeys::from_hsm(&hsm.list_keys()?)
}

pub fn read_passfile(spec: &str) -> Result<(String, SecretString), String> {
    let (name, file) = spec
        .split_once('=')
        .ok_or_else(|| format!("`{spec}`: expected NAME=PASSFILE"))?;
    let pass = std::fs::read_to_string(Path::new(file)).map_err(|e| format!("{file}: {e}"))?;
    Ok((
        name.to_string(),
        SecretString::from(pass.trim_end_matches(['\n', '\r']).to_string()),
    ))
}

pub fn run(args: &[String]) -> Result<(), String> {
    let (step, rest) = args.split_first().ok_or_else(|| USAGE.to_string())?;
    let a = Args::parse(rest)?;
    let dir = StationDir(PathBuf::from(a.one("station")?));
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    let connection = match a.opt("hsm").unwrap_or("usb") {
        "usb" => Connection::Usb,
        "mock" => Connection::Mock,
        other => return Err(format!("--hsm {other}: use usb or mock")),
    };
    if connection == Connection::Mock && step != "rehearse" {
        return Err(
            "MockHsm keeps no state between runs: use `ceremony rehearse --hsm mock`".into(),
        );
    }
    match step.as_str() {
        "init" => init::run(
            &dir,
            &YubiHsm::open_factory(connection).map_err(|e| e.to_string())?,
            &a,
        )
        .map(|_| ()),
        "keys" => keys::run(&dir, &unlock(&dir, connection, &a.custodians()?)?),
        "register" => register::run(&dir, &unlock(&dir, connection, &a.custodians()?)?, &a),
        "backup" => backup::backup(&dir, &unlock(&dir, connection, &a.custodians()?)?, &a),
        "restore" => backup::restore(&dir, &unlock(&dir, connection, &a.custodians()?)?, &a),
        "reanchor" => {
            let hsm = unlock(&dir, connection, &a.custodians()?)?;
            let reason = a.one("reason")?;
            let mut ledger = dir.ledger()?;
            signer_station::station::anchor::reanchor(&mut ledger, &hsm, now(), reason)?;
            println!(
                "ledger re-anchored at entry {} (head {})",
                ledger.len().saturating_sub(1),
                ledger.head()
            );
            Ok(())
        }
        "rehearse" => rehearse::run(&dir, connection, &a),
        _ => Err(USAGE.to_string()),
    }
}
