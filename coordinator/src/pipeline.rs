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
//! Wired: EVM networks and Bitcoin vaults (single key or m-of-n across stations; each
//! station's partial signatures are combined until the threshold is met). Solana requests
//! are accepted by the API and risk, but preparing them here answers "not wired" (the
//! builder is a library: [`crate::solana`]).

use std::str::FromStr;
use std::sync::{Arc, Mutex};

use airgap_protocol::envelope::{
    verify_response, Approval, KeyId, Outcome, PayloadSignature, Purpose as EnvPurpose,
    SignRequest, SignResponse, StationDescriptor,
};
use alloy_primitives::{Address, U256};
use ed25519_dalek::{Signature, SigningKey, VerifyingKey};
use serde_json::{json, Value};

use crate::evm::{
    attach_signature, vault_address, Asset, Builder, ChainConfig, EvmRpc, SignedEvmTx, TrackState,
    Tracker, Transfer, TxKindChoice, UnsignedEvmTx,
};
use crate::lifecycle::{Event, State};
use crate::store::{RequestRow, Store, StoreError};

/// One EVM network the pipeline builds for.
#[derive(Debug)]
pub struct EvmChain {
    /// Configuration.
    pub config: ChainConfig,
    /// Node client.
    pub node: EvmRpc,
}

/// A warm or hot wallet whose balance the coordinator watches (`[[watch]]` in the chains
/// file): under `low`, a refill from the vault up to `high` is drafted.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Watch {
    /// Network (an EVM, Solana or Bitcoin network the pipeline serves).
    pub network: String,
    /// The wallet's address: where refills are paid (on Bitcoin, one of the
    /// descriptor's receiving addresses).
    pub address: String,
    /// Bitcoin only, and required there: the warm wallet's public descriptor (e.g.
    /// `wpkh([fp/84'/0'/0']xpub…/0/*)`), whose every address counts towards the balance.
    #[serde(default)]
    pub descriptor: Option<String>,
    /// Low watermark, base units.
    pub low: String,
    /// High watermark, base units: a refill brings the balance back here.
    pub high: String,
    /// Seconds between checks.
    #[serde(default = "default_every")]
    pub every_secs: u64,
}

fn default_every() -> u64 {
    60
}

impl Watch {
    /// The watch-only wallet of a Bitcoin watch, from its descriptor; the refill address
    /// must be on `network` and one of the descriptor's, or refills would never raise the
    /// balance watched.
    pub fn bitcoin_wallet(
        &self,
        network: bitcoin::Network,
    ) -> Result<crate::bitcoin::Vault, String> {
        let what = format!("watch {} on {}", self.address, self.network);
        let descriptor = self
            .descriptor
            .as_deref()
            .ok_or_else(|| format!("{what}: a Bitcoin watch needs the warm wallet's descriptor"))?;
        let address = bitcoin::Address::from_str(&self.address)
            .map_err(|e| format!("{what}: {e}"))?
            .require_network(network)
            .map_err(|_| format!("{what}: not an address on {network}"))?;
        let wallet = crate::bitcoin::Vault::from_descriptor(&what, descriptor, network)
            .map_err(|e| format!("{what}: {e}"))?;
        if !wallet.owns(&address.script_pubkey()) {
            return Err(format!(
                "{what}: the address is not one of the descriptor's first addresses"
            ));
        }
        Ok(wallet)
    }

    /// The watermarks, checked (`low < high`).
    pub fn marks(&self) -> Result<(u128, u128), String> {
        let n = |v: &str| {
            v.parse::<u128>()
                .map_err(|_| format!("watermark {v:?} is not a whole number"))
        };
        let (low, high) = (n(&self.low)?, n(&self.high)?);
        if low >= high {
            return Err(format!(
                "watch {}: low {low} must be under high {high}",
                self.address
            ));
        }
        Ok((low, high))
    }
}

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
pub struct Deposits {
    /// Configuration.
    pub config: DepositConfig,
    pool: Mutex<crate::bitcoin::DepositPool>,
    wallet: Mutex<crate::bitcoin::Vault>,
}

impl std::fmt::Debug for Deposits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Deposits")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Deposits {
    /// The pool of `config`.
    pub fn new(config: DepositConfig) -> Result<Self, PipelineError> {
        let network = btc_network(&config.network)?;
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

/// One Bitcoin vault as configured (`[[bitcoin]]` in the chains file).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BtcConfig {
    /// Vault name.
    pub name: String,
    /// Request network: `bitcoin`, `testnet`, `signet` or `regtest`.
    pub network: String,
    /// Esplora API bases, tried in order.
    #[serde(default)]
    pub esplora: Vec<String>,
    /// Bitcoin Core JSON-RPC endpoints (without authentication), when no Esplora.
    #[serde(default)]
    pub core: Vec<String>,
    /// Signatures needed.
    pub threshold: usize,
    /// Registered stations whose Bitcoin keys make the vault, in any order
    /// (`wsh(sortedmulti)`; one station with threshold 1 is `wpkh`).
    pub stations: Vec<String>,
    /// Confirmations before a transaction counts as final.
    pub confirmations: u32,
    /// Confirmation target for the fee estimate, blocks.
    #[serde(default = "default_target")]
    pub fee_target: u16,
    /// Refuse to build above this fee rate, sat/vB.
    pub max_fee_rate: u64,
    /// Hardware-wallet cosigners whose keys are in the vault beside the stations'
    /// (`wsh(sortedmulti)` over all of them). Each signs the exported PSBT (BBQr or
    /// `crypto-psbt`) on its own screen, and the signed PSBT is imported back.
    #[serde(default)]
    pub cosigners: Vec<Cosigner>,
}

/// A hardware wallet that cosigns a Bitcoin vault.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cosigner {
    /// Name, as the audit chain shows it.
    pub name: String,
    /// Its key as a descriptor key with origin, `[fingerprint/path]02…`, so that the
    /// device finds its key in the PSBT's derivation paths.
    pub key: String,
}

impl Cosigner {
    /// The public key (the origin checked for shape: `[8 hex digits/path]`).
    pub fn public_key(&self) -> Result<bitcoin::PublicKey, String> {
        let what = format!("cosigner {}", self.name);
        let bare = match self.key.strip_prefix('[') {
            Some(rest) => {
                let (origin, key) = rest
                    .split_once(']')
                    .ok_or_else(|| format!("{what}: key origin not closed"))?;
                let fingerprint = origin.split('/').next().unwrap_or_default();
                if fingerprint.len() != 8 || !fingerprint.chars().all(|c| c.is_ascii_hexdigit()) {
                    return Err(format!(
                        "{what}: key origin must start with an 8-digit fingerprint"
                    ));
                }
                key
            }
            None => self.key.as_str(),
        };
        let key = bitcoin::PublicKey::from_str(bare)
            .map_err(|e| format!("{what}: not a public key: {e}"))?;
        if !key.compressed {
            return Err(format!("{what}: segwit needs a compressed key"));
        }
        Ok(key)
    }
}

fn default_target() -> u16 {
    6
}

/// One Bitcoin vault the pipeline builds for: its chain source and its watch-only
/// wallet, kept in memory and synced before every build.
pub struct BtcChain {
    /// Configuration.
    pub config: BtcConfig,
    /// Chain source.
    pub source: Box<dyn crate::bitcoin::chain::ChainSource + Send + Sync>,
    vault: Mutex<Option<crate::bitcoin::Vault>>,
}

impl std::fmt::Debug for BtcChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BtcChain")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl BtcChain {
    /// A vault over `source`.
    pub fn new(
        config: BtcConfig,
        source: Box<dyn crate::bitcoin::chain::ChainSource + Send + Sync>,
    ) -> Self {
        Self {
            config,
            source,
            vault: Mutex::new(None),
        }
    }

    /// The vault's Bitcoin network.
    pub fn network(&self) -> Result<bitcoin::Network, PipelineError> {
        btc_network(&self.config.network)
    }
}

/// An SPL token a Solana vault may move.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolToken {
    /// Mint address.
    pub mint: String,
    /// Decimals (checked against the mint account when building).
    pub decimals: u8,
}

/// One Solana network as configured (`[[solana]]` in the chains file).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SolConfig {
    /// Display name.
    pub name: String,
    /// Request network (`solana:devnet`, `solana:mainnet-beta`, …).
    pub network: String,
    /// JSON-RPC endpoints.
    pub endpoints: Vec<String>,
    /// Durable nonce accounts under the vault's authority: one per request in flight.
    pub nonce_accounts: Vec<String>,
    /// Tokens.
    #[serde(default)]
    pub tokens: Vec<SolToken>,
    /// `confirmed` or `finalized`.
    #[serde(default = "default_commitment")]
    pub commitment: String,
    /// The registered station whose Solana key is the vault (needed when more than one
    /// station holds a Solana key).
    #[serde(default)]
    pub station: Option<String>,
    /// Compute unit limit.
    #[serde(default)]
    pub compute_unit_limit: Option<u32>,
    /// Priority fee, micro-lamports per compute unit.
    #[serde(default)]
    pub compute_unit_price: Option<u64>,
}

