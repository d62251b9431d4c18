//! The EVM adapter: one network (chain id), the vault being the named (or only) station's
//! EVM key; nonces from the chain and from every live request, one replica at a time;
//! the station's signature attached and the sender recovered; broadcast and followed to
//! its confirmations, with reorgs and drops seen.

use std::str::FromStr;

use airgap_protocol::envelope::{Payload, PayloadSignature};
use alloy_primitives::{Address, U256};
use serde_json::{json, Value};

use super::{
    attach_signature, vault_address, Asset, Builder, ChainConfig, EvmRpc, SignedEvmTx, TrackState,
    Tracker, Transfer, TxKindChoice, UnsignedEvmTx,
};
use crate::chain::{
    balance_at, chain_err, corrupt, refused, token_view, watch_depth, Body, ChainAdapter, Ctx,
    PipelineError, Recheck, Sent, VaultView,
};
use crate::lifecycle::Event;
use crate::requests::ReplaceKind;
use crate::store::Kind;
use crate::store::RequestRow;
use crate::treasury::Watch;

/// One EVM network the pipeline builds for.
#[derive(Debug)]
pub struct EvmChain {
    /// Configuration.
    pub config: ChainConfig,
    /// Node client.
    pub node: EvmRpc,
}

impl EvmChain {
    /// The adapter for a configured network, with its node client.
    pub fn from_config(config: ChainConfig) -> Result<Self, String> {
        let node = EvmRpc::new(crate::rpc::RpcClient::for_chain(&config.endpoints));
        Ok(Self { config, node })
    }
}

impl EvmChain {
    fn vault(&self, ctx: &Ctx) -> Result<Address, PipelineError> {
        let (_, pk) = ctx.station_for(&self.config.network(), self.config.station.as_deref())?;
        vault_address(&pk).ok_or_else(|| corrupt("station EVM key"))
    }

    fn final_tx(&self, ctx: &Ctx, id: &str) -> Result<SignedEvmTx, PipelineError> {
        let f = ctx
            .store
            .artifact(id, Kind::Final, "evm")?
            .ok_or_else(|| refused("no final transaction"))?;
        serde_json::from_str(&f).map_err(corrupt)
    }

    /// A configured token, by its contract address.
    fn token(&self, contract: &str) -> Result<&super::Token, PipelineError> {
        let c = Address::from_str(contract)
            .map_err(|_| refused(format!("{contract} is not a contract address")))?;
        self.config
            .tokens
            .iter()
            .find(|t| t.contract == c)
            .ok_or_else(|| {
                refused(format!(
                    "token {c} is not configured for {}",
                    self.config.network()
                ))
            })
    }

    /// `who`'s balance of token `contract`, base units.
    fn token_balance(&self, contract: Address, who: &str) -> Result<u128, PipelineError> {
        let who =
            Address::from_str(who).map_err(|_| refused(format!("{who} is not an EVM address")))?;
        let b = self.node.token_balance(contract, who).map_err(chain_err)?;
        u128::try_from(b).map_err(|_| chain_err(format!("a balance of {b} does not fit 128 bits")))
    }

    fn balance(&self, address: &str) -> Result<u128, PipelineError> {
        let a = Address::from_str(address)
            .map_err(|_| refused(format!("{address} is not an EVM address")))?;
        let b = self.node.balance(a).map_err(chain_err)?;
        Ok(u128::try_from(b).unwrap_or(u128::MAX))
    }
}

impl EvmChain {
    /// Builds a speed-up or cancel of `r.request`'s transaction at its nonce, its fees
    /// raised over the highest of every transaction built at that nonce so far (so a
    /// second speed-up outbids the first).
    fn build_replacement(
        &self,
        ctx: &Ctx,
        id: &str,
        body: &Body,
        r: &crate::requests::Replaces,
        now: u64,
    ) -> Result<Payload, PipelineError> {
        let old: UnsignedEvmTx = match ctx.store.artifact(&r.request, Kind::Unsigned, "evm")? {
            Some(u) => serde_json::from_str(&u).map_err(corrupt)?,
            None => return Err(refused(format!("request {} has no transaction", r.request))),
        };
        let used = self.node.nonce(old.from, "latest").map_err(chain_err)?;
        if used > old.nonce {
            return Err(refused(format!(
                "nonce {} of {} is used on chain: there is nothing left to replace",
                old.nonce, old.from
            )));
        }
        let mut highest = old;
        for u in ctx.held("evm", &body.network, id, false)? {
            let tx: UnsignedEvmTx = serde_json::from_str(&u).map_err(corrupt)?;
            if tx.from == highest.from
                && tx.nonce == highest.nonce
                && tx.fee_per_gas() > highest.fee_per_gas()
            {
                highest = tx;
            }
        }
        let b = Builder {
            config: &self.config,
            node: &self.node,
        };
        b.check_chain().map_err(chain_err)?;
        let tx = match r.kind {
            ReplaceKind::SpeedUp => b.replacement(&highest),
            ReplaceKind::Cancel => b.cancellation(&highest),
        }
        .map_err(chain_err)?;
        let stored = ctx.store_unsigned(
            id,
            "evm",
            &serde_json::to_string(&tx).map_err(corrupt)?,
            json!({"from": tx.from, "nonce": tx.nonce, "max_fee_wei": tx.max_fee_wei().to_string(),
                "replaces": r.request}),
            now,
        )?;
        self.payload(ctx, &stored)
    }
}

