//! The bundle byte format, sans-I/O.

use std::io::{Read, Write};
use std::iter;

use age::x25519;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use minicbor::{Decoder, Encoder};
use sha2::{Digest, Sha256};

use airgap_protocol::envelope::KeyId;

const MAGIC: &[u8] = b"STRONGROOM-BUNDLE\n";
const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"strongroom/bundle/v1";
/// Largest manifest accepted.
const MAX_MANIFEST: usize = 4096;
/// Largest envelope a bundle carries (the envelope cap plus age overhead).
pub const MAX_PLAINTEXT: u64 = 8 * 1024 * 1024;

/// What a bundle carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BundleKind {
    /// A signing request, coordinator to station.
    Request,
    /// A signing response, station to coordinator.
    Response,
}

/// The signed manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Request or response.
    pub kind: BundleKind,
    /// The age X25519 recipient (`age1…`) the payload is encrypted to.
    pub recipient: String,
    /// The sender's Ed25519 public key.
    pub sender: [u8; 32],
    /// Unix seconds when sealed.
    pub created: u64,
    /// Plaintext (envelope) length.
    pub plaintext_len: u64,
    /// SHA-256 of the plaintext envelope.
    pub plaintext_sha256: [u8; 32],
    /// Ciphertext length.
    pub ciphertext_len: u64,
    /// SHA-256 of the ciphertext.
    pub ciphertext_sha256: [u8; 32],
    /// Sender's signature over the fields above.
    pub signature: [u8; 64],
}

impl Manifest {
    fn encode(&self, with_signature: bool) -> Vec<u8> {
        let mut e = Encoder::new(Vec::new());
        let _ = e
            .array(if with_signature { 10 } else { 9 })
            .and_then(|e| e.u8(VERSION))
            .and_then(|e| e.u8(matches!(self.kind, BundleKind::Response).into()))
            .and_then(|e| e.str(&self.recipient))
            .and_then(|e| e.bytes(&self.sender))
            .and_then(|e| e.u64(self.created))
            .and_then(|e| e.u64(self.plaintext_len))
            .and_then(|e| e.bytes(&self.plaintext_sha256))
            .and_then(|e| e.u64(self.ciphertext_len))
            .and_then(|e| e.bytes(&self.ciphertext_sha256));
        if with_signature {
            let _ = e.bytes(&self.signature);
        }
        e.into_writer()
    }

    fn signed_message(&self) -> Vec<u8> {
        let h: [u8; 32] = Sha256::digest(self.encode(false)).into();
        [DOMAIN, &h].concat()
    }

    fn decode(b: &[u8]) -> Result<Self, BundleError> {
        let bad = |e: minicbor::decode::Error| BundleError::Damaged(format!("manifest: {e}"));
        let mut d = Decoder::new(b);
        if d.array().map_err(bad)? != Some(10) || d.u8().map_err(bad)? != VERSION {
            return Err(BundleError::Damaged("manifest: unknown layout".into()));
        }
        let kind = match d.u8().map_err(bad)? {
            0 => BundleKind::Request,
            1 => BundleKind::Response,
            k => return Err(BundleError::Damaged(format!("manifest: unknown kind {k}"))),
        };
        let fixed = |d: &mut Decoder<'_>| -> Result<Vec<u8>, BundleError> {
            Ok(d.bytes().map_err(bad)?.to_vec())
        };
        let arr = |v: Vec<u8>| -> Result<[u8; 32], BundleError> {
            v.try_into()
                .map_err(|_| BundleError::Damaged("manifest: bad field length".into()))
        };
        let recipient = d.str().map_err(bad)?.to_string();
        let sender = arr(fixed(&mut d)?)?;
        let created = d.u64().map_err(bad)?;
        let plaintext_len = d.u64().map_err(bad)?;
        let plaintext_sha256 = arr(fixed(&mut d)?)?;
        let ciphertext_len = d.u64().map_err(bad)?;
        let ciphertext_sha256 = arr(fixed(&mut d)?)?;
        let signature: [u8; 64] = fixed(&mut d)?
            .try_into()
            .map_err(|_| BundleError::Damaged("manifest: bad signature length".into()))?;
        if d.position() != b.len() {
            return Err(BundleError::Damaged("manifest: trailing bytes".into()));
        }
        let m = Self {
            kind,
            recipient,
            sender,
            created,
            plaintext_len,
            plaintext_sha256,
            ciphertext_len,
            ciphertext_sha256,
            signature,
        };
        if m.encode(true) != b {
            return Err(BundleError::Damaged("manifest: not canonical".into()));
        }
        Ok(m)
    }
}

