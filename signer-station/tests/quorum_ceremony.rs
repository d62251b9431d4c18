//! Custodian quorum and the init / keys ceremonies on MockHsm.

use age::secrecy::SecretString;
use signer_station::ceremony::{generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, SigningBackend, YubiHsm};
use signer_station::quorum::{QuorumError, QuorumFile};

fn pass(s: &str) -> SecretString {
    SecretString::from(s.to_string())
}

fn quorum() -> (QuorumFile, [u8; 32]) {
    let custodians = [("ana", "ana-pass"), ("ben", "ben-pass"), ("cy", "cy-pass")]
        .map(|(n, p)| (n.to_string(), pass(p)));
    let (q, cred) = QuorumFile::create(OPERATING_KEY_ID, 2, &custodians, Some(10)).unwrap();
    (q, *cred.expose())
}

#[test]
fn two_of_three_unlock_reconstructs_the_credential() {
    let (q, cred) = quorum();
    // The stored file holds no share in the clear.
    let json = serde_json::to_string(&q).unwrap();
    assert!(!json.contains(&cred.iter().map(|b| format!("{b:02x}")).collect::<String>()));
    for pair in [["ana", "ben"], ["ben", "cy"], ["cy", "ana"]] {
        let mut u = q.unlock();
        for n in pair {
            u.enter(n, pass(&format!("{n}-pass"))).unwrap();
        }
        assert_eq!(u.finish().unwrap().expose(), &cred);
    }
}

#[test]
fn fail_wrong_passphrase_names_the_custodian() {
    let (q, _) = quorum();
    let mut u = q.unlock();
    assert_eq!(
        u.enter("ben", pass("guess")),
        Err(QuorumError::WrongPassphrase("ben".into()))
    );
    assert_eq!(
        u.enter("dan", pass("x")),
        Err(QuorumError::UnknownCustodian("dan".into()))
    );
    assert_eq!(u.remaining(), 2, "a failed entry counts for nothing");
}

#[test]
fn fail_too_few_and_duplicate_custodian() {
    let (q, _) = quorum();
    let mut u = q.unlock();
    u.enter("ana", pass("ana-pass")).unwrap();
    assert_eq!(
        u.enter("ana", pass("ana-pass")),
        Err(QuorumError::AlreadyEntered("ana".into()))
    );
    assert!(matches!(
        u.finish(),
        Err(QuorumError::TooFew { have: 1, need: 2 })
    ));
}

#[test]
fn fail_share_from_another_quorum_is_found() {
    let (mut q, _) = quorum();
    let (other, _) = quorum();
    q.custodians[2].encrypted_share = other.custodians[2].encrypted_share.clone();
    let mut u = q.unlock();
    for n in ["ana", "ben", "cy"] {
        u.enter(n, pass(&format!("{n}-pass"))).unwrap();
    }
    assert_eq!(
        u.finish().unwrap_err(),
        QuorumError::Inconsistent {
            suspect: Some("cy".into())
        }
    );
    let mut u = q.unlock();
    u.enter("ana", pass("ana-pass")).unwrap();
    u.enter("cy", pass("cy-pass")).unwrap();
    assert_eq!(
        u.finish().unwrap_err(),
        QuorumError::Inconsistent { suspect: None }
    );
}

#[test]
fn fail_bad_quorum_shapes() {
    let one = [("a".to_string(), pass("p"))];
    assert!(matches!(
        QuorumFile::create(2, 2, &one, Some(10)),
        Err(QuorumError::BadShape { .. })
    ));
    let dup = [("a".to_string(), pass("p")), ("a".to_string(), pass("q"))];
    assert!(matches!(
        QuorumFile::create(2, 1, &dup, Some(10)),
        Err(QuorumError::BadShape { .. })
    ));
}

#[test]
fn init_replaces_the_factory_key_with_the_quorum_credential() {
    let (q, _) = quorum();
    let mut u = q.unlock();
    u.enter("ana", pass("ana-pass")).unwrap();
    u.enter("cy", pass("cy-pass")).unwrap();
    let cred = u.finish().unwrap();
    let factory = YubiHsm::open_factory(Connection::Mock).unwrap();
    let session = init(&factory, &cred).unwrap();
    // The factory authentication key is gone; only the quorum credential remains.
    // (MockHsm panics rather than refusing a session for a missing key, so the object
    // list is checked instead of trying the old credential.)
    let auth_keys = session
        .client()
        .list_objects(&[yubihsm::object::Filter::Type(
            yubihsm::object::Type::AuthenticationKey,
        )])
        .unwrap();
    assert_eq!(
        auth_keys.iter().map(|e| e.object_id).collect::<Vec<_>>(),
        vec![OPERATING_KEY_ID]
    );
    assert!(session.reopen(OPERATING_KEY_ID, cred.expose()).is_ok());
    let keys = generate_station_keys(&session).unwrap();
    assert_eq!(keys.identity.public_key.len(), 32);
    assert_eq!(keys.bitcoin.len(), 5, "one Bitcoin key per network");
    assert_eq!(keys.solana.len(), 4, "one Solana key per cluster");
    assert!(keys.bitcoin.values().all(|k| k.public_key.len() == 33));
    // Every network's key is its own.
    let mut all: Vec<&Vec<u8>> = keys.all().into_iter().map(|k| &k.public_key).collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 11);
    assert!(
        generate_station_keys(&session).is_err(),
        "never replaces keys"
    );
    assert_eq!(session.list_keys().unwrap().len(), 11);
}
