//! EVM transactions and Solana messages as a compromised coordinator would build them,
//! with the ecosystem's own encoders (alloy-consensus, solana-message).

use airgap_protocol::envelope::*;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEip2930, TxLegacy};
use alloy_primitives::{Address, TxKind, U256};
use solana_address::Address as SolAddress;
use solana_instruction::{AccountMeta, Instruction};

pub fn a(s: &str) -> Address {
    s.parse().unwrap()
}

pub struct Evm {
    pub chain_id: u64,
    pub nonce: u64,
    pub to: Option<Address>,
    pub value: u128,
    pub data: Vec<u8>,
    pub gas_limit: u64,
    pub max_fee: u128,
}

impl Evm {
    pub fn pay(chain_id: u64, nonce: u64, to: &str, value: u128) -> Self {
        Self {
            chain_id,
            nonce,
            to: Some(a(to)),
            value,
            data: vec![],
            gas_limit: 21_000,
            max_fee: 30_000_000_000,
        }
    }

    pub fn call(chain_id: u64, nonce: u64, to: &str, data: Vec<u8>) -> Self {
        Self {
            data,
            gas_limit: 100_000,
            ..Self::pay(chain_id, nonce, to, 0)
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        let tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_limit: self.gas_limit,
            max_fee_per_gas: self.max_fee,
            max_priority_fee_per_gas: 1_000_000_000,
            to: self.to.map_or(TxKind::Create, TxKind::Call),
            value: U256::from(self.value),
            access_list: Default::default(),
            input: self.data.clone().into(),
        };
        signing_bytes(&tx)
    }

    pub fn legacy_without_chain_id(&self) -> Vec<u8> {
        let tx = TxLegacy {
            chain_id: None,
            nonce: self.nonce,
            gas_price: self.max_fee,
            gas_limit: self.gas_limit,
            to: self.to.map_or(TxKind::Create, TxKind::Call),
            value: U256::from(self.value),
            input: self.data.clone().into(),
        };
        signing_bytes(&tx)
    }

    pub fn eip2930(&self) -> Vec<u8> {
        let tx = TxEip2930 {
            chain_id: self.chain_id,
            nonce: self.nonce,
            gas_price: self.max_fee,
            gas_limit: self.gas_limit,
            to: self.to.map_or(TxKind::Create, TxKind::Call),
            value: U256::from(self.value),
            access_list: Default::default(),
            input: self.data.clone().into(),
        };
        signing_bytes(&tx)
    }
}

/// What an EVM signer hashes for `tx`.
fn signing_bytes(tx: &dyn SignableTransaction<alloy_primitives::Signature>) -> Vec<u8> {
    let mut buf = Vec::new();
    tx.encode_for_signing(&mut buf);
    buf
}

pub fn evm_payload(signer: [u8; 20], label: &str, body_chain: u64, tx: Vec<u8>) -> Payload {
    Payload {
        network: label.into(),
        signer: "vault".into(),
        body: PayloadBody::EvmTx {
            chain_id: body_chain,
            signer,
            tx,
        },
        hints: DisplayHints::default(),
    }
}

fn erc20(selector: [u8; 4], who: &str, amount: U256) -> Vec<u8> {
    let mut d = selector.to_vec();
    d.extend_from_slice(&[0; 12]);
    d.extend_from_slice(a(who).as_slice());
    d.extend_from_slice(&amount.to_be_bytes::<32>());
    d
}

pub fn erc20_transfer(to: &str, amount: U256) -> Vec<u8> {
    erc20([0xa9, 0x05, 0x9c, 0xbb], to, amount)
}

pub fn erc20_approve(spender: &str, amount: U256) -> Vec<u8> {
    erc20([0x09, 0x5e, 0xa7, 0xb3], spender, amount)
}

// ---- Solana

pub fn sa(k: [u8; 32]) -> SolAddress {
    SolAddress::new_from_array(k)
}

pub const SYSTEM: [u8; 32] = [0; 32];

pub fn program(id: &str) -> SolAddress {
    id.parse().unwrap()
}

pub fn advance_nonce(account: [u8; 32], authority: [u8; 32]) -> Instruction {
    Instruction {
        program_id: sa(SYSTEM),
        accounts: vec![
            AccountMeta::new(sa(account), false),
            AccountMeta::new_readonly(
                program("SysvarRecentB1ockHashes11111111111111111111"),
                false,
            ),
            AccountMeta::new_readonly(sa(authority), true),
        ],
        data: 4u32.to_le_bytes().to_vec(),
    }
}

pub fn transfer(from: [u8; 32], to: [u8; 32], lamports: u64) -> Instruction {
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    Instruction {
        program_id: sa(SYSTEM),
        accounts: vec![
            AccountMeta::new(sa(from), true),
            AccountMeta::new(sa(to), false),
        ],
        data,
    }
}

pub fn create_account(from: [u8; 32], new: [u8; 32], lamports: u64) -> Instruction {
    let mut data = 0u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    data.extend_from_slice(&165u64.to_le_bytes());
    data.extend_from_slice(&[0; 32]);
    Instruction {
        program_id: sa(SYSTEM),
        accounts: vec![
            AccountMeta::new(sa(from), true),
            AccountMeta::new(sa(new), true),
        ],
        data,
    }
}

