//! The push decoder for multipart URs.

use std::collections::HashSet;

use super::gf2::Gf2Solver;
use super::{parse_part, FountainPart, UrError, UrPart};

/// Caps that bound what a hostile stream can make the receiver allocate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReceiverLimits {
    /// Largest fragment count K accepted.
    pub max_seq_len: u32,
    /// Largest message accepted, in bytes.
    pub max_message_len: u32,
}

impl Default for ReceiverLimits {
    fn default() -> Self {
        // 4,096 fragments of a version-25 QR (~900 bytes) is far above any signing
        // request; 8 MiB bounds memory to ~10 MiB for the solver.
        Self {
            max_seq_len: 4_096,
            max_message_len: 8 * 1024 * 1024,
        }
    }
}

/// Progress of a stream being received.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Progress {
    /// Fragments K of the stream (0 before the first part).
    pub fragments: usize,
    /// Distinct valid parts received.
    pub parts_received: usize,
    /// Parts that raised the rank: fragments now determined by the parts so far.
    pub useful_parts: usize,
    /// Duplicate or linearly dependent parts received.
    pub redundant_parts: usize,
    /// Parts of other streams seen and ignored.
    pub stranger_parts: usize,
    /// Estimate of further useful parts needed (K - rank).
    pub estimated_remaining: usize,
    /// `useful_parts / fragments`, 0.0 before the first part.
    pub fraction: f64,
}

/// What one received part did.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The part added information.
    Useful(Progress),
    /// A duplicate or a part that adds nothing new.
    Redundant(Progress),
    /// The message is complete.
    Complete {
        /// The UR type, lower case.
        ur_type: String,
        /// The message (CRC-checked).
        message: Vec<u8>,
    },
}

#[derive(Debug)]
struct Stream {
    ur_type: String,
    seq_len: u32,
    message_len: u32,
    checksum: u32,
    fragment_len: usize,
    seen: HashSet<u32>,
    solver: Gf2Solver,
}

impl Stream {
    fn id(&self) -> String {
        format!("{} {:08x}", self.ur_type, self.checksum)
    }
}

/// Receives UR parts in any order, with loss, duplicates and either case, and completes
/// after about K + 2 parts by solving the fountain code over GF(2).
///
/// The first valid part fixes the stream (UR type and checksum). Parts of another
/// stream are refused as [`UrError::Stranger`] and counted; parts that claim the stream
/// but disagree with its shape are refused as [`UrError::Inconsistent`]. Neither changes
/// the state, so a wrong message is never assembled from a mix of streams.
#[derive(Debug, Default)]
pub struct UrReceiver {
    limits: ReceiverLimits,
    stream: Option<Stream>,
    redundant: usize,
    strangers: usize,
    complete: bool,
}

impl UrReceiver {
    /// A receiver with the given caps.
    pub fn with_limits(limits: ReceiverLimits) -> Self {
        Self {
            limits,
            ..Self::default()
        }
    }

    /// Feeds one scanned string.
    pub fn receive(&mut self, text: &str) -> Result<Received, UrError> {
        let part = parse_part(text)?;
        self.receive_part(part)
    }

    /// Feeds one parsed part.
    pub fn receive_part(&mut self, part: UrPart) -> Result<Received, UrError> {
        match part {
            UrPart::Single { ur_type, message } => {
                if let Some(s) = &self.stream {
                    self.strangers += 1;
                    return Err(UrError::Stranger {
                        expected: s.id(),
                        found: format!("{ur_type} single-part"),
                    });
                }
                self.check_cap(
                    "message length",
                    message.len() as u64,
                    self.limits.max_message_len,
                )?;
                self.complete = true;
                Ok(Received::Complete { ur_type, message })
            }
            UrPart::Multi { ur_type, part } => self.receive_multi(ur_type, part),
        }
    }

