//! Any file as a bundle: reading never panics, and only a bundle sealed by the trusted
//! key for this recipient opens.
#![no_main]

use std::sync::OnceLock;

use age::x25519::Identity;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use usb_transfer::{open_bundle, read_manifest};

fn identity() -> &'static Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(Identity::generate)
}

fuzz_target!(|data: &[u8]| {
    let trusted = [SigningKey::from_bytes(&[7; 32]).verifying_key()];
    let _ = read_manifest(data, &trusted);
    let _ = open_bundle(data, identity(), &trusted);
});
