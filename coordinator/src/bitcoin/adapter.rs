//! The Bitcoin adapter: a vault (single key or m-of-n across stations and hardware
//! wallets) built from the registered stations' keys for its network, synced from its
//! chain source before every build; PSBTs that spend no coin another live request holds;
//! partial signatures combined until the threshold, finalised and checked by Bitcoin
//! Core's interpreter; broadcast and followed to its confirmations.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Mutex;

use airgap_protocol::envelope::{Payload, PayloadSignature};
use serde_json::{json, Value};

use super::chain::{ChainSource, Confirmation, ConfirmationTracker};
use super::config::{btc_network, BtcConfig};
use super::Vault;
use crate::chain::{
    chain_err, corrupt, refused, watch_depth, Body, ChainAdapter, Ctx, PipelineError, Recheck,
    Sent, VaultView,
};
use crate::lifecycle::{Event, State};
use crate::store::Kind;
use crate::store::{RequestRow, StoreError};
use crate::treasury::Watch;

/// One Bitcoin vault the pipeline builds for: its chain source and its watch-only
/// wallet, kept in memory and synced before every build.
#[derive(derive_more::Debug)]
pub struct BtcChain {
    /// Configuration.
    pub config: BtcConfig,
    /// Chain source.
    #[debug(skip)]
    pub source: Box<dyn ChainSource + Send + Sync>,
    #[debug(skip)]
    vault: Mutex<Option<Vault>>,
    /// Watch-only wallets of this network's balance watches, synced at each check.
    #[debug(skip)]
    watched: Mutex<HashMap<String, Vault>>,
    /// The deposit pool of this network, whose sweeps this vault receives.
    #[debug(skip)]
    pub deposits: std::sync::OnceLock<std::sync::Arc<crate::treasury::Deposits>>,
}

/// A stored PSBT (hex).
pub fn decode_psbt(h: &str) -> Result<bitcoin::Psbt, PipelineError> {
    bitcoin::Psbt::deserialize(&hex::decode(h).map_err(corrupt)?).map_err(corrupt)
}

/// The payload a PSBT travels in (version 0: what stations review).
fn btc_payload(network: &str, psbt: &bitcoin::Psbt) -> Payload {
    Payload {
        network: network.into(),
        signer: "vault".into(),
        body: airgap_protocol::envelope::PayloadBody::Psbt {
            version: 0,
            bytes: psbt.serialize(),
        },
        hints: airgap_protocol::envelope::DisplayHints::default(),
    }
}

impl BtcChain {
    /// The adapter for a configured vault, with its Esplora or Bitcoin Core source; its
    /// cosigners' keys are checked here.
    pub fn from_config(config: BtcConfig) -> Result<Self, String> {
        let source: Box<dyn ChainSource + Send + Sync> =
            match (config.esplora.is_empty(), config.core.is_empty()) {
                (false, _) => Box::new(super::chain::Esplora::new(
                    &config.esplora,
                    std::time::Duration::from_secs(10),
                    crate::rpc::Breaker::default(),
                )),
                (true, false) => Box::new(super::chain::CoreRpc {
                    rpc: crate::rpc::RpcClient::for_chain(&config.core),
                }),
                (true, true) => {
                    return Err(format!(
                        "bitcoin vault {}: give esplora or core endpoints",
                        config.name
                    ))
                }
            };
        for c in &config.cosigners {
            c.public_key()
                .map_err(|e| format!("bitcoin vault {}: {e}", config.name))?;
        }
        Ok(Self::new(config, source))
    }

    /// A vault over `source`.
    pub fn new(config: BtcConfig, source: Box<dyn ChainSource + Send + Sync>) -> Self {
        Self {
            config,
            source,
            vault: Mutex::new(None),
            watched: Mutex::default(),
            deposits: std::sync::OnceLock::new(),
        }
    }

    /// The vault's Bitcoin network.
    pub fn network(&self) -> Result<bitcoin::Network, PipelineError> {
        btc_network(&self.config.network)
    }

