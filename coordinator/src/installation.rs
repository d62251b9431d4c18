//! The installation: stations registered from their signed descriptors and approvers'
//! Ed25519 keys, each write-once, with an audit row.

use airgap_protocol::envelope::StationDescriptor;
use serde_json::json;

use crate::chain::{refused, PipelineError, RegisteredStation};
use crate::pipeline::Pipeline;
use crate::store::Kind;

impl Pipeline {
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
        self.ctx.store.put_artifact(
            "",
            Kind::Station,
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
        self.ctx.stations()
    }

    /// Registers the approval key of a principal (write-once): an Ed25519 key (the
    /// approver's tool) or an Ethereum address (typed approvals from their own wallet).
    pub fn register_approver(
        &self,
        principal: &str,
        public_key: &str,
        actor: &str,
        now: u64,
    ) -> Result<(), PipelineError> {
        let key = airgap_protocol::approval::ApproverKey::parse(public_key)
            .map_err(|e| refused(format!("public_key: {e}")))?;
        if principal.is_empty() || principal.len() > 128 {
            return Err(refused("principal must be 1 to 128 characters"));
        }
        self.ctx.store.put_artifact(
            "",
            Kind::Approver,
            principal,
            &key.to_text(),
            actor,
            json!({"principal": principal, "public_key": key.to_text()}),
            now,
        )?;
        Ok(())
    }
}
