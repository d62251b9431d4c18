//! The signing pipeline: a request that passed risk becomes a transaction, collects its
//! approvals, crosses the air gap, comes back signed, and is finalised, broadcast and
//! confirmed — each step recorded before the next starts, so a crash at any point
//! resumes without losing a signature or broadcasting twice.
//!
//! Everything a step produces is a write-once artifact of the request (stored with its
//! audit row in one transaction): `unsigned` (the built transaction), `envelope` (the
//! request approvers sign), `approval/<principal>`, `export` (the envelope with the
//! approvals, signed by the coordinator key), `response/<station>`, `final` (the
//! transaction to broadcast). A step that finds its artifact already stored only moves
//! the state on; one that finds another value refuses.
//!
//! This module is the lifecycle only (the installation's stations and approvers are in
//! `installation.rs`, watches and deposit pools in `treasury/`); what differs per chain
//! is a [`ChainAdapter`]
//! (`evm/adapter.rs`, `bitcoin/adapter.rs`, `solana/adapter.rs`) registered at start-up
//! and found by the request's network. `export.rs`, `import.rs` and `worker.rs` hold the
//! later steps.

mod export;
mod import;
mod reorg;
mod worker;

use std::sync::{Arc, Mutex};

use airgap_protocol::approval::{ApprovalSignature, ApproverKey};
use airgap_protocol::envelope::{KeyId, Purpose as EnvPurpose, SignRequest};
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

use crate::chain::{corrupt, refused, Body, ChainAdapter, Ctx};
pub use crate::chain::{PipelineError, RegisteredStation, Sent, VaultView};
use crate::lifecycle::{Event, State};
use crate::store::Kind;
use crate::store::{RequestRow, Store};
use crate::treasury::{Deposits, Watch};

/// The pipeline's configuration and connections.
pub struct Pipeline {
    /// What adapters share: storage, this replica's name, fault injection.
    pub ctx: Ctx,
    /// The coordinator request key (stations trust its public half).
    pub key: Option<SigningKey>,
    /// USB bundle keys of the coordinator.
    pub usb: Option<usb_transfer::keyfile::KeyPair>,
    adapters: Vec<Arc<dyn ChainAdapter>>,
    /// Watched warm wallets.
    pub watches: Vec<Watch>,
    /// Deposit address pools.
    pub deposits: Vec<Arc<Deposits>>,
    pub(crate) last_watch: Mutex<std::collections::HashMap<String, u64>>,
    /// Confirmed requests still watched for reorgs (`None` until read from the store
    /// after a start).
    confirmed: Mutex<Option<std::collections::BTreeSet<String>>>,
    /// When they were last looked at (Unix seconds).
    confirmed_checked: Mutex<u64>,
    /// Why the last build of a request failed (shown until it succeeds).
    build_errors: Mutex<std::collections::HashMap<String, String>>,
    /// Requests a step of this process is working on (leases exclude other replicas;
    /// this excludes the worker and a handler of the same process).
    held: Arc<Holds>,
    /// Distinct approvers a request needs before export.
    pub approvals_required: usize,
    /// How long an envelope stays valid, seconds.
    pub validity_secs: u64,
    /// Whether stations on MockHsm may be registered (demo and tests only).
    pub allow_mock_hsm: bool,
    /// Set on shutdown: the worker stops at the next step boundary.
    pub stopping: std::sync::atomic::AtomicBool,
    /// Set when a station's response was stored: the worker reconciles the stations'
    /// HSM logs, ledgers and requests again (set at start, too).
    pub reconcile_due: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("adapters", &self.adapters)
            .field("approvals_required", &self.approvals_required)
            .field("owner", &self.ctx.owner)
            .finish_non_exhaustive()
    }
}

/// The requests steps of this process hold, and a signal when one is let go.
#[derive(Default)]
struct Holds {
    ids: Mutex<std::collections::HashSet<String>>,
    freed: std::sync::Condvar,
}

