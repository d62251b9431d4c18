//! What the request lifecycle needs of a chain ([`ChainAdapter`]) and the shared context
//! an adapter may use ([`Ctx`]): storage, this replica's name for leases, the registered
//! stations, what other requests hold, and the crash points of the resume tests. An
//! adapter never imports the pipeline; the pipeline dispatches to adapters by network.
//!
//! A fourth chain is one folder of the shape of `evm/`, `bitcoin/` and `solana/`
//! (`config.rs`, `adapter.rs` with `from_config`, its builder and finisher), its table
//! in `service.rs`'s `ChainsFile` and its line in the list of adapters there, and its
//! address check in `requests/validate.rs` (docs/ARCHITECTURE.md lists every file).

use std::sync::Arc;

use airgap_protocol::envelope::{Payload, PayloadSignature, SignResponse, StationDescriptor};
use serde_json::{json, Value};

use crate::lifecycle::{Event, State};
use crate::store::Kind;
use crate::store::{RequestRow, Store, StoreError};
use crate::treasury::Watch;

/// Why a step did not happen.
#[derive(Debug, thiserror::Error)]
pub enum PipelineError {
    /// Storage.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The caller's input or the request's state does not allow it (a 4xx).
    #[error("{0}")]
    Refused(String),
    /// The request's state does not allow it (a 409).
    #[error("{0}")]
    WrongState(String),
    /// Another replica holds the step's lease; try again shortly.
    #[error("another coordinator is running this step")]
    Busy,
    /// The chain's node failed or refused (the step stays where it was).
    #[error("chain: {0}")]
    Chain(String),
    /// This installation is not configured for it.
    #[error("not configured: {0}")]
    Unconfigured(String),
    /// Stored data contradicts what was approved (a 409; recorded in the audit chain).
    #[error("{0}")]
    Tampered(String),
    /// Something stored cannot be read back (never expected: storage was edited).
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
}

/// A refusal of the caller's input.
pub fn refused(s: impl Into<String>) -> PipelineError {
    PipelineError::Refused(s.into())
}

/// Stored data that cannot be read back.
pub fn corrupt(s: impl std::fmt::Display) -> PipelineError {
    PipelineError::Corrupt(s.to_string())
}

/// A chain node's failure.
pub fn chain_err(s: impl std::fmt::Display) -> PipelineError {
    PipelineError::Chain(s.to_string())
}

/// A registered station.
#[derive(Debug, Clone)]
pub struct RegisteredStation {
    /// Its descriptor (verified when registered).
    pub descriptor: StationDescriptor,
    /// Its USB bundle public keys (`keys.pub` text), when it takes bundles.
    pub usb_keys: Option<String>,
}

/// A request's fields the pipeline reads: the body as the API took it and the store
/// keeps it (one type for both, so what was asked is what is built).
pub type Body = crate::requests::CreateRequest;

/// A vault as `GET /v1/vaults` shows it.
#[derive(Debug)]
pub struct VaultView {
    /// Network.
    pub network: String,
    /// Name.
    pub name: String,
    /// Base unit of the balance.
    pub unit: &'static str,
    /// Receiving address (or why it is unknown).
    pub address: Result<String, PipelineError>,
    /// Spendable balance, base units (or why it is unknown).
    pub balance: Result<u128, PipelineError>,
    /// Chain-specific facts (threshold and stations, nonce accounts …).
    pub detail: Value,
}

/// A balance read at `address` with `read` (or why it is unknown: the address is).
pub fn balance_at(
    address: &Result<String, PipelineError>,
    read: impl FnOnce(&str) -> Result<u128, PipelineError>,
) -> Result<u128, PipelineError> {
    match address {
        Ok(a) => read(a),
        Err(e) => Err(refused(e.to_string())),
    }
}

/// A token of a vault as `GET /v1/vaults` shows it: `what` it is, with its balance in
/// base units or why that is unknown.
pub fn token_view(mut what: Value, balance: Result<u128, PipelineError>) -> Value {
    what["balance"] = json!(balance.as_ref().ok().map(u128::to_string));
    what["error"] = json!(balance.err().map(|e| e.to_string()));
    what
}

