//! `signer-station ceremony …`: each step opens a session (quorum unlock, or the factory
//! credential for `init`), does one thing, and records it in the station ledger.
//!
//! The steps run against a YubiHSM 2 on USB. MockHsm keeps no state between processes,
//! so on `--hsm mock` only `rehearse` (every step in one process) is meaningful.

pub mod args;
mod backup;
mod init;
mod keys;
mod register;
#[cfg(feature = "rehearsal")]
mod rehearse;

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;
use signer_station::ceremony::OPERATING_KEY_ID;
use signer_station::hsm::{Connection, HsmError, SigningBackend, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::ledger::{Ledger, Record};
use signer_station::quorum::QuorumFile;

pub use args::Step;
use args::{Custodians, Station};

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

/// Records a ceremony step, after the HSM's own audit log (so that forced auditing
/// never stops the next step).
pub fn log<B: SigningBackend + ?Sized>(
    ledger: &mut Ledger,
    hsm: &B,
    step: &str,
    detail: String,
) -> Result<(), String> {
    record(ledger, hsm, false, step, detail)
}

/// [`log`] for init and restore, which run on a device this ledger may not have seen:
/// its log may start a new chain.
pub fn log_on_new_device<B: SigningBackend + ?Sized>(
    ledger: &mut Ledger,
    hsm: &B,
    step: &str,
    detail: String,
) -> Result<(), String> {
    record(ledger, hsm, true, step, detail)
}

fn record<B: SigningBackend + ?Sized>(
    ledger: &mut Ledger,
    hsm: &B,
    new_device: bool,
    step: &str,
    detail: String,
) -> Result<(), String> {
    let expect = signer_station::hsm::log::Expect::Ceremony { new_device };
    signer_station::hsm::log::drain(ledger, hsm, now(), &expect)
        .map_err(|e| format!("the HSM's audit log {e}"))?;
    let step = step.into();
    ledger
        .append(now(), Record::Ceremony { step, detail })
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

fn station_dir(station: &Station) -> Result<StationDir, String> {
    let dir = StationDir(station.station.clone());
    std::fs::create_dir_all(&dir.0).map_err(|e| format!("{}: {e}", dir.0.display()))?;
    Ok(dir)
}

/// The steps but `rehearse` keep state on the device: MockHsm forgets it between runs.
fn real_device(station: &Station) -> Result<(), String> {
    match station.hsm {
        args::Hsm::Usb => Ok(()),
        #[cfg(feature = "rehearsal")]
        args::Hsm::Mock => {
            Err("MockHsm keeps no state between runs: use `ceremony rehearse --hsm mock`".into())
        }
    }
}

/// The station directory and a session unlocked by the custodians, on a real device.
fn session(station: &Station, custodians: &Custodians) -> Result<(StationDir, YubiHsm), String> {
    real_device(station)?;
    let dir = station_dir(station)?;
    let hsm = unlock(&dir, station.hsm.connection(), &custodians.read()?)?;
    Ok((dir, hsm))
}

pub fn run(step: &Step) -> Result<(), String> {
    match step {
        Step::Init { station, init } => {
            real_device(station)?;
            let dir = station_dir(station)?;
            let factory =
                YubiHsm::open_factory(station.hsm.connection()).map_err(|e| e.to_string())?;
            init::run(&dir, &factory, init).map(|_| ())
        }
        Step::Keys {
            station,
            custodians,
            domain,
        } => {
            let (dir, hsm) = session(station, custodians)?;
            keys::run(&dir, &hsm.in_domain(*domain).map_err(|e| e.to_string())?)
        }
        Step::Register {
            station,
            custodians,
            register,
        } => {
            let (dir, hsm) = session(station, custodians)?;
            register::run(&dir, &hsm, register)
        }
        Step::Backup {
            station,
            custodians,
            threshold,
            holder,
            out,
            work_factor,
        } => {
            let (dir, hsm) = session(station, custodians)?;
            backup::backup(&dir, &hsm, *threshold, holder, out, work_factor.work_factor)
        }
        Step::Restore {
            station,
            custodians,
            backup: file,
            holder,
            descriptor,
        } => {
            let (dir, hsm) = session(station, custodians)?;
            backup::restore(&dir, &hsm, file, holder, descriptor)
        }
        Step::Reanchor {
            station,
            custodians,
            reason,
        } => {
            let (dir, hsm) = session(station, custodians)?;
            let mut ledger = dir.ledger()?;
            signer_station::station::anchor::reanchor(&mut ledger, &hsm, now(), reason)?;
            println!(
                "ledger re-anchored at entry {} (head {})",
                ledger.len().saturating_sub(1),
                ledger.head()
            );
            Ok(())
        }
        #[cfg(feature = "rehearsal")]
        Step::Rehearse {
            station,
            init,
            register,
        } => rehearse::run(
            &station_dir(station)?,
            station.hsm.connection(),
            init,
            register,
        ),
    }
}
