//! Import: a station's signed answer (checked against the exported envelope and the
//! registered station's identity key, stored with its ledger entries) or a hardware
//! cosigner's signed transaction; then the transaction is finalised when enough signers
//! have answered.

use airgap_protocol::envelope::{verify_response, Outcome, SignResponse};
use ed25519_dalek::VerifyingKey;
use serde_json::json;

use super::Pipeline;
use crate::chain::{corrupt, refused, Body, PipelineError};
use crate::lifecycle::{Event, State};
use crate::store::Kind;
use crate::store::RequestRow;

impl Pipeline {
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
        self.ctx.store.put_artifact(
            id,
            Kind::Response,
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
        self.reconcile_due
            .store(true, std::sync::atomic::Ordering::SeqCst);
        self.ctx.crash_point("response-stored");
        match &resp.outcome {
            Outcome::Refused { code, reason } => Ok(self.ctx.store.transition(
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
        let row = self.ctx.row(id)?;
        let adapter = match self.adapter(&Body::of(&row)?.network) {
            Ok(a) if a.as_bitcoin().is_some() => a,
            _ => return Err(refused("a cosigner's PSBT is for a Bitcoin request")),
        };
        if self.exported(id)?.is_none() {
            return Err(PipelineError::WrongState(
                "this request was not exported".into(),
            ));
        }
        if !matches!(row.state, State::Exported | State::PartiallySigned) {
            return Ok(row);
        }
        adapter.import_cosigner(&self.ctx, id, psbt, actor, now)?;
        self.ctx.crash_point("response-stored");
        self.finalise(id, now)
    }

    /// Builds the final transaction from the stored responses (idempotent).
    /// One finaliser at a time per request. Within this process an import that finds
    /// the worker (or another import) finalising the same request waits for it, then
    /// finalises with everything stored by then, so it answers with its own response
    /// counted. The worker does not wait: see [`Pipeline::finalise_if_free`]. Another
    /// replica's live lease is its finaliser at work: this one answers the request as
    /// it stands and the lease holder's worker picks up what it missed on its next pass.
    pub fn finalise(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let held = self.hold(id);
        self.finalise_held(id, now, held)
    }

    /// The worker's finalise: a request another part of this process is finalising is
    /// left to it (the worker must not stall every other request behind one import).
    pub(super) fn finalise_if_free(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        match self.try_hold(id) {
            Some(held) => self.finalise_held(id, now, held),
            None => self.ctx.row(id),
        }
    }

    fn finalise_held(
        &self,
        id: &str,
        now: u64,
        _held: super::Held,
    ) -> Result<RequestRow, PipelineError> {
        match self.ctx.lease(id, "finalise", now, 60) {
            Err(PipelineError::Busy) => return self.ctx.row(id),
            other => other?,
        }
        let row = self.ctx.row(id)?;
        if !matches!(
            row.state,
            State::Exported | State::PartiallySigned | State::Signed
        ) {
            return Ok(row);
        }
        self.adapter(&Body::of(&row)?.network)?
            .finalise(&self.ctx, &row, now)
    }
}
