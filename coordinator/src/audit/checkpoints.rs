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

const DOMAIN: &[u8] = b"strongroom/audit-checkpoint/v2";

/// One line of the checkpoints file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The audit row.
    pub seq: u64,
    /// Its hash.
    pub hash: String,
    /// When the checkpoint was written, Unix seconds.
    pub time: u64,
    /// The previous checkpoint's signature (empty for the first): lines chain, so none
    /// can be taken out of the middle or reordered.
    pub prev: String,
    /// Ed25519 by the coordinator key over the domain, `seq` and `time` (big-endian),
    /// `hash` and `prev`; hex.
    pub signature: String,
}

impl Checkpoint {
    fn message(&self) -> Vec<u8> {
        let mut m = DOMAIN.to_vec();
        m.extend_from_slice(&self.seq.to_be_bytes());
        m.extend_from_slice(&self.time.to_be_bytes());
        m.extend_from_slice(self.hash.as_bytes());
        m.push(0);
        m.extend_from_slice(self.prev.as_bytes());
        m
    }
}

impl Checkpoint {
    /// A checkpoint of `head` after `prev`, signed.
    pub fn sign(
        key: &SigningKey,
        head: &AuditRecord,
        time: u64,
        prev: Option<&Checkpoint>,
    ) -> Self {
        let mut c = Self {
            seq: head.seq,
            hash: head.hash.clone(),
            time,
            prev: prev.map(|p| p.signature.clone()).unwrap_or_default(),
            signature: String::new(),
        };
        c.signature = hex::encode(key.sign(&c.message()).to_bytes());
        c
    }

