//! What a YubiHSM 2 does that the `yubihsm` crate's MockHsm does not, laid over it for
//! rehearsals and tests (the `rehearsal` feature; never in a production build):
//!
//! - the 62-entry audit log store with Yubico's digest chain: every command the device
//!   logs by default is logged with its result; with forced auditing on, a logged
//!   command is refused while the store holds 62 unread entries; session
//!   authentications are always allowed and counted as unlogged when the store is full;
//! - capabilities and domains: a key operation needs the capability on the key and on
//!   the session's authentication key, and a domain they share;
//! - ECDSA answered high-S about half the time, as DER without a recovery id;
//! - an Ed25519 key exported under wrap imports as the same key (MockHsm wraps the
//!   public key in place of the seed: the emulation keeps each Ed25519 seed it made and
//!   puts the right key back after an import).
//!
//! What it cannot show (wrap formats, timing, the USB transport, the device's own
//! choice of which commands it logs on each firmware) is listed in
//! `firmware-notes/yubihsm2.md`.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, OnceLock};

use yubihsm::command::Code;

use super::log::{DeviceLog, LogEntry};
use super::HsmError;

/// Entries the device's log store holds.
pub const LOG_CAPACITY: usize = 62;

/// The device state MockHsm lacks, shared by every session on one emulated device.
#[derive(Debug)]
pub struct Device {
    state: Mutex<State>,
}

#[derive(Debug)]
struct State {
    force_audit: bool,
    /// Commands whose logging was turned off (`command-audit` option).
    unlogged: Vec<Code>,
    /// Commands whose logging is fixed on (until a factory reset).
    fixed: Vec<Code>,
    store: VecDeque<LogEntry>,
    /// The log index: the last item the host said it read.
    read_up_to: u16,
    next_item: u16,
    unlogged_boot: u16,
    unlogged_auth: u16,
    tick: u32,
}

impl State {
    /// Whether the device logs `cmd`: by default every command but these (Yubico's
    /// defaults, as MockHsm lists them), unless its logging was turned off.
    fn logs(&self, cmd: Code) -> bool {
        !matches!(
            cmd,
            Code::Echo | Code::DeviceInfo | Code::GetLogEntries | Code::SessionMessage
        ) && !self.unlogged.contains(&cmd)
    }

    fn unread(&self) -> usize {
        self.store
            .iter()
            .filter(|e| {
                let ahead = e.item.wrapping_sub(self.read_up_to);
                ahead != 0 && ahead <= u16::MAX / 2
            })
            .count()
    }

    fn full(&self) -> bool {
        self.force_audit && self.unread() >= LOG_CAPACITY
    }

    fn push(&mut self, cmd: u8, keys: [u16; 3], result: u8) {
        self.tick = self.tick.wrapping_add(13);
        let prev = self
            .store
            .back()
            .map_or_else(|| "00".repeat(16), |e| e.digest.clone());
        let mut e = LogEntry {
            item: self.next_item,
            cmd,
            length: 0,
            session_key: keys[0],
            target_key: keys[1],
            second_key: keys[2],
            result,
            tick: self.tick,
            digest: String::new(),
        };
        e.digest = LogEntry::digest_after(&e.data(), &prev).unwrap_or_default();
        self.next_item = self.next_item.wrapping_add(1);
        if self.store.len() == LOG_CAPACITY {
            // A circular store: the oldest entry's space is reused (with forced audit
            // only once it was read: `full` refused the command otherwise).
            self.store.pop_front();
        }
        self.store.push_back(e);
    }
}

