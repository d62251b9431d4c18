//! Writing bundles atomically and listing a directory of them.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use age::x25519;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

use crate::format::{open_bundle, BundleError, BundleKind};

/// File extension of bundles.
pub const BUNDLE_EXT: &str = "srb";
const TMP_PREFIX: &str = ".strongroom-tmp-";

/// Writes `bytes` to `dir/name` atomically: a temporary file in the same directory,
/// fsync, rename, fsync of the directory. Refuses to replace an existing file, so
/// nothing already on the stick is lost.
pub fn write_atomically(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<PathBuf> {
    if name.contains('/') || name.contains('\\') || name.starts_with('.') || name.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad file name `{name}`"),
        ));
    }
    let target = dir.join(name);
    if target.exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{} already exists", target.display()),
        ));
    }
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{name}", std::process::id()));
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, &target)?;
        // The rename is durable only once the directory entry is.
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result.map(|()| target)
}

/// Writes a sealed bundle under a name that says what it is:
/// `request-<id>-<digest>.srb` / `response-<id>-<digest>.srb`.
pub fn write_bundle(
    dir: &Path,
    kind: BundleKind,
    label: &str,
    bundle: &[u8],
) -> io::Result<PathBuf> {
    let digest: String = Sha256::digest(bundle)[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let kind = match kind {
        BundleKind::Request => "request",
        BundleKind::Response => "response",
    };
    let label: String = label
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(64)
        .collect();
    write_atomically(
        dir,
        &format!("{kind}-{label}-{digest}.{BUNDLE_EXT}"),
        bundle,
    )
}

/// The state of one file in a bundle directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleState {
    /// Verified, decryptable, not imported before.
    Valid {
        /// Request or response.
        kind: BundleKind,
        /// SHA-256 of the envelope.
        envelope_sha256: [u8; 32],
    },
    /// Verified, but this envelope was imported before.
    AlreadyImported,
    /// Encrypted to another recipient.
    ForAnotherRecipient(String),
    /// Refused, with the reason.
    Damaged(BundleError),
    /// An interrupted write left this temporary file.
    Incomplete,
}

/// One listed file.
#[derive(Debug, Clone)]
pub struct ListedBundle {
    /// Path.
    pub path: PathBuf,
    /// State.
    pub state: BundleState,
}

/// Lists the bundles in `dir` with their state. `imported` holds the envelope digests
/// already imported on this side.
pub fn scan_dir(
    dir: &Path,
    identity: &x25519::Identity,
    trusted: &[VerifyingKey],
    imported: &HashSet<[u8; 32]>,
) -> io::Result<Vec<ListedBundle>> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_string();
        if name.starts_with(TMP_PREFIX) {
            out.push(ListedBundle {
                path,
                state: BundleState::Incomplete,
            });
            continue;
        }
        if path.extension().and_then(|e| e.to_str()) != Some(BUNDLE_EXT) || !path.is_file() {
            continue;
        }
        let bytes = fs::read(&path)?;
        let state = match open_bundle(&bytes, identity, trusted) {
            Ok(b) if imported.contains(&b.manifest.plaintext_sha256) => {
                BundleState::AlreadyImported
            }
            Ok(b) => BundleState::Valid {
                kind: b.manifest.kind,
                envelope_sha256: b.manifest.plaintext_sha256,
            },
            Err(BundleError::ForeignRecipient(r)) => BundleState::ForAnotherRecipient(r),
            Err(e) => BundleState::Damaged(e),
        };
        out.push(ListedBundle { path, state });
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}
