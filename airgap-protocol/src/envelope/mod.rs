//! Signed envelopes: what the coordinator asks the station to sign, and what the station
//! answers. The contract between the two zones; see docs/PROTOCOL.md for the CDDL.
//!
//! Encoding is deterministic CBOR (definite lengths, minimal integers, positional
//! arrays). Decoding is strict: a decoded envelope must re-encode to exactly the bytes it
//! came from, so there is one encoding of every envelope and signatures cover it.

mod codec;
mod descriptor;
mod transport;
mod verify;

pub use descriptor::{DescriptorKey, StationDescriptor};

pub use transport::{
    decode_envelope, encode_envelope, Envelope, DESCRIPTOR_UR_TYPE, REQUEST_UR_TYPE,
    RESPONSE_UR_TYPE,
};
pub use verify::{
    verify_request, verify_response, Approver, Role, TrustAnchors, VerifiedRequest, VerifyError,
};

use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// Envelope format version carried in every request and response.
pub const FORMAT_VERSION: u8 = 1;

/// Caps applied while decoding, before anything is allocated for it.
pub mod limits {
    /// Payloads in one request.
    pub const MAX_PAYLOADS: usize = 256;
    /// Approvals in one request.
    pub const MAX_APPROVALS: usize = 64;
    /// Bytes of one payload (a 1,000-input PSBT is about 1 MB with previous txs).
    pub const MAX_PAYLOAD_BYTES: usize = 4 * 1024 * 1024;
    /// Characters of the requester name.
    pub const MAX_REQUESTER: usize = 128;
    /// Characters of the memo.
    pub const MAX_MEMO: usize = 1024;
    /// Characters of other short strings (network, signer, hints).
    pub const MAX_SHORT: usize = 128;
    /// Signers of one Solana message.
    pub const MAX_SIGNERS: usize = 16;
    /// Ledger entries in one response.
    pub const MAX_LEDGER_ENTRIES: usize = 1024;
    /// Bytes of a whole envelope.
    pub const MAX_ENVELOPE_BYTES: usize = 8 * 1024 * 1024;
}

/// Domain-separation prefixes: a signature made for one purpose never verifies for another.
pub(crate) mod domain {
    pub const REQUEST_DIGEST: &[u8] = b"strongroom/request-digest/v1";
    pub const APPROVAL: &[u8] = b"strongroom/approval/v1";
    pub const COORDINATOR: &[u8] = b"strongroom/request/v1";
    pub const RESPONSE: &[u8] = b"strongroom/response/v1";
}

/// An 8-byte key identifier: the first 8 bytes of SHA-256 of the Ed25519 public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId(pub [u8; 8]);

impl KeyId {
    /// The id of a public key.
    pub fn of(key: &VerifyingKey) -> Self {
        let h = Sha256::digest(key.as_bytes());
        let mut id = [0u8; 8];
        id.copy_from_slice(&h[..8]);
        Self(id)
    }
}

impl std::fmt::Display for KeyId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

/// Why a request was made. Approval thresholds are set per purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// A customer or treasury withdrawal.
    Withdrawal,
    /// Refill of the warm or hot tier.
    Refill,
    /// Collection from deposit addresses.
    Sweep,
    /// Consolidation of many coins.
    Consolidation,
    /// Registration of keys (e.g. a durable nonce account).
    KeyRegistration,
}

impl Purpose {
    pub(crate) fn code(self) -> u8 {
        match self {
            Self::Withdrawal => 1,
            Self::Refill => 2,
            Self::Sweep => 3,
            Self::Consolidation => 4,
            Self::KeyRegistration => 5,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<Self> {
        Some(match c {
            1 => Self::Withdrawal,
            2 => Self::Refill,
            3 => Self::Sweep,
            4 => Self::Consolidation,
            5 => Self::KeyRegistration,
            _ => return None,
        })
    }
}

/// Chain family of a payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Chain {
    /// Bitcoin.
    Bitcoin,
    /// Any EVM chain.
    Evm,
    /// Solana.
    Solana,
}

/// The transaction to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadBody {
    /// A PSBT, version 0 or 2 (BIP-174 / BIP-370), serialized.
    Psbt {
        /// 0 or 2.
        version: u8,
        /// The serialized PSBT.
        bytes: Vec<u8>,
    },
    /// An unsigned EVM transaction as EIP-2718 bytes (legacy RLP, or type byte + RLP).
    EvmTx {
        /// The chain id the transaction is for.
        chain_id: u64,
        /// The address that must sign.
        signer: [u8; 20],
        /// The unsigned transaction.
        tx: Vec<u8>,
    },
    /// A Solana message (legacy or v0), serialized.
    SolanaMessage {
        /// The serialized message.
        message: Vec<u8>,
        /// Public keys that must sign.
        signers: Vec<[u8; 32]>,
        /// The durable nonce account, when the message uses one.
        nonce_account: Option<[u8; 32]>,
    },
}