fn default_commitment() -> String {
    "confirmed".into()
}

/// One Solana network the pipeline builds for.
#[derive(Debug)]
pub struct SolChain {
    /// Configuration.
    pub config: SolConfig,
    /// Node client.
    pub node: crate::solana::SolRpc,
}

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

fn refused(s: impl Into<String>) -> PipelineError {
    PipelineError::Refused(s.into())
}

fn corrupt(s: impl std::fmt::Display) -> PipelineError {
    PipelineError::Corrupt(s.to_string())
}

fn chain_err(s: impl std::fmt::Display) -> PipelineError {
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

/// The pipeline's configuration and connections.
pub struct Pipeline {
    /// Storage.
    pub store: Arc<dyn Store>,
    /// The coordinator request key (stations trust its public half).
    pub key: Option<SigningKey>,
    /// USB bundle keys of the coordinator.
    pub usb: Option<usb_transfer::keyfile::KeyPair>,
    /// EVM networks.
    pub evm: Vec<EvmChain>,
    /// Bitcoin vaults.
    pub bitcoin: Vec<BtcChain>,
    /// Solana networks.
    pub solana: Vec<SolChain>,
    /// Watched warm wallets.
    pub watches: Vec<Watch>,
    /// Deposit address pools.
    pub deposits: Vec<Deposits>,
    last_watch: Mutex<std::collections::HashMap<String, u64>>,
    /// Watch-only wallets of Bitcoin watches, synced at each check.
    watched_btc: Mutex<std::collections::HashMap<String, crate::bitcoin::Vault>>,
    /// Why the last build of a request failed (shown until it succeeds).
    build_errors: Mutex<std::collections::HashMap<String, String>>,
    /// Distinct approvers a request needs before export.
    pub approvals_required: usize,
    /// How long an envelope stays valid, seconds.
    pub validity_secs: u64,
    /// This replica's name, for leases.
    pub owner: String,
    /// Whether stations on MockHsm may be registered (demo and tests only).
    pub allow_mock_hsm: bool,
    /// Fault injection for the crash-resume tests: the process aborts right after this
    /// step: `prepared`, `approved`, `export-stored` (before the state change),
    /// `exported`, `response-stored` (before finalising), `finalised`, `sent` (the node
    /// has the transaction, the state does not say so yet), `broadcast`. Never set in
    /// production.
    pub crash_after: Option<String>,
    /// Set on shutdown: the worker stops at the next step boundary.
    pub stopping: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("evm", &self.evm)
            .field("approvals_required", &self.approvals_required)
            .field("owner", &self.owner)
            .finish_non_exhaustive()
    }
}

/// A request's fields the pipeline reads.
#[derive(Debug, serde::Deserialize)]
struct Body {
    network: String,
    asset: String,
    destination: String,
    amount: String,
    purpose: crate::risk::Purpose,
    #[serde(default)]
    memo: String,
}

