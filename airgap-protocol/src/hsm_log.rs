//! The YubiHSM 2's own audit log, as the station reads it and its responses carry it to
//! the coordinator: entries of 16 bytes of data (big-endian: item, command, length,
//! session key, target key, second key, result, tick) and a 16-byte digest, the first
//! half of SHA-256(data || previous entry's digest).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The device's Sign ECDSA command code.
pub const SIGN_ECDSA: u8 = 0x56;
/// The device's Sign EdDSA command code.
pub const SIGN_EDDSA: u8 = 0x6a;

/// One entry of the device's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// Entry number (wraps at 65,535).
    pub item: u16,
    /// Command code (0xff for a reset marker, 0x00 for a power-on).
    pub cmd: u8,
    /// Command length.
    pub length: u16,
    /// Authentication key of the session.
    pub session_key: u16,
    /// Object the command was about.
    pub target_key: u16,
    /// A second object (a wrap key, an imported object).
    pub second_key: u16,
    /// Response code as the device answered.
    pub result: u8,
    /// The device's clock.
    pub tick: u32,
    /// Truncated digest chaining this entry to the previous one, hex.
    pub digest: String,
}

impl LogEntry {
    /// The 16 bytes the digest covers.
    pub fn data(&self) -> [u8; 16] {
        let mut d = [0u8; 16];
        d[0..2].copy_from_slice(&self.item.to_be_bytes());
        d[2] = self.cmd;
        d[3..5].copy_from_slice(&self.length.to_be_bytes());
        d[5..7].copy_from_slice(&self.session_key.to_be_bytes());
        d[7..9].copy_from_slice(&self.target_key.to_be_bytes());
        d[9..11].copy_from_slice(&self.second_key.to_be_bytes());
        d[11] = self.result;
        d[12..16].copy_from_slice(&self.tick.to_be_bytes());
        d
    }

    /// The digest an entry with this data has after `previous` (hex); `None` when
    /// `previous` is not 16 bytes of hex.
    pub fn digest_after(data: &[u8; 16], previous: &str) -> Option<String> {
        let prev = hex::decode(previous).ok().filter(|p| p.len() == 16)?;
        let mut h = Sha256::new();
        h.update(data);
        h.update(&prev);
        Some(hex::encode(&h.finalize()[..16]))
    }

    /// Whether this entry follows `previous`: the next item, its digest chained from
    /// `previous`'s.
    pub fn follows(&self, previous: &LogEntry) -> bool {
        self.item == previous.item.wrapping_add(1)
            && Self::digest_after(&self.data(), &previous.digest).as_deref() == Some(&self.digest)
    }

    /// A signature the device made (the command succeeded).
    pub fn is_signature(&self) -> bool {
        (self.cmd == SIGN_ECDSA || self.cmd == SIGN_EDDSA) && self.result == self.cmd | 0x80
    }
}
