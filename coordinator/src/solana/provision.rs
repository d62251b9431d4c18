//! Provisioning the vault's durable nonce accounts (`coordinator solana nonce-accounts`).
//!
//! A Solana request built through the air gap must stay valid for hours, so it uses a
//! durable nonce whose authority is the vault. Creating such an account needs no vault
//! signature: an online fee payer (an operator's hot key, from a `solana-keygen` file)
//! funds the account's rent, a key made for the account signs its creation and is then
//! dropped, and the account is initialised with the vault as its authority. From then on
//! only the vault can advance or withdraw it, so the coordinator (or whoever held the
//! payer) can do nothing with it but hand it to requests. Each account is read back from
//! the chain: its authority must be the vault.

use std::str::FromStr;
use std::time::{Duration, Instant};

use ed25519_dalek::{Signer, SigningKey};
use solana_address::Address;

use super::{
    assemble, ix, program, SolBuilder, SolRpc, SolState, SolTracker, TxOptions, NONCE_ACCOUNT_SIZE,
};

/// `coordinator solana nonce-accounts`: creates durable nonce accounts under the vault's
/// authority and prints them for the chains file's `nonce_accounts`.
#[derive(Debug, Clone, clap::Args)]
pub struct NonceArgs {
    /// The Solana node (JSON-RPC).
    #[arg(long, value_name = "URL")]
    pub endpoint: String,
    /// The vault's address (`GET /v1/vaults`): each account's authority.
    #[arg(long, value_name = "ADDRESS")]
    pub vault: String,
    /// The fee payer: a `solana-keygen` key file (JSON array of 64 bytes) of an online
    /// key holding the rent (about 0.0015 SOL an account) and fees.
    #[arg(long, value_name = "FILE")]
    pub payer: std::path::PathBuf,
    /// How many accounts (one per request in flight at a time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub count: u16,
}

/// Reads a `solana-keygen` key file: a JSON array of 64 bytes, secret then public.
pub fn read_keypair(path: &std::path::Path) -> Result<SigningKey, String> {
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?,
    );
    let bytes: zeroize::Zeroizing<Vec<u8>> =
        zeroize::Zeroizing::new(serde_json::from_str(&text).map_err(|_| {
            format!(
                "{}: not a key file (a JSON array of 64 bytes)",
                path.display()
            )
        })?);
    if bytes.len() != 64 {
        return Err(format!("{}: a key file holds 64 bytes", path.display()));
    }
    let (secret, public) = bytes.split_at(32);
    let key = SigningKey::from_bytes(secret.try_into().map_err(|_| "key length")?);
    if key.verifying_key().as_bytes() != public {
        return Err(format!(
            "{}: its public half does not match its secret",
            path.display()
        ));
    }
    Ok(key)
}

/// Creates `count` nonce accounts under `vault`'s authority, paid by `payer`: their
/// addresses, each read back from the chain with the vault as its authority.
pub fn nonce_accounts(
    node: &SolRpc,
    payer: &SigningKey,
    vault: &Address,
    count: u16,
) -> Result<Vec<Address>, String> {
    let b = SolBuilder { node };
    let payer_address = Address::new_from_array(payer.verifying_key().to_bytes());
    let lamports = node
        .rent_exempt(NONCE_ACCOUNT_SIZE)
        .map_err(|e| e.to_string())?;
    let mut made = Vec::new();
    for _ in 0..count {
        let seed = crate::random32().map_err(|e| e.to_string())?;
        let key = SigningKey::from_bytes(&seed);
        let account = Address::new_from_array(key.verifying_key().to_bytes());
        let ixs = vec![
            ix::create_account(
                &payer_address,
                &account,
                lamports,
                NONCE_ACCOUNT_SIZE,
                &program::SYSTEM,
            ),
            ix::initialize_nonce(&account, vault),
        ];
        let bh = b.recent().map_err(|e| e.to_string())?;
        let tx = b
            .compile(&payer_address, ixs, &bh, TxOptions::default())
            .map_err(|e| e.to_string())?;
        let sigs = vec![
            (payer_address.to_bytes(), payer.sign(&tx.message).to_bytes()),
            (account.to_bytes(), key.sign(&tx.message).to_bytes()),
        ];
        let wire = assemble(&tx, &sigs).map_err(|e| e.to_string())?;
        node.send(&wire)
            .map_err(|e| format!("sending the creation of {account}: {e}"))?;
        landed(node, &tx, &wire, &account)?;
        let info = b.nonce(&account).map_err(|e| e.to_string())?;
        if info.authority != *vault {
            return Err(format!(
                "nonce account {account} is under {}, not the vault",
                info.authority
            ));
        }
        // Said at once: if a later one fails, the accounts already funded are known.
        eprintln!("nonce account {account}: authority {vault}");
        made.push(account);
    }
    Ok(made)
}

fn landed(
    node: &SolRpc,
    tx: &super::UnsignedSolTx,
    wire: &[u8],
    account: &Address,
) -> Result<(), String> {
    let t = SolTracker::new(tx, wire, "confirmed");
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match t.poll(node).map_err(|e| e.to_string())? {
            SolState::Landed { .. } => return Ok(()),
            SolState::Failed { err } => return Err(format!("creating {account} failed: {err}")),
            _ if Instant::now() > deadline => {
                return Err(format!("the creation of {account} did not land in 90 s"))
            }
            _ => std::thread::sleep(Duration::from_millis(200)),
        }
    }
}

/// Runs `coordinator solana nonce-accounts`.
pub fn run(a: &NonceArgs) -> Result<(), String> {
    let vault = Address::from_str(&a.vault)
        .map_err(|_| format!("{:?} is not a Solana address", a.vault))?;
    let payer = read_keypair(&a.payer)?;
    let node = SolRpc::new(crate::rpc::RpcClient::for_chain(std::slice::from_ref(
        &a.endpoint,
    )));
    let made = nonce_accounts(&node, &payer, &vault, a.count)?;
    let list: Vec<String> = made.iter().map(|m| format!("\"{m}\"")).collect();
    println!("nonce_accounts = [{}]", list.join(", "));
    Ok(())
}