    fn check_cap(&self, what: &'static str, found: u64, limit: u32) -> Result<(), UrError> {
        if found > u64::from(limit) {
            return Err(UrError::TooLarge {
                what,
                found,
                limit: u64::from(limit),
            });
        }
        Ok(())
    }

    fn receive_multi(&mut self, ur_type: String, part: FountainPart) -> Result<Received, UrError> {
        match &self.stream {
            None => {
                self.check_cap(
                    "fragment count",
                    part.seq_len.into(),
                    self.limits.max_seq_len,
                )?;
                self.check_cap(
                    "message length",
                    part.message_len.into(),
                    self.limits.max_message_len,
                )?;
                self.stream = Some(Stream {
                    ur_type,
                    seq_len: part.seq_len,
                    message_len: part.message_len,
                    checksum: part.checksum,
                    fragment_len: part.data.len(),
                    seen: HashSet::new(),
                    solver: Gf2Solver::new(part.seq_len as usize, part.data.len()),
                });
            }
            Some(s) => {
                if s.ur_type != ur_type || s.checksum != part.checksum {
                    self.strangers += 1;
                    return Err(UrError::Stranger {
                        expected: s.id(),
                        found: format!("{ur_type} {:08x}", part.checksum),
                    });
                }
                let fields = [
                    ("fragment count", s.seq_len as u64, part.seq_len as u64),
                    (
                        "message length",
                        s.message_len as u64,
                        part.message_len as u64,
                    ),
                    (
                        "fragment length",
                        s.fragment_len as u64,
                        part.data.len() as u64,
                    ),
                ];
                for (field, expected, found) in fields {
                    if expected != found {
                        return Err(UrError::Inconsistent {
                            field,
                            expected,
                            found,
                        });
                    }
                }
            }
        }
        let indexes = part.fragment_indexes()?;
        let Some(stream) = self.stream.as_mut() else {
            return Err(UrError::Encode("no stream"));
        };
        if self.complete || !stream.seen.insert(part.seq) {
            self.redundant += 1;
            return Ok(Received::Redundant(self.progress()));
        }
        if !stream.solver.insert(&indexes, &part.data) {
            self.redundant += 1;
            return Ok(Received::Redundant(self.progress()));
        }
        if !stream.solver.is_complete() {
            return Ok(Received::Useful(self.progress()));
        }
        match assemble(stream) {
            Ok(message) => {
                self.complete = true;
                Ok(Received::Complete {
                    ur_type: stream.ur_type.clone(),
                    message,
                })
            }
            Err(e) => {
                self.stream = None;
                Err(e)
            }
        }
    }

    /// Progress so far.
    pub fn progress(&self) -> Progress {
        let (fragments, received, useful) = match &self.stream {
            Some(s) => (s.seq_len as usize, s.seen.len(), s.solver.rank()),
            None => (0, 0, 0),
        };
        Progress {
            fragments,
            parts_received: received,
            useful_parts: useful,
            redundant_parts: self.redundant,
            stranger_parts: self.strangers,
            estimated_remaining: fragments.saturating_sub(useful),
            fraction: if fragments == 0 {
                0.0
            } else {
                useful as f64 / fragments as f64
            },
        }
    }

    /// Whether a message has been completed.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Type of the stream in progress, if any.
    pub fn ur_type(&self) -> Option<&str> {
        self.stream.as_ref().map(|s| s.ur_type.as_str())
    }
}

fn assemble(stream: &Stream) -> Result<Vec<u8>, UrError> {
    let fragments = stream
        .solver
        .solve()
        .ok_or(UrError::CorruptMessage("rank"))?;
    let mut message = fragments.concat();
    let len = stream.message_len as usize;
    if message
        .get(len..)
        .is_none_or(|pad| pad.iter().any(|&b| b != 0))
    {
        return Err(UrError::CorruptMessage("padding"));
    }
    message.truncate(len);
    if crc32fast::hash(&message) != stream.checksum {
        return Err(UrError::CorruptMessage("checksum"));
    }
    Ok(message)
}
