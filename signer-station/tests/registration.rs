//! Registration of the coordinator and approvers, and the policy file: both signed by
//! the identity key under quorum; an edited file is refused.

mod common;

use common::*;
use signer_station::ceremony::{generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, YubiHsm};
use signer_station::quorum::QuorumFile;
use signer_station::station::policy::{self, PolicyError};
use signer_station::station::registration::{
    self, RegisteredApprover, Registration, RegistrationError,
};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn setup() -> (
    YubiHsm,
    signer_station::keys::StationKeys,
    ed25519_dalek::VerifyingKey,
) {
    let c = [(
        "ana".to_string(),
        age::secrecy::SecretString::from("a".to_string()),
    )];
    let (_, cred) = QuorumFile::create(OPERATING_KEY_ID, 1, &c, Some(10)).unwrap();
    let hsm = init(&YubiHsm::open_factory(Connection::Mock).unwrap(), &cred).unwrap();
    let keys = generate_station_keys(&hsm).unwrap();
    let id = keys.identity.ed25519().unwrap();
    (hsm, keys, id)
}

#[test]
fn registration_pins_keys_and_refuses_edits() {
    let (hsm, keys, identity) = setup();
    let reg = Registration {
        coordinator_keys: vec![hex(key(1).verifying_key().as_bytes())],
        approvers: vec![
            RegisteredApprover {
                name: "ana".into(),
                role: "treasury".into(),
                key: hex(key(10).verifying_key().as_bytes()),
            },
            RegisteredApprover {
                name: "ben".into(),
                role: "risk".into(),
                key: hex(key(11).verifying_key().as_bytes()),
            },
        ],
    };
    let signed = registration::sign(&hsm, &keys.identity, reg).unwrap();
    let json = serde_json::to_string(&signed).unwrap();
    let mut anchors = registration::load(&json, &identity).unwrap();
    anchors.set_threshold(airgap_protocol::envelope::Purpose::Withdrawal, 2);
    let req = request(vec![evm_payload(&keys, 1, 0, 1, vec![])]);
    let v = airgap_protocol::envelope::verify_request(&req, &anchors, NOW).unwrap();
    assert_eq!(v.approvers[1].role, airgap_protocol::envelope::Role::Risk);

    let mut edited = signed.clone();
    edited.registration.approvers.push(RegisteredApprover {
        name: "mallory".into(),
        role: "treasury".into(),
        key: hex(key(66).verifying_key().as_bytes()),
    });
    let json = serde_json::to_string(&edited).unwrap();
    let refused = registration::load(&json, &identity).unwrap_err();
    assert_eq!(
        refused,
        RegistrationError::BadSignature,
        "an approver added"
    );
}

#[test]
fn policy_file_is_signed_and_edits_are_refused() {
    let (hsm, keys, identity) = setup();
    let signed = policy::sign(&hsm, &keys.identity, common::policy()).unwrap();
    let json = serde_json::to_string(&signed).unwrap();
    assert_eq!(policy::load(&json, &identity).unwrap(), common::policy());
    let mut edited = signed;
    edited.policy.limits[0].per_transaction = "999999999999".into();
    assert_eq!(
        policy::load(&serde_json::to_string(&edited).unwrap(), &identity).unwrap_err(),
        PolicyError::BadSignature
    );
}

#[test]
fn an_approver_or_a_key_pinned_twice_is_refused() {
    // One key under two names would count as two approvals; one name twice is a slip.
    let (hsm, keys, identity) = setup();
    let pinned = |who: [(&str, &str); 2]| {
        let reg = Registration {
            coordinator_keys: vec![hex(key(1).verifying_key().as_bytes())],
            approvers: who
                .iter()
                .map(|(name, k)| RegisteredApprover {
                    name: name.to_string(),
                    role: "treasury".into(),
                    key: k.to_string(),
                })
                .collect(),
        };
        // Refused when signed already, or else when loaded.
        let signed = registration::sign(&hsm, &keys.identity, reg).map_err(|e| e.to_string())?;
        registration::load(&serde_json::to_string(&signed).unwrap(), &identity)
            .map(drop)
            .map_err(|e| e.to_string())
    };
    let ana = hex(key(10).verifying_key().as_bytes());
    let ben = hex(key(11).verifying_key().as_bytes());
    let wallet = "0x52908400098527886E0F7030069857D2E4169EE7";
    for (who, why) in [
        (
            [("ana", ana.as_str()), ("ana-again", ana.as_str())],
            "already pinned",
        ),
        (
            [("ana", wallet), ("ana-wallet", &wallet.to_lowercase())],
            "already pinned",
        ),
        (
            [("ana", ana.as_str()), ("ana", ben.as_str())],
            "pinned twice",
        ),
    ] {
        let e = pinned(who).unwrap_err();
        assert!(e.contains(why), "{e}");
    }
    assert!(pinned([("ana", &ana), ("ben", &ben)]).is_ok());
}
