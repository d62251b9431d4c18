//! The station on the emulated YubiHSM 2 (MockHsm with what the device does and
//! MockHsm does not): a forced-audit log that fills and blocks until the station drains
//! it into its ledger, high-S signatures, capabilities and domains enforced.

mod common;

use common::*;
use signer_station::hsm::{
    emulated::LOG_CAPACITY, HsmError, KeyAlgorithm, KeyCapabilities, LogEntry, NewKey,
    SigningBackend,
};
use signer_station::ledger::{Entry, Record};
use signer_station::sign::sign_secp256k1;

/// Every HSM log entry the ledger recorded, in order.
fn recorded_hsm_log(path: &std::path::Path) -> Vec<LogEntry> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Entry>(l).unwrap())
        .filter_map(|e| match e.record {
            Record::HsmLog { entries, .. } => Some(entries),
            _ => None,
        })
        .flatten()
        .collect()
}

fn evm_request(h: &Harness, nonce: u64) -> airgap_protocol::envelope::SignRequest {
    request(vec![evm_payload(
        &h.keys,
        1,
        nonce,
        13_000_000_000_000_000,
        vec![],
    )])
}

#[test]
fn a_full_forced_audit_log_blocks_signing_until_the_station_drains_it() {
    let mut h = station("device-full-log");
    let identity = h.keys.identity.clone();
    // Sign outside the station (no drain) until the device refuses.
    let mut signed = 0;
    let refused = loop {
        match h.hsm.sign_ed25519(identity.id, b"filler") {
            Ok(_) => signed += 1,
            Err(e) => break e,
        }
        assert!(signed <= LOG_CAPACITY, "the log never filled");
    };
    assert_eq!(refused, HsmError::LogFull);
    assert!(signed > 0 && signed < LOG_CAPACITY, "{signed} signatures");
    // Still refused: nothing but a drain frees the log.
    assert_eq!(
        h.hsm.sign_ed25519(identity.id, b"x"),
        Err(HsmError::LogFull)
    );
    let full = h.hsm.audit_log().unwrap();
    assert_eq!(full.entries.len(), LOG_CAPACITY);

    // The station drains it as its signing begins, and signs.
    let req = evm_request(&h, 0);
    let review = h.station.review(&req, NOW).unwrap();
    h.station.sign(&review, &h.hsm, NOW).unwrap();

    // The ledger holds every entry the device logged, chained without a gap.
    let recorded = recorded_hsm_log(&h.ledger_path);
    assert!(recorded.len() >= LOG_CAPACITY, "{} entries", recorded.len());
    for pair in recorded.windows(2) {
        assert!(pair[1].follows(&pair[0]), "{pair:?}");
    }
    let signs = recorded.iter().filter(|e| e.cmd == 0x6a).count();
    assert_eq!(signs, signed, "each Ed25519 signature logged once");
}

#[test]
fn a_station_signs_200_requests_in_a_row_with_forced_audit_on() {
    let mut h = station("device-200");
    for nonce in 0..200 {
        let req = evm_request(&h, nonce);
        let review = h.station.review(&req, NOW).unwrap();
        if let Err(e) = h.station.sign(&review, &h.hsm, NOW) {
            panic!("request {nonce}: {e}");
        }
    }
    let recorded = recorded_hsm_log(&h.ledger_path);
    for pair in recorded.windows(2) {
        assert!(pair[1].follows(&pair[0]), "{pair:?}");
    }
    // Each request: an ECDSA signature (drained before the answer is signed) and the
    // identity key's signature of the answer (drained at the next signing: the last
    // one is still on the device).
    let ecdsa = recorded.iter().filter(|e| e.cmd == 0x56).count();
    let eddsa = recorded.iter().filter(|e| e.cmd == 0x6a).count();
    assert_eq!((ecdsa, eddsa), (200, 199));
    assert!(recorded.len() > 4 * LOG_CAPACITY);
}

