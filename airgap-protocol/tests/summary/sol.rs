//! Solana summaries: fees as the runtime charges them, transfers, token accounts.

use super::*;
use solana_address::Address;
use solana_hash::Hash;
use solana_instruction::{AccountMeta, Instruction};
use solana_message::legacy::Message;

fn a(n: u8) -> Address {
    Address::new_from_array([n; 32])
}
fn system() -> Address {
    "11111111111111111111111111111111".parse().unwrap()
}
fn token_program() -> Address {
    "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA"
        .parse()
        .unwrap()
}

fn advance_nonce(nonce: Address, authority: Address) -> Instruction {
    let recent: Address = "SysvarRecentB1ockHashes11111111111111111111"
        .parse()
        .unwrap();
    Instruction {
        program_id: system(),
        accounts: vec![
            AccountMeta::new(nonce, false),
            AccountMeta::new_readonly(recent, false),
            AccountMeta::new_readonly(authority, true),
        ],
        data: 4u32.to_le_bytes().to_vec(),
    }
}

fn transfer(from: Address, to: Address, lamports: u64) -> Instruction {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    Instruction {
        program_id: system(),
        accounts: vec![AccountMeta::new(from, true), AccountMeta::new(to, false)],
        data,
    }
}

fn transfer_checked(
    src: Address,
    mint: Address,
    dst: Address,
    owner: Address,
    amount: u64,
    decimals: u8,
) -> Instruction {
    let mut data = vec![12];
    data.extend_from_slice(&amount.to_le_bytes());
    data.push(decimals);
    Instruction {
        program_id: token_program(),
        accounts: vec![
            AccountMeta::new(src, false),
            AccountMeta::new_readonly(mint, false),
            AccountMeta::new(dst, false),
            AccountMeta::new_readonly(owner, true),
        ],
        data,
    }
}

fn sum(ixs: &[Instruction]) -> Summary {
    let m = Message::new_with_blockhash(ixs, Some(&a(1)), &Hash::new_from_array([9; 32]));
    summarize(
        &payload(
            "solana:devnet",
            PayloadBody::SolanaMessage {
                message: m.serialize(),
                signers: vec![[1; 32]],
                nonce_account: Some([5; 32]),
            },
        ),
        &SummaryOptions::default(),
    )
    .unwrap()
}

#[test]
fn sol_transfer_with_durable_nonce() {
    let s = sum(&[
        advance_nonce(a(5), a(1)),
        transfer(a(1), a(2), 1_500_000_000),
    ]);
    assert_eq!(s.recipients.len(), 1);
    first_pays(
        &s,
        &bs58::encode([2u8; 32]).into_string(),
        "1.5 SOL (1500000000 base units)",
        5_000,
    );
    assert!(s
        .details
        .iter()
        .any(|(k, v)| k == "durable nonce account" && *v == bs58::encode([5u8; 32]).into_string()));
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
}

fn program(id: &str, accounts: Vec<AccountMeta>, data: Vec<u8>) -> Instruction {
    Instruction {
        program_id: id.parse().unwrap(),
        accounts,
        data,
    }
}

/// The fee shown is the one the runtime charges (and the station decides on): five
/// memos and a priority price without a limit get 200,000 compute units each by
/// default (the builtins 3,000), 1,009,000 in all: 100,900 lamports of priority fee.
#[test]
fn fee_as_the_runtime_charges_it() {
    let memo = |t: &str| {
        program(
            "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr",
            vec![],
            t.as_bytes().to_vec(),
        )
    };
    let price = {
        let mut d = vec![3];
        d.extend_from_slice(&100_000u64.to_le_bytes());
        program("ComputeBudget111111111111111111111111111111", vec![], d)
    };
    let mut ixs = vec![advance_nonce(a(5), a(1))];
    ixs.extend((0..5).map(|i| memo(&format!("invoice {i}"))));
    ixs.push(price);
    ixs.push(transfer(a(1), a(2), 1_000_000_000));
    let s = sum(&ixs);
    assert_eq!(s.fee.as_ref().unwrap().base_units, 105_900, "{:?}", s.fee);
    // An Ed25519 precompile checking two signatures pays for them as signatures.
    let verify = program(
        "Ed25519SigVerify111111111111111111111111111",
        vec![],
        vec![2, 0],
    );
    let s = sum(&[advance_nonce(a(5), a(1)), verify, transfer(a(1), a(2), 5)]);
    assert_eq!(s.fee.as_ref().unwrap().base_units, 15_000, "{:?}", s.fee);
}