/// A request held by a step of this process, released when dropped.
struct Held {
    holds: Arc<Holds>,
    id: String,
}

impl Drop for Held {
    fn drop(&mut self) {
        self.holds
            .ids
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
        self.holds.freed.notify_all();
    }
}

/// What approvers see before they sign.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct EnvelopeView {
    /// The request as the station will receive it (`strongroom-request` CBOR, hex, its
    /// approvals not yet in it): approvers decode it and compute the digest themselves.
    pub request: String,
    /// The digest approvers sign (hex), with the domain `strongroom/approval/v1`.
    pub digest: String,
    /// Expiry of the envelope, Unix seconds.
    pub expires: u64,
    /// Every payload as the station's decoders read it (for display).
    pub decoded: Vec<crate::requests::decoded::DecodedPayload>,
    /// The built transaction, as its chain describes it.
    #[schema(value_type = Object)]
    pub transaction: Value,
    /// Who approved so far.
    pub approvals: Vec<String>,
    /// How many are needed.
    pub approvals_required: usize,
}

fn uuid_bytes(id: &str) -> Result<[u8; 16], PipelineError> {
    let hexed: String = id.chars().filter(|c| *c != '-').collect();
    hex::decode(&hexed)
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| corrupt(format!("request id {id:?}")))
}

fn decode_request(h: &str) -> Result<SignRequest, PipelineError> {
    SignRequest::from_cbor(&hex::decode(h).map_err(corrupt)?).map_err(corrupt)
}

impl Pipeline {
    /// A pipeline with nothing wired: no key, no chains, one approval.
    pub fn unconfigured(store: Arc<dyn Store>) -> Self {
        Self {
            ctx: Ctx {
                store,
                owner: "coordinator".into(),
                crash_after: None,
            },
            key: None,
            usb: None,
            adapters: Vec::new(),
            watches: Vec::new(),
            deposits: Vec::new(),
            last_watch: Mutex::default(),
            confirmed: Mutex::default(),
            confirmed_checked: Mutex::default(),
            build_errors: Mutex::default(),
            held: Arc::default(),
            approvals_required: 1,
            validity_secs: 24 * 3600,
            allow_mock_hsm: false,
            stopping: std::sync::atomic::AtomicBool::new(false),
            reconcile_due: std::sync::atomic::AtomicBool::new(true),
        }
    }

    /// Holds `id` for a step of this process, waiting while another part of it (the
    /// worker, another handler) holds it: a caller that has just stored new evidence
    /// must see its own step run, not an answer from before it.
    fn hold(&self, id: &str) -> Held {
        let mut ids = self.held.ids.lock().unwrap_or_else(|p| p.into_inner());
        while ids.contains(id) {
            ids = self.held.freed.wait(ids).unwrap_or_else(|p| p.into_inner());
        }
        ids.insert(id.to_string());
        Held {
            holds: self.held.clone(),
            id: id.to_string(),
        }
    }

    /// Holds `id` unless another part of this process holds it: the worker skips a
    /// request a handler is finalising (that handler finishes it) rather than wait
    /// behind it with every other request of the round.
    fn try_hold(&self, id: &str) -> Option<Held> {
        let mut ids = self.held.ids.lock().unwrap_or_else(|p| p.into_inner());
        ids.insert(id.to_string()).then(|| Held {
            holds: self.held.clone(),
            id: id.to_string(),
        })
    }

    /// Registers a chain adapter; requests of its network are built by it.
    pub fn register(&mut self, adapter: Arc<dyn ChainAdapter>) {
        self.adapters.push(adapter);
    }

    /// The adapters, in registration order.
    pub fn adapters(&self) -> &[Arc<dyn ChainAdapter>] {
        &self.adapters
    }

    /// The adapter serving `network`.
    pub fn adapter(&self, network: &str) -> Result<&dyn ChainAdapter, PipelineError> {
        self.adapters
            .iter()
            .find(|a| a.network() == network)
            .map(|a| a.as_ref())
            .ok_or_else(|| {
                PipelineError::Unconfigured(format!(
                    "{network} requests are not wired to the signing pipeline"
                ))
            })
    }

