//! The approver's key: an Ed25519 key in a passphrase-encrypted file (the same age
//! scrypt format as the bundle keys, `keys.age` beside `keys.pub`), and the record the
//! coordinator's admin registers it from.

use std::path::Path;

use age::secrecy::SecretString;
use anyhow::{Context, Result};
use serde_json::{json, Value};

/// The registration record: the body of `POST /v1/approvers`.
pub const RECORD: &str = "approver.json";

/// Makes a new key in `dir` (which must not hold one) for `principal`, and writes its
/// registration record beside it. Returns the record.
pub fn create(
    dir: &Path,
    principal: &str,
    passphrase: SecretString,
    work_factor: Option<u8>,
) -> Result<Value> {
    fresh(dir)?;
    let public = usb_transfer::keyfile::generate(dir, passphrase, work_factor)?;
    record(dir, principal, &public.ed25519)
}

/// Keeps `key`, made elsewhere (a rehearsal's fixed approver keys), in `dir` as
/// [`create`] keeps a new one.
pub fn adopt(
    dir: &Path,
    principal: &str,
    key: &ed25519_dalek::SigningKey,
    passphrase: SecretString,
    work_factor: Option<u8>,
) -> Result<Value> {
    fresh(dir)?;
    let identity = age::x25519::Identity::generate();
    usb_transfer::keyfile::save(dir, key, identity, passphrase, work_factor)?;
    record(dir, principal, &key.verifying_key())
}

/// Makes `dir` for a new key; refuses one that holds a key already.
fn fresh(dir: &Path) -> Result<()> {
    if dir.join(RECORD).exists() {
        anyhow::bail!("{} already holds an approver key", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())
}

/// Writes the registration record (last: its presence says the key is complete).
fn record(dir: &Path, principal: &str, key: &ed25519_dalek::VerifyingKey) -> Result<Value> {
    let record = json!({
        "principal": principal,
        "public_key": hex::encode(key.as_bytes()),
    });
    std::fs::write(dir.join(RECORD), format!("{record:#}\n"))?;
    Ok(record)
}

/// The registration record in `dir`.
pub fn read_record(dir: &Path) -> Result<Value> {
    let path = dir.join(RECORD);
    let text = std::fs::read_to_string(&path).with_context(|| path.display().to_string())?;
    Ok(serde_json::from_str(&text)?)
}

/// Opens the key in `dir` with `passphrase`.
pub fn open(dir: &Path, passphrase: SecretString) -> Result<ed25519_dalek::SigningKey> {
    Ok(usb_transfer::keyfile::load(dir, passphrase)?.signing)
}
