//! Export: the envelope with its approvals (each checked again against what is stored
//! now), signed by the coordinator key, ready to cross the air gap.

use airgap_protocol::approval::{ApprovalSignature, ApproverKey};
use airgap_protocol::envelope::{Approval, SignRequest};
use serde_json::json;

use super::{decode_request, Pipeline};
use crate::chain::{corrupt, refused, Body, PipelineError};
use crate::lifecycle::{Event, State};
use crate::store::Kind;

impl Pipeline {
    // ----- export -----

    /// The envelope to carry to the station: approvals attached, signed by the
    /// coordinator key. The first call moves the request to `exported`; later calls
    /// return the same bytes.
    pub fn export(&self, id: &str, actor: &str, now: u64) -> Result<SignRequest, PipelineError> {
        if let Some(h) = self.ctx.store.artifact(id, Kind::Export, "request")? {
            // A crash between storing and the state change: finish it.
            if self.ctx.row(id)?.state == State::Approved {
                self.ctx.store.transition(
                    id,
                    Event::Exported,
                    actor,
                    json!({"resumed": true}),
                    now,
                )?;
            }
            return decode_request(&h);
        }
        let row = self.ctx.row(id)?;
        if row.state != State::Approved {
            return Err(PipelineError::WrongState(format!(
                "request is {}, not approved",
                crate::store::state_name(row.state)
            )));
        }
        let key = self.key.as_ref().ok_or_else(|| {
            PipelineError::Unconfigured("no coordinator request key (--key)".into())
        })?;
        self.ctx.lease(id, "export", now, 60)?;
        let mut req = self.prepare(id, now)?;
        if now >= req.expires {
            self.ctx
                .store
                .transition(id, Event::Expired, "coordinator", json!({}), now)?;
            return Err(refused("the envelope expired before export"));
        }
        // Each approval again, over the envelope as stored now: an envelope or
        // transaction edited in the database after the approvals is caught here (and,
        // should this coordinator itself be compromised, by the station).
        let mut tampered = Vec::new();
        for (principal, sig) in self.ctx.store.artifacts(id, Kind::Approval)? {
            let key = self
                .ctx
                .store
                .artifact("", Kind::Approver, &principal)?
                .ok_or_else(|| corrupt(format!("approver {principal} has no key")))?;
            let key = ApproverKey::parse(&key).map_err(corrupt)?;
            let bytes = hex::decode(&sig).map_err(corrupt)?;
            let signature = ApprovalSignature::from_bytes(&bytes).map_err(corrupt)?;
            if airgap_protocol::approval::check(&key, &req, &signature).is_err() {
                tampered.push(principal.clone());
            }
            req.approvals.push(Approval {
                approver: key.id(),
                signature,
            });
        }
        // The transaction stored now must be the one in the envelope approved.
        let adapter = self.adapter(&Body::of(&row)?.network)?;
        let built_matches = match self
            .ctx
            .store
            .artifact(id, Kind::Unsigned, adapter.kind())?
        {
            Some(u) => req.payloads == vec![adapter.payload(&self.ctx, &u)?],
            None => false,
        };
        if !tampered.is_empty() || !built_matches {
            self.ctx.store.audit(
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
        self.ctx.store.put_artifact(
            id,
            Kind::Export,
            "request",
            &hex::encode(req.to_cbor()),
            actor,
            json!({"digest": hex::encode(req.digest()), "approvals": req.approvals.len()}),
            now,
        )?;
        self.ctx.crash_point("export-stored");
        self.ctx
            .store
            .transition(id, Event::Exported, actor, json!({}), now)?;
        self.ctx.crash_point("exported");
        match self.ctx.store.artifact(id, Kind::Export, "request")? {
            Some(h) => decode_request(&h),
            None => Err(corrupt("export vanished")),
        }
    }

    /// The exported envelope, if the request was exported.
    pub fn exported(&self, id: &str) -> Result<Option<SignRequest>, PipelineError> {
        self.ctx
            .store
            .artifact(id, Kind::Export, "request")?
            .map(|h| decode_request(&h))
            .transpose()
    }
}