impl PayloadBody {
    /// The chain family.
    pub fn chain(&self) -> Chain {
        match self {
            Self::Psbt { .. } => Chain::Bitcoin,
            Self::EvmTx { .. } => Chain::Evm,
            Self::SolanaMessage { .. } => Chain::Solana,
        }
    }
}

/// Display hints the coordinator supplies. The station may show them, labelled as such,
/// but never takes amounts, decimals or token identity from them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DisplayHints {
    /// Token symbol.
    pub token_symbol: Option<String>,
    /// Token decimals.
    pub decimals: Option<u8>,
    /// Token contract or mint, in the chain's own format.
    pub contract: Option<String>,
}

/// One transaction to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// Network name (`bitcoin`, `testnet`, `signet`, `regtest`; `evm:<chain id>`;
    /// `solana:mainnet-beta`, `solana:devnet` ...).
    pub network: String,
    /// The key or account that must sign, in the chain's own format.
    pub signer: String,
    /// The transaction.
    pub body: PayloadBody,
    /// Hints for display only.
    pub hints: DisplayHints,
}

/// One approver's signature over the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approval {
    /// The approver's key id.
    pub approver: KeyId,
    /// Ed25519 over `strongroom/approval/v1 || request digest`, or EIP-712 over the
    /// typed approval (see [`crate::approval`]).
    pub signature: crate::approval::ApprovalSignature,
}

/// A signing request, as the coordinator exports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignRequest {
    /// UUID of the request.
    pub request_id: [u8; 16],
    /// Creation time, Unix seconds UTC.
    pub created: u64,
    /// Expiry, Unix seconds UTC.
    pub expires: u64,
    /// The coordinator request key that signs this envelope.
    pub coordinator_key: KeyId,
    /// Why.
    pub purpose: Purpose,
    /// Who asked (a principal name).
    pub requester: String,
    /// Free text.
    pub memo: String,
    /// The transactions.
    pub payloads: Vec<Payload>,
    /// Approvals over the request digest.
    pub approvals: Vec<Approval>,
    /// The coordinator's signature over everything above.
    pub coordinator_signature: [u8; 64],
}

impl SignRequest {
    /// The request digest: SHA-256 over the request's content, without the coordinator
    /// key id, approvals and signature. Approvers sign it; responses name it.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(domain::REQUEST_DIGEST);
        h.update(codec::encode_request_core(self));
        h.finalize().into()
    }

    /// What an approver signs.
    pub fn approval_message(digest: &[u8; 32]) -> Vec<u8> {
        [domain::APPROVAL, digest].concat()
    }

    /// What the coordinator signs: the request with its approvals.
    pub fn coordinator_message(&self) -> Vec<u8> {
        let h: [u8; 32] = Sha256::digest(codec::encode_request_unsigned(self)).into();
        [domain::COORDINATOR, &h].concat()
    }

    /// Adds an approval signed with `key`.
    pub fn approve_with(&mut self, key: &SigningKey) {
        let sig = key.sign(&Self::approval_message(&self.digest()));
        self.approvals.push(Approval {
            approver: KeyId::of(&key.verifying_key()),
            signature: crate::approval::ApprovalSignature::Ed25519(sig.to_bytes()),
        });
    }

    /// Signs the envelope with the coordinator's request key.
    pub fn sign_with(&mut self, key: &SigningKey) {
        self.coordinator_key = KeyId::of(&key.verifying_key());
        self.coordinator_signature = key.sign(&self.coordinator_message()).to_bytes();
    }

    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        codec::encode_request(self)
    }

    /// Strict decode (canonical form, caps).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        codec::decode_request(bytes)
    }
}