/// A final transaction: its hash as the chain's explorers show it, and its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// Transaction hash (EVM), txid (Bitcoin) or first signature (Solana).
    pub hash: String,
    /// The sender's nonce, where the chain has one.
    pub nonce: Option<u64>,
    /// The signed transaction as sent to the node, hex.
    pub raw: String,
}

/// What adapters share: storage, this replica's name, and the fault-injection point.
#[derive(derive_more::Debug, Clone)]
pub struct Ctx {
    /// Storage.
    #[debug(skip)]
    pub store: Arc<dyn Store>,
    /// This replica's name, for leases.
    pub owner: String,
    /// Fault injection for the crash-resume tests (never set in production): the process
    /// aborts right after this step.
    pub crash_after: Option<String>,
}

impl Ctx {
    /// Aborts the process after `step` when the resume tests ask for it.
    pub fn crash_point(&self, step: &str) {
        if self.crash_after.as_deref() == Some(step) {
            eprintln!("fault injection: aborting after {step}");
            std::process::abort();
        }
    }

    /// A request by id.
    pub fn row(&self, id: &str) -> Result<RequestRow, PipelineError> {
        self.store
            .get(id)?
            .ok_or_else(|| PipelineError::Store(StoreError::NotFound(id.into())))
    }

    /// Claims a lease for this replica; `Busy` when another holds it.
    pub fn lease(&self, key: &str, step: &str, now: u64, secs: u64) -> Result<(), PipelineError> {
        if self.store.claim(key, step, &self.owner, now, secs)? {
            Ok(())
        } else {
            Err(PipelineError::Busy)
        }
    }

