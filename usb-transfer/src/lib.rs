//! USB bundle files that carry one envelope across the air gap.
//!
//! A bundle is `STRONGROOM-BUNDLE\n`, a format version byte, a length-prefixed signed
//! manifest, and the envelope encrypted with age to the recipient's X25519 key. The
//! manifest names the recipient and carries SHA-256 digests and lengths of both the
//! ciphertext and the plaintext, signed by the sender's Ed25519 key, so that a reader can
//! tell a truncated, corrupted, foreign or replaced file apart and say which.
//!
//! Files are written atomically: a temporary file in the same directory, fsync, rename,
//! fsync of the directory. A half-written bundle never carries the final name.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod cli;
mod format;
mod fs;
pub mod keyfile;

pub use format::{
    open_bundle, read_manifest, seal_bundle, Bundle, BundleError, BundleKind, Manifest,
};
pub use fs::{scan_dir, write_atomically, write_bundle, BundleState, ListedBundle, BUNDLE_EXT};