    /// Whether `key` signed it.
    pub fn signed_by(&self, key: &VerifyingKey) -> bool {
        let Some(sig) = hex::decode(&self.signature)
            .ok()
            .and_then(|b| <[u8; 64]>::try_from(b).ok())
        else {
            return false;
        };
        key.verify(&self.message(), &ed25519_dalek::Signature::from_bytes(&sig))
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
    /// A checkpoint that does not follow the one before it in the file.
    #[error("checkpoint {line} does not follow the one before it: the file was edited")]
    Unchained {
        /// Line in the file, from 1.
        line: usize,
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

/// Checks the file itself: each line signed by `key` and chained to the one before.
pub fn check_file(checkpoints: &[Checkpoint], key: &VerifyingKey) -> Result<(), AnchorBreak> {
    let mut prev: Option<&Checkpoint> = None;
    for (i, c) in checkpoints.iter().enumerate() {
        if !c.signed_by(key) {
            return Err(AnchorBreak::Unsigned {
                line: i + 1,
                seq: c.seq,
            });
        }
        let follows = match prev {
            None => c.prev.is_empty(),
            Some(p) => c.prev == p.signature && c.seq >= p.seq,
        };
        if !follows {
            return Err(AnchorBreak::Unchained { line: i + 1 });
        }
        prev = Some(c);
    }
    Ok(())
}

/// Verifies `rows` (the whole table, in order) on their own and against `checkpoints`
/// (signed by `key`, chained). Returns the newest row a checkpoint vouches for.
pub fn verify(
    rows: &[AuditRecord],
    checkpoints: &[Checkpoint],
    key: &VerifyingKey,
) -> Result<u64, AnchorBreak> {
    super::verify(rows, None)?;
    check_file(checkpoints, key)?;
    let mut last_good = 0;
    let last = rows.last().map_or(0, |r| r.seq);
    for c in checkpoints {
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
    Ok(last_good)
}

/// Appends checkpoints to a file as the audit head moves.
#[derive(Debug)]
pub struct Checkpointer {
    path: PathBuf,
    key: SigningKey,
    last: Option<Checkpoint>,
}

impl Checkpointer {
    /// Opens (creating) the checkpoints file, checked (every line signed by `key` and
    /// chained); its last checkpoint is where the next one follows.
    pub fn open(path: &Path, key: SigningKey) -> Result<Self, String> {
        let existing = match path.exists() {
            true => read(path)?,
            false => Vec::new(),
        };
        check_file(&existing, &key.verifying_key())
            .map_err(|e| format!("{}: {e}", path.display()))?;
        let c = Self {
            path: path.to_path_buf(),
            key,
            last: existing.last().cloned(),
        };
        c.append(&[])?;
        Ok(c)
    }

    /// The public key that verifies this file's checkpoints.
    pub fn public_key(&self) -> VerifyingKey {
        self.key.verifying_key()
    }

    /// Writes a checkpoint of the newest of `rows` (read from [`Checkpointer::from_seq`])
    /// if the head moved; `true` when one was written (and synced). The last row
    /// checkpointed must still have its hash: a rewrite below the head is an error.
    pub fn update(&mut self, rows: &[AuditRecord], now: u64) -> Result<bool, String> {
        let last_seq = self.last.as_ref().map_or(0, |c| c.seq);
        if let Some(c) = &self.last {
            if let Some(r) = rows.iter().find(|r| r.seq == c.seq) {
                if r.hash != c.hash {
                    return Err(format!(
                        "audit row {} no longer has the hash it was checkpointed with: the \
                         table was rewritten",
                        c.seq
                    ));
                }
            }
        }
        let Some(head) = rows
            .iter()
            .filter(|r| r.seq > last_seq)
            .max_by_key(|r| r.seq)
        else {
            return Ok(false);
        };
        let c = Checkpoint::sign(&self.key, head, now, self.last.as_ref());
        let mut line = serde_json::to_string(&c).map_err(|e| e.to_string())?;
        line.push('\n');
        self.append(line.as_bytes())?;
        self.last = Some(c);
        Ok(true)
    }

    /// Where to read rows from for the next update: the last row checkpointed (to check
    /// it still has its hash), or the first.
    pub fn from_seq(&self) -> u64 {
        self.last.as_ref().map_or(1, |c| c.seq.max(1))
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
        let mut cps: Vec<Checkpoint> = Vec::new();
        for n in [20, 50, 80] {
            let c = Checkpoint::sign(&key, &good[n - 1], n as u64, cps.last());
            cps.push(c);
        }
        let vk = key.verifying_key();
        assert_eq!(verify(&good, &cps, &vk), Ok(80));

        // The last 50 rows deleted: a clean chain on its own.
        let cut = &good[..30];
        crate::audit::verify(cut, None).unwrap();
        assert_eq!(
            verify(cut, &cps, &vk),
            Err(AnchorBreak::Truncated {
                found: 30,
                expected: 50
            })
        );

        // Row 35 edited and every hash from it recomputed: a clean chain on its own.
        let rewritten = crate::audit::rewritten(&good, 35, serde_json::json!({ "n": "edited" }));
        crate::audit::verify(&rewritten, None).unwrap();
        assert_eq!(
            verify(&rewritten, &cps, &vk),
            Err(AnchorBreak::Rewritten {
                checkpointed: 50,
                last_good: 20,
                first_suspect: 21
            })
        );

        // A checkpoint file rewritten to match, without the key.
        let forged = Checkpoint::sign(
            &SigningKey::from_bytes(&[7; 32]),
            &rewritten[49],
            50,
            cps.first(),
        );
        let mut swapped = cps.clone();
        swapped[1] = forged;
        assert_eq!(
            verify(&rewritten, &swapped, &vk),
            Err(AnchorBreak::Unsigned { line: 2, seq: 50 })
        );
        // A line taken out of the middle, or two swapped: the chain shows it.
        let mut dropped = cps.clone();
        dropped.remove(1);
        assert_eq!(
            verify(&good, &dropped, &vk),
            Err(AnchorBreak::Unchained { line: 2 })
        );
        let mut reordered = cps.clone();
        reordered.swap(1, 2);
        assert_eq!(
            verify(&good, &reordered, &vk),
            Err(AnchorBreak::Unchained { line: 2 })
        );
    }
}
