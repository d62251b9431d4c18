//! Bundles: sealed, opened, and every way a file on a stick goes wrong.

use std::collections::HashSet;

use age::x25519::Identity;
use ed25519_dalek::SigningKey;
use usb_transfer::*;

fn keys() -> (SigningKey, Identity) {
    (SigningKey::from_bytes(&[7; 32]), Identity::generate())
}

fn sealed(sender: &SigningKey, to: &Identity) -> Vec<u8> {
    let envelope: Vec<u8> = (0..5000u32).map(|i| (i % 251) as u8).collect();
    seal_bundle(
        BundleKind::Request,
        &envelope,
        &to.to_public(),
        sender,
        1_795_000_000,
    )
    .unwrap()
}

#[test]
fn seals_and_opens() {
    let (sender, station) = keys();
    let b = sealed(&sender, &station);
    let opened = open_bundle(&b, &station, &[sender.verifying_key()]).unwrap();
    assert_eq!(opened.envelope.len(), 5000);
    assert_eq!(opened.manifest.kind, BundleKind::Request);
}

#[test]
fn fail_truncated_anywhere_says_truncated() {
    let (sender, station) = keys();
    let b = sealed(&sender, &station);
    for cut in [5, 18, 21, 60, b.len() / 2, b.len() - 1] {
        let r = open_bundle(&b[..cut], &station, &[sender.verifying_key()]);
        assert!(
            matches!(r, Err(BundleError::Truncated { .. })),
            "cut at {cut}: {r:?}"
        );
    }
}

#[test]
fn fail_flipped_bit_in_payload_is_corruption() {
    let (sender, station) = keys();
    let mut b = sealed(&sender, &station);
    let n = b.len();
    b[n - 100] ^= 0x10;
    assert_eq!(
        open_bundle(&b, &station, &[sender.verifying_key()]).unwrap_err(),
        BundleError::Corrupted("ciphertext")
    );
}

#[test]
fn fail_edited_manifest_is_a_bad_signature() {
    let (sender, station) = keys();
    let mut b = sealed(&sender, &station);
    // The `created` timestamp sits inside the manifest; change one bit of it.
    let pos = b
        .windows(4)
        .position(|w| w == 1_795_000_000u32.to_be_bytes())
        .unwrap();
    b[pos + 3] ^= 1;
    assert_eq!(
        open_bundle(&b, &station, &[sender.verifying_key()]).unwrap_err(),
        BundleError::BadSignature
    );
}

#[test]
fn fail_for_another_recipient() {
    let (sender, station) = keys();
    let other = Identity::generate();
    let b = sealed(&sender, &other);
    assert!(matches!(
        open_bundle(&b, &station, &[sender.verifying_key()]),
        Err(BundleError::ForeignRecipient(r)) if r == other.to_public().to_string()
    ));
}

#[test]
fn fail_replaced_by_an_unknown_signer() {
    let (sender, station) = keys();
    let attacker = SigningKey::from_bytes(&[9; 32]);
    let b = sealed(&attacker, &station);
    assert!(matches!(
        open_bundle(&b, &station, &[sender.verifying_key()]),
        Err(BundleError::UnknownSender(_))
    ));
}

#[test]
fn fail_not_a_bundle_and_trailing_garbage() {
    let (sender, station) = keys();
    assert_eq!(
        open_bundle(b"PK\x03\x04zip", &station, &[sender.verifying_key()]).unwrap_err(),
        BundleError::NotABundle
    );
    let mut b = sealed(&sender, &station);
    b.extend_from_slice(b"junk");
    assert!(matches!(
        open_bundle(&b, &station, &[sender.verifying_key()]),
        Err(BundleError::Damaged(_))
    ));
}

#[test]
fn atomic_write_refuses_overwrite_and_leaves_no_temp_file() {
    let dir = std::env::temp_dir().join(format!("srb-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = write_atomically(&dir, "a.srb", b"one").unwrap();
    assert_eq!(std::fs::read(&p).unwrap(), b"one");
    let e = write_atomically(&dir, "a.srb", b"two").unwrap_err();
    assert_eq!(e.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&p).unwrap(), b"one", "nothing lost");
    assert!(write_atomically(&dir, "../escape.srb", b"x").is_err());
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, vec!["a.srb".to_string()]);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn directory_listing_tells_states_apart() {
    let (sender, station) = keys();
    let dir = std::env::temp_dir().join(format!("srb-scan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let good = sealed(&sender, &station);
    write_bundle(&dir, BundleKind::Request, "good", &good).unwrap();
    let other = sealed(&sender, &Identity::generate());
    write_bundle(&dir, BundleKind::Request, "other", &other).unwrap();
    write_bundle(&dir, BundleKind::Request, "cut", &good[..good.len() - 10]).unwrap();
    std::fs::write(dir.join(".strongroom-tmp-1-x.srb"), b"half").unwrap();
    std::fs::write(dir.join("notes.txt"), b"ignored").unwrap();
    let trusted = [sender.verifying_key()];
    let list = scan_dir(&dir, &station, &trusted, &HashSet::new()).unwrap();
    let state = |label: &str| {
        list.iter()
            .find(|l| l.path.to_string_lossy().contains(label))
            .unwrap()
            .state
            .clone()
    };
    let BundleState::Valid {
        envelope_sha256, ..
    } = state("-good-")
    else {
        panic!("{list:?}")
    };
    assert!(matches!(
        state("-other-"),
        BundleState::ForAnotherRecipient(_)
    ));
    assert!(matches!(
        state("-cut-"),
        BundleState::Damaged(BundleError::Truncated { .. })
    ));
    assert_eq!(state("tmp"), BundleState::Incomplete);
    assert_eq!(list.len(), 4);
    let imported = HashSet::from([envelope_sha256]);
    let list = scan_dir(&dir, &station, &trusted, &imported).unwrap();
    assert!(list.iter().any(|l| l.state == BundleState::AlreadyImported));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes a valid bundle as a fuzzing seed when asked (`WRITE_FUZZ_SEED=1`).
#[test]
fn seed_for_fuzzing() {
    let (sender, station) = keys();
    let b = sealed(&sender, &station);
    assert!(open_bundle(&b, &station, &[sender.verifying_key()]).is_ok());
    if std::env::var_os("WRITE_FUZZ_SEED").is_some() {
        std::fs::write(
            concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/fuzz/seeds/bundle_read/valid.srb"
            ),
            &b,
        )
        .unwrap();
    }
}