/// Why a bundle was refused. Each is a different situation for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    /// Not a Strongroom bundle at all.
    #[error("not a Strongroom bundle")]
    NotABundle,
    /// A bundle format this build does not read.
    #[error("bundle format version {0} is not supported")]
    UnsupportedVersion(u8),
    /// The file ends early: an interrupted copy or a pulled stick.
    #[error("bundle truncated: {found} of {expected} bytes")]
    Truncated {
        /// Bytes the manifest promises.
        expected: u64,
        /// Bytes present.
        found: u64,
    },
    /// The manifest does not parse.
    #[error("bundle damaged: {0}")]
    Damaged(String),
    /// Signed by a key this side does not trust.
    #[error("bundle signed by unknown key {0}")]
    UnknownSender(KeyId),
    /// The manifest signature does not verify: the file was edited or replaced.
    #[error("bundle manifest signature invalid: the file was edited or replaced")]
    BadSignature,
    /// Encrypted to someone else.
    #[error("bundle is for another recipient ({0})")]
    ForeignRecipient(String),
    /// Bytes changed after sealing (ciphertext or plaintext digest mismatch).
    #[error("bundle corrupted: {0} digest does not match the manifest")]
    Corrupted(&'static str),
    /// age refused the ciphertext.
    #[error("bundle could not be decrypted: {0}")]
    Decrypt(String),
    /// Too large to be an envelope.
    #[error("bundle payload of {0} bytes is too large")]
    TooLarge(u64),
    /// Encryption failed while sealing.
    #[error("sealing failed: {0}")]
    Seal(String),
}

/// An opened, verified bundle.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Its manifest.
    pub manifest: Manifest,
    /// The sender's key id.
    pub sender: KeyId,
    /// The envelope bytes (UR message form: see `airgap_protocol::envelope`).
    pub envelope: Vec<u8>,
}

