//! The station ledger: an append-only, hash-chained file of JSON lines. Every ceremony
//! step, every request seen and every signing is recorded, fsynced, **before** a
//! signature leaves the station (guard state before effect).
//!
//! Each entry carries its sequence number, the previous entry's hash and its own hash,
//! SHA-256 over the previous hash and the entry's canonical JSON. `verify` finds an
//! edited, deleted, inserted or reordered entry and says where. A crash during an append
//! leaves at most one incomplete last line: opening reports it, and `repair` cuts it off
//! and records that it did. Cutting whole entries off the end, or rewriting entries and
//! recomputing every hash, cannot be seen from the file alone: after each signing or
//! refusal the station stores an [`Anchor`] (sequence number and hash) in the HSM, which
//! disk access cannot reach, and checks the ledger against it before it signs.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One signed payload, as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPayload {
    /// SHA-256 of the payload's transaction bytes, hex.
    pub digest: String,
    /// Network.
    pub network: String,
    /// Amount sent per asset (base units, decimal string), for the velocity window.
    pub amounts: Vec<(String, String)>,
    /// Replay keys: what this transaction spends or consumes (nonce, outpoint ...).
    pub spends: Vec<String>,
    /// Signatures the HSM made for it (Bitcoin: one per input of the station's): what the
    /// device's audit log must show, no more (0 in entries older than this field).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub signatures: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// What an entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A ceremony step.
    Ceremony {
        /// Step name.
        step: String,
        /// Details (public material only).
        detail: String,
    },
    /// A request was captured and verified.
    RequestSeen {
        /// Request id (UUID text).
        request_id: String,
        /// Request digest, hex.
        digest: String,
    },
    /// Signatures are about to leave the station.
    Signed {
        /// Request id.
        request_id: String,
        /// Request digest, hex.
        digest: String,
        /// Payloads signed.
        payloads: Vec<SignedPayload>,
    },
    /// The station refused.
    Refused {
        /// Request id.
        request_id: String,
        /// Request digest, hex.
        digest: String,
        /// Reason code.
        code: u16,
        /// Reason.
        reason: String,
    },
    /// Entries read from the HSM's own audit log, chained to the ones recorded before,
    /// and then consumed on the device.
    HsmLog {
        /// The entries, oldest first.
        entries: Vec<crate::hsm::LogEntry>,
        /// Power-on events the device's full log could not hold.
        unlogged_boot: u16,
        /// Session authentications the device's full log could not hold.
        unlogged_auth: u16,
        /// The entries start a new chain: another device (keys restored onto it).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        new_device: bool,
        /// The first entries this ledger took from the device: what it did before this
        /// ledger kept its record, taken as it was.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        baseline: bool,
    },
    /// A response carrying the ledger up to entry `upto` is about to be signed with the
    /// identity key: the device's log may show one identity signature for it, even if
    /// the station stops before the answer is made.
    Answering {
        /// The last entry the response carries.
        upto: u64,
    },
    /// A response was signed and released, carrying the ledger up to entry `upto`: the
    /// next response carries what comes after.
    Answered {
        /// The last entry the response carried.
        upto: u64,
    },
    /// An incomplete last line was cut off.
    Repaired {
        /// Bytes removed.
        removed_bytes: u64,
    },
}

/// A ledger entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    /// Sequence number, from 0.
    pub seq: u64,
    /// Unix seconds (station clock).
    pub time: u64,
    /// Previous entry's hash, hex (zeros for the first).
    pub prev: String,
    /// What.
    pub record: Record,
    /// SHA-256(prev bytes || canonical JSON of seq, time, prev, record), hex.
    pub hash: String,
}

#[derive(Serialize)]
struct Hashed<'a> {
    seq: u64,
    time: u64,
    prev: &'a str,
    record: &'a Record,
}