    /// Runs `f` on the vault, building it from the registered stations' keys the first
    /// time and syncing it with the chain source every time.
    pub fn with_vault<T>(
        &self,
        ctx: &Ctx,
        f: impl FnOnce(&mut Vault) -> Result<T, PipelineError>,
    ) -> Result<T, PipelineError> {
        let mut guard = self.vault.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            *guard = Some(self.make_vault(ctx)?);
        }
        let vault = guard.as_mut().ok_or_else(|| corrupt("vault vanished"))?;
        super::chain::sync(vault, self.source.as_ref()).map_err(chain_err)?;
        f(vault)
    }

    fn make_vault(&self, ctx: &Ctx) -> Result<Vault, PipelineError> {
        let stations = ctx.stations()?;
        let net = airgap_protocol::network::Network::parse(&self.config.network)
            .map_err(|e| PipelineError::Unconfigured(e.to_string()))?;
        let mut keys = Vec::new();
        for name in &self.config.stations {
            let (_, s) = stations.iter().find(|(n, _)| n == name).ok_or_else(|| {
                PipelineError::Unconfigured(format!("station {name} is not registered"))
            })?;
            let k = s.descriptor.key_for(net).ok_or_else(|| {
                PipelineError::Unconfigured(format!("station {name} has no key for {net}"))
            })?;
            keys.push(bitcoin::PublicKey::from_slice(&k.public_key).map_err(corrupt)?);
        }
        let network = self.network()?;
        // Cosigner keys were checked when the chains file was read.
        let cosigners = &self.config.cosigners;
        if !cosigners.is_empty() {
            let exprs: Vec<String> = keys
                .iter()
                .map(super::vault::with_origin)
                .chain(cosigners.iter().map(|c| c.key.clone()))
                .collect();
            Vault::from_descriptor(
                &self.config.name,
                &format!(
                    "wsh(sortedmulti({},{}))",
                    self.config.threshold,
                    exprs.join(",")
                ),
                network,
            )
        } else if keys.len() == 1 && self.config.threshold == 1 {
            Vault::single(&self.config.name, &keys[0], network)
        } else {
            Vault::multisig(&self.config.name, self.config.threshold, &keys, network)
        }
        .map_err(|e| PipelineError::Unconfigured(e.to_string()))
    }

    fn final_tx(&self, ctx: &Ctx, id: &str) -> Result<bitcoin::Transaction, PipelineError> {
        let f = ctx
            .store
            .artifact(id, Kind::Final, "bitcoin")?
            .ok_or_else(|| refused("no final transaction"))?;
        let v: Value = serde_json::from_str(&f).map_err(corrupt)?;
        let raw = hex::decode(v["raw"].as_str().unwrap_or_default()).map_err(corrupt)?;
        bitcoin::consensus::deserialize(&raw).map_err(corrupt)
    }

    fn unsigned(&self, ctx: &Ctx, id: &str) -> Result<bitcoin::Psbt, PipelineError> {
        match ctx.store.artifact(id, Kind::Unsigned, "bitcoin")? {
            Some(u) => decode_psbt(&u),
            None => Err(refused("a cosigner's PSBT is for a Bitcoin request")),
        }
    }
}

impl ChainAdapter for BtcChain {
    fn network(&self) -> String {
        self.config.network.clone()
    }

