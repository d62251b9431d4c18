//! The YubiHSM 2's own audit log: up to 62 entries in the device's non-volatile log
//! store, each 16 bytes of data (big-endian: item, command, length, session key, target
//! key, second key, result, tick) and a 16-byte digest, the first half of
//! SHA-256(data || previous entry's digest). With forced auditing on, a full store
//! refuses every logged command until entries are read and the log index is moved
//! past them; the station drains it at every signing (see `station::signing`).

use serde::{Deserialize, Serialize};

pub use airgap_protocol::hsm_log::LogEntry;

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
    /// A command the station does not run, or more identity signatures than it
    /// answered with: someone else used the device.
    #[error(
        "the HSM's log shows entry {item}: {what}, which this station did not do; someone \
         else used the device"
    )]
    Unexpected {
        /// The entry.
        item: u16,
        /// What it was.
        what: String,
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
            if !e.follows(p) {
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
pub fn drain<B: super::SigningBackend + ?Sized>(
    ledger: &mut crate::ledger::Ledger,
    backend: &B,
    now: u64,
    expect: &Expect<'_>,
) -> Result<usize, String> {
    let log = backend
        .audit_log()
        .map_err(|e| format!("cannot be read: {e}"))?;
    let last = ledger.index().hsm_log.clone();
    let (new, new_device) = match (new_entries(&log, last.as_ref()), expect) {
        (Ok(new), _) => (new, false),
        // Init and restore run on a device this ledger has not seen: its log starts a
        // new chain. Nothing else may.
        (Err(_), Expect::Ceremony { new_device: true }) => {
            (new_entries(&log, None).map_err(|e| e.to_string())?, true)
        }
        (Err(e), _) => return Err(e.to_string()),
    };
    // The first entries a ledger takes are its baseline: what the device did before
    // cannot be judged against this station's own record.
    if let (Expect::Station(s), Some(_)) = (expect, &last) {
        s.check(&new, ledger.index().answers_since_drain)
            .map_err(|e| e.to_string())?;
    }
    let count = new.len();
    if count > 0 || log.unlogged_boot > 0 || log.unlogged_auth > 0 {
        let record = crate::ledger::Record::HsmLog {
            entries: new,
            unlogged_boot: log.unlogged_boot,
            unlogged_auth: log.unlogged_auth,
            new_device,
            baseline: last.is_none(),
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

/// What a drain may find in the device's log since the last one.
#[derive(Debug, Clone)]
pub enum Expect<'a> {
    /// A ceremony step the custodians watch: whatever the device logged is recorded
    /// (`new_device`: init or restore, on a device whose log may start a new chain).
    Ceremony {
        /// The step runs on a device this ledger may not have seen.
        new_device: bool,
    },
    /// Signing: only what this station does.
    Station(StationUse<'a>),
}

/// What the station does with the device between ceremonies: sessions of its operating
/// key, signatures with its keys, its ledger anchor, reading and moving the log.
#[derive(Debug, Clone)]
pub struct StationUse<'a> {
    /// The operating (quorum) authentication key.
    pub operating_key: u16,
    /// The station's chain keys.
    pub chain_keys: &'a [u16],
    /// Its identity key: it signs the station's answers, one per response released.
    pub identity: u16,
    /// Signatures with chain keys the station made since the log was last read.
    pub chain_signatures: usize,
    /// The opaque objects holding the ledger anchor.
    pub anchor: &'a [u16],
}

impl StationUse<'_> {
    /// Checks entries against what the station did: `answers` responses released since
    /// the last drain (each one identity signature).
    pub fn check(&self, entries: &[LogEntry], answers: usize) -> Result<(), LogError> {
        use yubihsm::command::Code;
        let (mut identity, mut chain) = (0, 0);
        for e in entries {
            let ok = |code: Code| e.cmd == code as u8;
            let by_us = e.session_key == self.operating_key;
            let allowed = match () {
                // Power-on and reset markers.
                _ if e.cmd == 0x00 || e.cmd == 0xff => true,
                _ if ok(Code::CreateSession) || ok(Code::AuthenticateSession) => by_us,
                _ if ok(Code::CloseSession) || ok(Code::SetLogIndex) => by_us,
                _ if ok(Code::SignEcdsa) || ok(Code::SignEddsa) => {
                    if e.target_key == self.identity {
                        identity += usize::from(e.result & 0x80 != 0);
                        by_us
                    } else {
                        chain += usize::from(e.result & 0x80 != 0);
                        by_us && self.chain_keys.contains(&e.target_key)
                    }
                }
                _ if ok(Code::DeleteObject) || ok(Code::PutOpaqueObject) => {
                    by_us && self.anchor.contains(&e.target_key)
                }
                // Reads, if the device logs them.
                _ if ok(Code::ListObjects) || ok(Code::GetObjectInfo) => by_us,
                _ if ok(Code::GetPublicKey) || ok(Code::GetOpaqueObject) => by_us,
                _ => false,
            };
            if !allowed {
                return Err(LogError::Unexpected {
                    item: e.item,
                    what: format!(
                        "command {:#04x} on object {:#06x} by authentication key {:#06x}",
                        e.cmd, e.target_key, e.session_key
                    ),
                });
            }
        }
        if chain > self.chain_signatures {
            return Err(LogError::Unexpected {
                item: entries.last().map_or(0, |e| e.item),
                what: format!(
                    "{chain} signatures with chain keys, where the station made {}",
                    self.chain_signatures
                ),
            });
        }
        if identity > answers {
            return Err(LogError::Unexpected {
                item: entries.last().map_or(0, |e| e.item),
                what: format!(
                    "{identity} signatures with the identity key, where the station released {answers} answer(s)"
                ),
            });
        }
        Ok(())
    }
}

/// A backend that, when the device refuses a command because its forced-audit log is
/// full, drains the log into the ledger (see [`drain`]) and runs the command again.
pub struct Draining<'a, B: ?Sized> {
    inner: &'a B,
    expect: Expect<'a>,
    signed: std::cell::Cell<usize>,
    /// Signatures made since the log was last read.
    unread: std::cell::Cell<usize>,
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
    pub fn new(
        inner: &'a B,
        ledger: &'a mut crate::ledger::Ledger,
        now: u64,
        expect: Expect<'a>,
    ) -> Self {
        Self {
            inner,
            expect,
            signed: std::cell::Cell::new(0),
            unread: std::cell::Cell::new(0),
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
            self.unread.set(self.unread.get() + 1);
        }
        r
    }

    /// Reads the device's log into the ledger now, expecting the signatures made
    /// through this wrapper since it was last read.
    pub fn drain_now(&self) -> Result<usize, String> {
        let mut expect = self.expect.clone();
        if let Expect::Station(s) = &mut expect {
            s.chain_signatures = self.unread.get();
        }
        let mut ledger = self.ledger.borrow_mut();
        let n = drain(&mut ledger, self.inner, self.now, &expect)?;
        self.unread.set(0);
        Ok(n)
    }

    fn retry<T>(
        &self,
        op: impl Fn(&B) -> Result<T, super::HsmError>,
    ) -> Result<T, super::HsmError> {
        match op(self.inner) {
            Err(super::HsmError::LogFull) => {
                self.drain_now()
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
    fn generate_key(&self, key: &super::NewKey<'_>) -> Result<super::KeyInfo, super::HsmError> {
        self.retry(|b| b.generate_key(key))
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