#[test]
fn a_log_that_does_not_chain_from_the_ledger_stops_signing() {
    // Station A's ledger, shown another device's log: its entries do not follow.
    let mut a = station("device-chain-a");
    let b = station("device-chain-b");
    let req = evm_request(&a, 0);
    let review = a.station.review(&req, NOW).unwrap();
    a.station.sign(&review, &a.hsm, NOW).unwrap();
    let before = a.station.ledger().len();
    let err = a.station.drain_hsm_log(&b.hsm, NOW).unwrap_err();
    assert_eq!(err.code(), 73, "{err}");
    assert!(err.to_string().contains("HSM audit log"), "{err}");
    assert_eq!(a.station.ledger().len(), before, "nothing recorded");
}

#[test]
fn ecdsa_comes_back_high_s_at_times_and_the_station_normalises_it() {
    // A device without forced audit (its log wraps around): 80 signatures, no drains.
    use signer_station::hsm::{Connection, YubiHsm};
    let hsm = YubiHsm::open_factory(Connection::Mock).unwrap();
    let caps = KeyCapabilities {
        sign: true,
        exportable_under_wrap: false,
    };
    let key = hsm.generate_key(&NewKey::new(2, "k", KeyAlgorithm::Secp256k1, caps));
    let key = key.unwrap();
    let mut high = 0;
    for n in 0..40u8 {
        let digest = [n; 32];
        let der = hsm.sign_ecdsa_prehash(key.id, &digest).unwrap();
        let raw = k256::ecdsa::Signature::from_der(&der).unwrap();
        if raw.normalize_s().is_some() {
            high += 1;
        }
        let sig = sign_secp256k1(&hsm, &key, &digest).unwrap();
        let low = k256::ecdsa::Signature::from_scalars(sig.r, sig.s).unwrap();
        assert!(low.normalize_s().is_none(), "the station returns low-S");
    }
    assert!((1..40).contains(&high), "{high} of 40 high-S");
}

#[test]
fn capabilities_and_domains_are_enforced() {
    use yubihsm::{authentication, command::Code, object, Capability, Domain};
    let h = station("device-caps");
    // A key without the signing capability.
    let no_sign = KeyCapabilities {
        sign: false,
        exportable_under_wrap: false,
    };
    let k = h
        .hsm
        .generate_key(&NewKey::new(
            0x0500,
            "no-sign",
            KeyAlgorithm::Secp256k1,
            no_sign,
        ))
        .unwrap();
    assert_eq!(
        h.hsm.sign_ecdsa_prehash(k.id, &[1; 32]),
        Err(HsmError::Capability(k.id))
    );
    // An id in use is refused (MockHsm would panic), not replaced.
    let taken = h.hsm.generate_key(&NewKey::new(
        k.id,
        "again",
        KeyAlgorithm::Secp256k1,
        no_sign,
    ));
    assert!(matches!(taken, Err(HsmError::Device(_))), "{taken:?}");
    // A session whose authentication key may only read, and one in another domain.
    let secret = [7u8; 32];
    for (id, caps, domains) in [
        (0x0600, Capability::GET_OPAQUE, Domain::DOM1),
        (0x0601, Capability::SIGN_ECDSA, Domain::DOM2),
    ] {
        h.hsm
            .logged(Code::PutAuthenticationKey, [id, 0xffff], || {
                h.hsm.client().put_authentication_key(
                    id,
                    object::Label::from("limited"),
                    domains,
                    caps,
                    Capability::empty(),
                    authentication::Algorithm::YubicoAes,
                    authentication::Key::from_slice(&secret).unwrap(),
                )
            })
            .unwrap();
    }
    let station_key = btc_key(&h.keys).id;
    let reader = h.hsm.reopen(0x0600, &secret).unwrap();
    assert!(matches!(
        reader.sign_ecdsa_prehash(station_key, &[1; 32]),
        Err(HsmError::Permission(_))
    ));
    let elsewhere = h.hsm.reopen(0x0601, &secret).unwrap();
    assert_eq!(
        elsewhere.sign_ecdsa_prehash(station_key, &[1; 32]),
        Err(HsmError::Capability(station_key))
    );
    // And the operating session still signs.
    h.hsm.sign_ecdsa_prehash(station_key, &[1; 32]).unwrap();
}