/// What approvers see before they sign.
#[derive(Debug, Clone, serde::Serialize)]
pub struct EnvelopeView {
    /// The digest approvers sign (hex), with the domain `strongroom/approval/v1`.
    pub digest: String,
    /// Expiry of the envelope, Unix seconds.
    pub expires: u64,
    /// The built transaction.
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

fn parse_hex<const N: usize>(s: &str, what: &str) -> Result<[u8; N], PipelineError> {
    hex::decode(s.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| refused(format!("{what} must be {N} bytes of hex")))
}

impl Pipeline {
    /// A pipeline with nothing wired: no key, no chains, one approval.
    pub fn unconfigured(store: Arc<dyn Store>) -> Self {
        Self {
            store,
            key: None,
            usb: None,
            evm: Vec::new(),
            bitcoin: Vec::new(),
            solana: Vec::new(),
            watches: Vec::new(),
            deposits: Vec::new(),
            last_watch: Mutex::default(),
            watched_btc: Mutex::default(),
            build_errors: Mutex::default(),
            approvals_required: 1,
            validity_secs: 24 * 3600,
            owner: "coordinator".into(),
            allow_mock_hsm: false,
            crash_after: None,
            stopping: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn crash_point(&self, step: &str) {
        if self.crash_after.as_deref() == Some(step) {
            eprintln!("fault injection: aborting after {step}");
            std::process::abort();
        }
    }

    fn row(&self, id: &str) -> Result<RequestRow, PipelineError> {
        self.store
            .get(id)?
            .ok_or_else(|| PipelineError::Store(StoreError::NotFound(id.into())))
    }

    // ----- installation: stations and approvers -----

    /// Registers a station from its descriptor (CBOR), after checking its signature.
    /// A name registers once: the same descriptor again is a no-op, another one is
    /// refused (a station's keys never change silently).
    pub fn register_station(
        &self,
        descriptor: &[u8],
        usb_keys: Option<&str>,
        actor: &str,
        now: u64,
    ) -> Result<StationDescriptor, PipelineError> {
        let d = StationDescriptor::from_cbor(descriptor)
            .map_err(|e| refused(format!("station descriptor: {e}")))?;
        d.verify()
            .map_err(|e| refused(format!("station descriptor signature: {e}")))?;
        if d.mock_hsm && !self.allow_mock_hsm {
            return Err(refused(
                "this station runs on MockHsm (keys in memory): refused outside demos",
            ));
        }
        if let Some(text) = usb_keys {
            usb_transfer::keyfile::PublicKeys::parse(text, "usb_keys")
                .map_err(|e| refused(format!("usb_keys: {e}")))?;
        }
        if d.name.is_empty() || d.name.len() > 64 {
            return Err(refused("station name must be 1 to 64 characters"));
        }
        let value = json!({"descriptor": hex::encode(d.to_cbor()), "usb_keys": usb_keys});
        let detail = json!({
            "station": d.name,
            "identity": hex::encode(d.identity),
            "keys": d.keys.iter().map(|k| json!({"chain": format!("{:?}", k.chain), "public_key": hex::encode(&k.public_key)})).collect::<Vec<_>>(),
            "mock_hsm": d.mock_hsm,
        });
        self.store.put_artifact(
            "",
            "station",
            &d.name,
            &value.to_string(),
            actor,
            detail,
            now,
        )?;
        Ok(d)
    }

    /// Registered stations by name.
    pub fn stations(&self) -> Result<Vec<(String, RegisteredStation)>, PipelineError> {
        self.store
            .artifacts("", "station")?
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

    /// Registers the Ed25519 approval key of a principal (write-once).
    pub fn register_approver(
        &self,
        principal: &str,
        public_key_hex: &str,
        actor: &str,
        now: u64,
    ) -> Result<(), PipelineError> {
        let pk: [u8; 32] = parse_hex(public_key_hex, "public_key")?;
        let key = VerifyingKey::from_bytes(&pk)
            .map_err(|_| refused("public_key is not an Ed25519 key"))?;
        if key.is_weak() {
            return Err(refused(
                "public_key is a weak (small-order) Ed25519 key: it would accept forged signatures",
            ));
        }
        if principal.is_empty() || principal.len() > 128 {
            return Err(refused("principal must be 1 to 128 characters"));
        }
        self.store.put_artifact(
            "",
            "approver",
            principal,
            &hex::encode(pk),
            actor,
            json!({"principal": principal, "public_key": hex::encode(pk)}),
            now,
        )?;
        Ok(())
    }

    // ----- prepare: build the transaction and the envelope -----

    fn evm_chain(&self, network: &str) -> Result<&EvmChain, PipelineError> {
        self.evm
            .iter()
            .find(|c| c.config.network() == network)
            .ok_or_else(|| PipelineError::Unconfigured(format!("no node configured for {network}")))
    }

    /// The station holding the vault key for `network`: the one named, or else the only
    /// registered station with a key for it. Stations hold one Bitcoin and one Solana key
    /// per network (one EVM key for every chain id): the key is the one for `network`.
    fn station_for(
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

    /// Nonces of `from` on `network` held by other requests: those exported (the
    /// station may have signed them) or still alive.
    /// The `unsigned/<kind>` artifacts of the other requests on `network` that may still
    /// reach the chain: every request not ended, and ended ones that were exported (a
    /// station may have signed them). A confirmed request holds nothing any more (its
    /// nonce is used, its coins spent); with `failed_frees`, neither does a failed one
    /// (a Solana durable nonce that advanced or was never used).
    fn held(
        &self,
        kind: &str,
        network: &str,
        except: &str,
        failed_frees: bool,
    ) -> Result<Vec<String>, PipelineError> {
        use State as S;
        let mut out = Vec::new();
        for state in [
            S::AwaitingApprovals,
            S::Approved,
            S::Exported,
            S::PartiallySigned,
            S::Signed,
            S::Finalised,
            S::Broadcast,
            S::Failed,
            S::Cancelled,
            S::Expired,
            S::Rejected,
        ] {
            if failed_frees && state == S::Failed {
                continue;
            }
            for row in self.store.in_state(state, Some(network))? {
                if row.id == except {
                    continue;
                }
                let Some(u) = self.store.artifact(&row.id, "unsigned", kind)? else {
                    continue;
                };
                let ended = state.is_final();
                if ended && self.store.artifact(&row.id, "export", "request")?.is_none() {
                    continue;
                }
                out.push(u);
            }
        }
        Ok(out)
    }

    /// Builds the transaction and the envelope of a request awaiting approvals. Done
    /// once; later calls return the stored envelope.
    pub fn prepare(&self, id: &str, now: u64) -> Result<SignRequest, PipelineError> {
        if let Some(h) = self.store.artifact(id, "envelope", "request")? {
            return decode_request(&h);
        }
        let row = self.row(id)?;
        if row.state != State::AwaitingApprovals {
            return Err(PipelineError::WrongState(format!(
                "request is {}, not awaiting approvals",
                crate::store::state_name(row.state)
            )));
        }
        let body: Body = serde_json::from_value(row.body.clone()).map_err(corrupt)?;
        let payload = if body.network.starts_with("evm:") {
            let tx = self.build_evm(id, &body, now)?;
            tx.payload()
        } else if self.btc_chain(&body.network).is_ok() {
            btc_payload(&body.network, &self.build_btc(id, &body, now)?)
        } else if self.sol_chain(&body.network).is_ok() {
            let (tx, vault) = self.build_sol(id, &body, now)?;
            tx.payload(&body.network, &vault)
        } else {
            return Err(PipelineError::Unconfigured(format!(
                "{} requests are not wired to the signing pipeline yet",
                body.network
            )));
        };
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
        self.store.put_artifact(
            id,
            "envelope",
            "request",
            &hex::encode(req.to_cbor()),
            "coordinator",
            json!({"digest": digest, "expires": req.expires}),
            now,
        )?;
        self.crash_point("prepared");
        // A replica that lost a race stored nothing; read back the winner's.
        match self.store.artifact(id, "envelope", "request")? {
            Some(h) => decode_request(&h),
            None => Err(corrupt("envelope vanished")),
        }
    }

    fn build_evm(&self, id: &str, body: &Body, now: u64) -> Result<UnsignedEvmTx, PipelineError> {
        if let Some(u) = self.store.artifact(id, "unsigned", "evm")? {
            return serde_json::from_str(&u).map_err(corrupt);
        }
        let chain = self.evm_chain(&body.network)?;
        let (_, pk) = self.station_for(&body.network, chain.config.station.as_deref())?;
        let from = vault_address(&pk).ok_or_else(|| corrupt("station EVM key"))?;
        let to = Address::from_str(&body.destination)
            .map_err(|_| refused("destination is not an EVM address"))?;
        let asset = if body.asset == "native" {
            Asset::Native
        } else {
            let contract = Address::from_str(&body.asset)
                .map_err(|_| refused("asset is not a contract address"))?;
            let t = chain
                .config
                .tokens
                .iter()
                .find(|t| t.contract == contract)
                .ok_or_else(|| refused(format!("token {contract} is not configured")))?;
            Asset::Token(t.symbol.clone())
        };
        let amount = U256::from_str(&body.amount).map_err(|_| refused("amount"))?;
        // One replica at a time picks nonces for a vault.
        let lease = format!("nonce:{}:{from}", body.network);
        if !self.store.claim(&lease, "prepare", &self.owner, now, 10)? {
            return Err(PipelineError::Busy);
        }
        let b = Builder {
            config: &chain.config,
            node: &chain.node,
        };
        b.check_chain().map_err(chain_err)?;
        let pending = chain.node.nonce(from, "pending").map_err(chain_err)?;
        let mut used = Vec::new();
        for u in self.held("evm", &body.network, id, false)? {
            let tx: UnsignedEvmTx = serde_json::from_str(&u).map_err(corrupt)?;
            if tx.from == from {
                used.push(tx.nonce);
            }
        }
        let mut nonce = pending;
        while used.contains(&nonce) {
            nonce += 1;
        }
        let kind = if chain.config.legacy {
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
        self.store.put_artifact(
            id,
            "unsigned",
            "evm",
            &serde_json::to_string(&tx).map_err(corrupt)?,
            "coordinator",
            json!({"from": from, "nonce": nonce, "max_fee_wei": tx.max_fee_wei().to_string()}),
            now,
        )?;
        match self.store.artifact(id, "unsigned", "evm")? {
            Some(u) => serde_json::from_str(&u).map_err(corrupt),
            None => Err(corrupt("transaction vanished")),
        }
    }

    fn btc_chain(&self, network: &str) -> Result<&BtcChain, PipelineError> {
        self.bitcoin
            .iter()
            .find(|c| c.config.network == network)
            .ok_or_else(|| {
                PipelineError::Unconfigured(format!("no Bitcoin vault configured for {network}"))
            })
    }

    /// Runs `f` on the chain's vault, building it from the registered stations' keys the
    /// first time and syncing it with the chain source every time.
    fn with_vault<T>(
        &self,
        chain: &BtcChain,
        f: impl FnOnce(&mut crate::bitcoin::Vault) -> Result<T, PipelineError>,
    ) -> Result<T, PipelineError> {
        let mut guard = chain.vault.lock().unwrap_or_else(|p| p.into_inner());
        if guard.is_none() {
            let stations = self.stations()?;
            let net = airgap_protocol::network::Network::parse(&chain.config.network)
                .map_err(|e| PipelineError::Unconfigured(e.to_string()))?;
            let mut keys = Vec::new();
            for name in &chain.config.stations {
                let (_, s) = stations.iter().find(|(n, _)| n == name).ok_or_else(|| {
                    PipelineError::Unconfigured(format!("station {name} is not registered"))
                })?;
                let k = s.descriptor.key_for(net).ok_or_else(|| {
                    PipelineError::Unconfigured(format!("station {name} has no key for {net}"))
                })?;
                keys.push(bitcoin::PublicKey::from_slice(&k.public_key).map_err(corrupt)?);
            }
            let network = chain.network()?;
            // Cosigner keys were checked when the chains file was read.
            let cosigners = &chain.config.cosigners;
            let vault = if !cosigners.is_empty() {
                let exprs: Vec<String> = keys
                    .iter()
                    .map(ToString::to_string)
                    .chain(cosigners.iter().map(|c| c.key.clone()))
                    .collect();
                crate::bitcoin::Vault::from_descriptor(
                    &chain.config.name,
                    &format!(
                        "wsh(sortedmulti({},{}))",
                        chain.config.threshold,
                        exprs.join(",")
                    ),
                    network,
                )
            } else if keys.len() == 1 && chain.config.threshold == 1 {
                crate::bitcoin::Vault::single(&chain.config.name, &keys[0], network)
            } else {
                crate::bitcoin::Vault::multisig(
                    &chain.config.name,
                    chain.config.threshold,
                    &keys,
                    network,
                )
            }
            .map_err(|e| PipelineError::Unconfigured(e.to_string()))?;
            *guard = Some(vault);
        }
        let vault = guard.as_mut().ok_or_else(|| corrupt("vault vanished"))?;
        crate::bitcoin::chain::sync(vault, chain.source.as_ref()).map_err(chain_err)?;
        f(vault)
    }

    fn deposit_pool(&self, network: &str) -> Result<&Deposits, PipelineError> {
        self.deposits
            .iter()
            .find(|d| d.config.network == network)
            .ok_or_else(|| {
                PipelineError::Unconfigured(format!("no deposit pool configured for {network}"))
            })
    }

    /// Hands out the next deposit address of `network`'s pool (recorded, audited; two
    /// replicas never hand out the same index).
    pub fn deposit_hand_out(
        &self,
        network: &str,
        actor: &str,
        now: u64,
    ) -> Result<(u32, String), PipelineError> {
        let d = self.deposit_pool(network)?;
        let subject = format!("deposits:{network}");
        for _ in 0..8 {
            let n = self.store.artifacts(&subject, "address")?.len() as u32;
            let address = d
                .pool
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .peek(n)
                .to_string();
            match self.store.put_artifact(
                &subject,
                "address",
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
    pub fn deposit_list(&self, network: &str) -> Result<Vec<(u32, String)>, PipelineError> {
        self.deposit_pool(network)?;
        self.store
            .artifacts(&format!("deposits:{network}"), "address")?
            .into_iter()
            .map(|(k, v)| Ok((k.parse().map_err(corrupt)?, v)))
            .collect()
    }

    /// The sweep plan for `network`'s deposit addresses, from the chain now.
    pub fn sweep_plan(&self, network: &str) -> Result<crate::bitcoin::sweep::Plan, PipelineError> {
        let d = self.deposit_pool(network)?;
        let chain = self.btc_chain(network)?;
        let handed = self.deposit_list(network)?;
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

    /// Whether `w` is due for a check at `now` (and marks it checked).
    pub fn watch_due(&self, w: &Watch, now: u64) -> bool {
        let mut last = self.last_watch.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{}:{}", w.network, w.address);
        match last.get(&key) {
            Some(t) if now < t.saturating_add(w.every_secs) => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }

    /// The vault's address on an EVM or Solana network: the named (or only) station's key.
    pub fn account_vault(&self, network: &str) -> Result<String, PipelineError> {
        if let Ok(c) = self.evm_chain(network) {
            let (_, pk) = self.station_for(network, c.config.station.as_deref())?;
            return vault_address(&pk)
                .map(|a| a.to_checksum(None))
                .ok_or_else(|| corrupt("station EVM key"));
        }
        Ok(self.sol_vault(network)?.to_string())
    }

    /// The native balance of an account on an EVM or Solana network, base units.
    pub fn balance_of(&self, network: &str, address: &str) -> Result<u128, PipelineError> {
        if let Ok(c) = self.evm_chain(network) {
            let a = Address::from_str(address)
                .map_err(|_| refused(format!("{address} is not an EVM address")))?;
            let b = c.node.balance(a).map_err(chain_err)?;
            return Ok(u128::try_from(b).unwrap_or(u128::MAX));
        }
        if let Ok(c) = self.sol_chain(network) {
            let a = solana_address::Address::from_str(address)
                .map_err(|_| refused(format!("{address} is not a Solana address")))?;
            return Ok(u128::from(c.node.balance(&a).map_err(chain_err)?));
        }
        Err(PipelineError::Unconfigured(format!(
            "balances are watched on EVM and Solana networks the pipeline serves, not {network}"
        )))
    }

    /// The balance a watch sees, base units: on EVM and Solana the address's native
    /// balance; on Bitcoin the spendable balance of the warm wallet's descriptor, synced
    /// block by block from the vault's chain source.
    pub fn watched_balance(&self, w: &Watch) -> Result<u128, PipelineError> {
        let Ok(chain) = self.btc_chain(&w.network) else {
            return self.balance_of(&w.network, &w.address);
        };
        let mut wallets = self.watched_btc.lock().unwrap_or_else(|p| p.into_inner());
        let wallet = match wallets.entry(format!("{}:{}", w.network, w.address)) {
            std::collections::hash_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::hash_map::Entry::Vacant(e) => {
                e.insert(w.bitcoin_wallet(chain.network()?).map_err(refused)?)
            }
        };
        crate::bitcoin::chain::sync(wallet, chain.source.as_ref()).map_err(chain_err)?;
        Ok(u128::from(wallet.balance().to_sat()))
    }

    /// The vault's receiving address and spendable balance, synced now.
    pub fn btc_vault_status(&self, network: &str) -> Result<(String, u64), PipelineError> {
        let chain = self.btc_chain(network)?;
        self.with_vault(chain, |v| {
            Ok((v.address().to_string(), v.balance().to_sat()))
        })
    }

    fn build_btc(&self, id: &str, body: &Body, now: u64) -> Result<bitcoin::Psbt, PipelineError> {
        if let Some(u) = self.store.artifact(id, "unsigned", "bitcoin")? {
            return decode_psbt(&u);
        }
        let chain = self.btc_chain(&body.network)?;
        if body.asset != "native" {
            return Err(refused("Bitcoin requests move the native asset only"));
        }
        let to = bitcoin::Address::from_str(&body.destination)
            .map_err(|_| refused("destination is not a Bitcoin address"))?;
        let amount = bitcoin::Amount::from_sat(
            body.amount
                .parse()
                .map_err(|_| refused("amount must fit 64 bits of satoshis"))?,
        );
        // One replica at a time picks a vault's coins.
        let lease = format!("coins:{}:{}", body.network, chain.config.name);
        if !self.store.claim(&lease, "prepare", &self.owner, now, 10)? {
            return Err(PipelineError::Busy);
        }
        let rate = chain
            .source
            .fee_rate(chain.config.fee_target)
            .map_err(chain_err)?;
        let sat_vb = rate.to_sat_per_kwu().div_ceil(250);
        if sat_vb > chain.config.max_fee_rate {
            return Err(PipelineError::Chain(format!(
                "the fee rate is {sat_vb} sat/vB, above the cap of {}",
                chain.config.max_fee_rate
            )));
        }
        let mut excluded = Vec::new();
        for u in self.held("bitcoin", &body.network, id, false)? {
            let psbt = decode_psbt(&u)?;
            excluded.extend(psbt.unsigned_tx.input.iter().map(|i| i.previous_output));
        }
        let psbt = self.with_vault(chain, |v| {
            v.payment_excluding(&[(to, amount)], rate, &excluded)
                .map_err(|e| refused(format!("cannot build: {e}")))
        })?;
        let fee = crate::bitcoin::fee_of(&psbt).map(|f| f.to_sat());
        self.store.put_artifact(
            id,
            "unsigned",
            "bitcoin",
            &hex::encode(psbt.serialize()),
            "coordinator",
            json!({
                "vault": chain.config.name,
                "inputs": psbt.unsigned_tx.input.len(),
                "fee_sat": fee,
                "txid": psbt.unsigned_tx.compute_txid().to_string(),
            }),
            now,
        )?;
        match self.store.artifact(id, "unsigned", "bitcoin")? {
            Some(u) => decode_psbt(&u),
            None => Err(corrupt("transaction vanished")),
        }
    }

    fn sol_chain(&self, network: &str) -> Result<&SolChain, PipelineError> {
        self.solana
            .iter()
            .find(|c| c.config.network == network)
            .ok_or_else(|| {
                PipelineError::Unconfigured(format!("no Solana node configured for {network}"))
            })
    }

    fn sol_vault(&self, network: &str) -> Result<solana_address::Address, PipelineError> {
        let named = self.sol_chain(network)?.config.station.clone();
        let (_, pk) = self.station_for(network, named.as_deref())?;
        let k: [u8; 32] = pk
            .as_slice()
            .try_into()
            .map_err(|_| corrupt("station Solana key"))?;
        Ok(solana_address::Address::new_from_array(k))
    }

    fn build_sol(
        &self,
        id: &str,
        body: &Body,
        now: u64,
    ) -> Result<(crate::solana::UnsignedSolTx, solana_address::Address), PipelineError> {
        let vault = self.sol_vault(&body.network)?;
        if let Some(u) = self.store.artifact(id, "unsigned", "solana")? {
            return Ok((sol_from_json(&u)?, vault));
        }
        let chain = self.sol_chain(&body.network)?;
        let to = solana_address::Address::from_str(&body.destination)
            .map_err(|_| refused("destination is not a Solana address"))?;
        let amount: u64 = body
            .amount
            .parse()
            .map_err(|_| refused("amount must fit 64 bits"))?;
        let lease = format!("nonce:{}:{}", body.network, chain.config.name);
        if !self.store.claim(&lease, "prepare", &self.owner, now, 10)? {
            return Err(PipelineError::Busy);
        }
        let mut used = Vec::new();
        for u in self.held("solana", &body.network, id, true)? {
            let v: Value = serde_json::from_str(&u).map_err(corrupt)?;
            if let Some(n) = v["nonce_account"].as_str() {
                used.push(n.to_string());
            }
        }
        let nonce = chain
            .config
            .nonce_accounts
            .iter()
            .find(|n| !used.contains(n))
            .ok_or_else(|| {
                PipelineError::Chain(format!(
                    "all {} durable nonce accounts are held by requests in flight",
                    chain.config.nonce_accounts.len()
                ))
            })?;
        let nonce = solana_address::Address::from_str(nonce)
            .map_err(|_| PipelineError::Unconfigured(format!("nonce account {nonce}")))?;
        let b = crate::solana::SolBuilder { node: &chain.node };
        let info = b.nonce(&nonce).map_err(chain_err)?;
        if info.authority != vault {
            return Err(PipelineError::Unconfigured(format!(
                "nonce account {nonce} is under {}, not the vault",
                info.authority
            )));
        }
        let opts = crate::solana::TxOptions {
            compute_unit_limit: chain.config.compute_unit_limit,
            compute_unit_price: chain.config.compute_unit_price,
            version: crate::solana::MessageVersion::Legacy,
        };
        let bh = crate::solana::Blockhash::Nonce(info);
        let tx = if body.asset == "native" {
            b.sol_transfer(&vault, &to, amount, &bh, opts)
        } else {
            let t = chain
                .config
                .tokens
                .iter()
                .find(|t| t.mint == body.asset)
                .ok_or_else(|| refused(format!("token {} is not configured", body.asset)))?;
            let mint = solana_address::Address::from_str(&t.mint)
                .map_err(|_| PipelineError::Unconfigured(format!("mint {}", t.mint)))?;
            b.spl_transfer(&vault, &mint, t.decimals, &to, amount, &bh, opts)
        }
        .map_err(|e| refused(format!("cannot build: {e}")))?;
        self.store.put_artifact(
            id,
            "unsigned",
            "solana",
            &sol_to_json(&tx).to_string(),
            "coordinator",
            json!({"vault": vault.to_string(), "nonce_account": nonce.to_string()}),
            now,
        )?;
        match self.store.artifact(id, "unsigned", "solana")? {
            Some(u) => Ok((sol_from_json(&u)?, vault)),
            None => Err(corrupt("transaction vanished")),
        }
    }

    /// The envelope approvers sign, with what it carries.
    pub fn envelope(&self, id: &str) -> Result<EnvelopeView, PipelineError> {
        let h = self
            .store
            .artifact(id, "envelope", "request")?
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
        let transaction = match (
            self.store.artifact(id, "unsigned", "evm")?,
            self.store.artifact(id, "unsigned", "bitcoin")?,
        ) {
            (Some(u), _) => serde_json::from_str(&u).map_err(corrupt)?,
            (None, Some(p)) => {
                let psbt = decode_psbt(&p)?;
                json!({
                    "txid": psbt.unsigned_tx.compute_txid().to_string(),
                    "inputs": psbt.unsigned_tx.input.iter().map(|i| i.previous_output.to_string()).collect::<Vec<_>>(),
                    "outputs": psbt.unsigned_tx.output.iter().map(|o| json!({"script_pubkey": o.script_pubkey.to_hex_string(), "sat": o.value.to_sat()})).collect::<Vec<_>>(),
                    "fee_sat": crate::bitcoin::fee_of(&psbt).map(|f| f.to_sat()),
                })
            }
            (None, None) => match self.store.artifact(id, "unsigned", "solana")? {
                Some(u) => serde_json::from_str(&u).map_err(corrupt)?,
                None => Value::Null,
            },
        };
        Ok(EnvelopeView {
            digest: hex::encode(req.digest()),
            expires: req.expires,
            transaction,
            approvals: self
                .store
                .artifacts(id, "approval")?
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
        let row = self.row(id)?;
        if !matches!(row.state, State::AwaitingApprovals | State::Approved) {
            return Err(PipelineError::WrongState(format!(
                "request is {}, not awaiting approvals",
                crate::store::state_name(row.state)
            )));
        }
        if row.principal == principal {
            return Err(refused("the requester cannot approve their own request"));
        }
        let key_hex = self
            .store
            .artifact("", "approver", principal)?
            .ok_or_else(|| refused(format!("no approval key is registered for {principal}")))?;
        let req = self.prepare(id, now)?;
        let pk: [u8; 32] = parse_hex(&key_hex, "stored key").map_err(corrupt)?;
        let vk = VerifyingKey::from_bytes(&pk).map_err(corrupt)?;
        let sig: [u8; 64] = parse_hex(signature_hex, "signature")?;
        vk.verify_strict(
            &SignRequest::approval_message(&req.digest()),
            &Signature::from_bytes(&sig),
        )
        .map_err(|_| refused("the signature does not verify over this request's digest"))?;
        self.store.put_artifact(
            id,
            "approval",
            principal,
            &hex::encode(sig),
            principal,
            json!({"digest": hex::encode(req.digest())}),
            now,
        )?;
        let n = self.store.artifacts(id, "approval")?.len();
        if n >= self.approvals_required && row.state == State::AwaitingApprovals {
            let row = self.store.transition(
                id,
                Event::ApprovalsComplete,
                "coordinator",
                json!({"approvals": n}),
                now,
            )?;
            self.crash_point("approved");
            return Ok(row);
        }
        self.row(id)
    }

    // ----- export -----

    /// The envelope to carry to the station: approvals attached, signed by the
    /// coordinator key. The first call moves the request to `exported`; later calls
    /// return the same bytes.
    pub fn export(&self, id: &str, actor: &str, now: u64) -> Result<SignRequest, PipelineError> {
        if let Some(h) = self.store.artifact(id, "export", "request")? {
            // A crash between storing and the state change: finish it.
            if self.row(id)?.state == State::Approved {
                self.store
                    .transition(id, Event::Exported, actor, json!({"resumed": true}), now)?;
            }
            return decode_request(&h);
        }
        let row = self.row(id)?;
        if row.state != State::Approved {
            return Err(PipelineError::WrongState(format!(
                "request is {}, not approved",
                crate::store::state_name(row.state)
            )));
        }
        let key = self.key.as_ref().ok_or_else(|| {
            PipelineError::Unconfigured("no coordinator request key (--key)".into())
        })?;
        if !self.store.claim(id, "export", &self.owner, now, 60)? {
            return Err(PipelineError::Busy);
        }
        let mut req = self.prepare(id, now)?;
        if now >= req.expires {
            self.store
                .transition(id, Event::Expired, "coordinator", json!({}), now)?;
            return Err(refused("the envelope expired before export"));
        }
        // Each approval again, over the envelope as stored now: an envelope or
        // transaction edited in the database after the approvals is caught here (and,
        // should this coordinator itself be compromised, by the station).
        let message = SignRequest::approval_message(&req.digest());
        let mut tampered = Vec::new();
        for (principal, sig) in self.store.artifacts(id, "approval")? {
            let pk: [u8; 32] = self
                .store
                .artifact("", "approver", &principal)?
                .as_deref()
                .map(|h| parse_hex(h, "stored key"))
                .transpose()?
                .ok_or_else(|| corrupt(format!("approver {principal} has no key")))?;
            let vk = VerifyingKey::from_bytes(&pk).map_err(corrupt)?;
            let signature: [u8; 64] = parse_hex(&sig, "stored approval")?;
            if vk
                .verify_strict(&message, &Signature::from_bytes(&signature))
                .is_err()
            {
                tampered.push(principal.clone());
            }
            req.approvals.push(Approval {
                approver: KeyId::of(&vk),
                signature,
            });
        }
        let built_matches = match (
            self.store.artifact(id, "unsigned", "evm")?,
            self.store.artifact(id, "unsigned", "bitcoin")?,
        ) {
            (Some(u), _) => {
                let tx: UnsignedEvmTx = serde_json::from_str(&u).map_err(corrupt)?;
                req.payloads == vec![tx.payload()]
            }
            (None, Some(p)) => {
                let psbt = decode_psbt(&p)?;
                let network = self.row(id)?.body["network"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string();
                req.payloads == vec![btc_payload(&network, &psbt)]
            }
            (None, None) => match self.store.artifact(id, "unsigned", "solana")? {
                Some(u) => {
                    let tx = sol_from_json(&u)?;
                    let network = self.row(id)?.body["network"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string();
                    req.payloads == vec![tx.payload(&network, &self.sol_vault(&network)?)]
                }
                None => false,
            },
        };
        if !tampered.is_empty() || !built_matches {
            self.store.audit(
                "coordinator",
                "tamper.detected",
                id,
                json!({
                    "step": "export",
                    "approvals_not_matching": tampered,
                    "transaction_matches_envelope": built_matches,
                    "digest": hex::encode(req.digest()),
                }),
                now,
            )?;
            return Err(PipelineError::Tampered(
                "the stored envelope no longer matches what was approved: storage was edited; nothing exported".into(),
            ));
        }
        req.sign_with(key);
        self.store.put_artifact(
            id,
            "export",
            "request",
            &hex::encode(req.to_cbor()),
            actor,
            json!({"digest": hex::encode(req.digest()), "approvals": req.approvals.len()}),
            now,
        )?;
        self.crash_point("export-stored");
        self.store
            .transition(id, Event::Exported, actor, json!({}), now)?;
        self.crash_point("exported");
        match self.store.artifact(id, "export", "request")? {
            Some(h) => decode_request(&h),
            None => Err(corrupt("export vanished")),
        }
    }

    /// The exported envelope, if the request was exported.
    pub fn exported(&self, id: &str) -> Result<Option<SignRequest>, PipelineError> {
        self.store
            .artifact(id, "export", "request")?
            .map(|h| decode_request(&h))
            .transpose()
    }

    // ----- import, finalise -----

    /// Takes a station's response (CBOR): checked against the exported envelope and the
    /// registered station's identity key, stored with its ledger entries, then the
    /// transaction is finalised. A refusal fails the request with the station's reason.
    pub fn import(
        &self,
        id: &str,
        response: &[u8],
        actor: &str,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        let resp = SignResponse::from_cbor(response)
            .map_err(|e| refused(format!("station response: {e}")))?;
        let req = self
            .exported(id)?
            .ok_or_else(|| PipelineError::WrongState("this request was not exported".into()))?;
        let (name, station) = self
            .stations()?
            .into_iter()
            .find(|(_, s)| s.descriptor.station_id().ok() == Some(resp.station))
            .ok_or_else(|| refused("the response comes from a station that is not registered"))?;
        let vk = VerifyingKey::from_bytes(&station.descriptor.identity).map_err(corrupt)?;
        verify_response(&resp, &req, &vk)
            .map_err(|e| refused(format!("the response does not verify: {e}")))?;
        let outcome = match &resp.outcome {
            Outcome::Signed(s) => json!({"signed": s.len()}),
            Outcome::Refused { code, reason } => json!({"refused": code, "reason": reason}),
        };
        self.store.put_artifact(
            id,
            "response",
            &name,
            &hex::encode(response),
            actor,
            json!({
                "station": name,
                "outcome": outcome,
                "station_ledger": resp.ledger_entries.iter().map(hex::encode).collect::<Vec<_>>(),
            }),
            now,
        )?;
        self.crash_point("response-stored");
        match &resp.outcome {
            Outcome::Refused { code, reason } => Ok(self.store.transition(
                id,
                Event::Failed,
                &name,
                json!({"station_refused": code, "reason": reason}),
                now,
            )?),
            Outcome::Signed(_) => self.finalise(id, now),
        }
    }

    /// Takes a PSBT signed by a hardware-wallet cosigner of a Bitcoin vault (v0 or v2):
    /// for the exported transaction, every signature valid and from a key the inputs
    /// name, every input signed by the cosigner. Only the cosigners' signatures are kept
    /// (a station's count only with its own response and ledger); each cosigner's are
    /// stored once, write-once, then the transaction is finalised when enough signers
    /// have answered.
    pub fn import_cosigner(
        &self,
        id: &str,
        psbt: &[u8],
        actor: &str,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        let row = self.row(id)?;
        let base = match self.store.artifact(id, "unsigned", "bitcoin")? {
            Some(u) => decode_psbt(&u)?,
            None => return Err(refused("a cosigner's PSBT is for a Bitcoin request")),
        };
        if self.exported(id)?.is_none() {
            return Err(PipelineError::WrongState(
                "this request was not exported".into(),
            ));
        }
        if !matches!(row.state, State::Exported | State::PartiallySigned) {
            return Ok(row);
        }
        let network = row.body["network"].as_str().unwrap_or_default().to_string();
        let chain = self.btc_chain(&network)?;
        let signed = crate::bitcoin::v2::deserialize_any(psbt)
            .map_err(|e| refused(format!("not a PSBT: {e}")))?;
        crate::bitcoin::combine(&base, std::slice::from_ref(&signed))
            .map_err(|e| refused(format!("the PSBT cannot be used: {e}")))?;
        let mut found = 0;
        for c in &chain.config.cosigners {
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
            match self.store.put_artifact(
                id,
                "cosigner",
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
            let names: Vec<&str> = chain
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
        self.crash_point("response-stored");
        self.finalise(id, now)
    }

    /// Builds the final transaction from the stored responses (idempotent).
    pub fn finalise(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let row = self.row(id)?;
        if !matches!(
            row.state,
            State::Exported | State::PartiallySigned | State::Signed
        ) {
            return Ok(row);
        }
        if self.store.artifact(id, "unsigned", "bitcoin")?.is_some() {
            return self.finalise_btc(id, &row, now);
        }
        if let Some(u) = self.store.artifact(id, "unsigned", "solana")? {
            return self.finalise_sol(id, &row, &sol_from_json(&u)?, now);
        }
        let tx: UnsignedEvmTx = match self.store.artifact(id, "unsigned", "evm")? {
            Some(u) => serde_json::from_str(&u).map_err(corrupt)?,
            None => {
                return Err(PipelineError::Unconfigured(
                    "only EVM and Bitcoin are finalised here".into(),
                ))
            }
        };
        let mut sig = None;
        for (_, h) in self.store.artifacts(id, "response")? {
            let resp =
                SignResponse::from_cbor(&hex::decode(&h).map_err(corrupt)?).map_err(corrupt)?;
            if let Outcome::Signed(sigs) = resp.outcome {
                if let [PayloadSignature::Evm(s)] = sigs.as_slice() {
                    sig = Some(*s);
                }
            }
        }
        let Some(sig) = sig else {
            return Ok(row);
        };
        let signed = attach_signature(&tx, &sig)
            .map_err(|e| refused(format!("the station's signature cannot be used: {e}")))?;
        self.store.put_artifact(
            id,
            "final",
            "evm",
            &serde_json::to_string(&signed).map_err(corrupt)?,
            "coordinator",
            json!({"hash": signed.hash, "from": signed.from, "nonce": signed.nonce}),
            now,
        )?;
        self.store
            .transition(id, Event::FullySigned, "coordinator", json!({}), now)?;
        let row = self.store.transition(
            id,
            Event::Finalised,
            "coordinator",
            json!({"hash": signed.hash}),
            now,
        )?;
        self.crash_point("finalised");
        Ok(row)
    }

    fn finalise_btc(
        &self,
        id: &str,
        row: &RequestRow,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        let network = row.body["network"].as_str().unwrap_or_default().to_string();
        let chain = self.btc_chain(&network)?;
        let base = match self.store.artifact(id, "unsigned", "bitcoin")? {
            Some(u) => decode_psbt(&u)?,
            None => return Err(corrupt("no transaction")),
        };
        let mut parts = Vec::new();
        for (_, h) in self.store.artifacts(id, "response")? {
            let resp =
                SignResponse::from_cbor(&hex::decode(&h).map_err(corrupt)?).map_err(corrupt)?;
            if let Outcome::Signed(sigs) = resp.outcome {
                if let [PayloadSignature::Psbt(b)] = sigs.as_slice() {
                    parts.push(bitcoin::Psbt::deserialize(b).map_err(|e| {
                        refused(format!("a station returned an unreadable PSBT: {e}"))
                    })?);
                }
            }
        }
        for (_, h) in self.store.artifacts(id, "cosigner")? {
            parts.push(decode_psbt(&h)?);
        }
        let mut combined = crate::bitcoin::combine(&base, &parts)
            .map_err(|e| refused(format!("a station's signatures cannot be used: {e}")))?;
        if parts.len() < chain.config.threshold {
            if row.state == State::Exported && !parts.is_empty() {
                return Ok(self.store.transition(
                    id,
                    Event::PartiallySigned,
                    "coordinator",
                    json!({"signed_by": parts.len(), "threshold": chain.config.threshold}),
                    now,
                )?);
            }
            return Ok(row.clone());
        }
        let tx = self.with_vault(chain, |v| {
            v.finalize(&mut combined)
                .map_err(|e| refused(format!("cannot finalise: {e}")))
        })?;
        let prevouts: std::collections::HashMap<bitcoin::OutPoint, bitcoin::TxOut> = combined
            .unsigned_tx
            .input
            .iter()
            .zip(&combined.inputs)
            .filter_map(|(i, p)| p.witness_utxo.clone().map(|o| (i.previous_output, o)))
            .collect();
        crate::bitcoin::verify_with_core(&tx, |o| prevouts.get(o).cloned())
            .map_err(|e| refused(format!("Bitcoin Core's interpreter refuses it: {e}")))?;
        let txid = tx.compute_txid();
        self.store.put_artifact(
            id,
            "final",
            "bitcoin",
            &json!({"raw": bitcoin::consensus::encode::serialize_hex(&tx), "txid": txid.to_string()})
                .to_string(),
            "coordinator",
            json!({"txid": txid.to_string(), "weight": tx.weight().to_wu()}),
            now,
        )?;
        self.store
            .transition(id, Event::FullySigned, "coordinator", json!({}), now)?;
        let row = self.store.transition(
            id,
            Event::Finalised,
            "coordinator",
            json!({"txid": txid.to_string()}),
            now,
        )?;
        self.crash_point("finalised");
        Ok(row)
    }

    fn finalise_sol(
        &self,
        id: &str,
        row: &RequestRow,
        tx: &crate::solana::UnsignedSolTx,
        now: u64,
    ) -> Result<RequestRow, PipelineError> {
        let mut sigs = Vec::new();
        for (_, h) in self.store.artifacts(id, "response")? {
            let resp =
                SignResponse::from_cbor(&hex::decode(&h).map_err(corrupt)?).map_err(corrupt)?;
            if let Outcome::Signed(s) = resp.outcome {
                if let [PayloadSignature::Solana(s)] = s.as_slice() {
                    sigs.extend(s.iter().copied());
                }
            }
        }
        if sigs.is_empty() {
            return Ok(row.clone());
        }
        let wire = crate::solana::assemble(tx, &sigs)
            .map_err(|e| refused(format!("the station's signatures cannot be used: {e}")))?;
        let signature = bs58::encode(wire.get(1..65).unwrap_or_default()).into_string();
        self.store.put_artifact(
            id,
            "final",
            "solana",
            &json!({"wire": hex::encode(&wire), "signature": signature}).to_string(),
            "coordinator",
            json!({"signature": signature}),
            now,
        )?;
        self.store
            .transition(id, Event::FullySigned, "coordinator", json!({}), now)?;
        let row = self.store.transition(
            id,
            Event::Finalised,
            "coordinator",
            json!({"signature": signature}),
            now,
        )?;
        self.crash_point("finalised");
        Ok(row)
    }

    #[allow(clippy::type_complexity)]
    fn final_sol(
        &self,
        id: &str,
    ) -> Result<Option<(crate::solana::UnsignedSolTx, Vec<u8>, String, &SolChain)>, PipelineError>
    {
        let Some(f) = self.store.artifact(id, "final", "solana")? else {
            return Ok(None);
        };
        let u = self
            .store
            .artifact(id, "unsigned", "solana")?
            .ok_or_else(|| corrupt("no transaction"))?;
        let v: Value = serde_json::from_str(&f).map_err(corrupt)?;
        let wire = hex::decode(v["wire"].as_str().unwrap_or_default()).map_err(corrupt)?;
        let sig = v["signature"].as_str().unwrap_or_default().to_string();
        let row = self.row(id)?;
        let chain = self.sol_chain(row.body["network"].as_str().unwrap_or_default())?;
        Ok(Some((sol_from_json(&u)?, wire, sig, chain)))
    }

    #[allow(clippy::type_complexity)]
    fn final_btc(
        &self,
        id: &str,
    ) -> Result<Option<(bitcoin::Transaction, &BtcChain)>, PipelineError> {
        let Some(f) = self.store.artifact(id, "final", "bitcoin")? else {
            return Ok(None);
        };
        let row = self.row(id)?;
        let v: Value = serde_json::from_str(&f).map_err(corrupt)?;
        let raw = hex::decode(v["raw"].as_str().unwrap_or_default()).map_err(corrupt)?;
        let tx: bitcoin::Transaction = bitcoin::consensus::deserialize(&raw).map_err(corrupt)?;
        let chain = self.btc_chain(row.body["network"].as_str().unwrap_or_default())?;
        Ok(Some((tx, chain)))
    }

    fn final_evm(&self, id: &str) -> Result<(SignedEvmTx, &EvmChain), PipelineError> {
        let row = self.row(id)?;
        let network = row.body["network"].as_str().unwrap_or_default().to_string();
        let f = self
            .store
            .artifact(id, "final", "evm")?
            .ok_or_else(|| refused("no final transaction"))?;
        let signed: SignedEvmTx = serde_json::from_str(&f).map_err(corrupt)?;
        Ok((signed, self.evm_chain(&network)?))
    }

    // ----- broadcast, confirm -----

    /// Sends the final transaction (under a lease). A node that already has it, or has
    /// mined it, counts as sent: the same bytes can only land once.
    pub fn broadcast(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let row = self.row(id)?;
        if row.state != State::Finalised {
            return Ok(row);
        }
        if !self.store.claim(id, "broadcast", &self.owner, now, 60)? {
            return Err(PipelineError::Busy);
        }
        if let Some((_, wire, sig, chain)) = self.final_sol(id)? {
            if let Err(e) = chain.node.send(&wire) {
                let known = chain
                    .node
                    .statuses(std::slice::from_ref(&sig))
                    .ok()
                    .and_then(|s| s.into_iter().next().flatten())
                    .is_some();
                if !known {
                    return Err(chain_err(e));
                }
            }
            self.crash_point("sent");
            let row = self.store.transition(
                id,
                Event::Broadcast,
                "coordinator",
                json!({"signature": sig}),
                now,
            )?;
            self.crash_point("broadcast");
            return Ok(row);
        }
        if let Some((tx, chain)) = self.final_btc(id)? {
            let txid = tx.compute_txid();
            if let Err(e) = chain.source.broadcast(&tx) {
                if chain.source.status(&txid).ok().flatten().is_none() {
                    return Err(chain_err(e));
                }
            }
            self.crash_point("sent");
            let row = self.store.transition(
                id,
                Event::Broadcast,
                "coordinator",
                json!({"txid": txid.to_string()}),
                now,
            )?;
            self.crash_point("broadcast");
            return Ok(row);
        }
        let (signed, chain) = self.final_evm(id)?;
        if let Err(e) = chain.node.send_raw(&signed.raw) {
            let known = chain.node.knows(signed.hash).unwrap_or(false)
                || chain.node.receipt(signed.hash).ok().flatten().is_some();
            if !known {
                return Err(chain_err(e));
            }
        }
        self.crash_point("sent");
        let row = self.store.transition(
            id,
            Event::Broadcast,
            "coordinator",
            json!({"hash": signed.hash}),
            now,
        )?;
        self.crash_point("broadcast");
        Ok(row)
    }

    /// Follows a broadcast transaction to its confirmations.
    pub fn track(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let row = self.row(id)?;
        if row.state != State::Broadcast {
            return Ok(row);
        }
        if let Some((tx, wire, _, chain)) = self.final_sol(id)? {
            use crate::solana::SolState;
            let t = crate::solana::SolTracker::new(&tx, &wire, &chain.config.commitment);
            let event = match t.poll(&chain.node).map_err(chain_err)? {
                SolState::Landed { slot } => Some((Event::Confirmed, json!({"slot": slot}))),
                SolState::Failed { err } => Some((Event::Failed, json!({"runtime_error": err}))),
                SolState::NonceAdvanced => Some((
                    Event::Failed,
                    json!({"nonce_advanced": "another transaction used the durable nonce"}),
                )),
                SolState::NotFound => {
                    // The same bytes again: its nonce is still valid, it lands once.
                    chain.node.send(&wire).map_err(chain_err)?;
                    None
                }
                SolState::Processing { .. } => None,
            };
            return match event {
                Some((e, d)) => Ok(self.store.transition(id, e, "coordinator", d, now)?),
                None => Ok(row),
            };
        }
        if let Some((tx, chain)) = self.final_btc(id)? {
            use crate::bitcoin::chain::Confirmation;
            let mut t = crate::bitcoin::chain::ConfirmationTracker::new(tx.compute_txid());
            return match t.poll(chain.source.as_ref()).map_err(chain_err)? {
                Confirmation::Confirmed {
                    height,
                    confirmations,
                } if confirmations >= chain.config.confirmations => Ok(self.store.transition(
                    id,
                    Event::Confirmed,
                    "coordinator",
                    json!({"height": height, "confirmations": confirmations}),
                    now,
                )?),
                Confirmation::Unknown => {
                    // The same bytes again: one transaction can only confirm once.
                    chain.source.broadcast(&tx).map_err(chain_err)?;
                    Ok(row)
                }
                _ => Ok(row),
            };
        }
        let (signed, chain) = self.final_evm(id)?;
        let mut tracker = Tracker::new(&signed, chain.config.confirmations);
        let event = match tracker.poll(&chain.node).map_err(chain_err)? {
            TrackState::Final {
                block,
                success: true,
            } => Some((Event::Confirmed, json!({"block": block}))),
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
                chain.node.send_raw(&signed.raw).map_err(chain_err)?;
                None
            }
            TrackState::Pending | TrackState::Included { .. } | TrackState::Reorged { .. } => None,
        };
        match event {
            Some((e, d)) => Ok(self.store.transition(id, e, "coordinator", d, now)?),
            None => Ok(row),
        }
    }

    /// Moves every request as far as it goes without a person: builds envelopes for
    /// requests awaiting approvals, finalises, broadcasts, tracks. Returns what failed
    /// (request id, reason); the next round retries.
    pub fn advance_all(&self, now: u64) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        let states = [
            State::AwaitingApprovals,
            State::Approved,
            State::Exported,
            State::PartiallySigned,
            State::Signed,
            State::Finalised,
            State::Broadcast,
        ];
        for state in states {
            let rows = match self.store.in_state(state, None) {
                Ok(r) => r,
                Err(e) => {
                    errors.push((String::new(), e.to_string()));
                    continue;
                }
            };
            for row in rows {
                // Each request's step is written whole (artifacts, then state and audit
                // row); between two of them is where a shutdown stops.
                if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    return errors;
                }
                // Requests of networks the pipeline does not build wait for an operator
                // (said once by `prepare` when asked), not retried every round.
                let wired = row.body["network"].as_str().is_some_and(|n| {
                    self.evm.iter().any(|c| c.config.network() == n)
                        || self.bitcoin.iter().any(|c| c.config.network == n)
                        || self.solana.iter().any(|c| c.config.network == n)
                });
                if state == State::AwaitingApprovals && !wired {
                    continue;
                }
                let r = match state {
                    State::AwaitingApprovals => {
                        let r = self.prepare(&row.id, now).map(|_| ());
                        let mut errs = self.build_errors.lock().unwrap_or_else(|p| p.into_inner());
                        match &r {
                            Err(PipelineError::Busy) => {}
                            Err(e) => {
                                errs.insert(row.id.clone(), e.to_string());
                            }
                            Ok(()) => {
                                errs.remove(&row.id);
                            }
                        }
                        r
                    }
                    State::Approved => match self.store.artifact(&row.id, "export", "request") {
                        Ok(Some(_)) => self.export(&row.id, "coordinator", now).map(|_| ()),
                        Ok(None) => Ok(()),
                        Err(e) => Err(e.into()),
                    },
                    // Only what a response came back for (after a crash between
                    // storing it and finalising); the rest waits for the vault room.
                    State::Exported | State::PartiallySigned | State::Signed => {
                        match self.store.artifacts(&row.id, "response") {
                            Ok(r) if r.is_empty() => Ok(()),
                            Ok(_) => self.finalise(&row.id, now).map(|_| ()),
                            Err(e) => Err(e.into()),
                        }
                    }
                    State::Finalised => self.broadcast(&row.id, now).map(|_| ()),
                    _ => self.track(&row.id, now).map(|_| ()),
                };
                if let Err(e) = r {
                    errors.push((row.id, e.to_string()));
                }
            }
        }
        errors
    }
}

fn decode_request(h: &str) -> Result<SignRequest, PipelineError> {
    SignRequest::from_cbor(&hex::decode(h).map_err(corrupt)?).map_err(corrupt)
}

fn decode_psbt(h: &str) -> Result<bitcoin::Psbt, PipelineError> {
    bitcoin::Psbt::deserialize(&hex::decode(h).map_err(corrupt)?).map_err(corrupt)
}

/// The payload a PSBT travels in (version 0: what stations review).
fn btc_payload(network: &str, psbt: &bitcoin::Psbt) -> airgap_protocol::envelope::Payload {
    airgap_protocol::envelope::Payload {
        network: network.into(),
        signer: "vault".into(),
        body: airgap_protocol::envelope::PayloadBody::Psbt {
            version: 0,
            bytes: psbt.serialize(),
        },
        hints: airgap_protocol::envelope::DisplayHints::default(),
    }
}

fn sol_to_json(tx: &crate::solana::UnsignedSolTx) -> Value {
    json!({
        "message": hex::encode(&tx.message),
        "signers": tx.signers.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "nonce_account": tx.nonce_account.map(|a| a.to_string()),
        "blockhash": tx.blockhash.to_string(),
        "last_valid_block_height": tx.last_valid_block_height,
    })
}

fn sol_from_json(s: &str) -> Result<crate::solana::UnsignedSolTx, PipelineError> {
    let v: Value = serde_json::from_str(s).map_err(corrupt)?;
    let addr = |x: &Value| {
        x.as_str()
            .and_then(|a| solana_address::Address::from_str(a).ok())
            .ok_or_else(|| corrupt("Solana address"))
    };
    Ok(crate::solana::UnsignedSolTx {
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

/// A Bitcoin network by its request name.
fn btc_network(name: &str) -> Result<bitcoin::Network, PipelineError> {
    match name {
        "bitcoin" => Ok(bitcoin::Network::Bitcoin),
        "testnet" => Ok(bitcoin::Network::Testnet),
        "signet" => Ok(bitcoin::Network::Signet),
        "regtest" => Ok(bitcoin::Network::Regtest),
        n => Err(PipelineError::Unconfigured(format!(
            "unknown Bitcoin network {n}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A cosigner's key: a compressed public key, optionally with an origin that starts
    /// with an 8-digit fingerprint; anything else says what is wrong.
    #[test]
    fn cosigner_keys() {
        let key = "02d8e4f6a1d0b7b1b5e9b3c1a6e1e9a8d2f36c4c2a0f6b3f1b4a0d3e5f6a7b8c9d";
        let pk = bitcoin::PublicKey::from_str(
            "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798",
        )
        .unwrap();
        let c = |key: &str| Cosigner {
            name: "coldcard".into(),
            key: key.into(),
        };
        assert_eq!(c(&pk.to_string()).public_key().unwrap(), pk);
        assert_eq!(
            c(&format!("[d34db33f/48'/0'/0'/2']{pk}"))
                .public_key()
                .unwrap(),
            pk
        );
        let uncompressed = bitcoin::PublicKey::new_uncompressed(pk.inner).to_string();
        for (bad, says) in [
            (format!("[d34db33f/48'/0'/0'/2'{pk}"), "not closed"),
            (format!("[d34d/48']{pk}"), "8-digit fingerprint"),
            (format!("[zzzzzzzz/48']{pk}"), "8-digit fingerprint"),
            (key[..20].to_string(), "not a public key"),
            (uncompressed, "compressed"),
        ] {
            let e = c(&bad).public_key().unwrap_err();
            assert!(e.contains(says) && e.contains("coldcard"), "{bad}: {e}");
        }
    }

    fn tpub(seed: u8) -> bitcoin::bip32::Xpub {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let master = bitcoin::bip32::Xpriv::new_master(bitcoin::NetworkKind::Test, &[seed; 32])
            .expect("seed");
        bitcoin::bip32::Xpub::from_priv(&secp, &master)
    }

    /// A Bitcoin watch is a descriptor and a refill address that belongs to it, on the
    /// vault's network; anything else is refused with the reason.
    #[test]
    fn bitcoin_watch_needs_its_descriptor_and_one_of_its_addresses() {
        let desc = format!("wpkh({}/0/*)", tpub(1));
        let own = crate::bitcoin::Vault::from_descriptor("w", &desc, bitcoin::Network::Regtest)
            .unwrap()
            .address()
            .to_string();
        let other = crate::bitcoin::Vault::from_descriptor(
            "o",
            &format!("wpkh({}/0/*)", tpub(2)),
            bitcoin::Network::Regtest,
        )
        .unwrap()
        .address()
        .to_string();
        let mainnet = "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq";
        let watch = |address: &str, descriptor: Option<&str>| Watch {
            network: "regtest".into(),
            address: address.into(),
            descriptor: descriptor.map(Into::into),
            low: "1".into(),
            high: "2".into(),
            every_secs: 60,
        };
        let cases: [(Watch, Option<&str>); 5] = [
            (watch(&own, Some(&desc)), None),
            (
                watch(&own, None),
                Some("needs the warm wallet's descriptor"),
            ),
            (
                watch(&other, Some(&desc)),
                Some("not one of the descriptor's"),
            ),
            (
                watch(mainnet, Some(&desc)),
                Some("not an address on regtest"),
            ),
            (watch(&own, Some("wpkh(nonsense)")), Some("watch ")),
        ];
        for (w, refusal) in cases {
            let got = w.bitcoin_wallet(bitcoin::Network::Regtest);
            match (got, refusal) {
                (Ok(_), None) => {}
                (Err(e), Some(says)) => assert!(e.contains(says), "{e} should say {says}"),
                (Ok(_), Some(says)) => panic!("{} accepted; should say {says}", w.address),
                (Err(e), None) => panic!("{} refused: {e}", w.address),
            }
        }
    }
}
