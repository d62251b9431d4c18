//! The Solana adapter: one cluster, the vault being the named (or only) station's key for
//! it; one durable nonce account per request in flight (so a slow vault ceremony never
//! outlives a blockhash); the station's signatures placed and the transaction sent again
//! while its nonce holds, until it lands, fails, or its nonce is used by something else.

use std::str::FromStr;

use airgap_protocol::envelope::{Payload, PayloadSignature};
use serde_json::{json, Value};

use super::config::SolConfig;
use super::{
    assemble, Blockhash, MessageVersion, SolBuilder, SolRpc, SolState, SolTracker, TxOptions,
    UnsignedSolTx,
};
use crate::chain::{
    chain_err, corrupt, refused, Body, ChainAdapter, Ctx, PipelineError, Sent, VaultView,
};
use crate::lifecycle::Event;
use crate::store::Kind;
use crate::store::RequestRow;
use crate::treasury::Watch;

/// The most compute units a transaction may ask for.
const MAX_CU: u32 = 1_400_000;

/// One Solana network the pipeline builds for.
#[derive(Debug)]
pub struct SolChain {
    /// Configuration.
    pub config: SolConfig,
    /// Node client.
    pub node: SolRpc,
}

impl SolChain {
    /// The adapter for a configured network, with its node client.
    pub fn from_config(config: SolConfig) -> Result<Self, String> {
        let node = SolRpc::new(crate::rpc::RpcClient::for_chain(&config.endpoints));
        Ok(Self { config, node })
    }
}

/// The stored form of an unsigned message.
fn to_json(tx: &UnsignedSolTx) -> Value {
    json!({
        "message": hex::encode(&tx.message),
        "signers": tx.signers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "nonce_account": tx.nonce_account.map(|a| a.to_string()),
        "blockhash": tx.blockhash.to_string(),
        "last_valid_block_height": tx.last_valid_block_height,
    })
}

/// An unsigned message read back.
fn from_json(s: &str) -> Result<UnsignedSolTx, PipelineError> {
    let v: Value = serde_json::from_str(s).map_err(corrupt)?;
    let addr = |x: &Value| {
        x.as_str()
            .and_then(|a| solana_address::Address::from_str(a).ok())
            .ok_or_else(|| corrupt("Solana address"))
    };
    Ok(UnsignedSolTx {
        message: hex::decode(v["message"].as_str().unwrap_or_default()).map_err(corrupt)?,
        signers: v["signers"]
            .as_array()
            .ok_or_else(|| corrupt("signers"))?
            .iter()
            .map(addr)
            .collect::<Result<_, _>>()?,
        nonce_account: match &v["nonce_account"] {
            Value::Null => None,
            a => Some(addr(a)?),
        },
        blockhash: v["blockhash"]
            .as_str()
            .and_then(|h| solana_hash::Hash::from_str(h).ok())
            .ok_or_else(|| corrupt("blockhash"))?,
        last_valid_block_height: v["last_valid_block_height"].as_u64(),
    })
}

impl SolChain {
    fn vault(&self, ctx: &Ctx) -> Result<solana_address::Address, PipelineError> {
        let (_, pk) = ctx.station_for(&self.config.network, self.config.station.as_deref())?;
        let k: [u8; 32] = pk
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("station Solana key"))?;
        Ok(solana_address::Address::new_from_array(k))
    }

    fn unsigned(&self, ctx: &Ctx, id: &str) -> Result<UnsignedSolTx, PipelineError> {
        match ctx.store.artifact(id, Kind::Unsigned, "solana")? {
            Some(u) => from_json(&u),
            None => Err(corrupt("no transaction")),
        }
    }

    /// The final transaction: its wire bytes and signature.
    fn final_tx(&self, ctx: &Ctx, id: &str) -> Result<(Vec<u8>, String), PipelineError> {
        let f = ctx
            .store
            .artifact(id, Kind::Final, "solana")?
            .ok_or_else(|| refused("no final transaction"))?;
        let v: Value = serde_json::from_str(&f).map_err(corrupt)?;
        let wire = hex::decode(v["wire"].as_str().unwrap_or_default()).map_err(corrupt)?;
        Ok((
            wire,
            v["signature"].as_str().unwrap_or_default().to_string(),
        ))
    }

    /// `owner`'s balance of SPL `mint` (its associated token account; 0 without one).
    fn token_balance(&self, mint: &str, owner: &str) -> Result<u128, PipelineError> {
        let parse = |a: &str| {
            solana_address::Address::from_str(a)
                .map_err(|_| refused(format!("{a} is not a Solana address")))
        };
        let ata = super::build::associated_token_address(&parse(owner)?, &parse(mint)?);
        Ok(u128::from(
            self.node
                .token_balance(&ata)
                .map_err(chain_err)?
                .unwrap_or(0),
        ))
    }

    fn balance(&self, address: &str) -> Result<u128, PipelineError> {
        let a = solana_address::Address::from_str(address)
            .map_err(|_| refused(format!("{address} is not a Solana address")))?;
        Ok(u128::from(self.node.balance(&a).map_err(chain_err)?))
    }
}