fn entry_hash(seq: u64, time: u64, prev: &str, record: &Record) -> Result<String, LedgerError> {
    let body = serde_json::to_vec(&Hashed {
        seq,
        time,
        prev,
        record,
    })
    .map_err(|e| LedgerError::Io(e.to_string()))?;
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(&body);
    Ok(hex::encode(h.finalize()))
}

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Ledger errors; verification failures say where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LedgerError {
    /// File system.
    #[error("ledger I/O: {0}")]
    Io(String),
    /// A line that is not an entry.
    #[error("ledger line {line} is not a valid entry")]
    Unreadable {
        /// Line number (1-based).
        line: usize,
    },
    /// An entry whose content no longer matches its hash.
    #[error("ledger entry {seq} (line {line}) was edited: its hash does not match its content")]
    Edited {
        /// Sequence number.
        seq: u64,
        /// Line.
        line: usize,
    },
    /// The chain is broken: an entry was deleted, inserted or moved.
    #[error("ledger chain broken at line {line}: expected entry {expected}, found entry {found} (an entry was deleted, inserted or moved)")]
    Broken {
        /// Line.
        line: usize,
        /// Expected sequence number.
        expected: u64,
        /// Found.
        found: u64,
    },
    /// An entry's previous-hash does not match the entry before it.
    #[error("ledger entry {seq} (line {line}) does not follow the entry before it")]
    Unlinked {
        /// Sequence number.
        seq: u64,
        /// Line.
        line: usize,
    },
    /// An incomplete last line: a crash during an append. Run `ledger repair`.
    #[error("ledger ends with an incomplete entry at byte {offset} (interrupted write); run `ledger repair`")]
    TornTail {
        /// Where the incomplete line starts.
        offset: u64,
    },
}

/// What replay checks look up, rebuilt from the ledger on open.
#[derive(Debug, Default, Clone)]
pub struct ReplayIndex {
    /// Request digests signed.
    pub requests: HashMap<String, String>,
    /// Payload digests signed → request id.
    pub payloads: HashMap<String, String>,
    /// Replay keys (nonce, outpoint ...) → payload digest that consumed them.
    pub spends: HashMap<String, String>,
    /// Signed payloads with their time, for velocity.
    pub history: Vec<(u64, SignedPayload)>,
    /// The last HSM audit log entry recorded: the next ones must chain from it.
    pub hsm_log: Option<crate::hsm::LogEntry>,
    /// The last entry a released response carried.
    pub answered_upto: Option<u64>,
    /// Answers begun since the HSM's log was last read: the identity key signatures its
    /// next entries may show.
    pub answers_since_drain: usize,
    /// The device's counts of power-ons and authentications it could not log, as last
    /// read: anything but zero means the log was full while the device was in use.
    pub hsm_unlogged: (u16, u16),
}

impl ReplayIndex {
    fn add(&mut self, time: u64, r: &Record) {
        match r {
            Record::Answering { .. } => self.answers_since_drain += 1,
            Record::Answered { upto } => self.answered_upto = Some(*upto),
            _ => {}
        }
        if let Record::HsmLog {
            entries,
            unlogged_boot,
            unlogged_auth,
            ..
        } = r
        {
            if let Some(last) = entries.last() {
                self.hsm_log = Some(last.clone());
            }
            self.hsm_unlogged = (*unlogged_boot, *unlogged_auth);
            self.answers_since_drain = 0;
        }
        if let Record::Signed {
            request_id,
            digest,
            payloads,
        } = r
        {
            self.requests.insert(digest.clone(), request_id.clone());
            for p in payloads {
                self.payloads.insert(p.digest.clone(), request_id.clone());
                for s in &p.spends {
                    self.spends.insert(s.clone(), p.digest.clone());
                }
                self.history.push((time, p.clone()));
            }
        }
    }
}

/// A ledger position remembered outside the ledger (in the HSM): the entry at `seq` must
/// have `hash`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anchor {
    /// Sequence number.
    pub seq: u64,
    /// The entry's hash.
    pub hash: [u8; 32],
}

impl Anchor {
    /// 40 bytes: sequence number (big-endian) and hash.
    pub fn to_bytes(&self) -> [u8; 40] {
        let mut b = [0u8; 40];
        b[..8].copy_from_slice(&self.seq.to_be_bytes());
        b[8..].copy_from_slice(&self.hash);
        b
    }

    /// Reads 40 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != 40 {
            return None;
        }
        Some(Self {
            seq: u64::from_be_bytes(b[..8].try_into().ok()?),
            hash: b[8..].try_into().ok()?,
        })
    }
}

/// An open ledger.
#[derive(Debug)]
pub struct Ledger {
    path: PathBuf,
    file: File,
    next_seq: u64,
    head: String,
    index: ReplayIndex,
    hashes: Vec<[u8; 32]>,
    /// Where each entry starts in the file.
    offsets: Vec<u64>,
    last: Option<Entry>,
}