impl ChainAdapter for EvmChain {
    fn network(&self) -> String {
        self.config.network()
    }

    fn kind(&self) -> &'static str {
        "evm"
    }

    fn build(&self, ctx: &Ctx, id: &str, body: &Body, now: u64) -> Result<Payload, PipelineError> {
        if let Some(u) = ctx.store.artifact(id, Kind::Unsigned, "evm")? {
            return self.payload(ctx, &u);
        }
        if !body.batch.is_empty() {
            return Err(refused("an EVM request pays one destination"));
        }
        if let Some(r) = &body.replaces {
            return self.build_replacement(ctx, id, body, r, now);
        }
        let from = self.vault(ctx)?;
        let to = Address::from_str(&body.destination)
            .map_err(|_| refused("destination is not an EVM address"))?;
        let asset = if body.asset == "native" {
            Asset::Native
        } else {
            Asset::Token(self.token(&body.asset)?.symbol.clone())
        };
        let amount = U256::from_str(&body.amount).map_err(|_| refused("amount"))?;
        // One replica at a time picks nonces for a vault.
        ctx.lease(
            &format!("nonce:{}:{from}", body.network),
            "prepare",
            now,
            10,
        )?;
        let b = Builder {
            config: &self.config,
            node: &self.node,
        };
        b.check_chain().map_err(chain_err)?;
        let pending = self.node.nonce(from, "pending").map_err(chain_err)?;
        let mut used = Vec::new();
        for u in ctx.held("evm", &body.network, id, false)? {
            let tx: UnsignedEvmTx = serde_json::from_str(&u).map_err(corrupt)?;
            if tx.from == from {
                used.push(tx.nonce);
            }
        }
        let mut nonce = pending;
        while used.contains(&nonce) {
            nonce += 1;
        }
        let kind = if self.config.legacy {
            TxKindChoice::Legacy
        } else {
            TxKindChoice::Eip1559
        };
        let fees = b.fees(kind).map_err(chain_err)?;
        let tx = b
            .build_with(
                &Transfer {
                    from,
                    to,
                    asset,
                    amount,
                },
                nonce,
                fees,
            )
            .map_err(chain_err)?;
        let stored = ctx.store_unsigned(
            id,
            "evm",
            &serde_json::to_string(&tx).map_err(corrupt)?,
            json!({"from": from, "nonce": nonce, "max_fee_wei": tx.max_fee_wei().to_string()}),
            now,
        )?;
        self.payload(ctx, &stored)
    }

    fn payload(&self, _ctx: &Ctx, unsigned: &str) -> Result<Payload, PipelineError> {
        let tx: UnsignedEvmTx = serde_json::from_str(unsigned).map_err(corrupt)?;
        Ok(tx.payload())
    }

    fn finalise(&self, ctx: &Ctx, row: &RequestRow, now: u64) -> Result<RequestRow, PipelineError> {
        let id = row.id.as_str();
        let tx: UnsignedEvmTx = match ctx.store.artifact(id, Kind::Unsigned, "evm")? {
            Some(u) => serde_json::from_str(&u).map_err(corrupt)?,
            None => return Err(corrupt("no transaction")),
        };
        let Some(sig) = ctx.signed_payloads(id)?.into_iter().find_map(|s| match s {
            PayloadSignature::Evm(s) => Some(s),
            _ => None,
        }) else {
            return Ok(row.clone());
        };
        let signed = attach_signature(&tx, &sig)
            .map_err(|e| refused(format!("the station's signature cannot be used: {e}")))?;
        ctx.finalised(
            id,
            "evm",
            &serde_json::to_string(&signed).map_err(corrupt)?,
            json!({"hash": signed.hash, "from": signed.from, "nonce": signed.nonce}),
            now,
        )
    }

    fn broadcast(&self, ctx: &Ctx, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let signed = self.final_tx(ctx, id)?;
        if let Err(e) = self.node.send_raw(&signed.raw) {
            let known = self.node.knows(signed.hash).unwrap_or(false)
                || self.node.receipt(signed.hash).ok().flatten().is_some();
            if !known {
                return Err(chain_err(e));
            }
        }
        ctx.broadcast_done(id, json!({"hash": signed.hash}), now)
    }

    fn sent(&self, ctx: &Ctx, id: &str) -> Result<Option<Sent>, PipelineError> {
        if ctx.store.artifact(id, Kind::Final, "evm")?.is_none() {
            return Ok(None);
        }
        let s = self.final_tx(ctx, id)?;
        Ok(Some(Sent {
            hash: s.hash.to_string(),
            nonce: Some(s.nonce),
            raw: hex::encode(&s.raw),
        }))
    }

    fn track(&self, ctx: &Ctx, row: RequestRow, now: u64) -> Result<RequestRow, PipelineError> {
        let id = row.id.as_str();
        let signed = self.final_tx(ctx, id)?;
        let mut tracker = Tracker::new(&signed, self.config.confirmations);
        let event = match tracker.poll(&self.node).map_err(chain_err)? {
            TrackState::Final {
                block,
                success: true,
            } => Some((
                Event::Confirmed,
                json!({"block": block, "block_hash": tracker.seen.map(|s| s.1)}),
            )),
            TrackState::Final {
                block,
                success: false,
            } => Some((Event::Failed, json!({"block": block, "reverted": true}))),
            TrackState::Dropped => Some((
                Event::Failed,
                json!({"dropped": "nonce used by another transaction"}),
            )),
            TrackState::Missing => {
                // Same bytes again: safe, it can land only once.
                self.node.send_raw(&signed.raw).map_err(chain_err)?;
                None
            }
            TrackState::Pending | TrackState::Included { .. } | TrackState::Reorged { .. } => None,
        };
        ctx.tracked(row, event, now)
    }

    fn recheck(&self, _ctx: &Ctx, _id: &str, confirmed: &Value) -> Result<Recheck, PipelineError> {
        let (Some(n), Some(hash)) = (
            confirmed["block"].as_u64(),
            confirmed["block_hash"]
                .as_str()
                .and_then(|h| alloy_primitives::B256::from_str(h).ok()),
        ) else {
            // Confirmed before block hashes were recorded: nothing to compare.
            return Ok(Recheck::Settled);
        };
        let block = self.node.block(n).map_err(chain_err)?;
        let tip = self.node.block_number().map_err(chain_err)?;
        // A node below that height (behind, or on a shorter branch) says nothing yet:
        // judged once it has a block there.
        if block.is_none() && tip < n {
            return Ok(Recheck::Holds);
        }
        if block.as_ref().is_none_or(|b| b.hash != hash) {
            return Ok(Recheck::Reorged(json!({
                "was_block": n,
                "was_block_hash": hash,
                "now_block_hash": block.map(|b| b.hash),
            })));
        }
        Ok(
            if tip.saturating_sub(n) + 1 > watch_depth(self.config.confirmations) {
                Recheck::Settled
            } else {
                Recheck::Holds
            },
        )
    }

    fn vault_address(&self, ctx: &Ctx) -> Result<String, PipelineError> {
        Ok(self.vault(ctx)?.to_checksum(None))
    }

    fn vault_view(&self, ctx: &Ctx) -> VaultView {
        let address = self.vault_address(ctx);
        let balance = balance_at(&address, |a| self.balance(a));
        let tokens: Vec<Value> = self
            .config
            .tokens
            .iter()
            .map(|t| {
                let what = json!({"symbol": t.symbol, "contract": t.contract.to_checksum(None),
                    "decimals": t.decimals});
                token_view(
                    what,
                    balance_at(&address, |a| self.token_balance(t.contract, a)),
                )
            })
            .collect();
        VaultView {
            network: self.config.network(),
            name: self.config.name.clone(),
            unit: "wei",
            address,
            balance,
            detail: json!({"nonce_accounts": [], "tokens": tokens}),
        }
    }

    fn watched_balance(&self, _ctx: &Ctx, w: &Watch) -> Result<u128, PipelineError> {
        match w.asset.as_str() {
            "native" => self.balance(&w.address),
            token => {
                let t = self.token(token)?.contract;
                self.token_balance(t, &w.address)
            }
        }
    }

    fn check_watch(&self, w: &Watch) -> Result<(), String> {
        if w.descriptor.is_some() {
            return Err(format!(
                "watch {}: a descriptor is for Bitcoin watches",
                w.address
            ));
        }
        match w.asset.as_str() {
            "native" => Ok(()),
            token => self
                .token(token)
                .map(|_| ())
                .map_err(|e| format!("watch {}: {e}", w.address)),
        }
    }
}
