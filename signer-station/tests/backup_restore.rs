//! Backup under a custodian-split wrap key, then restore onto a second emulated YubiHSM 2,
//! with the restored public keys checked against the station descriptor: every key
//! (Bitcoin, EVM, Solana, the identity) survives, and each restored key signs what the
//! old one signed.

mod common;

use age::secrecy::SecretString;
use signer_station::ceremony::backup::{backup, restore, BackupError};
use signer_station::ceremony::{export_descriptor, generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, KeyAlgorithm, SigningBackend, YubiHsm};
use signer_station::quorum::QuorumFile;

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn fresh_station() -> YubiHsm {
    let c = [("ops1", "o1"), ("ops2", "o2")].map(|(n, p)| (n.to_string(), pass(p)));
    let (_, cred) = QuorumFile::create(OPERATING_KEY_ID, 1, &c, Some(10)).unwrap();
    init(&YubiHsm::open_factory(Connection::Mock).unwrap(), &cred).unwrap()
}

#[test]
fn descriptor_is_signed_by_the_identity_and_flags_the_mock() {
    let hsm = fresh_station();
    let keys = generate_station_keys(&hsm).unwrap();
    let d = export_descriptor(&hsm, &keys, "vault-a", &common::policy(), common::NOW).unwrap();
    d.verify().unwrap();
    assert!(d.mock_hsm);
    let back = airgap_protocol::envelope::StationDescriptor::from_cbor(&d.to_cbor()).unwrap();
    assert_eq!(back, d);
    let mut forged = d.clone();
    forged.keys[1].public_key[5] ^= 1;
    assert!(forged.verify().is_err());
}

#[test]
fn every_key_backs_up_and_restores_onto_a_second_hsm_and_signs_the_same() {
    let a = fresh_station();
    let keys = generate_station_keys(&a).unwrap();
    let descriptor =
        export_descriptor(&a, &keys, "vault-a", &common::policy(), common::NOW).unwrap();
    let custodians =
        [("ana", "a"), ("ben", "b"), ("cy", "c")].map(|(n, p)| (n.to_string(), pass(p)));
    let all = a.list_keys().unwrap();
    let count = |alg| all.iter().filter(|k| k.algorithm == alg).count();
    assert_eq!(
        count(KeyAlgorithm::Secp256k1),
        6,
        "five Bitcoin networks and EVM"
    );
    assert_eq!(
        count(KeyAlgorithm::Ed25519),
        5,
        "four Solana clusters and the identity"
    );
    let set = backup(&a, &all, &custodians, 2, Some(10)).unwrap();
    let json = serde_json::to_string(&set).unwrap();
    assert!(
        !json.contains("AGE-SECRET"),
        "no secret material in the clear"
    );

    let mut u = set.wrap_key_shares.unlock();
    u.enter("ben", pass("b")).unwrap();
    u.enter("cy", pass("c")).unwrap();
    let wrap = u.finish().unwrap();
    let b = fresh_station();
    let restored = restore(&b, &set, &wrap, &descriptor).unwrap();
    assert_eq!(restored.len(), 11);
    // The deposit accounts come back: the same seed, so the same account keys.
    assert!(set.deposit_seed.is_some(), "the seed is in the backup");
    let account = |h: &_| {
        signer_station::station::deposits::account_key(
            h,
            airgap_protocol::network::BitcoinNetwork::Regtest,
        )
        .unwrap()
    };
    assert_eq!(account(&b), account(&a));
    // A seed altered in the backup does not open: the restore says so.
    let mut altered = set.clone();
    let seed = altered.deposit_seed.as_mut().unwrap();
    let at = seed.len() - 10;
    let flipped = if &seed[at..at + 1] == "0" { "1" } else { "0" };
    seed.replace_range(at..at + 1, flipped);
    let e = restore(&fresh_station(), &altered, &wrap, &descriptor).unwrap_err();
    assert!(e.to_string().contains("deposit seed"), "{e}");
    for k in &all {
        let r = restored.iter().find(|r| r.id == k.id).unwrap();
        assert_eq!(r.public_key, k.public_key, "key {:#06x}", k.id);
        // The restored key signs as the original: checked against the old public key.
        match k.algorithm {
            KeyAlgorithm::Secp256k1 => {
                let sig = signer_station::sign::sign_secp256k1(&b, r, &[3; 32]).unwrap();
                let s = k256::ecdsa::Signature::from_scalars(sig.r, sig.s).unwrap();
                let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&k.public_key).unwrap();
                use k256::ecdsa::signature::hazmat::PrehashVerifier;
                vk.verify_prehash(&[3; 32], &s).unwrap();
            }
            KeyAlgorithm::Ed25519 => {
                let sig = b.sign_ed25519(r.id, b"the same message").unwrap();
                let old = <[u8; 32]>::try_from(k.public_key.as_slice()).unwrap();
                ed25519_dalek::VerifyingKey::from_bytes(&old)
                    .unwrap()
                    .verify_strict(
                        b"the same message",
                        &ed25519_dalek::Signature::from_bytes(&sig),
                    )
                    .unwrap();
            }
        }
    }
    let descriptor_secp = descriptor.clone();
    // Restoring onto a station whose descriptor says otherwise is refused.
    let c = fresh_station();
    let mut wrong = descriptor_secp.clone();
    wrong.keys[0].public_key[10] ^= 1;
    assert!(matches!(
        restore(&c, &set, &wrap, &wrong),
        Err(BackupError::Mismatch { .. })
    ));
}