fn hash_bytes(h: &str) -> [u8; 32] {
    hex::decode(h)
        .ok()
        .and_then(|b| b.try_into().ok())
        .unwrap_or([0; 32])
}

/// Reads and checks every entry; returns them or where the file is wrong.
fn read_entries(bytes: &[u8]) -> Result<Vec<Entry>, LedgerError> {
    let complete = match bytes.iter().rposition(|&b| b == b'\n') {
        Some(i) => i + 1,
        None => 0,
    };
    // Every complete entry is checked first: only a file whose whole chain holds, with an
    // unfinished entry after it, has a torn tail (a crash mid-append). Anything else is
    // damage `repair` must not touch.
    let entries = read_complete(&bytes[..complete])?;
    if complete != bytes.len() {
        if !bytes[complete..].starts_with(b"{\"seq\":") {
            return Err(LedgerError::Unreadable {
                line: entries.len() + 1,
            });
        }
        return Err(LedgerError::TornTail {
            offset: complete as u64,
        });
    }
    Ok(entries)
}

fn read_complete(bytes: &[u8]) -> Result<Vec<Entry>, LedgerError> {
    let mut entries = Vec::new();
    let mut prev = GENESIS.to_string();
    for (i, line) in bytes
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let n = i + 1;
        let e: Entry =
            serde_json::from_slice(line).map_err(|_| LedgerError::Unreadable { line: n })?;
        if e.seq != i as u64 {
            return Err(LedgerError::Broken {
                line: n,
                expected: i as u64,
                found: e.seq,
            });
        }
        if entry_hash(e.seq, e.time, &e.prev, &e.record)? != e.hash {
            return Err(LedgerError::Edited {
                seq: e.seq,
                line: n,
            });
        }
        if e.prev != prev {
            return Err(LedgerError::Unlinked {
                seq: e.seq,
                line: n,
            });
        }
        prev = e.hash.clone();
        entries.push(e);
    }
    Ok(entries)
}

impl Ledger {
    /// Opens (or creates) the ledger, verifying it entirely.
    pub fn open(path: &Path) -> Result<Self, LedgerError> {
        let io = |e: std::io::Error| LedgerError::Io(format!("{}: {e}", path.display()));
        let existed = path.exists();
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        if !existed {
            // A new file is durable only once its directory entry is.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let entries = read_entries(&bytes)?;
        let mut index = ReplayIndex::default();
        for e in &entries {
            index.add(e.time, &e.record);
        }
        // Where each entry starts in the file.
        let mut offsets = Vec::with_capacity(entries.len());
        let mut at = 0u64;
        for line in bytes.split(|&b| b == b'\n') {
            if !line.is_empty() {
                offsets.push(at);
            }
            at += line.len() as u64 + 1;
        }
        offsets.truncate(entries.len());
        Ok(Self {
            path: path.to_path_buf(),
            file,
            next_seq: entries.len() as u64,
            head: entries
                .last()
                .map_or(GENESIS.to_string(), |e| e.hash.clone()),
            index,
            hashes: entries.iter().map(|e| hash_bytes(&e.hash)).collect(),
            offsets,
            last: entries.last().cloned(),
        })
    }

    /// Verifies a ledger file without opening it for writing.
    pub fn verify(path: &Path) -> Result<usize, LedgerError> {
        let bytes =
            std::fs::read(path).map_err(|e| LedgerError::Io(format!("{}: {e}", path.display())))?;
        read_entries(&bytes).map(|e| e.len())
    }

    /// Cuts off an incomplete last entry left by a crash and records the repair; what it
    /// cuts is kept beside the ledger (`<ledger>.torn-<time>`). Refuses if anything else is
    /// wrong — a file that is not a whole chain followed by an unfinished entry is never
    /// touched.
    pub fn repair(path: &Path, time: u64) -> Result<Self, LedgerError> {
        let io = |e: std::io::Error| LedgerError::Io(format!("{}: {e}", path.display()));
        let bytes = std::fs::read(path).map_err(io)?;
        let offset = match read_entries(&bytes) {
            Err(LedgerError::TornTail { offset }) => offset,
            Ok(_) => return Self::open(path),
            Err(e) => return Err(e),
        };
        let start = usize::try_from(offset)
            .unwrap_or(bytes.len())
            .min(bytes.len());
        let mut kept = path.as_os_str().to_owned();
        kept.push(format!(".torn-{time}"));
        let kept = PathBuf::from(kept);
        let mut copy = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&kept)
            .map_err(|e| LedgerError::Io(format!("{}: {e}", kept.display())))?;
        copy.write_all(&bytes[start..]).map_err(io)?;
        copy.sync_all().map_err(io)?;
        let f = OpenOptions::new().write(true).open(path).map_err(io)?;
        f.set_len(offset).map_err(io)?;
        f.sync_all().map_err(io)?;
        let mut l = Self::open(path)?;
        l.append(
            time,
            Record::Repaired {
                removed_bytes: bytes.len() as u64 - offset,
            },
        )?;
        Ok(l)
    }

