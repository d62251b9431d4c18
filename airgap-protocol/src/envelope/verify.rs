//! Verifying envelopes against pinned keys. Every failure is its own error, so the
//! station can tell custodians exactly what is wrong and the coordinator learns why.

use std::collections::{HashMap, HashSet};

use ed25519_dalek::{Signature, VerifyingKey};

use super::{KeyId, Purpose, SignRequest, SignResponse};

/// An approver's role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Treasury officer.
    Treasury,
    /// Risk / compliance officer.
    Risk,
    /// Security officer.
    Security,
}

/// A pinned approver.
#[derive(Debug, Clone)]
pub struct Approver {
    /// Name shown to custodians.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Ed25519 key or Ethereum address.
    pub key: crate::approval::ApproverKey,
}

/// What the station (or a test) trusts: pinned coordinator keys, approvers, thresholds.
#[derive(Debug, Clone, Default)]
pub struct TrustAnchors {
    coordinators: HashMap<KeyId, VerifyingKey>,
    approvers: HashMap<KeyId, Approver>,
    thresholds: HashMap<Purpose, usize>,
    default_threshold: usize,
    /// Seconds a request's creation time may lie ahead of the station clock.
    pub clock_skew: u64,
}

impl TrustAnchors {
    /// Anchors requiring `default_threshold` distinct approvals for every purpose.
    pub fn new(default_threshold: usize) -> Self {
        Self {
            default_threshold,
            clock_skew: 300,
            ..Self::default()
        }
    }
    /// Pins a coordinator request key.
    pub fn pin_coordinator(&mut self, key: VerifyingKey) -> KeyId {
        let id = KeyId::of(&key);
        self.coordinators.insert(id, key);
        id
    }
    /// Pins an approver.
    pub fn pin_approver(&mut self, approver: Approver) -> KeyId {
        let id = approver.key.id();
        self.approvers.insert(id, approver);
        id
    }
    /// Sets the approval threshold for one purpose.
    pub fn set_threshold(&mut self, purpose: Purpose, n: usize) {
        self.thresholds.insert(purpose, n);
    }
    /// The threshold for a purpose.
    pub fn threshold(&self, purpose: Purpose) -> usize {
        self.thresholds
            .get(&purpose)
            .copied()
            .unwrap_or(self.default_threshold)
    }
    /// A pinned approver by id.
    pub fn approver(&self, id: &KeyId) -> Option<&Approver> {
        self.approvers.get(id)
    }
}

/// Why an envelope was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The coordinator key is not pinned.
    #[error("request signed by unknown coordinator key {0}")]
    UnknownCoordinatorKey(KeyId),
    /// The coordinator signature does not verify: the envelope was changed after signing.
    #[error("coordinator signature invalid: the request was altered or signed by another key")]
    BadCoordinatorSignature,
    /// Expired.
    #[error("request expired at {expires}, station clock {now}")]
    Expired {
        /// Expiry.
        expires: u64,
        /// Station clock.
        now: u64,
    },
    /// Created in the future beyond the allowed clock skew.
    #[error("request created at {created}, ahead of the station clock {now}")]
    NotYetValid {
        /// Creation.
        created: u64,
        /// Station clock.
        now: u64,
    },
    /// Expiry before creation.
    #[error("request expires before it was created")]
    BadValidity,
    /// An approval by a key that is not pinned.
    #[error("approval by unknown approver key {0}")]
    UnknownApprover(KeyId),
    /// The same approver twice.
    #[error("approver {0} appears more than once")]
    DuplicateApprover(KeyId),
    /// An approval signature that does not verify over this request's digest.
    #[error("approval by {0} does not verify over this request")]
    BadApproval(KeyId),
    /// A wallet's typed approval of a request whose payloads a wallet cannot show.
    #[error("approval by {0} came from a wallet, but {1}")]
    ApprovalNotShowable(KeyId, String),
    /// Too few approvals.
    #[error("{have} distinct approvals, policy requires {need} for {purpose:?}")]
    InsufficientApprovals {
        /// Valid distinct approvals.
        have: usize,
        /// Required.
        need: usize,
        /// Purpose.
        purpose: Purpose,
    },
    /// A response that answers another request.
    #[error("response answers another request")]
    WrongRequest,
    /// A response from another station.
    #[error("response from station {found}, expected {expected}")]
    WrongStation {
        /// Expected station.
        expected: KeyId,
        /// Station named in the response.
        found: KeyId,
    },
    /// The station signature does not verify.
    #[error("station signature invalid")]
    BadStationSignature,
    /// A signed response whose signature count does not match the request.
    #[error("response carries {found} signatures for {expected} payloads")]
    SignatureCount {
        /// Payloads.
        expected: usize,
        /// Signatures.
        found: usize,
    },
}

