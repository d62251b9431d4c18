//! `backup` and `restore`. A random wrap key is put into the HSM and split k-of-n among
//! custodians (each share age-encrypted to its custodian's passphrase, as the operating
//! credential is); every key is exported wrapped under it, and the deposit seed (an
//! opaque object) age-encrypted with it. Restore puts the reconstructed wrap key into a
//! new HSM, imports the wrapped keys and the deposit seed, and checks every restored
//! public key against the station descriptor.

use age::secrecy::SecretString;
use airgap_protocol::envelope::StationDescriptor;
use serde::{Deserialize, Serialize};

use crate::hsm::{HsmError, KeyAlgorithm, KeyInfo, SigningBackend, YubiHsm};
use crate::quorum::{Credential, QuorumError, QuorumFile};

/// Object id of the backup wrap key.
pub const WRAP_KEY_ID: u16 = 0x0500;

/// One key, wrapped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrappedKey {
    /// Object id.
    pub id: u16,
    /// Label.
    pub label: String,
    /// Algorithm.
    pub algorithm: KeyAlgorithm,
    /// Public key, hex (to check the restore).
    pub public_key: String,
    /// The wrapped object (nonce and ciphertext), hex.
    pub blob: String,
}

/// A backup: the wrap key's custodian shares, the wrapped keys, and the deposit seed
/// encrypted to the wrap key. Nothing in it is usable without k custodians.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupSet {
    /// Shares of the wrap key (the quorum file's `auth_key_id` is the wrap key id).
    pub wrap_key_shares: QuorumFile,
    /// Wrapped keys.
    pub keys: Vec<WrappedKey>,
    /// The deposit accounts' seed (an opaque object, which the device does not wrap):
    /// age-encrypted with the wrap key as its passphrase, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deposit_seed: Option<String>,
}

/// The age passphrase a wrap key gives (the key is random: no stretching needed).
fn seed_passphrase(wrap_key: &Credential) -> SecretString {
    SecretString::from(hex::encode(wrap_key.expose()))
}

fn seal_seed(seed: &[u8], wrap_key: &Credential) -> Result<String, BackupError> {
    use std::io::Write;
    let bad = |e: String| BackupError::Damaged(format!("deposit seed: {e}"));
    let mut recipient = age::scrypt::Recipient::new(seed_passphrase(wrap_key));
    recipient.set_work_factor(10);
    let enc = age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| bad(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).map_err(|e| bad(e.to_string()))?;
    w.write_all(seed).map_err(|e| bad(e.to_string()))?;
    w.finish().map_err(|e| bad(e.to_string()))?;
    Ok(hex::encode(out))
}

fn open_seed(
    sealed: &str,
    wrap_key: &Credential,
) -> Result<zeroize::Zeroizing<Vec<u8>>, BackupError> {
    use std::io::Read;
    let bad = |e: &str| BackupError::Damaged(format!("deposit seed: {e}"));
    let bytes = hex::decode(sealed).map_err(|_| bad("not hex"))?;
    let mut identity = age::scrypt::Identity::new(seed_passphrase(wrap_key));
    identity.set_max_work_factor(10);
    let dec = age::Decryptor::new(&bytes[..]).map_err(|_| bad("not age"))?;
    let mut r = dec
        .decrypt(std::iter::once(&identity as &dyn age::Identity))
        .map_err(|_| bad("does not open with this wrap key"))?;
    let mut seed = zeroize::Zeroizing::new(Vec::new());
    r.read_to_end(&mut seed)
        .map_err(|_| bad("does not open with this wrap key"))?;
    Ok(seed)
}

