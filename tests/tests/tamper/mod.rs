//! A compromised database edits one approved request, and a compromised coordinator
//! re-signs the edit with the approvals its approvers really gave: what the service
//! tests of every chain try, and what must hold (the coordinator's export refuses and
//! records it; the station refuses it, signs nothing and records the refusal).

use airgap_protocol::envelope::{Approval, SignRequest};
use anyhow::{bail, Result};
use serde_json::Value;
use signer_station::station::{Refusal, Station};
use strongroom_e2e::requests::now;
use strongroom_e2e::service::Service;

/// One approved request, its database open for editing.
pub struct Tamper {
    conn: rusqlite::Connection,
    /// The request.
    pub id: String,
    /// The envelope as the coordinator built it.
    pub original: SignRequest,
    /// The approvers' signatures over the original digest.
    pub approvals: Vec<Approval>,
}

impl Tamper {
    /// Approves `id` by ana and ben (tokens given), then opens the database at `db`.
    pub fn approved(
        svc: &Service,
        db: &std::path::Path,
        id: &str,
        ana: &str,
        ben: &str,
    ) -> Result<Self> {
        let view = svc.approve(id, &[("ana", ana), ("ben", ben)])?;
        let digest: [u8; 32] = hex::decode(view["digest"].as_str().unwrap_or_default())?
            .try_into()
            .map_err(|_| anyhow::anyhow!("digest length"))?;
        let conn = rusqlite::Connection::open(db)?;
        // The approvals the approvers gave, as the database holds them.
        let approvals = approvals_in(&conn, id)?;
        let original = SignRequest::from_cbor(&hex::decode(stored(&conn, id, "envelope")?)?)?;
        if original.digest() != digest {
            bail!("the stored envelope is not the one approved");
        }
        Ok(Self {
            conn,
            id: id.to_string(),
            original,
            approvals,
        })
    }

    /// What is stored for the request under `kind`.
    pub fn stored(&self, kind: &str) -> Result<String> {
        stored(&self.conn, &self.id, kind)
    }

    /// Rewrites the stored transaction (`unsigned`) and envelope, consistently.
    pub fn rewrite(&self, unsigned: &str, edited: &SignRequest) -> Result<()> {
        for (kind, value) in [
            ("unsigned", unsigned.to_string()),
            ("envelope", hex::encode(edited.to_cbor())),
        ] {
            self.conn.execute(
                "UPDATE artifacts SET value = ?1 WHERE subject = ?2 AND kind = ?3",
                rusqlite::params![value, self.id, kind],
            )?;
        }
        Ok(())
    }

    /// The coordinator's export refuses the edited request (409) and records
    /// `tamper.detected` in the audit chain (read as `auditor`); returns that row.
    pub fn export_refused(&self, svc: &Service, treasury: &str, auditor: &str) -> Result<Value> {
        let a = svc.call(
            "POST",
            &format!("/v1/requests/{}/export", self.id),
            Some(treasury),
            None,
        )?;
        if a.status != 409
            || !a.json["error"]
                .as_str()
                .unwrap_or_default()
                .contains("storage was edited")
        {
            bail!(
                "the export of an edited request answered {} {}",
                a.status,
                a.json
            );
        }
        let rows = svc.call("GET", "/v1/audit", Some(auditor), None)?.json["rows"].clone();
        rows.as_array()
            .into_iter()
            .flatten()
            .find(|r| r["subject"] == self.id.as_str() && r["action"] == "tamper.detected")
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no tamper.detected row for {}", self.id))
    }

    /// `edited` with the real approvals and the coordinator's signature, as a compromised
    /// coordinator would send it.
    pub fn forged(&self, edited: &SignRequest) -> SignRequest {
        let mut forged = edited.clone();
        forged.approvals = self.approvals.clone();
        forged.sign_with(&signer_station::tui::rehearsal::seed_key(
            "rehearsal coordinator",
        ));
        forged
    }
}

/// The station refuses `forged` for its envelope (the approvals do not verify over the
/// edited digest, code 10), signs nothing and records the refusal in its ledger.
pub fn station_refuses(station: &mut Station, forged: &SignRequest, what: &str) -> Result<()> {
    let signed_before = station.ledger().index().requests.len();
    match station.review(forged, now()) {
        Err(Refusal::Envelope(e)) if e.to_string().contains("does not verify") => {}
        Err(other) => bail!("{what}: refused for another reason: {other}"),
        Ok(r) => bail!("{what}: the station accepted it: {:?}", r.verdict),
    }
    if station.ledger().index().requests.len() != signed_before {
        bail!("{what}: something was signed");
    }
    match station.ledger().last().map(|e| &e.record) {
        Some(signer_station::ledger::Record::Refused { code: 10, .. }) => Ok(()),
        other => bail!("{what}: the refusal is not recorded: {other:?}"),
    }
}

/// What `id` has stored under `kind`.
fn stored(conn: &rusqlite::Connection, id: &str, kind: &str) -> Result<String> {
    Ok(conn.query_row(
        "SELECT value FROM artifacts WHERE subject = ?1 AND kind = ?2",
        rusqlite::params![id, kind],
        |r| r.get(0),
    )?)
}

/// The approvals of request `id` as stored: each signature with its approver's key id
/// (from the registered approver keys, stored too).
fn approvals_in(conn: &rusqlite::Connection, id: &str) -> Result<Vec<Approval>> {
    let mut stmt = conn.prepare(
        "SELECT k.value, a.value FROM artifacts a
         JOIN artifacts k ON k.kind = 'approver' AND k.subject = '' AND k.key = a.key
         WHERE a.subject = ?1 AND a.kind = 'approval' ORDER BY a.key",
    )?;
    let rows = stmt.query_map([id], |r| {
        Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (key, signature) = row?;
        let key = airgap_protocol::approval::ApproverKey::parse(&key)?;
        out.push(Approval {
            approver: key.id(),
            signature: airgap_protocol::approval::ApprovalSignature::from_bytes(&hex::decode(
                signature,
            )?)?,
        });
    }
    if out.len() != 2 {
        bail!("{} approvals stored, 2 expected", out.len());
    }
    Ok(out)
}
