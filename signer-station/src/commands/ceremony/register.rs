//! `ceremony register`: pin the coordinator and approvers, sign the policy, and export
//! the station descriptor.

use airgap_protocol::envelope::{encode_envelope, Envelope};
use signer_station::ceremony::export_descriptor;
use signer_station::hsm::YubiHsm;
use signer_station::station::policy::{self, Policy};
use signer_station::station::registration::{self, RegisteredApprover, Registration};
use signer_station::station::Vaults;

use super::args::RegisterArgs;
use super::{log, now, station_keys, StationDir};

pub fn run(dir: &StationDir, hsm: &YubiHsm, a: &RegisterArgs) -> Result<(), String> {
    let keys = station_keys(hsm).map_err(|e| e.to_string())?;
    let approvers = a
        .approver
        .iter()
        .map(|s| {
            let mut p = s.splitn(3, ':');
            match (p.next(), p.next(), p.next()) {
                (Some(name), Some(role), Some(key)) => Ok(RegisteredApprover {
                    name: name.into(),
                    role: role.into(),
                    key: key.into(),
                }),
                _ => Err(format!("--approver `{s}`: expected NAME:ROLE:KEY")),
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    let reg = Registration {
        coordinator_keys: a.coordinator.clone(),
        approvers,
    };
    let signed = registration::sign(hsm, &keys.identity, reg).map_err(|e| e.to_string())?;
    let json = serde_json::to_string_pretty(&signed).map_err(|e| e.to_string())?;
    // Loading what was just signed checks every key and role parses.
    let identity = keys.identity.ed25519().map_err(|e| e.to_string())?;
    registration::load(&json, &identity).map_err(|e| e.to_string())?;
    let policy_path = a.policy.display();
    let p: Policy = serde_json::from_str(
        &std::fs::read_to_string(&a.policy).map_err(|e| format!("{policy_path}: {e}"))?,
    )
    .map_err(|e| format!("{policy_path}: {e}"))?;
    // Every registered vault must be one this station can sign for; custodians compare
    // its first address with the coordinator's before the policy is signed.
    let registered: Vec<(String, String, String, bool)> = p
        .vaults
        .iter()
        .map(|v| {
            (
                v.name.clone(),
                v.network.clone(),
                v.descriptor.clone(),
                v.deposit,
            )
        })
        .collect();
    let vaults = Vaults::new(&keys, &registered).map_err(|e| e.to_string())?;
    for (i, v) in p.vaults.iter().enumerate() {
        let first = vaults
            .first_address(i)
            .ok_or_else(|| format!("vault {}: no address", v.name))?;
        println!("vault {} ({}): first address {first}", v.name, v.network);
    }
    let signed_policy = policy::sign(hsm, &keys.identity, p.clone()).map_err(|e| e.to_string())?;
    let policy_json = serde_json::to_string_pretty(&signed_policy).map_err(|e| e.to_string())?;
    policy::load(&policy_json, &identity).map_err(|e| e.to_string())?;
    let name = a.name.as_str();
    let descriptor = export_descriptor(hsm, &keys, name, &p, now()).map_err(|e| e.to_string())?;
    let (_, message) = encode_envelope(&Envelope::Descriptor(descriptor.clone()));
    // Replace files only after everything has been signed and checked.
    for f in ["registration.json", "policy.json", "descriptor.envelope"] {
        if dir.path(f).exists() {
            std::fs::remove_file(dir.path(f)).map_err(|e| format!("{f}: {e}"))?;
        }
    }
    dir.write("registration.json", json.as_bytes())?;
    dir.write("policy.json", policy_json.as_bytes())?;
    dir.write("descriptor.envelope", &message)?;
    let id = descriptor.station_id().map_err(|e| e.to_string())?;
    let mut ledger = dir.ledger()?;
    log(
        &mut ledger,
        hsm,
        "register",
        format!(
            "{} coordinator key(s), {} approver(s)",
            signed.registration.coordinator_keys.len(),
            signed.registration.approvers.len()
        ),
    )?;
    log(
        &mut ledger,
        hsm,
        "export descriptor",
        format!(
            "station {id}, policy digest {}",
            hex::encode(descriptor.policy_digest)
        ),
    )?;
    println!(
        "registered; policy signed; descriptor written to {} (station id {id})",
        dir.path("descriptor.envelope").display()
    );
    Ok(())
}
