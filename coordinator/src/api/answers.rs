//! The bodies the API answers with. Handlers build these types and the OpenAPI document
//! is generated from the same types, so the two cannot drift apart.

use serde::Serialize;
use utoipa::ToSchema;

use crate::audit::AuditRecord;
use crate::lifecycle::State;
use crate::risk::Outcome;
use crate::store::RequestRow;

/// Every error: a message safe to show; internals stay in the server's log.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, for a person.
    pub error: String,
}

/// Answers every route may give, documented once (each is sent as an [`ErrorBody`]).
pub mod errors {
    #![allow(dead_code)] // they document answers; handlers build them as `ApiError`s

    use super::ErrorBody;

    /// no such request
    #[derive(utoipa::IntoResponses)]
    #[response(status = 404)]
    pub struct NoSuchRequest(ErrorBody);

    /// invalid query
    #[derive(utoipa::IntoResponses)]
    #[response(status = 400)]
    pub struct BadQuery(ErrorBody);

    /// unknown or missing field
    #[derive(utoipa::IntoResponses)]
    #[response(status = 422)]
    pub struct BadField(ErrorBody);

    /// not exported yet
    #[derive(utoipa::IntoResponses)]
    #[response(status = 409)]
    pub struct NotExported(ErrorBody);

    /// no reason given
    #[derive(utoipa::IntoResponses)]
    #[response(status = 400)]
    pub struct NoReason(ErrorBody);

    /// no deposit pool configured
    #[derive(utoipa::IntoResponses)]
    #[response(status = 503)]
    pub struct NoDeposits(ErrorBody);

    /// A request made under an idempotency key: new, or the first one again.
    #[derive(utoipa::IntoResponses)]
    pub enum Made {
        /// made, with the risk outcome
        #[response(status = 201)]
        New(super::Created),
        /// a replay of the same key: nothing new stored
        #[response(status = 200)]
        Replay(super::Created),
    }
}

/// `GET /health`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `storage unavailable` (with status 503).
    pub status: String,
}

/// One request.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestAnswer {
    /// The request as stored now.
    pub request: RequestRow,
}

/// A created request with the risk engine's outcome, or the replay of an earlier create
/// with the same `Idempotency-Key`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Created {
    /// The request as stored.
    pub request: RequestRow,
    /// The risk engine's outcome (on creation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub risk: Option<Outcome>,
    /// `true` on a replay (status 200): nothing new was stored.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replayed: Option<bool>,
}

/// Requests, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestList {
    /// The requests.
    pub requests: Vec<RequestRow>,
    /// When the page is full: the `after` that asks for the next one.
    pub next: Option<String>,
}

/// An exported request as animated QR frames for the station.
#[derive(Debug, Serialize, ToSchema)]
pub struct Frames {
    /// UR type of the stream.
    pub ur_type: String,
    /// Pure fragments in the stream (the frames repeat them, then mixed ones).
    pub fragments: usize,
    /// The UR texts to show in turn.
    pub frames: Vec<String>,
    /// QR version each frame is rendered at.
    pub version: u8,
}

/// A PSBT as BBQr parts, for a hardware-wallet cosigner.
#[derive(Debug, Serialize, ToSchema)]
pub struct BbqrParts {
    /// BBQr file type (`P`, a PSBT).
    pub file_type: String,
    /// QR version of the parts.
    pub version: u8,
    /// The parts, to show in turn.
    pub parts: Vec<String>,
}

/// How a scanned code is encoded.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CodeFormat {
    /// Uniform Resources (`ur:…`).
    Ur,
    /// BBQr (`B$…`).
    Bbqr,
    /// Anything else.
    Plain,
}

/// One QR code read from a camera frame.
#[derive(Debug, Serialize, ToSchema)]
pub struct ScannedCode {
    /// The code's text.
    pub text: String,
    /// Its encoding.
    pub format: CodeFormat,
    /// The UR type, for a UR.
    pub ur_type: Option<String>,
}