/// Backup and restore errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackupError {
    /// HSM.
    #[error(transparent)]
    Hsm(#[from] HsmError),
    /// Quorum.
    #[error(transparent)]
    Quorum(#[from] QuorumError),
    /// A key could not be exported; the backup is not written at all.
    #[error("key {id:#06x} ({label}) could not be exported under wrap: {reason}")]
    Export {
        /// Key id.
        id: u16,
        /// Label.
        label: String,
        /// Device message.
        reason: String,
    },
    /// A wrapped key could not be imported.
    #[error("key {id:#06x} could not be imported: {reason}")]
    Import {
        /// Key id.
        id: u16,
        /// Device message.
        reason: String,
    },
    /// A restored key differs from the descriptor.
    #[error("restored key {id:#06x} does not match the station descriptor")]
    Mismatch {
        /// Key id.
        id: u16,
    },
    /// A descriptor key is missing from the backup.
    #[error("the backup lacks key {id:#06x} named in the descriptor")]
    Missing {
        /// Key id.
        id: u16,
    },
    /// Damaged backup file.
    #[error("backup damaged: {0}")]
    Damaged(String),
}

fn put_wrap_key(hsm: &YubiHsm, key: &Credential) -> Result<(), HsmError> {
    hsm.put_wrap_key(WRAP_KEY_ID, "strongroom-backup-wrap", key.expose())
}

/// Creates the wrap key, splits it among `custodians` (k = `threshold`), and exports
/// every key of `keys` wrapped. All or nothing.
pub fn backup(
    hsm: &YubiHsm,
    keys: &[KeyInfo],
    custodians: &[(String, SecretString)],
    threshold: usize,
    work_factor: Option<u8>,
) -> Result<BackupSet, BackupError> {
    let (shares, wrap_key) = QuorumFile::create(WRAP_KEY_ID, threshold, custodians, work_factor)?;
    put_wrap_key(hsm, &wrap_key)?;
    let deposit_seed = match hsm.read_opaque(crate::station::deposits::SEED_OBJECT)? {
        Some(seed) => Some(seal_seed(&zeroize::Zeroizing::new(seed), &wrap_key)?),
        None => None,
    };
    drop(wrap_key);
    let mut out = Vec::new();
    for k in keys {
        let blob = hsm
            .export_wrapped(WRAP_KEY_ID, k.id)
            .map_err(|e| BackupError::Export {
                id: k.id,
                label: k.label.clone(),
                reason: e.to_string(),
            })?;
        out.push(WrappedKey {
            id: k.id,
            label: k.label.clone(),
            algorithm: k.algorithm,
            public_key: hex::encode(&k.public_key),
            blob: hex::encode(blob),
        });
    }
    Ok(BackupSet {
        wrap_key_shares: shares,
        keys: out,
        deposit_seed,
    })
}

/// Restores a backup into `fresh` (a new HSM already initialised with its own quorum),
/// with the wrap key reconstructed from k custodians, and checks every restored key
/// against `descriptor` (and the identity key).
pub fn restore(
    fresh: &YubiHsm,
    set: &BackupSet,
    wrap_key: &Credential,
    descriptor: &StationDescriptor,
) -> Result<Vec<KeyInfo>, BackupError> {
    put_wrap_key(fresh, wrap_key)?;
    if let Some(sealed) = &set.deposit_seed {
        let seed = open_seed(sealed, wrap_key)?;
        if seed.len() != 32 {
            return Err(BackupError::Damaged(format!(
                "deposit seed of {} bytes, 32 expected",
                seed.len()
            )));
        }
        use crate::station::deposits::{LABEL, SEED_OBJECT};
        fresh.write_opaque(SEED_OBJECT, LABEL, &seed)?;
    }
    for k in &set.keys {
        let blob = hex::decode(&k.blob)
            .ok()
            .ok_or_else(|| BackupError::Damaged(format!("key {:#06x} blob", k.id)))?;
        fresh
            .import_wrapped(WRAP_KEY_ID, blob)
            .map_err(|e| BackupError::Import {
                id: k.id,
                reason: e.to_string(),
            })?;
    }
    let restored = fresh.list_keys()?;
    let mut expected: Vec<(u16, Vec<u8>)> = descriptor
        .keys
        .iter()
        .map(|k| (k.id, k.public_key.clone()))
        .collect();
    if let Some(identity) = set.keys.iter().find(|k| {
        hex::decode(&k.public_key).ok().as_deref() == Some(descriptor.identity.as_slice())
    }) {
        expected.push((identity.id, descriptor.identity.to_vec()));
    }
    for (id, pk) in expected {
        let got = restored
            .iter()
            .find(|k| k.id == id)
            .ok_or(BackupError::Missing { id })?;
        if got.public_key != pk {
            return Err(BackupError::Mismatch { id });
        }
    }
    Ok(restored)
}
