//! Chain sources: the Esplora HTTP API and Bitcoin Core's JSON-RPC, each over several
//! endpoints with failover; block sync into a vault with reorg handling; confirmation
//! tracking that notices when a confirming block stops being canonical.

use std::time::Duration;

use bdk_wallet::bitcoin::consensus::encode::{deserialize, serialize_hex};
use bdk_wallet::bitcoin::{Block, BlockHash, FeeRate, Transaction, Txid};
use serde::Deserialize;
use serde_json::json;

use super::Vault;
use crate::rpc::{agent, Attempt, Breaker, Pool, RpcClient, RpcError, MAX_ANSWER_BYTES};

/// Why the chain could not be asked.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// Nobody answered.
    #[error("{what}: no endpoint answered ({})", .failures.join("; "))]
    Unreachable {
        /// Request.
        what: String,
        /// Each endpoint's failure.
        failures: Vec<String>,
    },
    /// The source answered with an error (a rejected transaction, …).
    #[error("{what}: {message}")]
    Rejected {
        /// Request.
        what: String,
        /// The source's words.
        message: String,
    },
    /// An answer of the wrong shape.
    #[error("{what}: unexpected answer: {reason}")]
    BadAnswer {
        /// Request.
        what: String,
        /// Why.
        reason: String,
    },
    /// The vault refused a block.
    #[error(transparent)]
    Vault(#[from] super::BuildError),
}

impl From<RpcError> for ChainError {
    fn from(e: RpcError) -> Self {
        match e {
            RpcError::Node {
                method, message, ..
            } => Self::Rejected {
                what: method,
                message,
            },
            RpcError::Unreachable { method, failures } => Self::Unreachable {
                what: method,
                failures,
            },
            RpcError::BadAnswer { method, reason } => Self::BadAnswer {
                what: method,
                reason,
            },
        }
    }
}

/// A transaction's place in the chain as a source reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TxStatus {
    /// In a block.
    pub confirmed: bool,
    /// Block height and hash when confirmed.
    pub block: Option<(u32, BlockHash)>,
}

/// What the coordinator needs of a Bitcoin chain.
pub trait ChainSource {
    /// Height of the tip.
    fn tip_height(&self) -> Result<u32, ChainError>;
    /// Hash of the block at `height` (`None` above the tip).
    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError>;
    /// A block.
    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError>;
    /// Fee rate for confirmation within `target` blocks.
    fn fee_rate(&self, target: u16) -> Result<FeeRate, ChainError>;
    /// Broadcasts; returns the txid the source reports.
    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError>;
    /// Where a transaction is (`None`: unknown to the source).
    fn status(&self, txid: &Txid) -> Result<Option<TxStatus>, ChainError>;
}

fn bad(what: &str, reason: impl ToString) -> ChainError {
    ChainError::BadAnswer {
        what: what.into(),
        reason: reason.to_string(),
    }
}

fn fee_rate_of(what: &str, sat_per_vb: f64) -> Result<FeeRate, ChainError> {
    if !sat_per_vb.is_finite() || !(0.0..=100_000.0).contains(&sat_per_vb) {
        return Err(bad(what, format!("fee rate {sat_per_vb} sat/vB")));
    }
    // sat/kwu = sat/vB × 250, rounded up: never under the source's estimate.
    Ok(FeeRate::from_sat_per_kwu((sat_per_vb * 250.0).ceil() as u64))
}

/// The Esplora HTTP API over several base URLs (e.g. `https://host/api`).
#[derive(Debug)]
pub struct Esplora {
    pool: Pool,
    agent: ureq::Agent,
}

enum Body<'a> {
    None,
    Text(&'a str),
}

impl Esplora {
    /// Over `bases`, tried in order.
    pub fn new(bases: &[String], timeout: Duration, breaker: Breaker) -> Self {
        Self {
            pool: Pool::new(bases, breaker),
            agent: agent(timeout),
        }
    }

    /// Endpoint health.
    pub fn health(&self) -> Vec<crate::rpc::EndpointHealth> {
        self.pool.health()
    }

    /// GET or POST `path`; `Ok(None)` on 404.
    fn request(&self, path: &str, body: Body<'_>) -> Result<Option<Vec<u8>>, ChainError> {
        let r = self.pool.try_each(|base| {
            let url = format!("{base}{path}");
            let sent = match body {
                Body::None => self.agent.get(&url).call(),
                Body::Text(t) => self
                    .agent
                    .post(&url)
                    .header("content-type", "text/plain")
                    .send(t),
            };
            let mut resp = match sent {
                Ok(r) => r,
                Err(e) => return Attempt::Transport(e.to_string()),
            };
            let status = resp.status().as_u16();
            let bytes = match resp
                .body_mut()
                .with_config()
                .limit(MAX_ANSWER_BYTES)
                .read_to_vec()
            {
                Ok(b) => b,
                Err(e) => return Attempt::Transport(e.to_string()),
            };
            match status {
                200 => Attempt::Answer(Ok(Some(bytes))),
                404 => Attempt::Answer(Ok(None)),
                // A 400 is the source's judgement (a bad transaction): an answer.
                400 => Attempt::Answer(Err(ChainError::Rejected {
                    what: path.into(),
                    message: String::from_utf8_lossy(&bytes).chars().take(500).collect(),
                })),
                s => Attempt::Transport(format!("HTTP {s}")),
            }
        });
        match r {
            Ok(r) => r,
            Err(failures) => Err(ChainError::Unreachable {
                what: path.into(),
                failures,
            }),
        }
    }

