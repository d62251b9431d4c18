//! Requests as the rehearsal coordinator would send them: one payload, approved by the
//! two rehearsal approvers and signed by the rehearsal coordinator key that rehearsal
//! stations trust.

use std::time::{SystemTime, UNIX_EPOCH};

use airgap_protocol::envelope::{KeyId, Payload, Purpose, SignRequest};
use sha2::{Digest, Sha256};
use signer_station::tui::rehearsal;

/// Unix seconds now.
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A request carrying `payload`, valid for an hour; its id derives from `id`.
pub fn signed_request(payload: Payload, purpose: Purpose, id: &str) -> SignRequest {
    let mut request_id = [0u8; 16];
    request_id.copy_from_slice(&Sha256::digest(id.as_bytes())[..16]);
    let mut r = SignRequest {
        request_id,
        created: now(),
        expires: now() + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose,
        requester: "treasury".into(),
        memo: id.into(),
        payloads: vec![payload],
        approvals: vec![],
        coordinator_signature: [0; 64],
    };
    rehearsal::resign(&mut r);
    r
}
