//! The audit chain: every state change, state-changing call, approval, export, import,
//! broadcast and confirmation is a row carrying the hash of the row before it.
//! Verification recomputes every hash and names the first row edited, deleted or
//! inserted.

pub mod checkpoints;
pub mod command;
pub mod export;
pub mod reconcile;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One audit row.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditRecord {
    /// 1, 2, 3 … without gaps.
    pub seq: u64,
    /// Unix seconds.
    pub time: u64,
    /// Who (principal, `system`, a station id).
    pub actor: String,
    /// What (`request.create`, `request.state`, `approval`, `export`, `import`, …).
    pub action: String,
    /// About what (a request id, a vault).
    pub subject: String,
    /// Details (JSON).
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
    /// Hash of the previous row (64 zeros for the first).
    pub prev_hash: String,
    /// SHA-256 over this row's fields and `prev_hash`.
    pub hash: String,
}

/// The hash of the row before the first.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

fn digest(
    seq: u64,
    time: u64,
    actor: &str,
    action: &str,
    subject: &str,
    detail: &serde_json::Value,
    prev: &str,
) -> String {
    // Length-prefixed fields: no two different rows hash the same bytes.
    let mut h = Sha256::new();
    h.update(b"strongroom audit v1");
    h.update(seq.to_be_bytes());
    h.update(time.to_be_bytes());
    for f in [actor, action, subject, &detail.to_string(), prev] {
        h.update((f.len() as u64).to_be_bytes());
        h.update(f.as_bytes());
    }
    hex::encode(h.finalize())
}

impl AuditRecord {
    /// The row after `prev` (or the first).
    pub fn next(
        prev: Option<&AuditRecord>,
        time: u64,
        actor: &str,
        action: &str,
        subject: &str,
        detail: serde_json::Value,
    ) -> Self {
        let (seq, prev_hash) =
            prev.map_or((1, GENESIS.to_string()), |p| (p.seq + 1, p.hash.clone()));
        let hash = digest(seq, time, actor, action, subject, &detail, &prev_hash);
        Self {
            seq,
            time,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            detail,
            prev_hash,
            hash,
        }
    }

    fn recomputed(&self) -> String {
        digest(
            self.seq,
            self.time,
            &self.actor,
            &self.action,
            &self.subject,
            &self.detail,
            &self.prev_hash,
        )
    }
}

/// Where the chain breaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditBreak {
    /// A row's content no longer matches its hash.
    #[error("row {seq} was edited")]
    Edited {
        /// Row.
        seq: u64,
    },
    /// Rows are missing before this one.
    #[error("rows {from}..{to} are missing (deleted)")]
    Deleted {
        /// First missing.
        from: u64,
        /// Last missing.
        to: u64,
    },
    /// A row that does not follow the one before it.
    #[error("row {seq} does not follow row {after} (inserted or reordered)")]
    Inserted {
        /// Row.
        seq: u64,
        /// The row before it.
        after: u64,
    },
    /// The last rows are missing (the head the caller remembered is gone).
    #[error("the chain ends at row {found}, but row {expected} was recorded")]
    Truncated {
        /// Last row present.
        found: u64,
        /// Last row known.
        expected: u64,
    },
}

/// Verifies rows in `seq` order; `known_head`, when given, is the last (seq, hash) the
/// caller recorded elsewhere, which catches deletion of the newest rows.
pub fn verify(rows: &[AuditRecord], known_head: Option<(u64, &str)>) -> Result<(), AuditBreak> {
    let mut prev: Option<&AuditRecord> = None;
    for r in rows {
        if r.recomputed() != r.hash {
            return Err(AuditBreak::Edited { seq: r.seq });
        }
        let (want_seq, want_prev) = prev.map_or((1, GENESIS), |p| (p.seq + 1, p.hash.as_str()));
        if r.seq > want_seq {
            return Err(AuditBreak::Deleted {
                from: want_seq,
                to: r.seq - 1,
            });
        }
        if r.seq < want_seq || r.prev_hash != want_prev {
            return Err(AuditBreak::Inserted {
                seq: r.seq,
                after: want_seq - 1,
            });
        }
        prev = Some(r);
    }
    if let Some((seq, hash)) = known_head {
        let last = prev.map_or(0, |p| p.seq);
        match rows.iter().find(|r| r.seq == seq) {
            Some(r) if r.hash == hash => {}
            Some(r) => return Err(AuditBreak::Edited { seq: r.seq }),
            None => {
                return Err(AuditBreak::Truncated {
                    found: last,
                    expected: seq,
                })
            }
        }
    }
    Ok(())
}

/// `rows` with row `seq`'s detail replaced and every hash from it recomputed, as someone
/// with write access to the table would (tests).
#[cfg(test)]
pub(crate) fn rewritten(
    rows: &[AuditRecord],
    seq: u64,
    detail: serde_json::Value,
) -> Vec<AuditRecord> {
    let mut out: Vec<AuditRecord> = Vec::with_capacity(rows.len());
    for r in rows {
        if r.seq < seq {
            out.push(r.clone());
            continue;
        }
        let d = if r.seq == seq {
            detail.clone()
        } else {
            r.detail.clone()
        };
        out.push(AuditRecord::next(
            out.last(),
            r.time,
            &r.actor,
            &r.action,
            &r.subject,
            d,
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut v: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let r = AuditRecord::next(
                v.last(),
                1_800_000_000 + i,
                "treasury",
                "request.state",
                &format!("req-{i}"),
                serde_json::json!({"to": "exported"}),
            );
            v.push(r);
        }
        v
    }

    #[test]
    fn every_tampering_is_found_and_located() {
        let good = chain(6);
        let head = (6, good[5].hash.as_str());
        verify(&good, Some(head)).unwrap();

        let mut edited = good.clone();
        edited[2].detail = serde_json::json!({"to": "broadcast"});
        assert_eq!(verify(&edited, None), Err(AuditBreak::Edited { seq: 3 }));

        // Edited and re-hashed: the next row no longer follows it.
        let mut rehashed = good.clone();
        rehashed[2].actor = "mallory".into();
        rehashed[2].hash = rehashed[2].recomputed();
        assert_eq!(
            verify(&rehashed, None),
            Err(AuditBreak::Inserted { seq: 4, after: 3 })
        );

        let mut deleted = good.clone();
        deleted.remove(3);
        assert_eq!(
            verify(&deleted, None),
            Err(AuditBreak::Deleted { from: 4, to: 4 })
        );

        let mut inserted = good.clone();
        let forged = AuditRecord::next(
            Some(&good[1]),
            1,
            "mallory",
            "approval",
            "req-x",
            serde_json::json!({}),
        );
        inserted.insert(2, forged);
        assert!(matches!(
            verify(&inserted, None),
            Err(AuditBreak::Inserted { .. })
        ));

        let truncated = good[..4].to_vec();
        assert_eq!(
            verify(&truncated, None),
            Ok(()),
            "a clean prefix is a chain"
        );
        assert_eq!(
            verify(&truncated, Some(head)),
            Err(AuditBreak::Truncated {
                found: 4,
                expected: 6
            })
        );
    }
}
