//! The YubiHSM 2's own audit log: up to 62 entries in the device's non-volatile log
//! store, each 16 bytes of data (big-endian: item, command, length, session key, target
//! key, second key, result, tick) and a 16-byte digest, the first half of
//! SHA-256(data || previous entry's digest). With forced auditing on, a full store
//! refuses every logged command until entries are read and the log index is moved
//! past them; the station drains it at every signing (see `station::signing`).

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

    /// The digest an entry with this data has after `previous` (hex).
    pub fn digest_after(data: &[u8; 16], previous: &str) -> Result<String, LogError> {
        let prev = hex::decode(previous).map_err(|_| LogError::Malformed(previous.into()))?;
        if prev.len() != 16 {
            return Err(LogError::Malformed(previous.into()));
        }
        let mut h = Sha256::new();
        h.update(data);
        h.update(&prev);
        Ok(hex::encode(&h.finalize()[..16]))
    }

    /// Whether this entry's digest chains from `previous`.
    pub fn follows(&self, previous: &LogEntry) -> Result<bool, LogError> {
        Ok(self.item == previous.item.wrapping_add(1)
            && Self::digest_after(&self.data(), &previous.digest)? == self.digest)
    }
}

/// The device's log as read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceLog {
    /// Power-on events the full store could not log.
    pub unlogged_boot: u16,
    /// Session authentications the full store could not log.
    pub unlogged_auth: u16,
    /// The entries in the store, oldest first.
    pub entries: Vec<LogEntry>,
}

/// Why a log cannot be taken into the ledger.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    /// A digest that is not 16 bytes of hex.
    #[error("the HSM audit log has a malformed digest {0:?}")]
    Malformed(String),
    /// Entries missing between the last one recorded and the first one read.
    #[error(
        "the HSM audit log has a gap: the ledger's last HSM entry is {last}, the device's \
         next is {next}; entries were lost or overwritten"
    )]
    Gap {
        /// The last item the ledger holds.
        last: u16,
        /// The first item read after it.
        next: u16,
    },
    /// The device's newest entry is older than the ledger's last: the device was reset,
    /// or it is not the device the ledger was kept with.
    #[error(
        "the HSM audit log is behind the ledger: the device's newest entry is {device}, the \
         ledger already holds {ledger}; the device was reset or is another device"
    )]
    Behind {
        /// The ledger's last item.
        ledger: u16,
        /// The device's newest item.
        device: u16,
    },
    /// An entry whose digest does not chain from the one before.
    #[error(
        "the HSM audit log's chain breaks at entry {0}: it was altered or is not this device's"
    )]
    Broken(u16),
}

/// The entries of `log` that come after `last` (the last entry the ledger holds, if
/// any), checked to chain from it and from each other. Entries the ledger already holds
/// (the device keeps consumed entries until it reuses their space) are skipped, and the
/// one equal to `last` must be unchanged.
pub fn new_entries(log: &DeviceLog, last: Option<&LogEntry>) -> Result<Vec<LogEntry>, LogError> {
    if let (Some(p), Some(newest)) = (last, log.entries.last()) {
        if newest.item.wrapping_sub(p.item) > u16::MAX / 2 {
            return Err(LogError::Behind {
                ledger: p.item,
                device: newest.item,
            });
        }
    }
    let mut prev = last.cloned();
    let mut out = Vec::new();
    for e in &log.entries {
        if let Some(p) = &prev {
            let ahead = e.item.wrapping_sub(p.item);
            if out.is_empty() && (ahead == 0 || ahead > u16::MAX / 2) {
                // Already recorded: the same entry must read the same.
                if ahead == 0 && e != p {
                    return Err(LogError::Broken(e.item));
                }
                continue;
            }
            if ahead != 1 {
                return Err(LogError::Gap {
                    last: p.item,
                    next: e.item,
                });
            }
            if !e.follows(p)? {
                return Err(LogError::Broken(e.item));
            }
        }
        out.push(e.clone());
        prev = Some(e.clone());
    }
    Ok(out)
}

/// Reads the device's audit log into `ledger` and then consumes it on the device, so a
/// device with forced auditing never fills its log: the new entries must chain from
/// the last one the ledger holds. Returns how many entries were recorded; the error
/// says what failed, for the custodians.
///
/// `new_device`: the keys were restored onto another device, whose log starts a new
/// chain in the ledger (the restore ceremony says so; nothing else may).
pub fn drain<B: super::SigningBackend + ?Sized>(
    ledger: &mut crate::ledger::Ledger,
    backend: &B,
    now: u64,
    new_device: bool,
) -> Result<usize, String> {
    let log = backend
        .audit_log()
        .map_err(|e| format!("cannot be read: {e}"))?;
    let last = match new_device {
        true => None,
        false => ledger.index().hsm_log.as_ref(),
    };
    let new = new_entries(&log, last).map_err(|e| e.to_string())?;
    let count = new.len();
    if count > 0 || log.unlogged_boot > 0 || log.unlogged_auth > 0 {
        let record = crate::ledger::Record::HsmLog {
            entries: new,
            unlogged_boot: log.unlogged_boot,
            unlogged_auth: log.unlogged_auth,
            new_device,
        };
        ledger
            .append(now, record)
            .map_err(|e| format!("cannot be recorded in the ledger: {e}"))?;
    }
    // Everything the device holds is in the ledger now (new, or recorded before): its
    // space may be reused.
    if let Some(last) = log.entries.last() {
        backend
            .consume_log(last.item)
            .map_err(|e| format!("cannot be consumed on the device: {e}"))?;
    }
    Ok(count)
}

