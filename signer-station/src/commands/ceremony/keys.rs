//! `ceremony keys`.

use signer_station::ceremony::generate_station_keys;
use signer_station::hsm::YubiHsm;

use super::{log, StationDir};

pub fn run(dir: &StationDir, hsm: &YubiHsm) -> Result<(), String> {
    let keys = generate_station_keys(hsm).map_err(|e| e.to_string())?;
    let evm = signer_station::station::evm::address_of(&keys.evm.public_key).ok_or("evm key")?;
    let detail = format!(
        "identity {}, bitcoin {}, evm {}, solana {}",
        hex::encode(&keys.identity.public_key),
        hex::encode(&keys.bitcoin.public_key),
        evm.to_checksum(None),
        airgap_protocol::summary::solana::b58(
            &keys
                .solana
                .public_key
                .as_slice()
                .try_into()
                .map_err(|_| "solana key")?
        )
    );
    log(&mut dir.ledger()?, "keys generate", detail.clone())?;
    println!("keys generated: {detail}");
    Ok(())
}
