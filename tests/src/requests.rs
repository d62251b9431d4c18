//! Requests as the rehearsal coordinator would send them: one payload, approved by the
//! two rehearsal approvers and signed by the rehearsal coordinator key that rehearsal
//! stations trust.

use std::time::{SystemTime, UNIX_EPOCH};

use airgap_protocol::envelope::{Payload, Purpose, SignRequest};
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
        purpose,
        memo: id.into(),
        ..signer_station::fixtures::request(vec![payload], now())
    };
    rehearsal::resign(&mut r);
    r
}

/// How an envelope crosses the air gap in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// Rendered as QR frames and read back from their pixels.
    Qr,
    /// Sealed in a USB bundle and opened.
    Usb,
}

/// Carries `env` across the air gap by `channel`.
pub fn carry(
    env: airgap_protocol::envelope::Envelope,
    channel: Channel,
) -> anyhow::Result<airgap_protocol::envelope::Envelope> {
    use airgap_protocol::envelope::{decode_envelope, encode_envelope, REQUEST_UR_TYPE};
    use usb_transfer::{open_bundle, seal_bundle, BundleKind};
    match channel {
        Channel::Qr => Ok(crate::qr::through_qr(&env)?.0),
        Channel::Usb => {
            let id = age::x25519::Identity::generate();
            let sender = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
            let (ur_type, bytes) = encode_envelope(&env);
            let kind = if ur_type == REQUEST_UR_TYPE {
                BundleKind::Request
            } else {
                BundleKind::Response
            };
            let sealed = seal_bundle(kind, &bytes, &id.to_public(), &sender, now())?;
            let opened = open_bundle(&sealed, &id, &[sender.verifying_key()])?;
            Ok(decode_envelope(ur_type, &opened.envelope)?)
        }
    }
}

/// The request to `station` and its answer back, both across the air gap by `channel`:
/// the station's signatures (the response verified against the request and the
/// station's identity key), or the station's refusal.
pub fn round_trip(
    station: &mut signer_station::station::Station,
    backend: &dyn signer_station::hsm::SigningBackend,
    identity: &[u8],
    req: &SignRequest,
    channel: Channel,
) -> anyhow::Result<
    Result<Vec<airgap_protocol::envelope::PayloadSignature>, signer_station::station::Refusal>,
> {
    use airgap_protocol::envelope::{verify_response, Envelope, Outcome};
    let Envelope::Request(seen) = carry(Envelope::Request(req.clone()), channel)? else {
        anyhow::bail!("a request crossed as something else");
    };
    let review = match station.review(&seen, now()) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    if let Err(e) = review.verdict.clone() {
        return Ok(Err(e));
    }
    let resp = match station.sign(&review, backend, now()) {
        Ok(r) => r,
        Err(e) => return Ok(Err(e)),
    };
    let Envelope::Response(resp) = carry(Envelope::Response(resp), channel)? else {
        anyhow::bail!("a response crossed as something else");
    };
    let identity = ed25519_dalek::VerifyingKey::from_bytes(
        identity
            .try_into()
            .map_err(|_| anyhow::anyhow!("station identity key is not 32 bytes"))?,
    )?;
    verify_response(&resp, req, &identity)?;
    match resp.outcome {
        Outcome::Signed(sigs) => Ok(Ok(sigs)),
        Outcome::Refused { code, reason } => {
            anyhow::bail!("signed after a clean review, yet refused {code}: {reason}")
        }
    }
}

/// Custodians register a Bitcoin vault at a station: its policy, with the vault, put in
/// force under their quorum (and recorded in its ledger). Only then does the station sign
/// the vault's coins or recognise its change.
/// A station on the rehearsal device `r`'s HSM and keys with `policy` and `tokens`, its
/// ledger in DIR/station.
pub fn station_of(
    r: &rehearsal::Rehearsal,
    dir: &std::path::Path,
    policy: signer_station::station::Policy,
    tokens: airgap_protocol::summary::TokenList,
) -> anyhow::Result<signer_station::station::Station> {
    rehearsal::station_with(&r.hsm, &r.keys, &dir.join("station"), now(), policy, tokens)
        .map_err(anyhow::Error::msg)
}

pub fn register_vault(
    station: &mut signer_station::station::Station,
    name: &str,
    network: &str,
    descriptor: &str,
) -> anyhow::Result<()> {
    let mut p = station.policy().clone();
    p.vaults
        .push(signer_station::station::policy::RegisteredVault {
            name: name.into(),
            network: network.into(),
            descriptor: descriptor.into(),
            deposit: false,
        });
    station.set_policy(p, now())?;
    if let Some(e) = station.vault_error() {
        anyhow::bail!("the station cannot register the vault: {e}");
    }
    Ok(())
}

/// The station's `solana:devnet` key: the vault account on devnet (and LiteSVM).
pub fn devnet_vault(keys: &signer_station::keys::StationKeys) -> [u8; 32] {
    keys.solana(airgap_protocol::network::SolanaCluster::Devnet)
        .and_then(|k| k.public_key.as_slice().try_into().ok())
        .expect("the station holds a 32-byte solana:devnet key")
}