    /// Whether a network is served.
    pub fn serves(&self, network: &str) -> bool {
        self.adapters.iter().any(|a| a.network() == network)
    }

    /// The storage.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.ctx.store
    }

    /// Every vault, read now.
    pub fn vaults(&self) -> Vec<VaultView> {
        self.adapters
            .iter()
            .map(|a| a.vault_view(&self.ctx))
            .collect()
    }

    // ----- prepare: build the transaction and the envelope -----

    /// Builds the transaction and the envelope of a request awaiting approvals. Done
    /// once; later calls return the stored envelope.
    pub fn prepare(&self, id: &str, now: u64) -> Result<SignRequest, PipelineError> {
        if let Some(h) = self.ctx.store.artifact(id, Kind::Envelope, "request")? {
            return decode_request(&h);
        }
        let row = self.ctx.row(id)?;
        if row.state != State::AwaitingApprovals {
            return Err(PipelineError::WrongState(format!(
                "request is {}, not awaiting approvals",
                crate::store::state_name(row.state)
            )));
        }
        let body = Body::of(&row)?;
        let payload = self
            .adapter(&body.network)?
            .build(&self.ctx, id, &body, now)?;
        let mut req = SignRequest {
            request_id: uuid_bytes(id)?,
            created: now,
            expires: now + self.validity_secs,
            coordinator_key: KeyId([0; 8]),
            purpose: match body.purpose {
                crate::risk::Purpose::Withdrawal => EnvPurpose::Withdrawal,
                crate::risk::Purpose::Refill => EnvPurpose::Refill,
                crate::risk::Purpose::Sweep => EnvPurpose::Sweep,
                crate::risk::Purpose::Consolidation => EnvPurpose::Consolidation,
            },
            requester: row.principal.clone(),
            memo: body.memo.clone(),
            payloads: vec![payload],
            approvals: vec![],
            coordinator_signature: [0; 64],
        };
        req.approvals.clear();
        let digest = hex::encode(req.digest());
        self.ctx.store.put_artifact(
            id,
            Kind::Envelope,
            "request",
            &hex::encode(req.to_cbor()),
            "coordinator",
            json!({"digest": digest, "expires": req.expires}),
            now,
        )?;
        self.ctx.crash_point("prepared");
        // A replica that lost a race stored nothing; read back the winner's.
        match self.ctx.store.artifact(id, Kind::Envelope, "request")? {
            Some(h) => decode_request(&h),
            None => Err(corrupt("envelope vanished")),
        }
    }

    /// The request's final transaction, with the chain it is for, once there is one.
    pub fn sent(&self, id: &str) -> Result<Option<(&'static str, Sent)>, PipelineError> {
        // A network with no chain configured has built nothing.
        let Ok(adapter) = self.adapter(&Body::of(&self.ctx.row(id)?)?.network) else {
            return Ok(None);
        };
        Ok(adapter.sent(&self.ctx, id)?.map(|s| (adapter.kind(), s)))
    }

    /// The envelope approvers sign, with what it carries.
    pub fn envelope(&self, id: &str) -> Result<EnvelopeView, PipelineError> {
        let h = self
            .ctx.store
            .artifact(id, Kind::Envelope, "request")?
            .ok_or_else(|| {
                let why = self
                    .build_errors
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .get(id)
                    .cloned();
                refused(match why {
                    Some(e) => format!("not prepared yet; the last attempt failed: {e}"),
                    None => "not prepared yet: the transaction is built once the request awaits approvals".into(),
                })
            })?;
        let req = decode_request(&h)?;
        let adapter = self.adapter(&Body::of(&self.ctx.row(id)?)?.network)?;
        let transaction = match self
            .ctx
            .store
            .artifact(id, Kind::Unsigned, adapter.kind())?
        {
            Some(u) => adapter.describe(&u)?,
            None => Value::Null,
        };
        Ok(EnvelopeView {
            request: h.clone(),
            decoded: crate::requests::decoded::decoded(&req),
            digest: hex::encode(req.digest()),
            expires: req.expires,
            transaction,
            approvals: self
                .ctx
                .store
                .artifacts(id, Kind::Approval)?
                .into_iter()
                .map(|(k, _)| k)
                .collect(),
            approvals_required: self.approvals_required,
        })
    }

    // ----- approvals -----

    /// Records `principal`'s Ed25519 signature over the request digest (domain
    /// `strongroom/approval/v1`), checked against the key registered for them. The
    /// requester cannot approve their own request. Enough distinct approvals move the
    /// request to `approved`.
    pub fn approve(
        &self,
        id: &str,
        principal: &str,
        signature_hex: &str,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        let row = self.ctx.row(id)?;
        if !matches!(row.state, State::AwaitingApprovals | State::Approved) {
            return Err(PipelineError::WrongState(format!(
                "request is {}, not awaiting approvals",
                crate::store::state_name(row.state)
            )));
        }
        if row.principal == principal {
            return Err(refused("the requester cannot approve their own request"));
        }
        let key_text = self
            .ctx
            .store
            .artifact("", Kind::Approver, principal)?
            .ok_or_else(|| refused(format!("no approval key is registered for {principal}")))?;
        let req = self.prepare(id, now)?;
        let key = ApproverKey::parse(&key_text).map_err(corrupt)?;
        let bytes = hex::decode(signature_hex.trim()).map_err(|_| refused("signature: not hex"))?;
        let sig = ApprovalSignature::from_bytes(&bytes).map_err(|e| refused(e.to_string()))?;
        airgap_protocol::approval::check(&key, &req, &sig).map_err(|e| match e {
            airgap_protocol::approval::ApprovalError::Invalid => {
                refused("the signature does not verify over this request's digest")
            }
            other => refused(other.to_string()),
        })?;
        self.ctx.store.put_artifact(
            id,
            Kind::Approval,
            principal,
            &hex::encode(sig.as_bytes()),
            principal,
            json!({"digest": hex::encode(req.digest())}),
            now,
        )?;
        let n = self.ctx.store.artifacts(id, Kind::Approval)?.len();
        if n >= self.approvals_required && row.state == State::AwaitingApprovals {
            let row = self.ctx.store.transition(
                id,
                Event::ApprovalsComplete,
                "coordinator",
                json!({"approvals": n}),
                now,
            )?;
            self.ctx.crash_point("approved");
            return Ok(row);
        }
        self.ctx.row(id)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    use super::*;

    /// An import that stored a response while the worker was finalising the same request
    /// must run its own finalise after the worker's, not answer from before it.
    #[test]
    fn a_second_hold_waits_for_the_first_and_others_do_not() {
        let store = Arc::new(crate::store::Sqlite::memory().expect("store"));
        let p = Pipeline::unconfigured(store);
        let worker = p.hold("r1");
        assert!(
            p.try_hold("r1").is_none(),
            "the worker's try skips a held request"
        );
        let (tx, rx) = mpsc::channel();
        std::thread::scope(|s| {
            s.spawn(|| {
                let _other = p.hold("r2");
                tx.send(("r2", Instant::now())).expect("send");
                let _import = p.hold("r1");
                tx.send(("r1", Instant::now())).expect("send");
            });
            let (id, _) = rx.recv().expect("r2");
            assert_eq!(id, "r2", "another request is not held up");
            std::thread::sleep(Duration::from_millis(200));
            assert!(
                rx.try_recv().is_err(),
                "r1 was taken while the worker held it"
            );
            let released = Instant::now();
            drop(worker);
            let (id, at) = rx.recv().expect("r1");
            assert_eq!(id, "r1");
            assert!(at >= released);
        });
    }
}
