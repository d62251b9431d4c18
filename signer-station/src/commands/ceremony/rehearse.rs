//! `ceremony rehearse`: every step in one process, for training on MockHsm: init, keys,
//! register (with a rehearsal policy and coordinator key unless given), backup, and a
//! restore drill onto a second MockHsm.

use airgap_protocol::envelope::{decode_envelope, Envelope, DESCRIPTOR_UR_TYPE};
use signer_station::ceremony::backup;
use signer_station::hsm::{Connection, SigningBackend, YubiHsm};

use super::args::{InitArgs, RegisterArgs};
use super::backup::restore_set;
use super::{init, keys, register, StationDir};

pub fn run(
    dir: &StationDir,
    connection: Connection,
    a: &InitArgs,
    reg: &RegisterArgs,
) -> Result<(), String> {
    if connection != Connection::Mock {
        return Err(
            "rehearse runs on MockHsm only (--hsm mock); a real device takes the steps one by one"
                .into(),
        );
    }
    println!("REHEARSAL on MockHsm — NOT A HARDWARE SECURITY MODULE");
    let factory = YubiHsm::open_factory(Connection::Mock).map_err(|e| e.to_string())?;
    let session = init::run(dir, &factory, a)?;
    keys::run(dir, &session)?;
    register::run(dir, &session, reg)?;
    // Every key: Bitcoin, EVM, Solana and the identity.
    let holders = a.custodians.read()?;
    let k = a.threshold;
    let all = session.list_keys().map_err(|e| e.to_string())?;
    let set = backup::backup(&session, &all, &holders, k, a.work_factor.work_factor)
        .map_err(|e| e.to_string())?;
    dir.write(
        "backup.json",
        serde_json::to_string_pretty(&set)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    )?;
    println!("backup of all {} keys written", set.keys.len());
    let bytes = std::fs::read(dir.path("descriptor.envelope")).map_err(|e| e.to_string())?;
    let Envelope::Descriptor(descriptor) =
        decode_envelope(DESCRIPTOR_UR_TYPE, &bytes).map_err(|e| e.to_string())?
    else {
        return Err("descriptor.envelope is not a descriptor".into());
    };
    descriptor.verify().map_err(|e| e.to_string())?;
    let drill = StationDir(dir.0.join("restore-drill"));
    std::fs::create_dir_all(&drill.0).map_err(|e| e.to_string())?;
    let second = init::run(
        &drill,
        &YubiHsm::open_factory(Connection::Mock).map_err(|e| e.to_string())?,
        a,
    )?;
    restore_set(&drill, &second, &set, holders, &descriptor)?;
    println!("rehearsal complete: {}", dir.0.display());
    Ok(())
}
