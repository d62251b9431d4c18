//! Audit checkpoints: the audit chain's head, signed with the coordinator's request key
//! and appended to a file outside the database. Someone who can edit the database but
//! not that file (a DBA, a restored backup, a compromised replica of the database) can
//! re-hash the chain or cut its tail so that it verifies on its own; against the
//! checkpoints it does not: every checkpointed row must still be there with the hash
//! it had. Rows written after the last checkpoint are covered by the next one (the
//! worker writes one every round the head moved, and one at shutdown).

use std::io::Write;
use std::path::{Path, PathBuf};

use ed25519_dalek::{Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

use super::{AuditBreak, AuditRecord};

const DOMAIN: &[u8] = b"strongroom/audit-checkpoint/v1";

/// One line of the checkpoints file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The audit row.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// When the checkpoint was written, Unix seconds.
    pub time: u64,
    /// Ed25519 over the domain, `seq` (big-endian) and `hash`, by the coordinator key;
    /// hex.
    pub signature: String,
}

fn message(seq: u64, hash: &str) -> Vec<u8> {
    let mut m = DOMAIN.to_vec();
    m.extend_from_slice(&seq.to_be_bytes());
    m.extend_from_slice(hash.as_bytes());
    m
}

impl Checkpoint {
    /// A checkpoint of `head`, signed.
    pub fn sign(key: &SigningKey, head: &AuditRecord, time: u64) -> Self {
        let sig = key.sign(&message(head.seq, &head.hash));
        Self {
            seq: head.seq,
            hash: head.hash.clone(),
            time,
            signature: hex::encode(sig.to_bytes()),
        }
    }

    /// Whether `key` signed it.
    pub fn signed_by(&self, key: &VerifyingKey) -> bool {
        let Some(sig) = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        key.verify(
            &message(self.seq, &self.hash),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .is_ok()
    }
}

/// Reads a checkpoints file; a line that does not parse is an error naming it.
pub fn read(path: &Path) -> Result<Vec<Checkpoint>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| format!("{} line {}: {e}", path.display(), i + 1))
        })
        .collect()
}

/// Why rows do not match the checkpoints.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorBreak {
    /// The chain is broken on its own.
    #[error(transparent)]
    Chain(#[from] AuditBreak),
    /// A checkpoint not signed by the coordinator key.
    #[error("checkpoint {line} (row {seq}) is not signed by the coordinator key")]
    Unsigned {
        /// Line in the file, from 1.
        line: usize,
        /// The row it names.
        seq: u64,
    },
    /// The table ends before a checkpointed row.
    #[error(
        "the audit table ends at row {found}, but row {expected} was checkpointed: rows were \
         deleted from the end"
    )]
    Truncated {
        /// Last row present.
        found: u64,
        /// The checkpointed row.
        expected: u64,
    },
    /// A checkpointed row has another hash: rows were edited and re-hashed.
    #[error(
        "row {checkpointed} no longer has the hash it was checkpointed with: rows from \
         {first_suspect} on were rewritten (row {last_good} is the last one a checkpoint \
         vouches for)"
    )]
    Rewritten {
        /// The row whose checkpoint fails.
        checkpointed: u64,
        /// The last row a checkpoint still vouches for (0: none).
        last_good: u64,
        /// The first row that may have been rewritten.
        first_suspect: u64,
    },
}

/// Verifies `rows` (the whole table, in order) on their own and against `checkpoints`,
/// whose signatures are checked when `key` is given. Returns how many checkpoints
/// vouched for the table.
pub fn verify(
    rows: &[AuditRecord],
    checkpoints: &[Checkpoint],
    key: Option<&VerifyingKey>,
) -> Result<usize, AnchorBreak> {
    super::verify(rows, None)?;
    let mut last_good = 0;
    let last = rows.last().map_or(0, |r| r.seq);
    let mut sorted: Vec<(usize, &Checkpoint)> = checkpoints.iter().enumerate().collect();
    sorted.sort_by_key(|(_, c)| c.seq);
    for (i, c) in &sorted {
        if key.is_some_and(|k| !c.signed_by(k)) {
            return Err(AnchorBreak::Unsigned {
                line: i + 1,
                seq: c.seq,
            });
        }
        // Rows are 1, 2, 3 … without gaps (checked above): row n is at n - 1.
        let row = usize::try_from(c.seq)
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|n| rows.get(n));
        match row {
            None => {
                return Err(AnchorBreak::Truncated {
                    found: last,
                    expected: c.seq,
                })
            }
            Some(r) if r.hash != c.hash => {
                return Err(AnchorBreak::Rewritten {
                    checkpointed: c.seq,
                    last_good,
                    first_suspect: last_good + 1,
                })
            }
            Some(_) => last_good = c.seq,
        }
    }
    Ok(sorted.len())
}