impl Device {
    /// A device after a factory reset and a power-on: two entries.
    pub fn new() -> Self {
        let mut s = State {
            force_audit: false,
            unlogged: Vec::new(),
            fixed: Vec::new(),
            store: VecDeque::new(),
            read_up_to: 0,
            next_item: 1,
            unlogged_boot: 0,
            unlogged_auth: 0,
            // The device's clock: a counter from power-on, the same on every emulated
            // device, so a test's ledger (and what it shows) is the same on every run.
            tick: 0,
        };
        s.push(0xff, [0xffff; 3], 0xff);
        s.push(0x00, [0xffff; 3], 0x00);
        Self {
            state: Mutex::new(s),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A session authenticated with `auth_key`: always allowed; logged when there is
    /// room, counted otherwise.
    pub fn session(&self, auth_key: u16) {
        let mut s = self.lock();
        if s.full() {
            s.unlogged_auth = s.unlogged_auth.saturating_add(1);
            return;
        }
        s.push(Code::CreateSession as u8, [auth_key, 0xffff, 0xffff], 0x83);
        if s.full() {
            s.unlogged_auth = s.unlogged_auth.saturating_add(1);
            return;
        }
        s.push(
            Code::AuthenticateSession as u8,
            [auth_key, 0xffff, 0xffff],
            0x84,
        );
    }

    /// Runs `op` as command `cmd` of a session with `auth_key` about `target` (and
    /// `second`): refused unrun when forced auditing is on and the store is full, and
    /// logged with its result.
    pub fn run<T>(
        &self,
        cmd: Code,
        keys: [u16; 3],
        op: impl FnOnce() -> Result<T, HsmError>,
    ) -> Result<T, HsmError> {
        if !self.lock().logs(cmd) {
            return op();
        }
        if self.lock().full() {
            return Err(HsmError::LogFull);
        }
        let r = op();
        let result = match &r {
            Ok(_) => (cmd as u8) | 0x80,
            Err(_) => 0x7f,
        };
        self.lock().push(cmd as u8, keys, result);
        r
    }

    /// Forced auditing on or off (the `SetOption` command itself is run and logged by
    /// [`Device::run`]).
    pub fn force_audit(&self, on: bool) {
        self.lock().force_audit = on;
    }

    /// Logging of `cmd` on or off (the `SetOption` command itself is run and logged by
    /// [`Device::run`]).
    pub fn command_audit(&self, cmd: Code, on: bool) -> Result<(), HsmError> {
        let mut s = self.lock();
        if !on && s.fixed.contains(&cmd) {
            return Err(HsmError::Permission(format!(
                "logging of {cmd:?} is fixed on until a factory reset"
            )));
        }
        s.unlogged.retain(|c| *c != cmd);
        if !on {
            s.unlogged.push(cmd);
        }
        Ok(())
    }

    /// Logging of `cmd` fixed on, as the `Fix` option does: only a factory reset undoes
    /// it.
    pub fn fix_command_audit(&self, cmd: Code) {
        let mut s = self.lock();
        s.unlogged.retain(|c| *c != cmd);
        if !s.fixed.contains(&cmd) {
            s.fixed.push(cmd);
        }
    }

    /// The store as `GetLogEntries` answers it.
    pub fn log(&self) -> DeviceLog {
        let s = self.lock();
        DeviceLog {
            unlogged_boot: s.unlogged_boot,
            unlogged_auth: s.unlogged_auth,
            entries: s.store.iter().cloned().collect(),
        }
    }

    /// `SetLogIndex`: entries up to `item` are read and their space free; the command
    /// is then logged itself. The counters of unlogged events restart.
    pub fn set_log_index(&self, auth_key: u16, item: u16) -> Result<(), HsmError> {
        let mut s = self.lock();
        if !s.store.iter().any(|e| e.item == item) {
            return Err(HsmError::Device(format!(
                "log index {item} is not an entry of the log store"
            )));
        }
        s.read_up_to = item;
        s.unlogged_auth = 0;
        s.unlogged_boot = 0;
        s.push(Code::SetLogIndex as u8, [auth_key, 0xffff, 0xffff], 0xd5);
        Ok(())
    }
}

impl Default for Device {
    fn default() -> Self {
        Self::new()
    }
}

/// An ECDSA signature as the device may answer it: the high-S twin about half the
/// time (the device does not normalise), DER.
pub fn device_ecdsa(der: Vec<u8>) -> Result<Vec<u8>, HsmError> {
    use k256::ecdsa::Signature;
    let sig = Signature::from_der(&der).map_err(|e| HsmError::Device(e.to_string()))?;
    let mut coin = [0u8; 1];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut coin);
    if coin[0] & 1 == 0 {
        return Ok(der);
    }
    let (r, s) = sig.split_scalars();
    let high = Signature::from_scalars(r, -*s).map_err(|e| HsmError::Device(e.to_string()))?;
    Ok(high.to_der().as_bytes().to_vec())
}

/// Ed25519 seeds of the keys the emulation made, by public key: shared by every
/// emulated device in the process, as a backup carries a key from one device to another.
fn seeds() -> &'static Mutex<HashMap<[u8; 32], [u8; 32]>> {
    static SEEDS: OnceLock<Mutex<HashMap<[u8; 32], [u8; 32]>>> = OnceLock::new();
    SEEDS.get_or_init(Mutex::default)
}

/// A new Ed25519 seed, remembered by its public key.
pub fn new_ed25519_seed() -> [u8; 32] {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut seed);
    remember_ed25519_seed(&seed);
    seed
}

/// Remembers an Ed25519 seed put into an emulated device.
pub fn remember_ed25519_seed(seed: &[u8; 32]) {
    let public = ed25519_dalek::SigningKey::from_bytes(seed)
        .verifying_key()
        .to_bytes();
    seeds()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(public, *seed);
}

/// Every remembered seed with the public key it has (which MockHsm wraps in its place).
pub fn wrapped_seeds() -> Vec<([u8; 32], [u8; 32])> {
    seeds()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .iter()
        .map(|(public, seed)| (*public, *seed))
        .collect()
}