/// A request that passed verification, with the approvers who approved it.
#[derive(Debug, Clone)]
pub struct VerifiedRequest {
    /// The request.
    pub request: SignRequest,
    /// Its digest.
    pub digest: [u8; 32],
    /// Approvers, in envelope order.
    pub approvers: Vec<Approver>,
}

fn check(key: &VerifyingKey, msg: &[u8], sig: &[u8; 64]) -> bool {
    key.verify_strict(msg, &Signature::from_bytes(sig)).is_ok()
}

/// Verifies the coordinator signature, validity window, and approvals.
pub fn verify_request(
    request: &SignRequest,
    anchors: &TrustAnchors,
    now: u64,
) -> Result<VerifiedRequest, VerifyError> {
    let key = anchors
        .coordinators
        .get(&request.coordinator_key)
        .ok_or(VerifyError::UnknownCoordinatorKey(request.coordinator_key))?;
    if !check(
        key,
        &request.coordinator_message(),
        &request.coordinator_signature,
    ) {
        return Err(VerifyError::BadCoordinatorSignature);
    }
    if request.expires <= request.created {
        return Err(VerifyError::BadValidity);
    }
    if now >= request.expires {
        return Err(VerifyError::Expired {
            expires: request.expires,
            now,
        });
    }
    if request.created > now.saturating_add(anchors.clock_skew) {
        return Err(VerifyError::NotYetValid {
            created: request.created,
            now,
        });
    }
    let digest = request.digest();
    let mut seen = HashSet::new();
    let mut approvers = Vec::new();
    for a in &request.approvals {
        let approver = anchors
            .approvers
            .get(&a.approver)
            .ok_or(VerifyError::UnknownApprover(a.approver))?;
        if !seen.insert(a.approver) {
            return Err(VerifyError::DuplicateApprover(a.approver));
        }
        match crate::approval::check(&approver.key, request, &a.signature) {
            Ok(()) => {}
            Err(crate::approval::ApprovalError::NotShowable(why)) => {
                return Err(VerifyError::ApprovalNotShowable(a.approver, why))
            }
            Err(_) => return Err(VerifyError::BadApproval(a.approver)),
        }
        approvers.push(approver.clone());
    }
    let need = anchors.threshold(request.purpose);
    if approvers.len() < need {
        return Err(VerifyError::InsufficientApprovals {
            have: approvers.len(),
            need,
            purpose: request.purpose,
        });
    }
    Ok(VerifiedRequest {
        request: request.clone(),
        digest,
        approvers,
    })
}

/// Verifies that `response` answers `request` and is signed by the pinned station key.
pub fn verify_response(
    response: &SignResponse,
    request: &SignRequest,
    station_key: &VerifyingKey,
) -> Result<(), VerifyError> {
    let expected = KeyId::of(station_key);
    if response.station != expected {
        return Err(VerifyError::WrongStation {
            expected,
            found: response.station,
        });
    }
    if !check(
        station_key,
        &response.station_message(),
        &response.station_signature,
    ) {
        return Err(VerifyError::BadStationSignature);
    }
    if response.request_digest != request.digest() || response.request_id != request.request_id {
        return Err(VerifyError::WrongRequest);
    }
    if let super::Outcome::Signed(sigs) = &response.outcome {
        if sigs.len() != request.payloads.len() {
            return Err(VerifyError::SignatureCount {
                expected: request.payloads.len(),
                found: sigs.len(),
            });
        }
    }
    Ok(())
}