#[test]
fn a_signature_made_outside_the_station_stops_signing_until_custodians_accept_it() {
    let mut h = station("device-outside");
    let req = evm_request(&h, 0);
    let review = h.station.review(&req, NOW).unwrap();
    h.station.sign(&review, &h.hsm, NOW).unwrap();
    // Someone with the custodians' credential signs with the EVM key, then with the
    // identity key (a policy of their own, say), outside the station.
    let evm = h.keys.evm.id;
    h.hsm.sign_ecdsa_prehash(evm, &[9; 32]).unwrap();
    for (n, outside) in [(1, evm), (2, h.keys.identity.id)] {
        if outside == h.keys.identity.id {
            h.hsm.sign_ed25519(outside, b"a policy of my own").unwrap();
        }
        let req = evm_request(&h, n);
        let review = h.station.review(&req, NOW).unwrap();
        let err = h.station.sign(&review, &h.hsm, NOW).unwrap_err();
        assert_eq!(err.code(), 73, "{err}");
        assert!(
            err.to_string().contains("someone else used the device"),
            "{err}"
        );
        // The custodians investigate and accept the device's log with the ledger.
        h.station
            .reanchor(&h.hsm, NOW, "test: signature explained")
            .unwrap();
        if n == 1 {
            // Signing goes on, within the policy.
            let req = evm_request(&h, 1);
            let review = h.station.review(&req, NOW).unwrap();
            h.station.sign(&review, &h.hsm, NOW).unwrap();
        }
    }
}

#[test]
fn logging_of_signatures_cannot_be_turned_off() {
    use yubihsm::command::Code;
    let h = station("device-fixed");
    for cmd in [
        Code::SignEcdsa,
        Code::SignEddsa,
        Code::ExportWrapped,
        Code::SetOption,
    ] {
        let e = h.hsm.unlog(&[cmd]).unwrap_err();
        assert!(matches!(e, HsmError::Permission(_)), "{cmd:?}: {e}");
    }
}

#[test]
fn keys_are_made_in_the_domain_asked_for() {
    use signer_station::hsm::{Connection, YubiHsm};
    use yubihsm::{object, Domain};
    assert!(YubiHsm::open_factory(Connection::Mock)
        .unwrap()
        .in_domain(0)
        .is_err());
    assert!(YubiHsm::open_factory(Connection::Mock)
        .unwrap()
        .in_domain(17)
        .is_err());
    let hsm = YubiHsm::open_factory(Connection::Mock)
        .unwrap()
        .in_domain(3)
        .unwrap();
    let caps = KeyCapabilities {
        sign: true,
        exportable_under_wrap: true,
    };
    let k = hsm
        .generate_key(&NewKey::new(0x0200, "btc", KeyAlgorithm::Secp256k1, caps))
        .unwrap();
    let info = hsm
        .client()
        .get_object_info(k.id, object::Type::AsymmetricKey)
        .unwrap();
    assert_eq!(info.domains, Domain::DOM3);
}

#[test]
fn a_crash_right_after_the_answer_is_signed_does_not_stop_the_next_signing() {
    use signer_station::hsm::faulty::{Faults, FaultyBackend};
    let mut h = station("device-answer-crash");
    let req = evm_request(&h, 0);
    let review = h.station.review(&req, NOW).unwrap();
    // The device answers the EVM signature and the answer's identity signature; the
    // station dies before it records the answer.
    let faults = Faults {
        crash_after_signature: Some(2),
        ..Faults::default()
    };
    let dying = FaultyBackend::new(&h.hsm, faults);
    let crashed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        h.station.sign(&review, &dying, NOW)
    }));
    assert!(crashed.is_err(), "the station died mid-answer");
    // The identity signature in the device's log is the one the ledger said was coming.
    let req = evm_request(&h, 1);
    let review = h.station.review(&req, NOW).unwrap();
    h.station.sign(&review, &h.hsm, NOW).unwrap();
}