/// Seals `envelope` for `recipient`, signed by `sender`.
pub fn seal_bundle(
    kind: BundleKind,
    envelope: &[u8],
    recipient: &x25519::Recipient,
    sender: &SigningKey,
    created: u64,
) -> Result<Vec<u8>, BundleError> {
    if envelope.len() as u64 > MAX_PLAINTEXT {
        return Err(BundleError::TooLarge(envelope.len() as u64));
    }
    let enc = age::Encryptor::with_recipients(iter::once(recipient as &dyn age::Recipient))
        .map_err(|e| BundleError::Seal(e.to_string()))?;
    let mut ciphertext = Vec::new();
    let mut w = enc
        .wrap_output(&mut ciphertext)
        .map_err(|e| BundleError::Seal(e.to_string()))?;
    w.write_all(envelope)
        .map_err(|e| BundleError::Seal(e.to_string()))?;
    w.finish().map_err(|e| BundleError::Seal(e.to_string()))?;
    let mut m = Manifest {
        kind,
        recipient: recipient.to_string(),
        sender: sender.verifying_key().to_bytes(),
        created,
        plaintext_len: envelope.len() as u64,
        plaintext_sha256: Sha256::digest(envelope).into(),
        ciphertext_len: ciphertext.len() as u64,
        ciphertext_sha256: Sha256::digest(&ciphertext).into(),
        signature: [0; 64],
    };
    m.signature = sender.sign(&m.signed_message()).to_bytes();
    let manifest = m.encode(true);
    let mut out = Vec::with_capacity(MAGIC.len() + 5 + manifest.len() + ciphertext.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(&(manifest.len() as u32).to_be_bytes());
    out.extend_from_slice(&manifest);
    out.extend_from_slice(&ciphertext);
    Ok(out)
}

/// Reads only the manifest (no decryption), checking structure and signature.
pub fn read_manifest(
    bytes: &[u8],
    trusted: &[VerifyingKey],
) -> Result<(Manifest, usize), BundleError> {
    let Some(rest) = bytes.strip_prefix(MAGIC) else {
        // A prefix of the magic is a bundle cut short, not a foreign file.
        return Err(if MAGIC.starts_with(bytes) && !bytes.is_empty() {
            BundleError::Truncated {
                expected: MAGIC.len() as u64 + 5,
                found: bytes.len() as u64,
            }
        } else {
            BundleError::NotABundle
        });
    };
    let short = || BundleError::Truncated {
        expected: (MAGIC.len() + 5) as u64,
        found: bytes.len() as u64,
    };
    let (&version, rest) = rest.split_first().ok_or_else(short)?;
    if version != VERSION {
        return Err(BundleError::UnsupportedVersion(version));
    }
    let len: [u8; 4] = rest
        .get(..4)
        .ok_or_else(short)?
        .try_into()
        .map_err(|_| short())?;
    let len = u32::from_be_bytes(len) as usize;
    if len > MAX_MANIFEST {
        return Err(BundleError::Damaged(format!("manifest of {len} bytes")));
    }
    let start = MAGIC.len() + 5;
    let manifest = bytes
        .get(start..start + len)
        .ok_or(BundleError::Truncated {
            expected: (start + len) as u64,
            found: bytes.len() as u64,
        })?;
    let m = Manifest::decode(manifest)?;
    let sender = VerifyingKey::from_bytes(&m.sender).map_err(|_| BundleError::BadSignature)?;
    if !trusted.iter().any(|k| k == &sender) {
        return Err(BundleError::UnknownSender(KeyId::of(&sender)));
    }
    sender
        .verify_strict(&m.signed_message(), &Signature::from_bytes(&m.signature))
        .map_err(|_| BundleError::BadSignature)?;
    Ok((m, start + len))
}

/// Opens a bundle: verifies the manifest signature against `trusted`, the recipient
/// against `identity`, lengths and digests, then decrypts.
pub fn open_bundle(
    bytes: &[u8],
    identity: &x25519::Identity,
    trusted: &[VerifyingKey],
) -> Result<Bundle, BundleError> {
    let (m, body_start) = read_manifest(bytes, trusted)?;
    if m.recipient != identity.to_public().to_string() {
        return Err(BundleError::ForeignRecipient(m.recipient));
    }
    if m.plaintext_len > MAX_PLAINTEXT || m.ciphertext_len > MAX_PLAINTEXT + 64 * 1024 {
        return Err(BundleError::TooLarge(m.plaintext_len.max(m.ciphertext_len)));
    }
    let body = &bytes[body_start..];
    let found = body.len() as u64;
    if found < m.ciphertext_len {
        return Err(BundleError::Truncated {
            expected: body_start as u64 + m.ciphertext_len,
            found: bytes.len() as u64,
        });
    }
    if found > m.ciphertext_len {
        return Err(BundleError::Damaged(format!(
            "{} unexpected bytes after the payload",
            found - m.ciphertext_len
        )));
    }
    if <[u8; 32]>::from(Sha256::digest(body)) != m.ciphertext_sha256 {
        return Err(BundleError::Corrupted("ciphertext"));
    }
    let dec = age::Decryptor::new(body).map_err(|e| BundleError::Decrypt(e.to_string()))?;
    let mut r = dec
        .decrypt(iter::once(identity as &dyn age::Identity))
        .map_err(|e| BundleError::Decrypt(e.to_string()))?;
    let mut envelope = Vec::new();
    r.by_ref()
        .take(MAX_PLAINTEXT + 1)
        .read_to_end(&mut envelope)
        .map_err(|e| BundleError::Decrypt(e.to_string()))?;
    if envelope.len() as u64 != m.plaintext_len
        || <[u8; 32]>::from(Sha256::digest(&envelope)) != m.plaintext_sha256
    {
        return Err(BundleError::Corrupted("plaintext"));
    }
    let sender = VerifyingKey::from_bytes(&m.sender)
        .map(|k| KeyId::of(&k))
        .map_err(|_| BundleError::BadSignature)?;
    Ok(Bundle {
        manifest: m,
        sender,
        envelope,
    })
}