/// The signatures for one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadSignature {
    /// The PSBT with the station's partial signatures added.
    Psbt(Vec<u8>),
    /// `r || s || v` with v the y-parity (0 or 1); low-S.
    Evm([u8; 65]),
    /// One Ed25519 signature per signer the station holds.
    Solana(Vec<([u8; 32], [u8; 64])>),
}

/// What the station did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Signed: one entry per payload, in request order.
    Signed(Vec<PayloadSignature>),
    /// Refused, with a machine-readable code and the custodians' or policy's reason.
    Refused {
        /// Stable reason code (see docs/PROTOCOL.md).
        code: u16,
        /// Human-readable reason.
        reason: String,
    },
}

/// The station's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignResponse {
    /// The digest of the request answered.
    pub request_digest: [u8; 32],
    /// The request id answered (for the operator; the digest is what binds).
    pub request_id: [u8; 16],
    /// The station identity key.
    pub station: KeyId,
    /// When the station answered, Unix seconds UTC (station clock).
    pub created: u64,
    /// Signatures or refusal.
    pub outcome: Outcome,
    /// The station ledger entries written for this signing, opaque here.
    pub ledger_entries: Vec<Vec<u8>>,
    /// Station identity signature over everything above.
    pub station_signature: [u8; 64],
}

impl SignResponse {
    /// What the station signs.
    pub fn station_message(&self) -> Vec<u8> {
        let h: [u8; 32] = Sha256::digest(codec::encode_response_unsigned(self)).into();
        [domain::RESPONSE, &h].concat()
    }

    /// Signs with a software key (tests, and the MockHsm demo).
    pub fn sign_with(&mut self, key: &SigningKey) {
        self.station = KeyId::of(&key.verifying_key());
        self.station_signature = key.sign(&self.station_message()).to_bytes();
    }

    /// Canonical CBOR.
    pub fn to_cbor(&self) -> Vec<u8> {
        codec::encode_response(self)
    }

    /// Strict decode.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        codec::decode_response(bytes)
    }
}

/// Errors decoding an envelope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EnvelopeError {
    /// Malformed CBOR or wrong structure.
    #[error("malformed envelope: {0}")]
    Malformed(String),
    /// Valid CBOR that is not in canonical form.
    #[error("envelope is not in canonical form")]
    NonCanonical,
    /// Unknown format version.
    #[error("unsupported envelope version {found} (this build reads {expected})")]
    Version {
        /// Supported.
        expected: u8,
        /// Found.
        found: u8,
    },
    /// A count or size over its cap.
    #[error("{what}: {found} over the limit of {limit}")]
    TooLarge {
        /// What.
        what: &'static str,
        /// Found.
        found: usize,
        /// Limit.
        limit: usize,
    },
    /// An unknown enumeration value.
    #[error("unknown {what} code {code}")]
    UnknownCode {
        /// What.
        what: &'static str,
        /// The code.
        code: u64,
    },
    /// A request with no payload.
    #[error("request has no payload")]
    NoPayload,
    /// Compressed envelope failed to inflate.
    #[error("compressed envelope invalid: {0}")]
    Inflate(String),
}

/// Formats Unix seconds as `YYYY-MM-DD HH:MM:SS UTC`.
pub fn format_utc(secs: u64) -> String {
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil-from-days (H. Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Formats a 16-byte UUID in its canonical text form.
pub fn format_uuid(id: &[u8; 16]) -> String {
    let h: String = id.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_time_and_uuid() {
        assert_eq!(format_utc(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_utc(1_795_000_000), "2026-11-18 11:06:40 UTC");
        assert_eq!(format_utc(951_782_400), "2000-02-29 00:00:00 UTC");
        let id = [
            0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17,
            0x40, 0x00,
        ];
        assert_eq!(format_uuid(&id), "123e4567-e89b-12d3-a456-426614174000");
    }
}