    fn text(&self, path: &str) -> Result<Option<String>, ChainError> {
        self.request(path, Body::None)?
            .map(|b| {
                String::from_utf8(b)
                    .map(|s| s.trim().to_string())
                    .map_err(|e| bad(path, e))
            })
            .transpose()
    }

    fn json<T: for<'de> Deserialize<'de>>(&self, path: &str) -> Result<Option<T>, ChainError> {
        self.request(path, Body::None)?
            .map(|b| serde_json::from_slice(&b).map_err(|e| bad(path, e)))
            .transpose()
    }
}

impl ChainSource for Esplora {
    fn tip_height(&self) -> Result<u32, ChainError> {
        let p = "/blocks/tip/height";
        self.text(p)?
            .ok_or_else(|| bad(p, "not found"))?
            .parse()
            .map_err(|e| bad(p, e))
    }

    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        let p = format!("/block-height/{height}");
        self.text(&p)?
            .map(|s| s.parse().map_err(|e| bad(&p, e)))
            .transpose()
    }

    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        let p = format!("/block/{hash}/raw");
        let raw = self
            .request(&p, Body::None)?
            .ok_or_else(|| bad(&p, "not found"))?;
        let block: Block = deserialize(&raw).map_err(|e| bad(&p, e))?;
        if block.block_hash() != *hash {
            return Err(bad(&p, "a block with another hash"));
        }
        if !block.check_merkle_root() {
            return Err(bad(&p, "merkle root does not match the transactions"));
        }
        Ok(block)
    }

    fn fee_rate(&self, target: u16) -> Result<FeeRate, ChainError> {
        let p = "/fee-estimates";
        let m: std::collections::BTreeMap<String, f64> =
            self.json(p)?.ok_or_else(|| bad(p, "not found"))?;
        // The estimate for the largest target not above ours (or the fastest there is).
        let mut best: Option<(u16, f64)> = None;
        for (k, v) in &m {
            let Ok(t) = k.parse::<u16>() else { continue };
            if t <= target && best.is_none_or(|(bt, _)| t > bt) {
                best = Some((t, *v));
            }
        }
        let rate = best
            .map(|(_, v)| v)
            .or_else(|| m.values().copied().reduce(f64::max))
            .ok_or_else(|| bad(p, "no estimates"))?;
        fee_rate_of(p, rate)
    }

    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        let p = "/tx";
        let hex = serialize_hex(tx);
        let out = self
            .request(p, Body::Text(&hex))?
            .ok_or_else(|| bad(p, "not found"))?;
        String::from_utf8_lossy(&out)
            .trim()
            .parse()
            .map_err(|e| bad(p, e))
    }

    fn status(&self, txid: &Txid) -> Result<Option<TxStatus>, ChainError> {
        #[derive(Deserialize)]
        struct S {
            confirmed: bool,
            block_height: Option<u32>,
            block_hash: Option<BlockHash>,
        }
        let p = format!("/tx/{txid}/status");
        let Some(s) = self.json::<S>(&p)? else {
            return Ok(None);
        };
        // Esplora answers an unknown txid with 404; a known one unconfirmed has no block.
        Ok(Some(TxStatus {
            confirmed: s.confirmed,
            block: match (s.confirmed, s.block_height, s.block_hash) {
                (true, Some(h), Some(b)) => Some((h, b)),
                (true, _, _) => return Err(bad(&p, "confirmed without a block")),
                _ => None,
            },
        }))
    }
}

/// Bitcoin Core's JSON-RPC over several endpoints.
#[derive(Debug)]
pub struct CoreRpc {
    /// The client.
    pub rpc: RpcClient,
}

impl ChainSource for CoreRpc {
    fn tip_height(&self) -> Result<u32, ChainError> {
        Ok(self.rpc.call("getblockcount", json!([]))?)
    }

