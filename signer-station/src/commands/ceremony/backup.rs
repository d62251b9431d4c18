//! `ceremony backup` and `ceremony restore`.

use airgap_protocol::envelope::{decode_envelope, Envelope, DESCRIPTOR_UR_TYPE};
use signer_station::ceremony::backup::{self as b, BackupSet};
use signer_station::hsm::{SigningBackend, YubiHsm};

use std::path::Path;

use super::args::read_passfiles;
use super::{log, StationDir};

pub fn backup(
    dir: &StationDir,
    hsm: &YubiHsm,
    k: usize,
    holders: &[String],
    out: &Path,
    work_factor: Option<u8>,
) -> Result<(), String> {
    let holders = read_passfiles(holders)?;
    let keys = hsm.list_keys().map_err(|e| e.to_string())?;
    let set = b::backup(hsm, &keys, &holders, k, work_factor).map_err(|e| e.to_string())?;
    let (d, name) = (
        out.parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(std::path::Path::new(".")),
        out.file_name()
            .and_then(|n| n.to_str())
            .ok_or("--out needs a file name")?,
    );
    usb_transfer::write_atomically(
        d,
        name,
        serde_json::to_string_pretty(&set)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    )
    .map_err(|e| format!("{}: {e}", out.display()))?;
    log(
        &mut dir.ledger()?,
        hsm,
        "backup",
        format!(
            "{} keys wrapped; wrap key split {k} of {}",
            set.keys.len(),
            holders.len()
        ),
    )?;
    println!(
        "backup of {} keys written to {}",
        set.keys.len(),
        out.display()
    );
    Ok(())
}

pub fn restore(
    dir: &StationDir,
    fresh: &YubiHsm,
    backup: &Path,
    holders: &[String],
    descriptor: &Path,
) -> Result<(), String> {
    let path = backup.display();
    let set: BackupSet =
        serde_json::from_str(&std::fs::read_to_string(backup).map_err(|e| format!("{path}: {e}"))?)
            .map_err(|e| format!("{path}: {e}"))?;
    let dpath = descriptor.display();
    let Envelope::Descriptor(descriptor) = decode_envelope(
        DESCRIPTOR_UR_TYPE,
        &std::fs::read(descriptor).map_err(|e| format!("{dpath}: {e}"))?,
    )
    .map_err(|e| e.to_string())?
    else {
        return Err(format!("{dpath} is not a station descriptor"));
    };
    descriptor.verify().map_err(|e| e.to_string())?;
    restore_set(dir, fresh, &set, read_passfiles(holders)?, &descriptor)
}

/// Restores `set` with the holders' passphrases and checks it against `descriptor`.
pub fn restore_set(
    dir: &StationDir,
    fresh: &YubiHsm,
    set: &BackupSet,
    holders: Vec<(String, age::secrecy::SecretString)>,
    descriptor: &airgap_protocol::envelope::StationDescriptor,
) -> Result<(), String> {
    let mut u = set.wrap_key_shares.unlock();
    for (name, pass) in holders {
        u.enter(&name, pass).map_err(|e| e.to_string())?;
    }
    let wrap = u.finish().map_err(|e| e.to_string())?;
    let keys = b::restore(fresh, set, &wrap, descriptor).map_err(|e| e.to_string())?;
    super::log_on_new_device(
        &mut dir.ledger()?,
        fresh,
        "restore",
        format!(
            "{} keys restored and matched against descriptor of station {}",
            keys.len(),
            descriptor.station_id().map_err(|e| e.to_string())?
        ),
    )?;
    println!(
        "restored {} keys; every public key matches the descriptor",
        keys.len()
    );
    Ok(())
}
