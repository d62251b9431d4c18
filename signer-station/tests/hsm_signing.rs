//! Signing on MockHsm, and through the fault-injecting wrapper where MockHsm is kinder
//! than the real device.

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use signer_station::hsm::faulty::{Faults, FaultyBackend};
use signer_station::hsm::{
    Connection, HsmError, KeyAlgorithm, KeyCapabilities, NewKey, SigningBackend, YubiHsm,
};
use signer_station::sign::{sign_ed25519, sign_secp256k1};

const SIGN: KeyCapabilities = KeyCapabilities {
    sign: true,
    exportable_under_wrap: true,
};

fn hsm() -> YubiHsm {
    YubiHsm::open_factory(Connection::Mock).unwrap()
}

/// The device behind the fault-injecting wrapper, with the faults `set` turns on.
fn faulty(set: impl FnOnce(&mut Faults)) -> FaultyBackend<YubiHsm> {
    let mut faults = Faults::default();
    set(&mut faults);
    FaultyBackend::new(hsm(), faults)
}

/// A signing key `id` of `alg` on `h`.
fn key(h: &dyn SigningBackend, id: u16, alg: KeyAlgorithm) -> signer_station::hsm::KeyInfo {
    h.generate_key(&NewKey::new(id, "test", alg, SIGN)).unwrap()
}

#[test]
fn mock_is_labelled_loudly() {
    let info = hsm().info().unwrap();
    assert!(info.is_mock);
    assert!(info.model.contains("NOT A HARDWARE SECURITY MODULE"));
}

#[test]
fn secp256k1_signature_is_low_s_and_recovers_the_key() {
    let h = hsm();
    let key = h
        .generate_key(&NewKey::new(
            0x10,
            "btc-evm-1",
            KeyAlgorithm::Secp256k1,
            SIGN,
        ))
        .unwrap();
    assert_eq!(key.public_key.len(), 33);
    for i in 0..20u8 {
        let digest = [i; 32];
        let sig = sign_secp256k1(&h, &key, &digest).unwrap();
        let s = Signature::from_scalars(sig.r, sig.s).unwrap();
        assert!(s.normalize_s().is_none(), "low-S");
        let rec = VerifyingKey::recover_from_prehash(
            &digest,
            &s,
            RecoveryId::from_byte(sig.recovery_id).unwrap(),
        )
        .unwrap();
        assert_eq!(rec.to_sec1_bytes().to_vec(), key.public_key);
    }
}

#[test]
fn high_s_from_the_device_is_normalised() {
    let h = faulty(|f| f.high_s = true);
    let key = key(&h, 0x11, KeyAlgorithm::Secp256k1);
    let digest = [7u8; 32];
    // The wrapper really hands out high-S signatures.
    let raw = Signature::from_der(&h.sign_ecdsa_prehash(key.id, &digest).unwrap()).unwrap();
    assert!(raw.normalize_s().is_some(), "wrapper must produce high-S");
    let sig = sign_secp256k1(&h, &key, &digest).unwrap();
    assert!(sig.normalised);
    let s = Signature::from_scalars(sig.r, sig.s).unwrap();
    assert!(s.normalize_s().is_none());
    let vk = VerifyingKey::from_sec1_bytes(&key.public_key).unwrap();
    let rec = VerifyingKey::recover_from_prehash(
        &digest,
        &s,
        RecoveryId::from_byte(sig.recovery_id).unwrap(),
    )
    .unwrap();
    assert_eq!(rec, vk);
    assert_eq!(sig.to_rsv()[64], sig.recovery_id);
}

#[test]
fn fail_corrupt_signatures_never_leave() {
    let h = faulty(|f| f.corrupt_signatures = true);
    let k1 = key(&h, 0x12, KeyAlgorithm::Secp256k1);
    let k2 = key(&h, 0x13, KeyAlgorithm::Ed25519);
    assert_eq!(
        sign_secp256k1(&h, &k1, &[1; 32]),
        Err(HsmError::BadSignature(0x12))
    );
    assert_eq!(
        sign_ed25519(&h, &k2, b"message"),
        Err(HsmError::BadSignature(0x13))
    );
}

#[test]
fn fail_capabilities_and_algorithms_are_enforced() {
    let h = faulty(|f| f.enforce_capabilities = true);
    let no_sign = h
        .generate_key(&NewKey::new(
            0x14,
            "wrap-only",
            KeyAlgorithm::Secp256k1,
            KeyCapabilities {
                sign: false,
                exportable_under_wrap: true,
            },
        ))
        .unwrap();
    assert!(!no_sign.capabilities.sign);
    assert_eq!(
        sign_secp256k1(&h, &no_sign, &[1; 32]),
        Err(HsmError::Capability(0x14))
    );
    let ed = key(&h, 0x15, KeyAlgorithm::Ed25519);
    assert!(matches!(
        sign_secp256k1(&h, &ed, &[1; 32]),
        Err(HsmError::WrongAlgorithm { .. })
    ));
    let failing = FaultyBackend::new(
        hsm(),
        Faults {
            fail_after: Some(0),
            ..Faults::default()
        },
    );
    let k = failing
        .generate_key(&NewKey::new(0x16, "k", KeyAlgorithm::Secp256k1, SIGN))
        .unwrap();
    assert!(matches!(
        sign_secp256k1(&failing, &k, &[1; 32]),
        Err(HsmError::Device(_))
    ));
}

#[test]
fn ed25519_signs_and_verifies() {
    let h = hsm();
    let key = key(&h, 0x20, KeyAlgorithm::Ed25519);
    let sig = sign_ed25519(&h, &key, b"solana message").unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&key.public_key.clone().try_into().unwrap())
        .unwrap();
    vk.verify_strict(
        b"solana message",
        &ed25519_dalek::Signature::from_bytes(&sig),
    )
    .unwrap();
    assert_eq!(h.list_keys().unwrap().len(), 1);
}
