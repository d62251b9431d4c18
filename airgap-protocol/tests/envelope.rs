//! Envelopes: canonical CBOR, signatures, approvals, and every verification failure.

use airgap_protocol::envelope::*;
use ed25519_dalek::SigningKey;

const NOW: u64 = 1_795_000_000;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn request() -> SignRequest {
    SignRequest {
        request_id: [1; 16],
        created: NOW - 60,
        expires: NOW + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::Withdrawal,
        requester: "treasury:alice".into(),
        memo: "monthly rebalance".into(),
        payloads: vec![
            Payload {
                network: "bitcoin".into(),
                signer: "wsh-vault-1".into(),
                body: PayloadBody::Psbt {
                    version: 0,
                    bytes: b"psbt\xff\x01\x02".to_vec(),
                },
                hints: DisplayHints::default(),
            },
            Payload {
                network: "evm:1".into(),
                signer: "0x52908400098527886E0F7030069857D2E4169EE7".into(),
                body: PayloadBody::EvmTx {
                    chain_id: 1,
                    signer: [0x52; 20],
                    tx: vec![2, 0xc0],
                },
                hints: DisplayHints {
                    token_symbol: Some("USDC".into()),
                    decimals: Some(6),
                    contract: None,
                },
            },
            Payload {
                network: "solana:mainnet-beta".into(),
                signer: "vault".into(),
                body: PayloadBody::SolanaMessage {
                    message: vec![1, 0, 1],
                    signers: vec![[3; 32]],
                    nonce_account: Some([4; 32]),
                },
                hints: DisplayHints::default(),
            },
        ],
        approvals: vec![],
        coordinator_signature: [0; 64],
    }
}

fn anchors() -> TrustAnchors {
    let mut a = TrustAnchors::new(2);
    a.pin_coordinator(key(1).verifying_key());
    for (n, name) in [(10, "ana"), (11, "ben"), (12, "cy")] {
        a.pin_approver(Approver {
            name: name.into(),
            role: Role::Treasury,
            key: key(n).verifying_key().into(),
        });
    }
    a
}

fn signed() -> SignRequest {
    let mut r = request();
    r.approve_with(&key(10));
    r.approve_with(&key(11));
    r.sign_with(&key(1));
    r
}

#[test]
fn round_trips_and_verifies() {
    let r = signed();
    let bytes = r.to_cbor();
    assert_eq!(SignRequest::from_cbor(&bytes).unwrap(), r);
    let v = verify_request(&r, &anchors(), NOW).unwrap();
    assert_eq!(
        v.approvers
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["ana", "ben"]
    );
    // The UR wrapper round-trips too, compressed or not.
    let (t, msg) = encode_envelope(&Envelope::Request(r.clone()));
    assert_eq!(t, "strongroom-request");
    assert_eq!(decode_envelope(t, &msg).unwrap(), Envelope::Request(r));
}

#[test]
fn digest_ignores_approvals_but_covers_everything_else() {
    let a = request();
    let mut b = a.clone();
    b.approve_with(&key(10));
    assert_eq!(a.digest(), b.digest());
    b.memo.push('!');
    assert_ne!(a.digest(), b.digest());
}

#[test]
fn fail_non_canonical_and_malformed_encodings() {
    let bytes = signed().to_cbor();
    // `created` as a 9-byte integer instead of the minimal 5-byte form.
    let created = (NOW - 60) as u32;
    let pos = bytes
        .windows(5)
        .position(|w| w[0] == 0x1a && w[1..] == created.to_be_bytes())
        .unwrap();
    let mut long = bytes[..pos].to_vec();
    long.push(0x1b);
    long.extend_from_slice(&u64::from(created).to_be_bytes());
    long.extend_from_slice(&bytes[pos + 5..]);
    assert_eq!(
        SignRequest::from_cbor(&long),
        Err(EnvelopeError::NonCanonical)
    );
    for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(SignRequest::from_cbor(&bytes[..cut]).is_err());
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(SignRequest::from_cbor(&extra).is_err());
    let mut v2 = bytes;
    v2[1] = 2; // format version
    assert_eq!(
        SignRequest::from_cbor(&v2),
        Err(EnvelopeError::Version {
            expected: 1,
            found: 2
        })
    );
}

#[test]
fn fail_tampering_without_the_coordinator_key() {
    let mut r = signed();
    if let PayloadBody::Psbt { bytes, .. } = &mut r.payloads[0].body {
        bytes[0] ^= 1;
    }
    assert_eq!(
        verify_request(&r, &anchors(), NOW).unwrap_err(),
        VerifyError::BadCoordinatorSignature
    );
    let mut r = signed();
    r.approvals.pop();
    assert_eq!(
        verify_request(&r, &anchors(), NOW).unwrap_err(),
        VerifyError::BadCoordinatorSignature
    );
}

/// A compromised coordinator can re-sign the envelope; approvals still bind it.
#[test]
fn fail_tampering_by_a_compromised_coordinator() {
    let a = anchors();
    let resign = |mut r: SignRequest| {
        r.sign_with(&key(1));
        verify_request(&r, &a, NOW).unwrap_err()
    };
    let mut r = signed();
    if let PayloadBody::EvmTx { tx, .. } = &mut r.payloads[1].body {
        tx[1] = 0xc1;
    }
    assert!(matches!(resign(r), VerifyError::BadApproval(_)));
    let mut r = signed();
    r.approvals.pop();
    assert_eq!(
        resign(r),
        VerifyError::InsufficientApprovals {
            have: 1,
            need: 2,
            purpose: Purpose::Withdrawal
        }
    );
    let mut r = signed();
    r.approvals[1] = r.approvals[0].clone();
    assert!(matches!(resign(r), VerifyError::DuplicateApprover(_)));
    let mut r = signed();
    r.approvals.clear();
    r.approve_with(&key(10));
    r.approve_with(&key(66));
    assert!(matches!(resign(r), VerifyError::UnknownApprover(_)));
}

