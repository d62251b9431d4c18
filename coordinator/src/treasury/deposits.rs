//! Deposit address pools (`[[deposits]]` in the chains file): BIP-84 addresses handed
//! out to the warm tier (each index once, across replicas), watched for the sweep planner.

use std::sync::Mutex;

use serde_json::json;

use crate::bitcoin::BtcChain;
use crate::chain::{chain_err, corrupt, Ctx, PipelineError};
use crate::store::Kind;
use crate::store::StoreError;

/// A deposit address pool (`[[deposits]]` in the chains file): BIP-84 addresses from an
/// account xpub for the warm tier, watched for the sweep planner.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DepositConfig {
    /// Bitcoin network (a `[[bitcoin]]` vault on it supplies the chain source).
    pub network: String,
    /// Account xpub (tpub on test networks), optionally with key origin.
    pub xpub: String,
    /// Sweep addresses holding at least this, satoshis.
    pub sweep_threshold_sat: u64,
    /// Largest fee as thousandths of the amount swept (default 50: 5 %).
    #[serde(default = "default_per_mille")]
    pub max_fee_per_mille: u64,
    /// Inputs per sweep transaction.
    #[serde(default = "default_inputs")]
    pub max_inputs: usize,
}

fn default_per_mille() -> u64 {
    50
}

fn default_inputs() -> usize {
    100
}

/// A deposit pool with its watch-only wallet.
#[derive(derive_more::Debug)]
pub struct Deposits {
    /// Configuration.
    pub config: DepositConfig,
    #[debug(skip)]
    pool: Mutex<crate::bitcoin::DepositPool>,
    #[debug(skip)]
    wallet: Mutex<crate::bitcoin::Vault>,
}

impl Deposits {
    /// The pool of `config`.
    pub fn new(config: DepositConfig) -> Result<Self, PipelineError> {
        let network = crate::bitcoin::btc_network(&config.network)?;
        let bad =
            |e: crate::bitcoin::BuildError| PipelineError::Unconfigured(format!("deposits: {e}"));
        let pool = crate::bitcoin::DepositPool::new(&config.xpub, network).map_err(bad)?;
        let wallet = crate::bitcoin::Vault::from_descriptor(
            "deposits",
            &format!("wpkh({}/0/*)", config.xpub),
            network,
        )
        .map_err(bad)?;
        Ok(Self {
            config,
            pool: Mutex::new(pool),
            wallet: Mutex::new(wallet),
        })
    }
}