    /// Appends an entry and fsyncs it before returning.
    pub fn append(&mut self, time: u64, record: Record) -> Result<Entry, LedgerError> {
        let io = |e: std::io::Error| LedgerError::Io(e.to_string());
        let hash = entry_hash(self.next_seq, time, &self.head, &record)?;
        let e = Entry {
            seq: self.next_seq,
            time,
            prev: self.head.clone(),
            record,
            hash,
        };
        let mut line = serde_json::to_vec(&e).map_err(|x| LedgerError::Io(x.to_string()))?;
        line.push(b'\n');
        let offset = self.file.seek(SeekFrom::End(0)).map_err(io)?;
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.next_seq += 1;
        self.head = e.hash.clone();
        self.hashes.push(hash_bytes(&e.hash));
        self.offsets.push(offset);
        self.index.add(e.time, &e.record);
        self.last = Some(e.clone());
        Ok(e)
    }

    /// The entries after `seq` (all of them for `None`), read back from the file.
    pub fn entries_after(&self, seq: Option<u64>) -> Result<Vec<Entry>, LedgerError> {
        let first = seq.map_or(0, |s| s.saturating_add(1));
        let Some(&start) = usize::try_from(first)
            .ok()
            .and_then(|i| self.offsets.get(i))
        else {
            return Ok(Vec::new());
        };
        let io = |e: std::io::Error| LedgerError::Io(format!("{}: {e}", self.path.display()));
        let mut f = File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(start)).map_err(io)?;
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).map_err(io)?;
        let entries: Vec<Entry> = bytes
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_slice(l).map_err(|_| LedgerError::Unreadable {
                    line: first as usize + i + 1,
                })
            })
            .collect::<Result<_, _>>()?;
        // What is read back is what was written: each entry's hash as the ledger holds it.
        for e in &entries {
            let held = usize::try_from(e.seq).ok().and_then(|i| self.hashes.get(i));
            if held != Some(&hash_bytes(&e.hash)) {
                return Err(LedgerError::Edited {
                    seq: e.seq,
                    line: e.seq as usize + 1,
                });
            }
        }
        Ok(entries)
    }

    /// The last entry.
    pub fn last(&self) -> Option<&Entry> {
        self.last.as_ref()
    }

    /// The position of the last entry, to remember outside the ledger.
    pub fn anchor(&self) -> Option<Anchor> {
        let seq = self.next_seq.checked_sub(1)?;
        Some(Anchor {
            seq,
            hash: *self.hashes.last()?,
        })
    }

    /// Checks that the ledger still holds the anchored entry: not cut below it, and the
    /// entries up to it not rewritten (their hashes chain into it).
    pub fn check_anchor(&self, a: &Anchor) -> Result<(), String> {
        match self
            .hashes
            .get(usize::try_from(a.seq).unwrap_or(usize::MAX))
        {
            None => Err(format!(
                "the HSM remembers entry {}, the ledger ends at {} (entries were cut off)",
                a.seq, self.next_seq
            )),
            Some(h) if *h != a.hash => Err(format!(
                "entry {} is not the one the HSM remembers (the ledger was rewritten)",
                a.seq
            )),
            Some(_) => Ok(()),
        }
    }

    /// Hash of the last entry.
    pub fn head(&self) -> &str {
        &self.head
    }

    /// Entries so far.
    pub fn len(&self) -> u64 {
        self.next_seq
    }

    /// Whether the ledger is empty.
    pub fn is_empty(&self) -> bool {
        self.next_seq == 0
    }

    /// The replay index.
    pub fn index(&self) -> &ReplayIndex {
        &self.index
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