    /// Registered stations by name.
    pub fn stations(&self) -> Result<Vec<(String, RegisteredStation)>, PipelineError> {
        self.store
            .artifacts("", Kind::Station)?
            .into_iter()
            .map(|(name, v)| {
                let v: Value = serde_json::from_str(&v).map_err(corrupt)?;
                let cbor = v["descriptor"]
                    .as_str()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| corrupt("station descriptor"))?;
                let descriptor = StationDescriptor::from_cbor(&cbor).map_err(corrupt)?;
                descriptor.verify().map_err(corrupt)?;
                let usb_keys = v["usb_keys"].as_str().map(String::from);
                Ok((
                    name,
                    RegisteredStation {
                        descriptor,
                        usb_keys,
                    },
                ))
            })
            .collect()
    }

    /// The station holding the vault key for `network`: the one named, or else the only
    /// registered station with a key for it. Stations hold one Bitcoin and one Solana key
    /// per network (one EVM key for every chain id): the key is the one for `network`.
    pub fn station_for(
        &self,
        network: &str,
        named: Option<&str>,
    ) -> Result<(String, Vec<u8>), PipelineError> {
        let net = airgap_protocol::network::Network::parse(network)
            .map_err(|e| PipelineError::Unconfigured(e.to_string()))?;
        let holders: Vec<(String, Vec<u8>)> = self
            .stations()?
            .into_iter()
            .filter(|(n, _)| named.is_none_or(|want| want == n))
            .filter_map(|(n, s)| s.descriptor.key_for(net).map(|k| (n, k.public_key.clone())))
            .collect();
        match holders.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(PipelineError::Unconfigured(format!(
                "no registered station holds a key for {net}"
            ))),
            _ => Err(PipelineError::Unconfigured(format!(
                "{} registered stations hold keys for {net}; name the vault's station in the chains file",
                holders.len()
            ))),
        }
    }

    /// The `unsigned/<kind>` artifacts of the other requests on `network` that may still
    /// reach the chain: every request not ended, and ended ones that were exported (a
    /// station may have signed them) unless the stations answered with refusals only (no
    /// signature exists, so its nonce and coins are free: the next request takes them,
    /// and a station that did sign would refuse that one, never sign both). A confirmed
    /// request holds nothing any more (its nonce is used, its coins spent); with
    /// `failed_frees`, neither does a failed one (a Solana durable nonce that advanced
    /// or was never used).
    pub fn held(
        &self,
        kind: &str,
        network: &str,
        except: &str,
        failed_frees: bool,
    ) -> Result<Vec<String>, PipelineError> {
        use State as S;
        let mut out = Vec::new();
        // Every state a request that got this far can be in: live, or ended.
        let ended = [S::Failed, S::Cancelled, S::Expired, S::Rejected];
        for state in S::LIVE
            .into_iter()
            .filter(|s| *s != S::ManualReview)
            .chain(ended)
        {
            if failed_frees && state == S::Failed {
                continue;
            }
            for row in self.store.in_state(state, Some(network))? {
                if row.id == except {
                    continue;
                }
                let Some(u) = self.store.artifact(&row.id, Kind::Unsigned, kind)? else {
                    continue;
                };
                let ended = state.is_final();
                if ended
                    && (self
                        .store
                        .artifact(&row.id, Kind::Export, "request")?
                        .is_none()
                        || self.refused_only(&row.id)?)
                {
                    continue;
                }
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Whether every station that answered request `id` refused it (at least one did).
    pub fn refused_only(&self, id: &str) -> Result<bool, PipelineError> {
        use airgap_protocol::envelope::Outcome;
        let answers = self.store.artifacts(id, Kind::Response)?;
        let mut refused = false;
        for (_, h) in answers {
            let resp =
                SignResponse::from_cbor(&hex::decode(&h).map_err(corrupt)?).map_err(corrupt)?;
            match resp.outcome {
                Outcome::Signed(_) => return Ok(false),
                Outcome::Refused { .. } => refused = true,
            }
        }
        Ok(refused)
    }

    /// Stores `value` as the request's `unsigned/<kind>` artifact and reads back what is
    /// stored (a replica that lost a race stored nothing: the winner's comes back).
    pub fn store_unsigned(
        &self,
        id: &str,
        kind: &str,
        value: &str,
        detail: Value,
        now: u64,
    ) -> Result<String, PipelineError> {
        self.store
            .put_artifact(id, Kind::Unsigned, kind, value, "coordinator", detail, now)?;
        self.store
            .artifact(id, Kind::Unsigned, kind)?
            .ok_or_else(|| corrupt("transaction vanished"))
    }

    /// The payload signatures of every station response that signed.
    pub fn signed_payloads(&self, id: &str) -> Result<Vec<PayloadSignature>, PipelineError> {
        let mut out = Vec::new();
        for (_, h) in self.store.artifacts(id, Kind::Response)? {
            let resp =
                SignResponse::from_cbor(&hex::decode(&h).map_err(corrupt)?).map_err(corrupt)?;
            if let airgap_protocol::envelope::Outcome::Signed(sigs) = resp.outcome {
                out.extend(sigs);
            }
        }
        Ok(out)
    }

    /// Records the final transaction (`final/<kind>`) and moves the request through
    /// fully signed to finalised.
    pub fn finalised(
        &self,
        id: &str,
        kind: &str,
        value: &str,
        detail: Value,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        self.store.put_artifact(
            id,
            Kind::Final,
            kind,
            value,
            "coordinator",
            detail.clone(),
            now,
        )?;
        self.store
            .transition(id, Event::FullySigned, "coordinator", json!({}), now)?;
        self.moved(id, (Event::Finalised, detail), now, "finalised")
    }

    /// The node has the transaction: the request is broadcast.
    pub fn broadcast_done(
        &self,
        id: &str,
        detail: Value,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        self.crash_point("sent");
        self.moved(id, (Event::Broadcast, detail), now, "broadcast")
    }

    /// Ends or leaves a tracked request: `Some((event, detail))` moves it on.
    pub fn tracked(
        &self,
        row: RequestRow,
        event: Option<(Event, Value)>,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        match event {
            Some(e) => self.moved(&row.id, e, now, "tracked"),
            None => Ok(row),
        }
    }

    /// The coordinator moves request `id` on with `event`, then passes crash point
    /// `point` (crash-resume tests).
    fn moved(
        &self,
        id: &str,
        (event, detail): (Event, Value),
        now: u64,
        point: &str,
    ) -> Result<RequestRow, PipelineError> {
        let row = self
            .store
            .transition(id, event, "coordinator", detail, now)?;
        self.crash_point(point);
        Ok(row)
    }
}

/// A confirmed transaction seen again.
#[derive(Debug, Clone, PartialEq)]
pub enum Recheck {
    /// Still in its block, not yet deep enough to stop looking.
    Holds,
    /// Deep enough (or a chain whose confirmations are final): no longer watched.
    Settled,
    /// Its block is no longer in the chain: what was seen, for the alert.
    Reorged(Value),
}

/// How many blocks deep a confirmed transaction is watched for reorgs: four times the
/// confirmations asked for, and at least 24 blocks.
pub fn watch_depth(confirmations: u64) -> u64 {
    confirmations.saturating_mul(4).max(24)
}

/// One network the pipeline builds for, finalises, broadcasts and tracks.
pub trait ChainAdapter: Send + Sync + std::fmt::Debug {
    /// The request network it serves (`evm:1`, `regtest`, `solana:devnet` …).
    fn network(&self) -> String;

    /// The artifact kind of its transactions (`evm`, `bitcoin`, `solana`).
    fn kind(&self) -> &'static str;

    /// Builds the request's unsigned transaction once (stored as `unsigned/<kind>`) and
    /// returns the payload the station signs; later calls return the stored one's.
    fn build(&self, ctx: &Ctx, id: &str, body: &Body, now: u64) -> Result<Payload, PipelineError>;

    /// The payload of a stored unsigned transaction (what export compares with the
    /// envelope the approvers signed).
    fn payload(&self, ctx: &Ctx, unsigned: &str) -> Result<Payload, PipelineError>;

    /// The stored unsigned transaction as approvers see it (JSON; by default as stored).
    fn describe(&self, unsigned: &str) -> Result<Value, PipelineError> {
        serde_json::from_str(unsigned).map_err(corrupt)
    }

    /// Builds the final transaction of `row` from the stored responses (idempotent): a
    /// request with too few signatures stays (or becomes partially signed).
    fn finalise(&self, ctx: &Ctx, row: &RequestRow, now: u64) -> Result<RequestRow, PipelineError>;

    /// Sends the final transaction. A node that already has it counts as sent.
    fn broadcast(&self, ctx: &Ctx, id: &str, now: u64) -> Result<RequestRow, PipelineError>;

    /// The final transaction as `GET /v1/requests/{id}/chain` shows it, once there is one.
    fn sent(&self, ctx: &Ctx, id: &str) -> Result<Option<Sent>, PipelineError>;

    /// Follows the broadcast transaction of `row` to its confirmations.
    fn track(&self, ctx: &Ctx, row: RequestRow, now: u64) -> Result<RequestRow, PipelineError>;

    /// Whether request `id`'s confirmed transaction is still in the block it was
    /// confirmed in (`confirmed`: the detail its confirmation recorded). By default a
    /// confirmation is final.
    fn recheck(&self, _ctx: &Ctx, _id: &str, _confirmed: &Value) -> Result<Recheck, PipelineError> {
        Ok(Recheck::Settled)
    }

    /// The vault's receiving address.
    fn vault_address(&self, ctx: &Ctx) -> Result<String, PipelineError>;

    /// The vault as `GET /v1/vaults` shows it (address and balance read now).
    fn vault_view(&self, ctx: &Ctx) -> VaultView;

    /// The balance a watch sees, base units.
    fn watched_balance(&self, ctx: &Ctx, w: &Watch) -> Result<u128, PipelineError>;

    /// Checks a watch of this network when the service starts. An account chain watches
    /// an address; a descriptor is for Bitcoin watches.
    fn check_watch(&self, w: &Watch) -> Result<(), String> {
        match &w.descriptor {
            Some(_) => Err(format!(
                "watch {} on {}: a descriptor is for Bitcoin watches",
                w.address, w.network
            )),
            None => Ok(()),
        }
    }

    /// A hardware-wallet cosigner's signed transaction, where the chain has cosigners.
    fn import_cosigner(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _signed: &[u8],
        _actor: &str,
        _now: u64,
    ) -> Result<(), PipelineError> {
        Err(refused(
            "a cosigner's signed transaction is for a Bitcoin vault with cosigners",
        ))
    }

    /// The Bitcoin vault, for the Bitcoin-only routes (deposits, sweeps, BBQr export).
    fn as_bitcoin(&self) -> Option<&crate::bitcoin::BtcChain> {
        None
    }
}