impl Deposits {
    /// Hands out the next deposit address of `network`'s pool (recorded, audited; two
    /// replicas never hand out the same index).
    pub fn hand_out(
        &self,
        ctx: &Ctx,
        actor: &str,
        now: u64,
    ) -> Result<(u32, String), PipelineError> {
        let (d, network) = (self, &self.config.network);
        let subject = format!("deposits:{network}");
        for _ in 0..8 {
            let n = ctx.store.artifacts(&subject, Kind::Address)?.len() as u32;
            let address = d
                .pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .peek(n)
                .to_string();
            match ctx.store.put_artifact(
                &subject,
                Kind::Address,
                &format!("{n:010}"),
                &address,
                actor,
                json!({"index": n, "address": address}),
                now,
            ) {
                Ok(_) => return Ok((n, address)),
                // Another replica took this index meanwhile: the next one.
                Err(StoreError::Exists(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(PipelineError::Busy)
    }

    /// The deposit addresses handed out on `network`, in order.
    pub fn list(&self, ctx: &Ctx) -> Result<Vec<(u32, String)>, PipelineError> {
        let network = &self.config.network;
        ctx.store
            .artifacts(&format!("deposits:{network}"), Kind::Address)?
            .into_iter()
            .map(|(k, v)| Ok((k.parse().map_err(corrupt)?, v)))
            .collect()
    }

    /// The sweep plan for `network`'s deposit addresses, from the chain now.
    pub fn sweep_plan(
        &self,
        ctx: &Ctx,
        chain: &BtcChain,
    ) -> Result<crate::bitcoin::sweep::Plan, PipelineError> {
        let d = self;
        let handed = self.list(ctx)?;
        let mut wallet = d.wallet.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((last, _)) = handed.last() {
            wallet.reveal_to(*last);
        }
        crate::bitcoin::chain::sync(&mut wallet, chain.source.as_ref()).map_err(chain_err)?;
        let btc_network = chain.network()?;
        let mut by_address: std::collections::BTreeMap<String, Vec<u64>> = handed
            .iter()
            .map(|(_, a)| (a.clone(), Vec::new()))
            .collect();
        for (_, out) in wallet.utxos() {
            if let Ok(a) = bitcoin::Address::from_script(&out.script_pubkey, btc_network) {
                if let Some(v) = by_address.get_mut(&a.to_string()) {
                    v.push(out.value.to_sat());
                }
            }
        }
        let rate = chain
            .source
            .fee_rate(chain.config.fee_target)
            .map_err(chain_err)?
            .to_sat_per_kwu()
            .div_ceil(250);
        let candidates: Vec<crate::bitcoin::sweep::Candidate> = by_address
            .into_iter()
            .filter(|(_, coins)| !coins.is_empty())
            .map(|(address, coins)| crate::bitcoin::sweep::Candidate { address, coins })
            .collect();
        Ok(crate::bitcoin::sweep::plan(
            &candidates,
            rate,
            crate::bitcoin::sweep::SweepRules {
                threshold_sat: d.config.sweep_threshold_sat,
                max_fee_per_mille: d.config.max_fee_per_mille,
                max_inputs: d.config.max_inputs,
            },
        ))
    }
}

impl Deposits {
    /// A sweep of the plan's first batch into `to` at `rate` (the build's, already within
    /// the vault's cap), never spending `exclude` (coins other requests hold): every coin
    /// of the batch's addresses in, one output to `to`. The inputs name their paths in the
    /// deposit account, where the station proves them.
    pub fn sweep_psbt(
        &self,
        ctx: &Ctx,
        chain: &BtcChain,
        (to, rate): (bitcoin::ScriptBuf, bitcoin::FeeRate),
        exclude: &[bitcoin::OutPoint],
    ) -> Result<bitcoin::Psbt, PipelineError> {
        let plan = self.sweep_plan(ctx, chain)?;
        let batch = plan.batches.first().ok_or_else(|| {
            crate::chain::refused(format!(
                "nothing to sweep on {}: no address holds {} sat or more at a fee within {}‰",
                self.config.network, self.config.sweep_threshold_sat, self.config.max_fee_per_mille
            ))
        })?;
        let network = chain.network()?;
        let mut wallet = self.wallet.lock().unwrap_or_else(|p| p.into_inner());
        let coins: Vec<bitcoin::OutPoint> = wallet
            .utxos()
            .into_iter()
            .filter(|(o, out)| {
                !exclude.contains(o)
                    && bitcoin::Address::from_script(&out.script_pubkey, network)
                        .is_ok_and(|a| batch.addresses.contains(&a.to_string()))
            })
            .map(|(o, _)| o)
            .collect();
        if coins.is_empty() {
            return Err(crate::chain::refused(
                "the coins to sweep are held by another request",
            ));
        }
        wallet
            .sweep_coins(&coins, to, rate)
            .map_err(|e| crate::chain::refused(format!("cannot build the sweep: {e}")))
    }

    /// Finalises a sweep signed by the station's deposit keys.
    pub fn finalize(
        &self,
        psbt: &mut bitcoin::Psbt,
    ) -> Result<bitcoin::Transaction, PipelineError> {
        self.wallet
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .finalize(psbt)
            .map_err(|e| crate::chain::refused(format!("cannot finalise the sweep: {e}")))
    }
}
