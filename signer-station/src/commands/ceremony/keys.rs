//! `ceremony keys`.

use signer_station::ceremony::generate_station_keys;
use signer_station::hsm::YubiHsm;

use super::{log, StationDir};

pub fn run(dir: &StationDir, hsm: &YubiHsm) -> Result<(), String> {
    let keys = generate_station_keys(hsm).map_err(|e| e.to_string())?;
    let evm = signer_station::station::evm::address_of(&keys.evm.public_key).ok_or("evm key")?;
    let mut parts = vec![
        format!("identity {}", hex::encode(&keys.identity.public_key)),
        format!("evm {}", evm.to_checksum(None)),
    ];
    for (n, k) in &keys.bitcoin {
        parts.push(format!(
            "bitcoin:{} {}",
            n.name(),
            hex::encode(&k.public_key)
        ));
    }
    for (c, k) in &keys.solana {
        let pk: [u8; 32] = k
            .public_key
            .as_slice()
            .try_into()
            .map_err(|_| "solana key")?;
        parts.push(format!(
            "solana:{} {}",
            c.name(),
            airgap_protocol::summary::solana::b58(&pk)
        ));
    }
    let detail = parts.join(", ");
    log(&mut dir.ledger()?, hsm, "keys generate", detail.clone())?;
    println!("keys generated: {detail}");
    Ok(())
}