/// A backend that, when the device refuses a command because its forced-audit log is
/// full, drains the log into the ledger (see [`drain`]) and runs the command again.
pub struct Draining<'a, B: ?Sized> {
    inner: &'a B,
    signed: std::cell::Cell<usize>,
    ledger: std::cell::RefCell<&'a mut crate::ledger::Ledger>,
    now: u64,
}

impl<B: ?Sized> std::fmt::Debug for Draining<'_, B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Draining").finish_non_exhaustive()
    }
}

impl<'a, B: super::SigningBackend + ?Sized> Draining<'a, B> {
    /// Wraps `inner`, recording into `ledger`.
    pub fn new(inner: &'a B, ledger: &'a mut crate::ledger::Ledger, now: u64) -> Self {
        Self {
            inner,
            signed: std::cell::Cell::new(0),
            ledger: std::cell::RefCell::new(ledger),
            now,
        }
    }

    /// Signatures made through it so far.
    pub fn signatures(&self) -> usize {
        self.signed.get()
    }

    fn count<T>(&self, r: Result<T, super::HsmError>) -> Result<T, super::HsmError> {
        if r.is_ok() {
            self.signed.set(self.signed.get() + 1);
        }
        r
    }

    fn retry<T>(
        &self,
        op: impl Fn(&B) -> Result<T, super::HsmError>,
    ) -> Result<T, super::HsmError> {
        match op(self.inner) {
            Err(super::HsmError::LogFull) => {
                let mut ledger = self.ledger.borrow_mut();
                drain(&mut ledger, self.inner, self.now, false)
                    .map_err(|e| super::HsmError::Device(format!("the audit log {e}")))?;
                op(self.inner)
            }
            r => r,
        }
    }
}

impl<B: super::SigningBackend + ?Sized> super::SigningBackend for Draining<'_, B> {
    fn info(&self) -> Result<super::BackendInfo, super::HsmError> {
        self.inner.info()
    }
    fn list_keys(&self) -> Result<Vec<super::KeyInfo>, super::HsmError> {
        self.retry(|b| b.list_keys())
    }
    fn generate_key(
        &self,
        id: u16,
        label: &str,
        algorithm: super::KeyAlgorithm,
        caps: super::KeyCapabilities,
    ) -> Result<super::KeyInfo, super::HsmError> {
        self.retry(|b| b.generate_key(id, label, algorithm, caps))
    }
    fn sign_ecdsa_prehash(&self, id: u16, digest: &[u8; 32]) -> Result<Vec<u8>, super::HsmError> {
        self.count(self.retry(|b| b.sign_ecdsa_prehash(id, digest)))
    }
    fn sign_ed25519(&self, id: u16, message: &[u8]) -> Result<[u8; 64], super::HsmError> {
        self.count(self.retry(|b| b.sign_ed25519(id, message)))
    }
    fn read_opaque(&self, id: u16) -> Result<Option<Vec<u8>>, super::HsmError> {
        self.retry(|b| b.read_opaque(id))
    }
    fn write_opaque(&self, id: u16, label: &str, data: &[u8]) -> Result<(), super::HsmError> {
        self.retry(|b| b.write_opaque(id, label, data))
    }
    fn audit_log(&self) -> Result<DeviceLog, super::HsmError> {
        self.inner.audit_log()
    }
    fn consume_log(&self, item: u16) -> Result<(), super::HsmError> {
        self.inner.consume_log(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u16) -> Vec<LogEntry> {
        let mut out: Vec<LogEntry> = Vec::new();
        for item in 1..=n {
            let mut e = LogEntry {
                item,
                cmd: 0x56,
                length: 34,
                session_key: 2,
                target_key: 0x10,
                second_key: 0xffff,
                result: 0xd6,
                tick: u32::from(item) * 7,
                digest: String::new(),
            };
            let prev = out.last().map_or("00".repeat(16), |p| p.digest.clone());
            e.digest = LogEntry::digest_after(&e.data(), &prev).unwrap();
            out.push(e);
        }
        out
    }

    fn log(entries: &[LogEntry]) -> DeviceLog {
        DeviceLog {
            entries: entries.to_vec(),
            ..Default::default()
        }
    }

    #[test]
    fn a_chain_is_taken_after_the_last_recorded_entry() {
        let c = chain(10);
        assert_eq!(new_entries(&log(&c), None).unwrap().len(), 10);
        let new = new_entries(&log(&c), Some(&c[3])).unwrap();
        assert_eq!(new.first().unwrap().item, 5);
        assert_eq!(new.len(), 6);
        assert!(new_entries(&log(&c), Some(&c[9])).unwrap().is_empty());
    }

    #[test]
    fn a_gap_an_edit_and_a_foreign_chain_are_refused() {
        let c = chain(10);
        let mut gap = c.clone();
        gap.remove(5);
        assert_eq!(
            new_entries(&log(&gap), Some(&c[3])),
            Err(LogError::Gap { last: 5, next: 7 })
        );
        let mut edited = c.clone();
        edited[6].target_key = 0x11;
        assert_eq!(
            new_entries(&log(&edited), Some(&c[3])),
            Err(LogError::Broken(7))
        );
        let mut rewritten = c.clone();
        rewritten[3].tick += 1;
        assert_eq!(
            new_entries(&log(&rewritten), Some(&c[3])),
            Err(LogError::Broken(4))
        );
        // A device whose log ends before the ledger's last entry.
        assert_eq!(
            new_entries(&log(&c[..3]), Some(&c[5])),
            Err(LogError::Behind {
                ledger: 6,
                device: 3
            })
        );
        // Entries that begin after a gap from the last one recorded.
        assert_eq!(
            new_entries(&log(&c[6..]), Some(&c[3])),
            Err(LogError::Gap { last: 4, next: 7 })
        );
    }
}