/// The QR codes in one camera frame.
#[derive(Debug, Serialize, ToSchema)]
pub struct Scanned {
    /// What was found, possibly nothing.
    pub found: Vec<ScannedCode>,
}

/// A request's transaction on its chain.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChainStatus {
    /// Lifecycle state.
    pub state: State,
    /// `evm`, `bitcoin` or `solana`, once there is a final transaction.
    pub chain: Option<String>,
    /// Transaction hash (EVM), txid (Bitcoin) or signature (Solana).
    pub hash: Option<String>,
    /// The sender's nonce (EVM).
    pub nonce: Option<u64>,
    /// The signed transaction, hex.
    pub raw: Option<String>,
}

/// A registered station.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationRegistered {
    /// Its name.
    pub station: String,
    /// Its identity key (hex).
    pub identity: String,
    /// Whether it signs with the test HSM (never for real funds).
    pub mock_hsm: bool,
}

/// One signing key of a station.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationKey {
    /// `bitcoin`, `evm` or `solana`.
    pub chain: String,
    /// Public key (hex).
    pub public_key: String,
    /// The EVM vault address it controls (checksummed).
    pub address: Option<String>,
}

/// A station and its keys.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationView {
    /// Name.
    pub name: String,
    /// Identity key (hex).
    pub identity: String,
    /// Whether it signs with the test HSM.
    pub mock_hsm: bool,
    /// Whether it has USB keys registered.
    pub usb: bool,
    /// Its signing keys.
    pub keys: Vec<StationKey>,
}

/// Registered stations.
#[derive(Debug, Serialize, ToSchema)]
pub struct StationList {
    /// The stations.
    pub stations: Vec<StationView>,
}

/// A registered approver.
#[derive(Debug, Serialize, ToSchema)]
pub struct ApproverRegistered {
    /// The approver's principal.
    pub approver: String,
}

/// A balance, or why it could not be read.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Balance {
    /// Base units, decimal.
    Amount(String),
    /// Why it is unknown.
    Unknown(ErrorBody),
}

/// A configured vault.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultAnswer {
    /// Network.
    pub network: String,
    /// Name.
    pub name: String,
    /// Base unit of the balance (`sat`, `wei`, `lamport`).
    pub unit: String,
    /// Receiving address, when known.
    pub address: Option<String>,
    /// Spendable balance.
    pub balance: Balance,
    /// Chain-specific facts (threshold and stations, nonce accounts …).
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub detail: serde_json::Map<String, serde_json::Value>,
}

/// Configured vaults.
#[derive(Debug, Serialize, ToSchema)]
pub struct VaultList {
    /// The vaults.
    pub vaults: Vec<VaultAnswer>,
}

/// A deposit address handed out.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositAddress {
    /// Network.
    pub network: String,
    /// Derivation index.
    pub index: u32,
    /// The address.
    pub address: String,
}

/// One deposit address of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositEntry {
    /// Derivation index.
    pub index: u32,
    /// The address.
    pub address: String,
}

/// The deposit addresses handed out on a network.
#[derive(Debug, Serialize, ToSchema)]
pub struct DepositList {
    /// Network.
    pub network: String,
    /// The addresses.
    pub addresses: Vec<DepositEntry>,
}

/// A sweep plan.
#[derive(Debug, Serialize, ToSchema)]
pub struct SweepPlan {
    /// Network.
    pub network: String,
    /// The plan.
    pub plan: crate::bitcoin::sweep::Plan,
}

/// Audit rows.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditRows {
    /// The rows, oldest first.
    pub rows: Vec<AuditRecord>,
}

/// The audit chain's verification.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditVerdict {
    /// Rows verified.
    pub rows: usize,
    /// Whether the whole chain holds.
    pub ok: bool,
    /// The first break, if any.
    #[serde(rename = "break")]
    pub first_break: Option<String>,
}