pub fn withdraw_nonce(
    account: [u8; 32],
    to: [u8; 32],
    authority: [u8; 32],
    lamports: u64,
) -> Instruction {
    let mut data = 5u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    Instruction {
        program_id: sa(SYSTEM),
        accounts: vec![
            AccountMeta::new(sa(account), false),
            AccountMeta::new(sa(to), false),
            AccountMeta::new_readonly(
                program("SysvarRecentB1ockHashes11111111111111111111"),
                false,
            ),
            AccountMeta::new_readonly(
                program("SysvarRent111111111111111111111111111111111"),
                false,
            ),
            AccountMeta::new_readonly(sa(authority), true),
        ],
        data,
    }
}

pub const TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
pub const TOKEN_2022: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
pub const ATA: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
pub const MEMO: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
pub const COMPUTE_BUDGET: &str = "ComputeBudget111111111111111111111111111111";

/// An SPL Token instruction: tag, accounts (writable, signer), then the amount (and any
/// trailing bytes).
fn token_ix(tag: u8, accounts: &[([u8; 32], bool, bool)], amount: u64, tail: &[u8]) -> Instruction {
    let mut data = vec![tag];
    data.extend_from_slice(&amount.to_le_bytes());
    data.extend_from_slice(tail);
    Instruction {
        program_id: program(TOKEN),
        accounts: accounts
            .iter()
            .map(|(k, writable, signer)| {
                if *writable {
                    AccountMeta::new(sa(*k), *signer)
                } else {
                    AccountMeta::new_readonly(sa(*k), *signer)
                }
            })
            .collect(),
        data,
    }
}

pub fn transfer_checked(
    source: [u8; 32],
    mint: [u8; 32],
    dest: [u8; 32],
    owner: [u8; 32],
    amount: u64,
    decimals: u8,
) -> Instruction {
    let accounts = [
        (source, true, false),
        (mint, false, false),
        (dest, true, false),
        (owner, false, true),
    ];
    token_ix(12, &accounts, amount, &[decimals])
}

/// SPL Token `Transfer` (3) of `[source, destination, owner]`.
pub fn token_unchecked(accounts: [[u8; 32]; 3], amount: u64) -> Instruction {
    token_three(3, accounts, true, amount)
}

/// SPL Token `Approve` (4) of `[source, delegate, owner]`.
pub fn token_approve(accounts: [[u8; 32]; 3], amount: u64) -> Instruction {
    token_three(4, accounts, false, amount)
}

/// A three-account token instruction: a writable source, the second account (writable
/// or not), the owner signing.
fn token_three(
    tag: u8,
    [a, b, owner]: [[u8; 32]; 3],
    b_writable: bool,
    amount: u64,
) -> Instruction {
    let accounts = [
        (a, true, false),
        (b, b_writable, false),
        (owner, false, true),
    ];
    token_ix(tag, &accounts, amount, &[])
}

/// An associated-token-account create paid by `funder`, for `owner`, under `token_program`.
pub fn create_ata(
    funder: [u8; 32],
    ata: [u8; 32],
    owner: [u8; 32],
    mint: [u8; 32],
    token_program: &str,
) -> Instruction {
    Instruction {
        program_id: program(ATA),
        accounts: vec![
            AccountMeta::new(sa(funder), true),
            AccountMeta::new(sa(ata), false),
            AccountMeta::new_readonly(sa(owner), false),
            AccountMeta::new_readonly(sa(mint), false),
            AccountMeta::new_readonly(sa(SYSTEM), false),
            AccountMeta::new_readonly(program(token_program), false),
        ],
        data: vec![1],
    }
}

pub fn memo(text: &str) -> Instruction {
    Instruction {
        program_id: program(MEMO),
        accounts: vec![],
        data: text.as_bytes().to_vec(),
    }
}

pub fn cu_price(micro_lamports: u64) -> Instruction {
    let mut data = vec![3];
    data.extend_from_slice(&micro_lamports.to_le_bytes());
    Instruction {
        program_id: program(COMPUTE_BUDGET),
        accounts: vec![],
        data,
    }
}

pub fn cu_limit(units: u32) -> Instruction {
    let mut data = vec![2];
    data.extend_from_slice(&units.to_le_bytes());
    Instruction {
        program_id: program(COMPUTE_BUDGET),
        accounts: vec![],
        data,
    }
}

pub fn unknown_program(id: [u8; 32], signer: [u8; 32]) -> Instruction {
    Instruction {
        program_id: sa(id),
        accounts: vec![AccountMeta::new(sa(signer), true)],
        data: vec![1, 2, 3],
    }
}

pub fn message(payer: [u8; 32], ixs: &[Instruction], blockhash: u8) -> Vec<u8> {
    solana_message::legacy::Message::new_with_blockhash(
        ixs,
        Some(&sa(payer)),
        &solana_hash::Hash::new_from_array([blockhash; 32]),
    )
    .serialize()
}

/// The same message as v0, referencing one address lookup table (contents not supplied).
pub fn with_lookup_table(legacy: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80];
    v.extend_from_slice(legacy);
    v.push(1);
    v.extend_from_slice(&[77; 32]);
    v.extend_from_slice(&[1, 0, 0]);
    v
}

pub fn sol_payload(label: &str, message: Vec<u8>, nonce_account: Option<[u8; 32]>) -> Payload {
    Payload {
        network: label.into(),
        signer: "vault".into(),
        body: PayloadBody::SolanaMessage {
            message,
            signers: vec![],
            nonce_account,
        },
        hints: DisplayHints::default(),
    }
}
