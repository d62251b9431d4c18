//! A three-chain request through animated QR frames and through a USB bundle, and every
//! tampering case refused with its own error.

use airgap_protocol::envelope::*;
use airgap_protocol::qr::corpus::SplitMix;
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload as Scanned, ScanEvent, Scanner};
use airgap_protocol::summary::{summarize, SummaryOptions};
use airgap_protocol::ur::UrEncoder;
use strongroom_e2e::fixtures::{key, three_chain_request};
use usb_transfer::{open_bundle, seal_bundle, write_bundle, BundleError, BundleKind};

const NOW: u64 = 1_795_000_000;

fn anchors() -> TrustAnchors {
    let mut a = TrustAnchors::new(2);
    a.pin_coordinator(key(1).verifying_key());
    for (n, name) in [(10, "ana"), (11, "ben")] {
        a.pin_approver(Approver {
            name: name.into(),
            role: Role::Treasury,
            key: key(n).verifying_key().into(),
        });
    }
    a
}

fn signed() -> SignRequest {
    let mut r = three_chain_request(NOW);
    r.approve_with(&key(10));
    r.approve_with(&key(11));
    r.sign_with(&key(1));
    r
}

/// Renders the envelope as QR frames and reads them back with 30 % loss.
fn through_frames(env: &Envelope) -> Envelope {
    let (ur_type, message) = encode_envelope(env);
    let version = 20;
    let frag = qr::max_fragment_len_for_version(ur_type, version, message.len()).unwrap();
    let mut enc = UrEncoder::new(ur_type, &message, frag).unwrap();
    let r = FrameRenderer::new(version).unwrap();
    let mut scanner = Scanner::default();
    let mut rng = SplitMix::new(5);
    for _ in 0..enc.fragment_count() * 4 + 10 {
        let img = r.to_gray(&enc.next_part(), 3).unwrap();
        if rng.next_f64() < 0.3 {
            continue;
        }
        let frame = GrayFrame::of(&img);
        for ev in scanner.push_frame(frame) {
            if let ScanEvent::Complete(Scanned::Ur { ur_type, message }) = ev {
                return decode_envelope(&ur_type, &message).unwrap();
            }
        }
    }
    panic!("frames never completed");
}

#[test]
fn request_and_response_through_qr_frames() {
    let req = signed();
    let Envelope::Request(got) = through_frames(&Envelope::Request(req.clone())) else {
        panic!("request expected")
    };
    assert_eq!(got, req);
    let v = verify_request(&got, &anchors(), NOW).unwrap();
    assert_eq!(v.approvers.len(), 2);
    for p in &got.payloads {
        let s = summarize(p, &SummaryOptions::default()).unwrap();
        assert!(!s.recipients.is_empty(), "{:?}", p.network);
    }
    let mut resp = SignResponse {
        request_digest: v.digest,
        request_id: req.request_id,
        station: KeyId([0; 8]),
        created: NOW,
        outcome: Outcome::Signed(vec![
            PayloadSignature::Psbt(b"partially signed".to_vec()),
            PayloadSignature::Evm([1; 65]),
            PayloadSignature::Solana(vec![([1; 32], [2; 64])]),
        ]),
        ledger_entries: vec![b"ledger entry".to_vec()],
        station_signature: [0; 64],
    };
    resp.sign_with(&key(20));
    let Envelope::Response(back) = through_frames(&Envelope::Response(resp.clone())) else {
        panic!("response expected")
    };
    verify_response(&back, &req, &key(20).verifying_key()).unwrap();
    // A response for another request is refused.
    let mut other = three_chain_request(NOW);
    other.memo = "another".into();
    assert_eq!(
        verify_response(&back, &other, &key(20).verifying_key()),
        Err(VerifyError::WrongRequest)
    );
}

#[test]
fn request_through_a_usb_bundle_and_bundle_faults() {
    let station = age::x25519::Identity::generate();
    let req = signed();
    let (_, envelope) = encode_envelope(&Envelope::Request(req.clone()));
    let bundle = seal_bundle(
        BundleKind::Request,
        &envelope,
        &station.to_public(),
        &key(1),
        NOW,
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("e2e-bundle-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = write_bundle(&dir, BundleKind::Request, "req", &bundle).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let trusted = [key(1).verifying_key()];
    let opened = open_bundle(&bytes, &station, &trusted).unwrap();
    let Envelope::Request(got) = decode_envelope(REQUEST_UR_TYPE, &opened.envelope).unwrap() else {
        panic!()
    };
    verify_request(&got, &anchors(), NOW).unwrap();

    assert!(matches!(
        open_bundle(&bytes[..bytes.len() - 7], &station, &trusted),
        Err(BundleError::Truncated { .. })
    ));
    let elsewhere = age::x25519::Identity::generate();
    let foreign = seal_bundle(
        BundleKind::Request,
        &envelope,
        &elsewhere.to_public(),
        &key(1),
        NOW,
    )
    .unwrap();
    assert!(matches!(
        open_bundle(&foreign, &station, &trusted),
        Err(BundleError::ForeignRecipient(_))
    ));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn every_tampering_case_has_its_own_error() {
    let a = anchors();
    let check = |r: &SignRequest| verify_request(r, &a, NOW).unwrap_err();

    let mut r = signed();
    if let PayloadBody::Psbt { bytes, .. } = &mut r.payloads[0].body {
        let n = bytes.len();
        bytes[n - 20] ^= 1;
    }
    assert_eq!(
        check(&r),
        VerifyError::BadCoordinatorSignature,
        "changed payload byte"
    );
    r.sign_with(&key(1));
    assert!(
        matches!(check(&r), VerifyError::BadApproval(_)),
        "changed payload, re-signed by a compromised coordinator"
    );

    let mut r = signed();
    r.approvals.pop();
    r.sign_with(&key(1));
    assert!(
        matches!(
            check(&r),
            VerifyError::InsufficientApprovals {
                have: 1,
                need: 2,
                ..
            }
        ),
        "dropped approval"
    );

    let mut r = signed();
    r.approvals[1] = r.approvals[0].clone();
    r.sign_with(&key(1));
    assert!(
        matches!(check(&r), VerifyError::DuplicateApprover(_)),
        "duplicated approver"
    );

    let mut r = three_chain_request(NOW);
    r.approve_with(&key(10));
    r.approve_with(&key(99));
    r.sign_with(&key(1));
    assert!(
        matches!(check(&r), VerifyError::UnknownApprover(_)),
        "unknown approver"
    );

    assert!(
        matches!(
            verify_request(&signed(), &a, NOW + 7200),
            Err(VerifyError::Expired { .. })
        ),
        "expired"
    );

    let mut r = signed();
    r.sign_with(&key(2));
    assert!(
        matches!(check(&r), VerifyError::UnknownCoordinatorKey(_)),
        "wrong coordinator key"
    );
}