#[test]
fn fail_validity_window_and_unknown_coordinator() {
    let a = anchors();
    assert_eq!(
        verify_request(&signed(), &a, NOW + 3600).unwrap_err(),
        VerifyError::Expired {
            expires: NOW + 3600,
            now: NOW + 3600
        }
    );
    assert!(matches!(
        verify_request(&signed(), &a, NOW - 3600).unwrap_err(),
        VerifyError::NotYetValid { .. }
    ));
    let mut r = signed();
    r.sign_with(&key(2));
    assert!(matches!(
        verify_request(&r, &a, NOW).unwrap_err(),
        VerifyError::UnknownCoordinatorKey(_)
    ));
}

#[test]
fn thresholds_are_per_purpose() {
    let mut a = anchors();
    a.set_threshold(Purpose::Withdrawal, 3);
    assert!(matches!(
        verify_request(&signed(), &a, NOW),
        Err(VerifyError::InsufficientApprovals { need: 3, .. })
    ));
}

fn response(req: &SignRequest) -> SignResponse {
    let mut r = SignResponse {
        request_digest: req.digest(),
        request_id: req.request_id,
        station: KeyId([0; 8]),
        created: NOW,
        outcome: Outcome::Signed(vec![
            PayloadSignature::Psbt(b"signed psbt".to_vec()),
            PayloadSignature::Evm([7; 65]),
            PayloadSignature::Solana(vec![([3; 32], [9; 64])]),
        ]),
        ledger_entries: vec![b"entry".to_vec()],
        station_signature: [0; 64],
    };
    r.sign_with(&key(20));
    r
}

#[test]
fn responses_bind_to_their_request_and_station() {
    let req = signed();
    let resp = response(&req);
    assert_eq!(SignResponse::from_cbor(&resp.to_cbor()).unwrap(), resp);
    verify_response(&resp, &req, &key(20).verifying_key()).unwrap();
    let (t, m) = encode_envelope(&Envelope::Response(resp.clone()));
    assert_eq!(
        decode_envelope(t, &m).unwrap(),
        Envelope::Response(resp.clone())
    );

    let mut other = request();
    other.request_id = [2; 16];
    assert_eq!(
        verify_response(&resp, &other, &key(20).verifying_key()),
        Err(VerifyError::WrongRequest)
    );
    assert!(matches!(
        verify_response(&resp, &req, &key(21).verifying_key()),
        Err(VerifyError::WrongStation { .. })
    ));
    let mut forged = resp.clone();
    forged.ledger_entries.clear();
    assert_eq!(
        verify_response(&forged, &req, &key(20).verifying_key()),
        Err(VerifyError::BadStationSignature)
    );
    let mut short = resp;
    short.outcome = Outcome::Signed(vec![PayloadSignature::Evm([1; 65])]);
    short.sign_with(&key(20));
    assert!(matches!(
        verify_response(&short, &req, &key(20).verifying_key()),
        Err(VerifyError::SignatureCount { .. })
    ));
}

#[test]
fn refusals_round_trip() {
    let req = signed();
    let mut r = response(&req);
    r.outcome = Outcome::Refused {
        code: 12,
        reason: "destination not allow-listed".into(),
    };
    r.sign_with(&key(20));
    assert_eq!(SignResponse::from_cbor(&r.to_cbor()).unwrap(), r);
    verify_response(&r, &req, &key(20).verifying_key()).unwrap();
}

#[test]
fn fail_wrapper_rejects_other_types_and_bombs() {
    let (_, msg) = encode_envelope(&Envelope::Request(signed()));
    assert!(decode_envelope("crypto-psbt", &msg).is_err());
    // A deflate bomb: 9 MB of zeros compressed.
    let zeros = vec![0u8; 9 * 1024 * 1024];
    let mut z = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    std::io::Write::write_all(&mut z, &zeros).unwrap();
    let body = z.finish().unwrap();
    let mut e = minicbor::Encoder::new(Vec::new());
    e.array(3)
        .unwrap()
        .u8(1)
        .unwrap()
        .u8(1)
        .unwrap()
        .bytes(&body)
        .unwrap();
    assert!(matches!(
        decode_envelope("strongroom-request", &e.into_writer()),
        Err(EnvelopeError::TooLarge { .. })
    ));
}

/// Writes canonical envelopes as fuzzing seeds when asked (`WRITE_FUZZ_SEED=1`).
#[test]
fn seed_for_fuzzing() {
    let req = signed();
    let resp = response(&req);
    let (_, wrapped) = encode_envelope(&Envelope::Request(req.clone()));
    assert_eq!(
        decode_envelope(REQUEST_UR_TYPE, &wrapped).unwrap(),
        Envelope::Request(req.clone())
    );
    if std::env::var_os("WRITE_FUZZ_SEED").is_some() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/fuzz/seeds/envelope_decode");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(format!("{dir}/request.cbor"), req.to_cbor()).unwrap();
        std::fs::write(format!("{dir}/response.cbor"), resp.to_cbor()).unwrap();
        std::fs::write(format!("{dir}/request.wrapped"), wrapped).unwrap();
    }
}