/// Appends checkpoints to a file as the audit head moves.
#[derive(Debug)]
pub struct Checkpointer {
    path: PathBuf,
    key: SigningKey,
    last: u64,
}

impl Checkpointer {
    /// Opens (creating) the checkpoints file; the last checkpoint in it is where the next
    /// one starts from.
    pub fn open(path: &Path, key: SigningKey) -> Result<Self, String> {
        let last = match path.exists() {
            true => read(path)?.iter().map(|c| c.seq).max().unwrap_or(0),
            false => 0,
        };
        let c = Self {
            path: path.to_path_buf(),
            key,
            last,
        };
        c.append(&[])?;
        Ok(c)
    }

    /// The public key that verifies this file's checkpoints.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Writes a checkpoint of the newest of `rows` (rows after the last checkpoint) if
    /// the head moved; `true` when one was written (and synced).
    pub fn update(&mut self, rows: &[AuditRecord], now: u64) -> Result<bool, String> {
        let Some(head) = rows
            .iter()
            .filter(|r| r.seq > self.last)
            .max_by_key(|r| r.seq)
        else {
            return Ok(false);
        };
        let c = Checkpoint::sign(&self.key, head, now);
        let mut line = serde_json::to_string(&c).map_err(|e| e.to_string())?;
        line.push('\n');
        self.append(line.as_bytes())?;
        self.last = head.seq;
        Ok(true)
    }

    /// The row after the last checkpoint: where to read new rows from.
    pub fn next_seq(&self) -> u64 {
        self.last + 1
    }

    fn append(&self, bytes: &[u8]) -> Result<(), String> {
        let fail = |e: std::io::Error| format!("{}: {e}", self.path.display());
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(fail)?;
        f.write_all(bytes).map_err(fail)?;
        f.sync_all().map_err(fail)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<AuditRecord> {
        let mut v: Vec<AuditRecord> = Vec::new();
        for i in 0..n {
            let detail = serde_json::json!({ "n": i });
            v.push(AuditRecord::next(
                v.last(),
                1_800_000_000 + i,
                "treasury",
                "request.state",
                &format!("req-{i}"),
                detail,
            ));
        }
        v
    }

    #[test]
    fn truncation_and_a_recomputed_rewrite_are_caught_against_checkpoints() {
        let key = SigningKey::from_bytes(&[9; 32]);
        let good = chain(80);
        let cps: Vec<Checkpoint> = [20, 50, 80]
            .iter()
            .map(|&n| Checkpoint::sign(&key, &good[n - 1], 1))
            .collect();
        let vk = key.verifying_key();
        assert_eq!(verify(&good, &cps, Some(&vk)), Ok(3));

        // The last 50 rows deleted: a clean chain on its own.
        let cut = &good[..30];
        crate::audit::verify(cut, None).unwrap();
        assert_eq!(
            verify(cut, &cps, Some(&vk)),
            Err(AnchorBreak::Truncated {
                found: 30,
                expected: 50
            })
        );

        // Row 35 edited and every hash from it recomputed: a clean chain on its own.
        let rewritten = crate::audit::rewritten(&good, 35, serde_json::json!({ "n": "edited" }));
        crate::audit::verify(&rewritten, None).unwrap();
        assert_eq!(
            verify(&rewritten, &cps, Some(&vk)),
            Err(AnchorBreak::Rewritten {
                checkpointed: 50,
                last_good: 20,
                first_suspect: 21
            })
        );

        // A checkpoint file rewritten to match, without the key.
        let forged = Checkpoint::sign(&SigningKey::from_bytes(&[7; 32]), &rewritten[49], 1);
        let mut swapped = cps.clone();
        swapped[1] = forged;
        assert_eq!(
            verify(&rewritten, &swapped, Some(&vk)),
            Err(AnchorBreak::Unsigned { line: 2, seq: 50 })
        );
    }
}
