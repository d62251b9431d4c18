//! The approver's tool against a coordinator that lies: it reads the request from its
//! bytes, so a wrong digest, another request, or a misleading description of the
//! transaction gets nothing signed; what it shows comes from the transaction itself.

use airgap_protocol::envelope::{DisplayHints, KeyId, Payload, PayloadBody, Purpose, SignRequest};
use airgap_protocol::summary::SummaryOptions;
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, TxKind, U256};
use approver::Reviewed;
use ed25519_dalek::{Signature, SigningKey, Verifier};
use serde_json::json;

const NOW: u64 = 1_800_000_000;
const ID: &str = "00112233-4455-6677-8899-aabbccddeeff";
const TO: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

/// 1.5 ETH to `TO` on chain 1, as the coordinator exports it.
fn request() -> SignRequest {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce: 3,
        gas_limit: 21_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(TO.parse::<Address>().unwrap()),
        value: U256::from(1_500_000_000_000_000_000u128),
        access_list: Default::default(),
        input: Default::default(),
    };
    let mut bytes = Vec::new();
    tx.encode_for_signing(&mut bytes);
    SignRequest {
        request_id: hex::decode(ID.replace('-', ""))
            .unwrap()
            .try_into()
            .unwrap(),
        created: NOW - 60,
        expires: NOW + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::Withdrawal,
        requester: "treasury-desk".into(),
        memo: "exchange withdrawal 4711".into(),
        payloads: vec![Payload {
            network: "evm:1".into(),
            signer: "vault".into(),
            body: PayloadBody::EvmTx {
                chain_id: 1,
                signer: [7; 20],
                tx: bytes,
            },
            hints: DisplayHints::default(),
        }],
        approvals: vec![],
        coordinator_signature: [0; 64],
    }
}

/// The coordinator's answer to `GET /v1/requests/{id}/envelope` for `r`.
fn view(r: &SignRequest) -> serde_json::Value {
    json!({
        "request": hex::encode(r.to_cbor()),
        "digest": hex::encode(r.digest()),
        "expires": r.expires,
        "transaction": {"to": TO, "value": "1500000000000000000"},
        "approvals": [],
        "approvals_required": 2,
    })
}

#[test]
fn shows_the_transaction_from_its_bytes_and_signs_its_digest() {
    let r = request();
    let reviewed = Reviewed::of_view(&view(&r), ID).unwrap();
    let shown = reviewed.render(&SummaryOptions::default(), NOW).unwrap();
    assert!(
        shown.contains(&format!(
            "PAYS 1.5 ETH (1500000000000000000 base units) to {TO}"
        )),
        "{shown}"
    );
    assert!(shown.contains("on evm:1"), "{shown}");
    assert!(shown.contains("fee at most"), "{shown}");
    assert!(shown.contains("purpose:   withdrawal"), "{shown}");
    assert!(shown.contains(&hex::encode(r.digest())), "{shown}");
    // The approval verifies over the request's own digest, as the coordinator and the
    // station check it.
    let key = SigningKey::from_bytes(&[9; 32]);
    let sig: [u8; 64] = hex::decode(reviewed.approve(&key))
        .unwrap()
        .try_into()
        .unwrap();
    key.verifying_key()
        .verify(
            &SignRequest::approval_message(&r.digest()),
            &Signature::from_bytes(&sig),
        )
        .unwrap();
}

#[test]
fn fail_a_digest_the_coordinator_states_differently_is_refused() {
    let r = request();
    let mut v = view(&r);
    // The coordinator asks for a signature over another request's digest.
    let mut other = request();
    other.memo = "another request".into();
    v["digest"] = json!(hex::encode(other.digest()));
    let e = Reviewed::of_view(&v, ID).unwrap_err().to_string();
    assert!(e.contains("refusing to sign"), "{e}");
}

#[test]
fn fail_another_request_under_this_id_is_refused() {
    let mut r = request();
    r.request_id = [1; 16];
    let e = Reviewed::of_view(&view(&r), ID).unwrap_err().to_string();
    assert!(e.contains("not 00112233"), "{e}");
}

#[test]
fn fail_a_misleading_description_changes_nothing_shown() {
    // The coordinator describes a small payment to someone else; the tool shows what
    // the bytes pay.
    let r = request();
    let mut v = view(&r);
    v["transaction"] = json!({"to": "0x000000000000000000000000000000000000dEaD", "value": "1"});
    let shown = Reviewed::of_view(&v, ID)
        .unwrap()
        .render(&SummaryOptions::default(), NOW)
        .unwrap();
    assert!(shown.contains(TO) && shown.contains("1.5 ETH"), "{shown}");
    assert!(!shown.contains("dEaD"), "{shown}");
}

#[test]
fn fail_text_in_the_request_cannot_add_lines_or_hide_any() {
    // The requester's memo tries to draw a fake payment line, clear the real one and
    // reverse an address.
    let mut r = request();
    r.memo = "ok\n  PAYS 0.01 ETH to 0xFriendly\x1b[1A\x1b[2K\u{202e}dEaD".into();
    r.requester = "desk\rPAYS".into();
    let shown = Reviewed::of_cbor(&r.to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW)
        .unwrap();
    let pays: Vec<&str> = shown
        .lines()
        .filter(|l| l.trim_start().starts_with("PAYS"))
        .collect();
    assert_eq!(pays.len(), 1, "{shown}");
    assert!(pays[0].contains(TO), "{shown}");
    assert!(!shown.contains('\x1b') && !shown.contains('\u{202e}') && !shown.contains('\r'));
    assert!(
        shown.contains("\\u{1b}") && shown.contains("\\u{202e}"),
        "{shown}"
    );
}

#[test]
fn fail_expired_and_undecodable_requests_are_refused() {
    let r = request();
    let reviewed = Reviewed::of_view(&view(&r), ID).unwrap();
    let e = reviewed
        .render(&SummaryOptions::default(), r.expires + 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("expired"), "{e}");
    let mut v = view(&r);
    v["request"] = json!("00ff");
    assert!(Reviewed::of_view(&v, ID).is_err());
    v["request"] = json!("not hex");
    assert!(Reviewed::of_view(&v, ID).is_err());
    assert!(Reviewed::of_view(&json!({}), ID).is_err());
    // Truncated bytes never panic.
    let cbor = r.to_cbor();
    for cut in 0..cbor.len() {
        let _ = Reviewed::of_cbor(&cbor[..cut]);
    }
}

#[test]
fn key_file_opens_with_its_passphrase_only_and_is_never_replaced() {
    use age::secrecy::SecretString;
    let dir = std::env::temp_dir().join(format!("approver-key-{}", std::process::id()));
    let pass = || SecretString::from("correct horse".to_string());
    let record = approver::key::create(&dir, "ana", pass(), Some(10)).unwrap();
    assert_eq!(record["principal"], "ana");
    let key = approver::key::open(&dir, pass()).unwrap();
    assert_eq!(
        record["public_key"],
        hex::encode(key.verifying_key().as_bytes())
    );
    assert!(approver::key::open(&dir, SecretString::from("wrong".to_string())).is_err());
    assert!(approver::key::create(&dir, "ana", pass(), Some(10)).is_err());
    assert_eq!(approver::key::read_record(&dir).unwrap(), record);
    std::fs::remove_dir_all(&dir).unwrap();
}