impl ChainAdapter for SolChain {
    fn network(&self) -> String {
        self.config.network.clone()
    }

    fn kind(&self) -> &'static str {
        "solana"
    }

    fn build(&self, ctx: &Ctx, id: &str, body: &Body, now: u64) -> Result<Payload, PipelineError> {
        if let Some(u) = ctx.store.artifact(id, Kind::Unsigned, "solana")? {
            return self.payload(ctx, &u);
        }
        let vault = self.vault(ctx)?;
        let to = body
            .recipients()
            .map(|(to, amount)| {
                let to = solana_address::Address::from_str(to)
                    .map_err(|_| refused(format!("{to} is not a Solana address")))?;
                let amount: u64 = amount
                    .parse()
                    .map_err(|_| refused(format!("amount {amount} must fit 64 bits")))?;
                Ok((to, amount))
            })
            .collect::<Result<Vec<_>, PipelineError>>()?;
        ctx.lease(
            &format!("nonce:{}:{}", body.network, self.config.name),
            "prepare",
            now,
            10,
        )?;
        let mut used = Vec::new();
        for u in ctx.held("solana", &body.network, id, true)? {
            let v: Value = serde_json::from_str(&u).map_err(corrupt)?;
            if let Some(n) = v["nonce_account"].as_str() {
                used.push(n.to_string());
            }
        }
        let nonce = self
            .config
            .nonce_accounts
            .iter()
            .find(|n| !used.contains(n))
            .ok_or_else(|| {
                PipelineError::Chain(format!(
                    "all {} durable nonce accounts are held by requests in flight",
                    self.config.nonce_accounts.len()
                ))
            })?;
        let nonce = solana_address::Address::from_str(nonce)
            .map_err(|_| PipelineError::Unconfigured(format!("nonce account {nonce}")))?;
        let b = SolBuilder { node: &self.node };
        let info = b.nonce(&nonce).map_err(chain_err)?;
        if info.authority != vault {
            return Err(PipelineError::Unconfigured(format!(
                "nonce account {nonce} is under {}, not the vault",
                info.authority
            )));
        }
        // The configured limit is one transfer's; a batch gets it for each recipient.
        let recipients = u32::try_from(to.len()).unwrap_or(u32::MAX);
        let opts = TxOptions {
            compute_unit_limit: self
                .config
                .compute_unit_limit
                .map(|l| l.saturating_mul(recipients).min(MAX_CU)),
            compute_unit_price: self.config.compute_unit_price,
            version: MessageVersion::Legacy,
        };
        let bh = Blockhash::Nonce(info);
        let tx = if body.asset == "native" {
            b.sol_transfers(&vault, &to, &bh, opts)
        } else {
            let t = self
                .config
                .tokens
                .iter()
                .find(|t| t.mint == body.asset)
                .ok_or_else(|| refused(format!("token {} is not configured", body.asset)))?;
            let mint = solana_address::Address::from_str(&t.mint)
                .map_err(|_| PipelineError::Unconfigured(format!("mint {}", t.mint)))?;
            b.spl_transfers(&vault, (&mint, t.decimals), &to, &bh, opts)
        }
        .map_err(|e| refused(format!("cannot build: {e}")))?;
        let stored = ctx.store_unsigned(
            id,
            "solana",
            &to_json(&tx).to_string(),
            json!({"vault": vault.to_string(), "nonce_account": nonce.to_string()}),
            now,
        )?;
        self.payload(ctx, &stored)
    }

    fn payload(&self, ctx: &Ctx, unsigned: &str) -> Result<Payload, PipelineError> {
        Ok(from_json(unsigned)?.payload(&self.config.network, &self.vault(ctx)?))
    }

    fn finalise(&self, ctx: &Ctx, row: &RequestRow, now: u64) -> Result<RequestRow, PipelineError> {
        let id = row.id.as_str();
        let tx = self.unsigned(ctx, id)?;
        let sigs: Vec<([u8; 32], [u8; 64])> = ctx
            .signed_payloads(id)?
            .into_iter()
            .filter_map(|s| match s {
                PayloadSignature::Solana(s) => Some(s),
                _ => None,
            })
            .flatten()
            .collect();
        if sigs.is_empty() {
            return Ok(row.clone());
        }
        let wire = assemble(&tx, &sigs)
            .map_err(|e| refused(format!("the station's signatures cannot be used: {e}")))?;
        let signature = bs58::encode(wire.get(1..65).unwrap_or_default()).into_string();
        ctx.finalised(
            id,
            "solana",
            &json!({"wire": hex::encode(&wire), "signature": signature}).to_string(),
            json!({"signature": signature}),
            now,
        )
    }

    fn broadcast(&self, ctx: &Ctx, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let (wire, sig) = self.final_tx(ctx, id)?;
        if let Err(e) = self.node.send(&wire) {
            let known = self
                .node
                .statuses(std::slice::from_ref(&sig))
                .ok()
                .and_then(|s| s.into_iter().next().flatten())
                .is_some();
            if !known {
                return Err(chain_err(e));
            }
        }
        ctx.broadcast_done(id, json!({"signature": sig}), now)
    }

    fn sent(&self, ctx: &Ctx, id: &str) -> Result<Option<Sent>, PipelineError> {
        if ctx.store.artifact(id, Kind::Final, "solana")?.is_none() {
            return Ok(None);
        }
        let (wire, signature) = self.final_tx(ctx, id)?;
        Ok(Some(Sent {
            hash: signature,
            nonce: None,
            raw: hex::encode(wire),
        }))
    }

    fn track(&self, ctx: &Ctx, row: RequestRow, now: u64) -> Result<RequestRow, PipelineError> {
        let id = row.id.as_str();
        let tx = self.unsigned(ctx, id)?;
        let (wire, _) = self.final_tx(ctx, id)?;
        let t = SolTracker::new(&tx, &wire, &self.config.commitment);
        let event = match t.poll(&self.node).map_err(chain_err)? {
            SolState::Landed { slot } => Some((Event::Confirmed, json!({"slot": slot}))),
            SolState::Failed { err } => Some((Event::Failed, json!({"runtime_error": err}))),
            SolState::NonceAdvanced => Some((
                Event::Failed,
                json!({"nonce_advanced": "another transaction used the durable nonce"}),
            )),
            SolState::NotFound => {
                // The same bytes again: its nonce is still valid, it lands once.
                self.node.send(&wire).map_err(chain_err)?;
                None
            }
            SolState::Processing { .. } => None,
        };
        ctx.tracked(row, event, now)
    }

    fn vault_address(&self, ctx: &Ctx) -> Result<String, PipelineError> {
        Ok(self.vault(ctx)?.to_string())
    }

    fn vault_view(&self, ctx: &Ctx) -> VaultView {
        let address = self.vault_address(ctx);
        let balance = crate::chain::balance_at(&address, |a| self.balance(a));
        let tokens: Vec<Value> = self
            .config
            .tokens
            .iter()
            .map(|t| {
                let what = json!({"mint": t.mint, "decimals": t.decimals});
                let balance =
                    crate::chain::balance_at(&address, |a| self.token_balance(&t.mint, a));
                crate::chain::token_view(what, balance)
            })
            .collect();
        VaultView {
            network: self.config.network.clone(),
            name: self.config.name.clone(),
            unit: "lamport",
            address,
            balance,
            detail: json!({"nonce_accounts": self.config.nonce_accounts, "tokens": tokens}),
        }
    }

    fn watched_balance(&self, _ctx: &Ctx, w: &Watch) -> Result<u128, PipelineError> {
        match w.asset.as_str() {
            "native" => self.balance(&w.address),
            mint => self.token_balance(mint, &w.address),
        }
    }

    fn check_watch(&self, w: &Watch) -> Result<(), String> {
        if w.descriptor.is_some() {
            return Err(format!(
                "watch {}: a descriptor is for Bitcoin watches",
                w.address
            ));
        }
        if w.asset != "native" && !self.config.tokens.iter().any(|t| t.mint == w.asset) {
            return Err(format!(
                "watch {}: token {} is not configured for {}",
                w.address, w.asset, self.config.network
            ));
        }
        Ok(())
    }
}