    fn kind(&self) -> &'static str {
        "bitcoin"
    }

    fn build(&self, ctx: &Ctx, id: &str, body: &Body, now: u64) -> Result<Payload, PipelineError> {
        if let Some(u) = ctx.store.artifact(id, Kind::Unsigned, "bitcoin")? {
            return self.payload(ctx, &u);
        }
        if body.asset != "native" {
            return Err(refused("Bitcoin requests move the native asset only"));
        }
        let recipients = body
            .recipients()
            .map(|(to, sat)| {
                let to = bitcoin::Address::from_str(to)
                    .map_err(|_| refused(format!("{to:?} is not a Bitcoin address")))?;
                let sat = sat
                    .parse()
                    .map_err(|_| refused("amounts must fit 64 bits of satoshis"))?;
                Ok((to, bitcoin::Amount::from_sat(sat)))
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        let consolidation =
            body.purpose == crate::risk::Purpose::Consolidation && body.amount == "0";
        let sweep = deposit_sweep(body);
        // One replica at a time picks a vault's coins.
        ctx.lease(
            &format!("coins:{}:{}", body.network, self.config.name),
            "prepare",
            now,
            10,
        )?;
        let rate = self
            .source
            .fee_rate(self.config.fee_target)
            .map_err(chain_err)?;
        let sat_vb = rate.to_sat_per_kwu().div_ceil(250);
        if sat_vb > self.config.max_fee_rate {
            return Err(PipelineError::Chain(format!(
                "the fee rate is {sat_vb} sat/vB, above the cap of {}",
                self.config.max_fee_rate
            )));
        }
        let mut excluded = Vec::new();
        for u in ctx.held("bitcoin", &body.network, id, false)? {
            let psbt = decode_psbt(&u)?;
            excluded.extend(psbt.unsigned_tx.input.iter().map(|i| i.previous_output));
        }
        let psbt = self.with_vault(ctx, |v| {
            if sweep {
                // The deposit pool's coins into the vault (the station's deposit keys sign).
                let deposits = self.deposits.get().ok_or_else(|| {
                    refused(format!(
                        "no deposit pool is configured for {}",
                        body.network
                    ))
                })?;
                let own = v.address().script_pubkey();
                if recipients[0].0.assume_checked_ref().script_pubkey() != own {
                    return Err(refused("a sweep pays the vault itself"));
                }
                return deposits.sweep_psbt(ctx, self, (own, rate), &excluded);
            }
            if consolidation {
                // Every free coin into one output, back to the vault.
                if recipients[0].0.assume_checked_ref().script_pubkey()
                    != v.address().script_pubkey()
                {
                    return Err(refused("a consolidation pays the vault itself"));
                }
                v.consolidate_excluding(rate, &excluded)
            } else {
                v.payment_excluding(&recipients, rate, &excluded)
            }
            .map_err(|e| refused(format!("cannot build: {e}")))
        })?;
        let fee = super::fee_of(&psbt).map(|f| f.to_sat());
        let stored = ctx.store_unsigned(
            id,
            "bitcoin",
            &hex::encode(psbt.serialize()),
            json!({
                "vault": self.config.name,
                "inputs": psbt.unsigned_tx.input.len(),
                "fee_sat": fee,
                "txid": psbt.unsigned_tx.compute_txid().to_string(),
            }),
            now,
        )?;
        self.payload(ctx, &stored)
    }

    fn payload(&self, _ctx: &Ctx, unsigned: &str) -> Result<Payload, PipelineError> {
        Ok(btc_payload(&self.config.network, &decode_psbt(unsigned)?))
    }

    fn describe(&self, unsigned: &str) -> Result<Value, PipelineError> {
        let psbt = decode_psbt(unsigned)?;
        Ok(json!({
            "txid": psbt.unsigned_tx.compute_txid().to_string(),
            "inputs": psbt.unsigned_tx.input.iter().map(|i| i.previous_output.to_string()).collect::<Vec<_>>(),
            "outputs": psbt.unsigned_tx.output.iter().map(|o| json!({"script_pubkey": o.script_pubkey.to_hex_string(), "sat": o.value.to_sat()})).collect::<Vec<_>>(),
            "fee_sat": super::fee_of(&psbt).map(|f| f.to_sat()),
        }))
    }

    fn finalise(&self, ctx: &Ctx, row: &RequestRow, now: u64) -> Result<RequestRow, PipelineError> {
        let id = row.id.as_str();
        let base = self.unsigned(ctx, id)?;
        let mut parts = Vec::new();
        for s in ctx.signed_payloads(id)? {
            if let PayloadSignature::Psbt(b) = s {
                parts.push(
                    bitcoin::Psbt::deserialize(&b).map_err(|e| {
                        refused(format!("a station returned an unreadable PSBT: {e}"))
                    })?,
                );
            }
        }
        for (_, h) in ctx.store.artifacts(id, Kind::Cosigner)? {
            parts.push(decode_psbt(&h)?);
        }
        let mut combined = super::combine(&base, &parts)
            .map_err(|e| refused(format!("a station's signatures cannot be used: {e}")))?;
        // A sweep is signed by the one station holding the deposit account.
        let sweep = deposit_sweep(&crate::chain::Body::of(row)?);
        let threshold = if sweep { 1 } else { self.config.threshold };
        if parts.len() < threshold {
            if row.state == State::Exported && !parts.is_empty() {
                return Ok(ctx.store.transition(
                    id,
                    Event::PartiallySigned,
                    "coordinator",
                    json!({"signed_by": parts.len(), "threshold": threshold}),
                    now,
                )?);
            }
            return Ok(row.clone());
        }
        let tx = match self.deposits.get().filter(|_| sweep) {
            Some(d) => d.finalize(&mut combined)?,
            None => self.with_vault(ctx, |v| {
                v.finalize(&mut combined)
                    .map_err(|e| refused(format!("cannot finalise: {e}")))
            })?,
        };
        let prevouts: HashMap<bitcoin::OutPoint, bitcoin::TxOut> = combined
            .unsigned_tx
            .input
            .iter()
            .zip(&combined.inputs)
            .filter_map(|(i, p)| p.witness_utxo.clone().map(|o| (i.previous_output, o)))
            .collect();
        super::verify_with_core(&tx, |o| prevouts.get(o).cloned())
            .map_err(|e| refused(format!("Bitcoin Core's interpreter refuses it: {e}")))?;
        let txid = tx.compute_txid().to_string();
        ctx.finalised(
            id,
            "bitcoin",
            &json!({"raw": bitcoin::consensus::encode::serialize_hex(&tx), "txid": txid})
                .to_string(),
            json!({"txid": txid, "weight": tx.weight().to_wu()}),
            now,
        )
    }

    fn broadcast(&self, ctx: &Ctx, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let tx = self.final_tx(ctx, id)?;
        let txid = tx.compute_txid();
        if let Err(e) = self.source.broadcast(&tx) {
            if self.source.status(&txid).ok().flatten().is_none() {
                return Err(chain_err(e));
            }
        }
        ctx.broadcast_done(id, json!({"txid": txid.to_string()}), now)
    }

    fn sent(&self, ctx: &Ctx, id: &str) -> Result<Option<Sent>, PipelineError> {
        if ctx.store.artifact(id, Kind::Final, "bitcoin")?.is_none() {
            return Ok(None);
        }
        let tx = self.final_tx(ctx, id)?;
        Ok(Some(Sent {
            hash: tx.compute_txid().to_string(),
            nonce: None,
            raw: bitcoin::consensus::encode::serialize_hex(&tx),
        }))
    }

    fn track(&self, ctx: &Ctx, row: RequestRow, now: u64) -> Result<RequestRow, PipelineError> {
        let id = row.id.as_str();
        let tx = self.final_tx(ctx, id)?;
        let mut t = ConfirmationTracker::new(tx.compute_txid());
        let event = match t.poll(self.source.as_ref()).map_err(chain_err)? {
            Confirmation::Confirmed {
                height,
                confirmations,
            } if confirmations >= self.config.confirmations => Some((
                Event::Confirmed,
                json!({"height": height, "confirmations": confirmations,
                    "block_hash": t.seen().map(|s| s.1.to_string())}),
            )),
            Confirmation::Unknown => {
                // The same bytes again: one transaction can only confirm once.
                self.source.broadcast(&tx).map_err(chain_err)?;
                None
            }
            _ => None,
        };
        ctx.tracked(row, event, now)
    }

    fn recheck(&self, _ctx: &Ctx, _id: &str, confirmed: &Value) -> Result<Recheck, PipelineError> {
        let (Some(h), Some(hash)) = (
            confirmed["height"]
                .as_u64()
                .and_then(|h| u32::try_from(h).ok()),
            confirmed["block_hash"]
                .as_str()
                .and_then(|h| bitcoin::BlockHash::from_str(h).ok()),
        ) else {
            return Ok(Recheck::Settled);
        };
        let now = self.source.block_hash(h).map_err(chain_err)?;
        let tip = self.source.tip_height().map_err(chain_err)?;
        // A source below that height (behind, or on a shorter branch) says nothing yet:
        // judged once it has a block there.
        if now.is_none() && tip < h {
            return Ok(Recheck::Holds);
        }
        if now != Some(hash) {
            return Ok(Recheck::Reorged(json!({
                "was_height": h,
                "was_block_hash": hash.to_string(),
                "now_block_hash": now.map(|b| b.to_string()),
            })));
        }
        let depth = u64::from(tip.saturating_sub(h)) + 1;
        Ok(
            if depth > watch_depth(u64::from(self.config.confirmations)) {
                Recheck::Settled
            } else {
                Recheck::Holds
            },
        )
    }

    fn vault_address(&self, ctx: &Ctx) -> Result<String, PipelineError> {
        self.with_vault(ctx, |v| Ok(v.address().to_string()))
    }

    fn vault_view(&self, ctx: &Ctx) -> VaultView {
        let status = self.with_vault(ctx, |v| {
            Ok((
                v.address().to_string(),
                u128::from(v.balance().to_sat()),
                v.export(),
            ))
        });
        let (address, balance, export) = match status {
            Ok((a, b, x)) => (Ok(a), Ok(b), x.ok()),
            Err(e) => (Err(refused(e.to_string())), Err(e), None),
        };
        let mut detail =
            json!({"threshold": self.config.threshold, "stations": self.config.stations});
        if let Some((descriptor, bsms)) = export {
            detail["descriptor"] = descriptor.into();
            detail["bsms"] = bsms.into();
        }
        VaultView {
            network: self.config.network.clone(),
            name: self.config.name.clone(),
            unit: "sat",
            address,
            balance,
            detail,
        }
    }

    /// The spendable balance of the warm wallet's descriptor, synced block by block from
    /// the vault's chain source.
    fn watched_balance(&self, _ctx: &Ctx, w: &Watch) -> Result<u128, PipelineError> {
        let mut wallets = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        let wallet = match wallets.entry(format!("{}:{}", w.network, w.address)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(w.bitcoin_wallet(self.network()?).map_err(refused)?)
            }
        };
        super::chain::sync(wallet, self.source.as_ref()).map_err(chain_err)?;
        Ok(u128::from(wallet.balance().to_sat()))
    }

    fn check_watch(&self, w: &Watch) -> Result<(), String> {
        if w.asset != "native" {
            return Err(format!("watch {}: Bitcoin has no tokens", w.address));
        }
        let network = self.network().map_err(|e| e.to_string())?;
        w.bitcoin_wallet(network).map(|_| ())
    }

    /// A PSBT signed by a hardware-wallet cosigner of the vault (v0 or v2; whole, or
    /// trimmed to its signatures): for the exported transaction, every signature valid
    /// and from a key the inputs name, every input signed by the cosigner. Only the cosigners' signatures are kept (a station's
    /// count only with its own response and ledger); each cosigner's are stored once.
    fn import_cosigner(
        &self,
        ctx: &Ctx,
        id: &str,
        psbt: &[u8],
        actor: &str,
        now: u64,
    ) -> Result<(), PipelineError> {
        let base = self.unsigned(ctx, id)?;
        let mut signed =
            super::v2::deserialize_any(psbt).map_err(|e| refused(format!("not a PSBT: {e}")))?;
        // Some signers return their signatures alone: what they left out of the exported
        // transaction's inputs (the coins spent, the scripts) is taken from the export.
        // Only absent fields are filled; anything the PSBT states is checked as before.
        if signed.unsigned_tx == base.unsigned_tx {
            for (theirs, ours) in signed.inputs.iter_mut().zip(&base.inputs) {
                theirs.witness_utxo = theirs.witness_utxo.take().or(ours.witness_utxo.clone());
                theirs.non_witness_utxo = theirs
                    .non_witness_utxo
                    .take()
                    .or(ours.non_witness_utxo.clone());
                theirs.witness_script =
                    theirs.witness_script.take().or(ours.witness_script.clone());
            }
        }
        super::combine(&base, std::slice::from_ref(&signed))
            .map_err(|e| refused(format!("the PSBT cannot be used: {e}")))?;
        let mut found = 0;
        for c in &self.config.cosigners {
            let key = c.public_key().map_err(PipelineError::Unconfigured)?;
            let signs = signed
                .inputs
                .iter()
                .filter(|i| i.partial_sigs.contains_key(&key))
                .count();
            if signs == 0 {
                continue;
            }
            if signs != signed.inputs.len() {
                return Err(refused(format!(
                    "cosigner {} signed {signs} of {} inputs",
                    c.name,
                    signed.inputs.len()
                )));
            }
            found += 1;
            let mut only = base.clone();
            for (mine, theirs) in only.inputs.iter_mut().zip(&signed.inputs) {
                if let Some(sig) = theirs.partial_sigs.get(&key) {
                    mine.partial_sigs.insert(key, *sig);
                }
            }
            match ctx.store.put_artifact(
                id,
                Kind::Cosigner,
                &c.name,
                &only.serialize_hex(),
                actor,
                json!({"cosigner": c.name, "inputs": signs}),
                now,
            ) {
                Ok(_) => {}
                Err(StoreError::Exists(_)) => {
                    return Err(refused(format!(
                        "cosigner {} already signed this request differently",
                        c.name
                    )))
                }
                Err(e) => return Err(e.into()),
            }
        }
        if found == 0 {
            let names: Vec<&str> = self
                .config
                .cosigners
                .iter()
                .map(|c| c.name.as_str())
                .collect();
            return Err(refused(format!(
                "the PSBT carries no signature by a cosigner of this vault ({})",
                if names.is_empty() {
                    "it has none".to_string()
                } else {
                    names.join(", ")
                }
            )));
        }
        Ok(())
    }

    fn as_bitcoin(&self) -> Option<&BtcChain> {
        Some(self)
    }
}

/// Whether `body` is a sweep of the deposit addresses (`POST /v1/sweeps`: purpose
/// `sweep`, nothing asked of the vault), built from the deposit pool and signed by the
/// station holding the deposit account; any other request spends the vault's coins.
fn deposit_sweep(body: &crate::chain::Body) -> bool {
    body.purpose == crate::risk::Purpose::Sweep && body.amount == "0"
}
