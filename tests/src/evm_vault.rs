//! An EVM vault on anvil for the service tests: a rehearsal station (MockHsm) whose
//! policy allows `evm:1` only and pays one allow-listed address, its signed descriptor,
//! its vault funded by anvil's funder, a node client, and the coordinator's request key
//! and chain file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy_primitives::{Address, U256};
use anyhow::Result;
use signer_station::ceremony::export_descriptor;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit, Policy};
use signer_station::tui::rehearsal::{self, seed_key};

use crate::anvil::{Anvil, FUNDER};
use crate::requests::now;
use crate::service::write_key;

/// One ether in wei.
pub const ETHER: u128 = 1_000_000_000_000_000_000;

/// The station and what the coordinator needs to serve its vault.
#[allow(missing_debug_implementations)]
pub struct EvmVault {
    /// The rehearsal station's HSM and keys.
    pub rehearsal: rehearsal::Rehearsal,
    /// The station, with the policy below.
    pub station: signer_station::station::Station,
    /// Its policy.
    pub policy: Policy,
    /// Its signed descriptor, as registered with the coordinator.
    pub descriptor: airgap_protocol::envelope::StationDescriptor,
    /// The vault's address (the station's EVM key).
    pub vault: Address,
    /// A client of the node.
    pub node: coordinator::evm::EvmRpc,
    /// The coordinator's request key file (the key the station trusts).
    pub key: PathBuf,
    /// The coordinator's chain file (anvil as chain 1).
    pub chains: PathBuf,
}

/// The station's policy: `evm:1` only, up to `per_tx` wei a transaction and 20 ether a
/// day, to `allowed` only, fees up to 0.01 ether.
pub fn policy(allowed: Address, per_tx: u128) -> Result<Policy> {
    let mut p = rehearsal::policy()?;
    let net = "evm:1".to_string();
    p.networks = vec![net.clone()];
    p.limits = vec![AssetLimit::new(&net.clone(), "native", per_tx, 20 * ETHER)];
    p.allow_list = vec![Destination::new(&net.clone(), allowed.to_checksum(None))];
    p.fees = vec![FeeLimit::new(&net, ETHER / 100, 1000)];
    Ok(p)
}

impl EvmVault {
    /// Sets it up in `dir` with [`policy`]`(allowed, per_tx)`, the vault funded with 10
    /// ether.
    pub fn new(anvil: &Anvil, dir: &Path, allowed: Address, per_tx: u128) -> Result<Self> {
        Self::with_approvers(anvil, dir, (allowed, per_tx), &[])
    }

    /// As [`EvmVault::new`], the station also pinning `more` approvers.
    pub fn with_approvers(
        anvil: &Anvil,
        dir: &Path,
        (allowed, per_tx): (Address, u128),
        more: &[signer_station::station::registration::RegisteredApprover],
    ) -> Result<Self> {
        let policy = policy(allowed, per_tx)?;
        Self::with_policy(anvil, dir, (policy, Default::default()), more)
    }

    /// As [`EvmVault::with_approvers`], with the station's own policy and token list.
    pub fn with_policy(
        anvil: &Anvil,
        dir: &Path,
        (policy, tokens): (Policy, airgap_protocol::summary::TokenList),
        more: &[signer_station::station::registration::RegisteredApprover],
    ) -> Result<Self> {
        let r = rehearsal::station(&dir.join("rehearsal"), now()).map_err(anyhow::Error::msg)?;
        let station = rehearsal::station_with_approvers(
            &r.hsm,
            &r.keys,
            &dir.join("station"),
            now(),
            (policy.clone(), tokens),
            more,
        )
        .map_err(anyhow::Error::msg)?;
        let descriptor = export_descriptor(&r.hsm, &r.keys, "vault-a", &policy, now())?;
        let vault = coordinator::evm::vault_address(&r.keys.evm.public_key)
            .ok_or_else(|| anyhow::anyhow!("the station's EVM key"))?;
        anvil.send_from(FUNDER, Some(vault), U256::from(10 * ETHER), &[])?;
        let node = coordinator::evm::EvmRpc::new(coordinator::rpc::RpcClient::new(
            std::slice::from_ref(&anvil.url),
            Duration::from_secs(5),
            coordinator::rpc::Breaker::default(),
        ));
        let key = dir.join("coordinator.key");
        write_key(&key, &seed_key("rehearsal coordinator"))?;
        let chains = dir.join("chains.toml");
        std::fs::write(
            &chains,
            format!(
                "[[evm]]\nname = \"anvil\"\nchain_id = 1\nendpoints = [\"{}\"]\nconfirmations = 2\n\
                 max_fee_per_gas_cap = 200000000000\nmax_priority_fee_cap = 5000000000\nmin_priority_fee = 1000000000\n",
                anvil.url
            ),
        )?;
        Ok(Self {
            rehearsal: r,
            station,
            policy,
            descriptor,
            vault,
            node,
            key,
            chains,
        })
    }
}
