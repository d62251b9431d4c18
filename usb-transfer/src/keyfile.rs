//! Key files for the bundle CLI: an Ed25519 signing key and an age X25519 identity,
//! stored together encrypted under a passphrase (age scrypt), with a public file beside.
//!
//! The station's production identity key lives in its HSM; these files serve the
//! coordinator and rehearsal stations. Secrets never touch disk in plaintext.

use std::fs;
use std::io::{Read, Write};
use std::iter;
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use age::x25519;
use ed25519_dalek::{SigningKey, VerifyingKey};

use crate::fs::write_atomically;

const SECRET_FILE: &str = "keys.age";
const PUBLIC_FILE: &str = "keys.pub";
const HEADER: &str = "strongroom-keys v1";

/// Errors with key files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFileError {
    /// File system.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Cause.
        source: std::io::Error,
    },
    /// Wrong passphrase or damaged file.
    #[error("cannot decrypt {0}: wrong passphrase or damaged file")]
    Decrypt(String),
    /// The content does not parse.
    #[error("{0} is not a Strongroom key file")]
    Format(String),
}

/// A signing key and an encryption identity.
pub struct KeyPair {
    /// Signs bundles (zeroised on drop).
    pub signing: SigningKey,
    /// Decrypts bundles.
    pub identity: x25519::Identity,
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print a secret, not even in a panic message.
        f.debug_struct("KeyPair")
            .field("ed25519", &self.signing.verifying_key())
            .field("x25519", &self.identity.to_public().to_string())
            .finish_non_exhaustive()
    }
}

/// The public halves, as shared with the other side.
#[derive(Debug, Clone)]
pub struct PublicKeys {
    /// Verifies this side's bundles.
    pub ed25519: VerifyingKey,
    /// Encrypts bundles to this side.
    pub x25519: x25519::Recipient,
}

impl PublicKeys {
    /// The `keys.pub` text.
    pub fn to_text(&self) -> String {
        let hex: String = self
            .ed25519
            .as_bytes()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{HEADER}\ned25519 {hex}\nx25519 {}\n", self.x25519)
    }

    /// Parses `keys.pub` text.
    pub fn parse(text: &str, name: &str) -> Result<Self, KeyFileError> {
        let fmt = || KeyFileError::Format(name.to_string());
        let mut lines = text.lines();
        if lines.next() != Some(HEADER) {
            return Err(fmt());
        }
        let (mut ed, mut x) = (None, None);
        for l in lines {
            match l.split_once(' ') {
                Some(("ed25519", h)) => {
                    let b: Vec<u8> = (0..h.len())
                        .step_by(2)
                        .map(|i| h.get(i..i + 2).and_then(|s| u8::from_str_radix(s, 16).ok()))
                        .collect::<Option<_>>()
                        .ok_or_else(fmt)?;
                    let arr: [u8; 32] = b.try_into().map_err(|_| fmt())?;
                    ed = Some(VerifyingKey::from_bytes(&arr).map_err(|_| fmt())?);
                }
                Some(("x25519", r)) => x = Some(x25519::Recipient::from_str(r).map_err(|_| fmt())?),
                _ => return Err(fmt()),
            }
        }
        Ok(Self {
            ed25519: ed.ok_or_else(fmt)?,
            x25519: x.ok_or_else(fmt)?,
        })
    }

    /// Reads a public key file.
    pub fn read(path: &Path) -> Result<Self, KeyFileError> {
        let text = fs::read_to_string(path).map_err(|source| KeyFileError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> KeyFileError + '_ {
    move |source| KeyFileError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Generates a key pair in `dir` (which must not hold one): `keys.age` encrypted under
/// `passphrase`, and `keys.pub`. `work_factor` is the scrypt log2(N) (age's default when
/// `None`; tests use a small one).
pub fn generate(
    dir: &Path,
    passphrase: SecretString,
    work_factor: Option<u8>,
) -> Result<PublicKeys, KeyFileError> {
    let signing = SigningKey::generate(&mut rand_core::OsRng);
    save(
        dir,
        &signing,
        x25519::Identity::generate(),
        passphrase,
        work_factor,
    )
}

/// Writes `signing` and `identity` as a key pair in `dir`, as [`generate`] does: keys
/// made elsewhere (a rehearsal's fixed keys) in the same encrypted form.
pub fn save(
    dir: &Path,
    signing: &SigningKey,
    identity: x25519::Identity,
    passphrase: SecretString,
    work_factor: Option<u8>,
) -> Result<PublicKeys, KeyFileError> {
    let hex: String = signing
        .to_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let secret = SecretString::from(format!(
        "{HEADER}\ned25519 {hex}\nx25519 {}\n",
        identity.to_string().expose_secret()
    ));
    drop(hex);
    let mut recipient = age::scrypt::Recipient::new(passphrase);
    if let Some(wf) = work_factor {
        recipient.set_work_factor(wf);
    }
    let enc = age::Encryptor::with_recipients(iter::once(&recipient as &dyn age::Recipient))
        .map_err(|e| KeyFileError::Format(e.to_string()))?;
    let mut out = Vec::new();
    let mut w = enc.wrap_output(&mut out).map_err(io(dir))?;
    w.write_all(secret.expose_secret().as_bytes())
        .map_err(io(dir))?;
    w.finish().map_err(io(dir))?;
    let public = PublicKeys {
        ed25519: signing.verifying_key(),
        x25519: identity.to_public(),
    };
    write_atomically(dir, SECRET_FILE, &out).map_err(io(dir))?;
    write_atomically(dir, PUBLIC_FILE, public.to_text().as_bytes()).map_err(io(dir))?;
    Ok(public)
}

/// Loads the key pair in `dir`.
pub fn load(dir: &Path, passphrase: SecretString) -> Result<KeyPair, KeyFileError> {
    let path = dir.join(SECRET_FILE);
    let name = path.display().to_string();
    let bytes = fs::read(&path).map_err(io(&path))?;
    let mut identity = age::scrypt::Identity::new(passphrase);
    identity.set_max_work_factor(22);
    let dec = age::Decryptor::new(&bytes[..]).map_err(|_| KeyFileError::Format(name.clone()))?;
    let mut r = dec
        .decrypt(iter::once(&identity as &dyn age::Identity))
        .map_err(|_| KeyFileError::Decrypt(name.clone()))?;
    let mut text = String::new();
    r.read_to_string(&mut text)
        .map_err(|_| KeyFileError::Decrypt(name.clone()))?;
    let secret = SecretString::from(text);
    let fmt = || KeyFileError::Format(name.clone());
    let mut lines = secret.expose_secret().lines();
    if lines.next() != Some(HEADER) {
        return Err(fmt());
    }
    let (mut signing, mut x) = (None, None);
    for l in lines {
        match l.split_once(' ') {
            Some(("ed25519", h)) if h.len() == 64 => {
                let mut seed = [0u8; 32];
                for (i, b) in seed.iter_mut().enumerate() {
                    *b = u8::from_str_radix(&h[2 * i..2 * i + 2], 16).map_err(|_| fmt())?;
                }
                signing = Some(SigningKey::from_bytes(&seed));
                seed.fill(0);
            }
            Some(("x25519", s)) => x = Some(x25519::Identity::from_str(s).map_err(|_| fmt())?),
            _ => return Err(fmt()),
        }
    }
    Ok(KeyPair {
        signing: signing.ok_or_else(fmt)?,
        identity: x.ok_or_else(fmt)?,
    })
}
