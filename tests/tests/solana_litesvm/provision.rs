//! Provisioning durable nonce accounts with the product command, on LiteSVM: an online
//! fee payer (a `solana-keygen` key file) pays; each account is created under the vault's
//! authority and read back from the runtime as such; a key file whose halves disagree is
//! refused before anything is sent.

use std::process::Command;
use std::str::FromStr;

use anyhow::Result;
use ed25519_dalek::SigningKey;
use serde_json::json;
use strongroom_e2e::litesvm::LiteSvm;

const SOL: u64 = 1_000_000_000;

fn key_file(
    dir: &std::path::Path,
    name: &str,
    key: &SigningKey,
    public: [u8; 32],
) -> Result<std::path::PathBuf> {
    let mut bytes = key.to_bytes().to_vec();
    bytes.extend_from_slice(&public);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string(&bytes)?)?;
    Ok(path)
}

#[test]
fn nonce_accounts_are_provisioned_under_the_vault_by_the_command() -> Result<()> {
    let svm = LiteSvm::start()?;
    let dir = strongroom_e2e::service::scratch("nonce-provision")?;
    let payer = SigningKey::from_bytes(&[21; 32]);
    let payer_address = solana_address::Address::new_from_array(payer.verifying_key().to_bytes());
    svm.rpc()
        .call_raw("test_airdrop", json!([payer_address.to_string(), SOL]))?;
    // The vault: a key the payer does not hold (the station's, in a real installation).
    let vault = solana_address::Address::new_from_array(
        SigningKey::from_bytes(&[22; 32]).verifying_key().to_bytes(),
    );
    let exe = env!("CARGO_BIN_EXE_strongroom");
    let run = |file: &std::path::Path| {
        Command::new(exe)
            .args([
                "coordinator",
                "solana-nonce-accounts",
                "--endpoint",
                &svm.url,
                "--vault",
                &vault.to_string(),
                "--count",
                "2",
                "--payer",
            ])
            .arg(file)
            .output()
    };

    let file = key_file(&dir, "payer.json", &payer, payer.verifying_key().to_bytes())?;
    let out = run(&file)?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = stdout
        .lines()
        .find(|l| l.starts_with("nonce_accounts = ["))
        .expect("the chains file's line");
    let accounts: Vec<&str> = line.split('"').skip(1).step_by(2).collect();
    assert_eq!(accounts.len(), 2, "{line}");
    let node = coordinator::solana::SolRpc::new(svm.rpc());
    let b = coordinator::solana::SolBuilder { node: &node };
    for a in &accounts {
        let info = b.nonce(&solana_address::Address::from_str(a)?)?;
        assert_eq!(info.authority, vault, "{a} is the vault's");
    }
    assert!(
        node.balance(&payer_address)? < SOL,
        "the payer paid the rent"
    );

    // A key file whose public half is another key's: refused, nothing sent.
    let before = node.balance(&payer_address)?;
    let bad = key_file(&dir, "bad.json", &payer, [9; 32])?;
    let out = run(&bad)?;
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not match"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(node.balance(&payer_address)?, before);
    Ok(())
}
