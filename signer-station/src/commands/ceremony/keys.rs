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
    // The deposit accounts (public): each to register in the policy as a deposit vault
    // (`"deposit": true`) and to give the coordinator's `[[deposits]]` as its xpub.
    let mut accounts = Vec::new();
    for n in keys.bitcoin.keys() {
        let d =
            signer_station::station::deposits::descriptor(hsm, *n).map_err(|e| e.to_string())?;
        parts.push(format!("deposits:{} {d}", n.name()));
        accounts.push(format!("  {}: {d}", n.name()));
    }
    let detail = parts.join(", ");
    log(&mut dir.ledger()?, hsm, "keys generate", detail.clone())?;
    println!("keys generated: {detail}");
    println!("deposit accounts (register as deposit vaults; the key inside wpkh(…/<0;1>/*) is the coordinator's [[deposits]] xpub):\n{}", accounts.join("\n"));
    Ok(())
}