    fn block_hash(&self, height: u32) -> Result<Option<BlockHash>, ChainError> {
        match self.rpc.call::<BlockHash>("getblockhash", json!([height])) {
            Ok(h) => Ok(Some(h)),
            // -8: block height out of range.
            Err(RpcError::Node { code: -8, .. }) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    fn block(&self, hash: &BlockHash) -> Result<Block, ChainError> {
        let hex: String = self.rpc.call("getblock", json!([hash, 0]))?;
        let raw = hex::decode(&hex).map_err(|e| bad("getblock", e))?;
        let block: Block = deserialize(&raw).map_err(|e| bad("getblock", e))?;
        if block.block_hash() != *hash || !block.check_merkle_root() {
            return Err(bad(
                "getblock",
                "block does not match its hash or merkle root",
            ));
        }
        Ok(block)
    }

    fn fee_rate(&self, target: u16) -> Result<FeeRate, ChainError> {
        #[derive(Deserialize)]
        struct E {
            feerate: Option<f64>,
        }
        let e: E = self.rpc.call("estimatesmartfee", json!([target]))?;
        let btc_per_kvb = e
            .feerate
            .ok_or_else(|| bad("estimatesmartfee", "no estimate"))?;
        // BTC/kvB → sat/vB.
        fee_rate_of("estimatesmartfee", btc_per_kvb * 100_000.0)
    }

    fn broadcast(&self, tx: &Transaction) -> Result<Txid, ChainError> {
        Ok(self
            .rpc
            .call("sendrawtransaction", json!([serialize_hex(tx)]))?)
    }

    fn status(&self, txid: &Txid) -> Result<Option<TxStatus>, ChainError> {
        #[derive(Deserialize)]
        struct T {
            blockhash: Option<BlockHash>,
        }
        let t: T = match self.rpc.call("getrawtransaction", json!([txid, true])) {
            Ok(t) => t,
            // -5: no such transaction.
            Err(RpcError::Node { code: -5, .. }) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(hash) = t.blockhash else {
            return Ok(Some(TxStatus {
                confirmed: false,
                block: None,
            }));
        };
        #[derive(Deserialize)]
        struct H {
            height: u32,
        }
        let h: H = self.rpc.call("getblockheader", json!([hash, true]))?;
        Ok(Some(TxStatus {
            confirmed: true,
            block: Some((h.height, hash)),
        }))
    }
}

/// Brings `vault` up to the source's tip. When the source's chain no longer contains the
/// vault's tip (a reorg), steps back to the fork point and applies the new branch.
/// Returns how many blocks were applied.
pub fn sync(vault: &mut Vault, source: &dyn ChainSource) -> Result<u32, ChainError> {
    let tip = source.tip_height()?;
    let mut from = vault.tip().0;
    // Walk back until the vault's block at `from` is the source's.
    loop {
        if from == 0 {
            break;
        }
        let ours = vault.block_at(from);
        if ours.is_some() && source.block_hash(from)? == ours {
            break;
        }
        from -= 1;
    }
    let mut applied = 0;
    for h in from + 1..=tip {
        let hash = source
            .block_hash(h)?
            .ok_or_else(|| bad("block-height", format!("no block at {h} below tip {tip}")))?;
        let block = source.block(&hash)?;
        vault.apply_block(&block, h)?;
        applied += 1;
    }
    Ok(applied)
}

/// Where a broadcast transaction stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Known, not in a block.
    Pending,
    /// Not known to the source (re-broadcast the same transaction).
    Unknown,
    /// In the canonical chain with this many confirmations.
    Confirmed {
        /// Block height.
        height: u32,
        /// Confirmations.
        confirmations: u32,
    },
    /// Its block is no longer canonical: back to pending; operators are alerted.
    Reorged {
        /// The height it had.
        was_height: u32,
    },
}

/// Tracks one transaction's confirmations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmationTracker {
    /// The transaction.
    pub txid: Txid,
    seen: Option<(u32, BlockHash)>,
}

impl ConfirmationTracker {
    /// Tracks `txid`.
    pub fn new(txid: Txid) -> Self {
        Self { txid, seen: None }
    }

    /// The block (height, hash) it was last seen in.
    pub fn seen(&self) -> Option<(u32, BlockHash)> {
        self.seen
    }

    /// Asks the source.
    pub fn poll(&mut self, source: &dyn ChainSource) -> Result<Confirmation, ChainError> {
        if let Some((h, hash)) = self.seen {
            if source.block_hash(h)? != Some(hash) {
                self.seen = None;
                return Ok(Confirmation::Reorged { was_height: h });
            }
        }
        match source.status(&self.txid)? {
            None => Ok(Confirmation::Unknown),
            Some(TxStatus { block: None, .. }) => Ok(Confirmation::Pending),
            Some(TxStatus {
                block: Some((h, hash)),
                ..
            }) => {
                if source.block_hash(h)? != Some(hash) {
                    return Ok(Confirmation::Pending);
                }
                self.seen = Some((h, hash));
                let tip = source.tip_height()?;
                Ok(Confirmation::Confirmed {
                    height: h,
                    confirmations: tip.saturating_sub(h) + 1,
                })
            }
        }
    }
}
