//! Approvals from approvers' own Ethereum wallets (EIP-712), against a compromised
//! coordinator. The station derives the typed approval from the request's own bytes, so
//! a wallet that was shown anything else — another amount, another request, a call it
//! cannot display — has approved nothing the station will sign. Each attack must be
//! refused with nothing released; the controls must sign.

mod common;

use airgap_protocol::approval::{ApprovalSignature, ApproverKey, Transfer, TypedApproval};
use airgap_protocol::envelope::*;
use common::*;
use k256::ecdsa::SigningKey as EcdsaKey;

/// An approver's wallet key (secp256k1).
fn wallet(n: u8) -> EcdsaKey {
    EcdsaKey::from_bytes(&[n; 32].into()).unwrap()
}

fn address(k: &EcdsaKey) -> [u8; 20] {
    let point = k.verifying_key().to_encoded_point(false);
    let h = alloy_primitives::keccak256(&point.as_bytes()[1..]);
    h[12..].try_into().unwrap()
}

/// What the wallet returns for a typed approval: `r ‖ s ‖ v` with v 27 or 28.
fn wallet_signs(k: &EcdsaKey, typed: &TypedApproval) -> ApprovalSignature {
    let (sig, id) = k.sign_prehash_recoverable(&typed.hash()).unwrap();
    let mut b = [0u8; 65];
    b[..64].copy_from_slice(&sig.to_bytes());
    b[64] = 27 + id.to_byte();
    ApprovalSignature::Eip712(b)
}

/// A station whose approvers are two wallets (ana, ben) and one approver's tool (cy).
fn station_of_wallets(name: &str) -> Harness {
    let mut anchors = TrustAnchors::new(2);
    anchors.pin_coordinator(key(1).verifying_key());
    let keys = [
        ("ana", ApproverKey::Ethereum(address(&wallet(20)))),
        ("ben", ApproverKey::Ethereum(address(&wallet(21)))),
        ("cy", key(12).verifying_key().into()),
    ];
    for (who, key) in keys {
        let name = who.into();
        anchors.pin_approver(Approver {
            name,
            role: Role::Treasury,
            key,
        });
    }
    station_anchored(name, anchors, |_| policy())
}

/// An unapproved request over `payloads`, signed by the coordinator once approvals are in.
fn unapproved(payloads: Vec<Payload>) -> SignRequest {
    signer_station::fixtures::request(payloads, NOW)
}

fn approve(r: &mut SignRequest, who: &EcdsaKey, sig: ApprovalSignature) {
    r.approvals.push(Approval {
        approver: ApproverKey::Ethereum(address(who)).id(),
        signature: sig,
    });
}

fn finish(mut r: SignRequest) -> SignRequest {
    r.sign_with(&key(1));
    r
}

/// The station's verdict on `r`; a refusal's code, or `None` when it would sign.
fn verdict(h: &mut Harness, r: &SignRequest) -> Option<u16> {
    match h.station.review(r, NOW) {
        Err(e) => Some(e.code()),
        Ok(review) => review.verdict.err().map(|e| e.code()),
    }
}

const ETH: u128 = 1_000_000_000_000_000_000;

#[test]
fn control_two_wallets_approve_what_their_screens_showed() {
    let mut h = station_of_wallets("wallets-control");
    let mut r = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 4, vec![])]);
    let typed = TypedApproval::of(&r).unwrap();
    assert_eq!(
        typed.transfers,
        [Transfer {
            network: "evm:1".into(),
            to: "0x52908400098527886E0F7030069857D2E4169EE7".into(),
            amount: "0.25 ETH".into(),
        }]
    );
    for n in [20, 21] {
        let s = wallet_signs(&wallet(n), &typed);
        approve(&mut r, &wallet(n), s);
    }
    let r = finish(r);
    assert_eq!(verdict(&mut h, &r), None, "two wallet approvals suffice");
    let review = h.station.review(&r, NOW).unwrap();
    h.station.sign(&review, &h.hsm, NOW).unwrap();
}

#[test]
fn control_a_wallet_and_an_approvers_tool_together() {
    let mut h = station_of_wallets("wallets-mixed");
    let mut r = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 4, vec![])]);
    let s = wallet_signs(&wallet(20), &TypedApproval::of(&r).unwrap());
    approve(&mut r, &wallet(20), s);
    r.approve_with(&key(12));
    assert_eq!(verdict(&mut h, &finish(r)), None);
}

#[test]
fn attack_the_wallet_was_shown_a_smaller_amount() {
    // The request pays 4 ETH to the allow-listed address (within every limit); the
    // coordinator sends the wallets a typed approval showing 0.01 ETH, with the real
    // request id and digest. Their signatures are over what they were shown.
    let mut h = station_of_wallets("wallets-amount");
    let mut r = unapproved(vec![evm_payload(&h.keys, 1, 0, 4 * ETH, vec![])]);
    let mut shown = TypedApproval::of(&r).unwrap();
    shown.transfers[0].amount = "0.01 ETH".into();
    for n in [20, 21] {
        let s = wallet_signs(&wallet(n), &shown);
        approve(&mut r, &wallet(n), s);
    }
    assert_eq!(verdict(&mut h, &finish(r)), Some(10), "bad approval");
}