/// An associated-token-account instruction `data`, paid by #1, of account #4 for owner
/// #2 and mint #7 under `token`.
fn create_ata(data: Vec<u8>, token: Address) -> Instruction {
    program(
        "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL",
        vec![
            AccountMeta::new(a(1), true),
            AccountMeta::new(a(4), false),
            AccountMeta::new_readonly(a(2), false),
            AccountMeta::new_readonly(a(7), false),
            AccountMeta::new_readonly(system(), false),
            AccountMeta::new_readonly(token, false),
        ],
        data,
    )
}

/// A token account created for a recipient: its rent is shown paid to its owner, as
/// the station counts it.
#[test]
fn token_account_rent_is_shown_as_paid_to_its_owner() {
    let create = create_ata(vec![1], token_program());
    let s = sum(&[
        create,
        transfer_checked(a(3), a(7), a(4), a(1), 2_000_000, 6),
    ]);
    assert_eq!(s.recipients.len(), 2);
    assert_eq!(
        s.recipients[0].address,
        bs58::encode([2u8; 32]).into_string()
    );
    assert_eq!(s.recipients[0].amount.units(), "0.00203928 SOL");
    assert_eq!(s.recipients[1].amount.base_units, 2_000_000);
}

/// Another instruction of the token account program is not shown as rent but warned of;
/// a token account under Token-2022 (whose rent depends on the mint) is warned of.
#[test]
fn fail_other_token_account_instructions_warn() {
    let s = sum(&[create_ata(vec![2], token_program())]);
    assert!(s.recipients.is_empty(), "{:?}", s.recipients);
    assert!(
        matches!(s.warnings[..], [Warning::UnknownProgram { .. }]),
        "{:?}",
        s.warnings
    );
    let t22: Address = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb"
        .parse()
        .unwrap();
    let s = sum(&[create_ata(vec![1], t22)]);
    assert!(
        matches!(s.warnings[..], [Warning::UnknownProgram { .. }]),
        "{:?}",
        s.warnings
    );
}

#[test]
fn spl_transfer_checked_and_unknown_mint() {
    let s = sum(&[transfer_checked(a(3), a(7), a(4), a(1), 2_000_000, 6)]);
    assert_eq!(s.recipients[0].amount.base_units, 2_000_000);
    assert_eq!(s.recipients[0].amount.decimals, Some(6));
    assert!(matches!(s.warnings[0], Warning::UnknownToken { .. }));
}

#[test]
fn fail_unknown_program_and_truncated_messages() {
    let s = sum(&[Instruction {
        program_id: a(8),
        accounts: vec![AccountMeta::new(a(1), true)],
        data: vec![1, 2, 3],
    }]);
    assert!(matches!(s.warnings[0], Warning::UnknownProgram { .. }));
    let m = Message::new_with_blockhash(
        &[transfer(a(1), a(2), 5)],
        Some(&a(1)),
        &Hash::new_from_array([9; 32]),
    )
    .serialize();
    for cut in 0..m.len() {
        let p = payload(
            "solana:devnet",
            PayloadBody::SolanaMessage {
                message: m[..cut].to_vec(),
                signers: vec![],
                nonce_account: None,
            },
        );
        assert!(
            summarize(&p, &SummaryOptions::default()).is_err(),
            "cut {cut}"
        );
    }
}

#[test]
fn fail_v0_with_lookup_tables_warns() {
    // A v0 message: prefix 0x80, one signer, one table with one writable index.
    let mut m = vec![0x80, 1, 0, 1, 2];
    m.extend_from_slice(&[1; 32]);
    m.extend_from_slice(&[0; 32]); // system program
    m.extend_from_slice(&[9; 32]); // blockhash
    m.extend_from_slice(&[1, 1, 2, 0, 2, 12, 2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]); // transfer to index 2 (table)
    m.extend_from_slice(&[1]);
    m.extend_from_slice(&[6; 32]);
    m.extend_from_slice(&[1, 0, 0]);
    let p = payload(
        "solana:devnet",
        PayloadBody::SolanaMessage {
            message: m,
            signers: vec![[1; 32]],
            nonce_account: None,
        },
    );
    let s = summarize(&p, &SummaryOptions::default()).unwrap();
    assert!(s
        .warnings
        .contains(&Warning::UnresolvedLookupTables { tables: 1 }));
    assert!(s.recipients[0].address.contains("lookup-table"));
}
