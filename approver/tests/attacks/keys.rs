//! Key and passphrase.

use super::*;

// ======================================================================================
// Key and passphrase
// ======================================================================================

#[test]
fn defence_the_passphrase_is_never_an_argument_and_secrets_are_never_printed() {
    for cmd in [
        &["approve", "--file", "x", "--key", "k", "--passphrase", "pw"][..],
        &[
            "new-key",
            "--dir",
            "d",
            "--principal",
            "p",
            "--passphrase",
            "pw",
        ],
    ] {
        let run = crate::coordinator::approver(cmd, &[], "", Duration::from_secs(20));
        assert!(!run.success);
        assert!(run.stderr.contains("unexpected argument"), "{}", run.stderr);
    }
    let dir = std::env::temp_dir().join(format!("approver-newkey-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let pass = "tr0ub4dor&3";
    let run = crate::coordinator::approver(
        &[
            "new-key",
            "--dir",
            dir.to_str().unwrap(),
            "--principal",
            "ana",
            "--work-factor",
            "10",
        ],
        &[("STRONGROOM_PASSPHRASE", pass)],
        "",
        Duration::from_secs(60),
    );
    assert!(run.success, "{}", run.stderr);
    let key =
        approver::key::open(&dir, age::secrecy::SecretString::from(pass.to_string())).unwrap();
    let seed = hex::encode(key.to_bytes());
    let mut texts = vec![run.stdout.clone(), run.stderr.clone()];
    for f in ["approver.json", "keys.pub"] {
        texts.push(std::fs::read_to_string(dir.join(f)).unwrap());
    }
    let age_file = std::fs::read(dir.join("keys.age")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    for t in &texts {
        assert!(
            !t.to_lowercase().contains(&seed) && !t.contains(pass),
            "{t}"
        );
    }
    assert!(!hex::encode(&age_file).contains(&seed));
    assert!(run
        .stdout
        .contains(&hex::encode(key.verifying_key().as_bytes())));
}