#[test]
fn attack_the_wallet_signed_another_requests_approval() {
    // Approvals of a small request replayed on a large one.
    let mut h = station_of_wallets("wallets-replay");
    let small = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 100, vec![])]);
    let mut big = unapproved(vec![evm_payload(&h.keys, 1, 1, 4 * ETH, vec![])]);
    for n in [20, 21] {
        let s = wallet_signs(&wallet(n), &TypedApproval::of(&small).unwrap());
        approve(&mut big, &wallet(n), s);
    }
    assert_eq!(verdict(&mut h, &finish(big)), Some(10));
}

#[test]
fn attack_a_signature_of_the_other_kind_under_an_approvers_id() {
    let mut h = station_of_wallets("wallets-kinds");
    // An Ed25519 signature (of a key the attacker holds) under a wallet approver's id.
    let mut r = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 4, vec![])]);
    let ed = key(99).sign_digest(&r);
    approve(&mut r, &wallet(20), ed);
    r.approve_with(&key(12));
    assert_eq!(verdict(&mut h, &finish(r)), Some(10));
    // A wallet signature under the tool approver's id.
    let mut r = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 4, vec![])]);
    let s = wallet_signs(&wallet(66), &TypedApproval::of(&r).unwrap());
    r.approvals.push(Approval {
        approver: ApproverKey::Ed25519(key(12).verifying_key()).id(),
        signature: s,
    });
    let s = wallet_signs(&wallet(20), &TypedApproval::of(&r).unwrap());
    approve(&mut r, &wallet(20), s);
    assert_eq!(verdict(&mut h, &finish(r)), Some(10));
}

#[test]
fn attack_a_stranger_wallet_or_a_flipped_recovery_byte() {
    let mut h = station_of_wallets("wallets-stranger");
    let mut r = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 4, vec![])]);
    let typed = TypedApproval::of(&r).unwrap();
    // The attacker's own wallet signs under ana's id.
    let s = wallet_signs(&wallet(66), &typed);
    approve(&mut r, &wallet(20), s);
    // Ben's real signature with its recovery byte flipped: recovers another address.
    let ApprovalSignature::Eip712(mut b) = wallet_signs(&wallet(21), &typed) else {
        unreachable!()
    };
    b[64] ^= 1;
    approve(&mut r, &wallet(21), ApprovalSignature::Eip712(b));
    assert_eq!(verdict(&mut h, &finish(r)), Some(10));
}

#[test]
fn attack_a_call_no_wallet_screen_can_show() {
    // An unlimited ERC-20 approval to the attacker: a wallet would show a transfer of
    // nothing. A typed approval of such a request is refused, whoever signed it.
    let mut h = station_of_wallets("wallets-call");
    let mut data = hex::decode("095ea7b3").unwrap();
    data.extend([0u8; 12]);
    data.extend([0x66u8; 20]);
    data.extend([0xffu8; 32]);
    let p = evm_payload(&h.keys, 1, 0, 0, data);
    let mut r = unapproved(vec![p]);
    let refused = TypedApproval::of(&r).unwrap_err().to_string();
    assert!(
        refused.contains("cannot be approved from a wallet"),
        "{refused}"
    );
    // The coordinator makes up a typed message anyway; the station derives none.
    let made_up = TypedApproval {
        request: format_uuid(&r.request_id),
        purpose: "Withdrawal".into(),
        expires: format_utc(r.expires),
        transfers: vec![],
        fees: vec![],
        digest: r.digest(),
    };
    for n in [20, 21] {
        let s = wallet_signs(&wallet(n), &made_up);
        approve(&mut r, &wallet(n), s);
    }
    let r = finish(r);
    let review = h.station.review(&r, NOW);
    let text = match review {
        Err(e) => e.to_string(),
        Ok(r) => r
            .verdict
            .map_or_else(|e| e.to_string(), |()| "signs".into()),
    };
    assert!(text.contains("came from a wallet, but"), "{text}");
}

#[test]
fn attack_two_payloads_shown_as_one_list_of_transfers() {
    // Two transactions paying the same destination would show as two identical rows,
    // with nothing saying which pays what: a wallet approval covers one payload only.
    let mut h = station_of_wallets("wallets-two");
    let mut r = unapproved(vec![
        evm_payload(&h.keys, 1, 0, ETH / 4, vec![]),
        evm_payload(&h.keys, 1, 1, ETH / 4, vec![]),
    ]);
    let refused = TypedApproval::of(&r).unwrap_err().to_string();
    assert!(refused.contains("2 payloads"), "{refused}");
    let one = unapproved(vec![evm_payload(&h.keys, 1, 0, ETH / 4, vec![])]);
    let mut shown = TypedApproval::of(&one).unwrap();
    shown.request = format_uuid(&r.request_id);
    shown.digest = r.digest();
    shown.transfers.push(shown.transfers[0].clone());
    for n in [20, 21] {
        let s = wallet_signs(&wallet(n), &shown);
        approve(&mut r, &wallet(n), s);
    }
    assert_eq!(verdict(&mut h, &finish(r)), Some(10));
}

/// An Ed25519 signature over the request digest.
trait SignDigest {
    fn sign_digest(&self, r: &SignRequest) -> ApprovalSignature;
}

impl SignDigest for ed25519_dalek::SigningKey {
    fn sign_digest(&self, r: &SignRequest) -> ApprovalSignature {
        use ed25519_dalek::Signer;
        ApprovalSignature::Ed25519(
            self.sign(&SignRequest::approval_message(&r.digest()))
                .to_bytes(),
        )
    }
}
