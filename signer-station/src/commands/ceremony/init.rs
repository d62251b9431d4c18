//! `ceremony init`.

use signer_station::ceremony::{init, OPERATING_KEY_ID};
use signer_station::hsm::YubiHsm;
use signer_station::quorum::QuorumFile;

use super::args::InitArgs;
use super::{log_on_new_device, StationDir};

pub fn run(dir: &StationDir, factory: &YubiHsm, a: &InitArgs) -> Result<YubiHsm, String> {
    if dir.quorum().exists() {
        return Err(format!(
            "{} exists: this station is initialised already",
            dir.quorum().display()
        ));
    }
    let custodians = a.custodians.read()?;
    let k = a.threshold;
    let (quorum, cred) =
        QuorumFile::create(OPERATING_KEY_ID, k, &custodians, a.work_factor.work_factor)
            .map_err(|e| e.to_string())?;
    // The quorum file first: if the HSM step fails, nothing on the device has changed.
    let text = serde_json::to_string_pretty(&quorum).map_err(|e| e.to_string())?;
    dir.write("quorum.json", text.as_bytes())?;
    let session = init(factory, &cred).map_err(|e| e.to_string())?;
    let names: Vec<&str> = custodians.iter().map(|(n, _)| n.as_str()).collect();
    let mut ledger = dir.ledger()?;
    log_on_new_device(
        &mut ledger,
        &session,
        "init",
        format!(
            "quorum {k} of {} ({}); factory key removed; forced audit on",
            names.len(),
            names.join(", ")
        ),
    )?;
    println!(
        "initialised: quorum {k} of {} ({}), factory key removed",
        names.len(),
        names.join(", ")
    );
    Ok(session)
}
