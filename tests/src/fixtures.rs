//! Sample payloads for a three-chain request, built with the chains' own libraries.

use airgap_protocol::envelope::{DisplayHints, KeyId, Payload, PayloadBody, Purpose, SignRequest};
use ed25519_dalek::SigningKey;

/// A key with a fixed seed.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A regtest PSBT spending one P2WPKH coin of 100,000 sat to two outputs.
pub fn btc_psbt() -> Vec<u8> {
    let secp = bitcoin::secp256k1::Secp256k1::new();
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&[1; 32]).expect("valid key");
    btc_psbt_for(&sk.public_key(&secp).serialize(), 60_000, 1_000, &[2; 32])
        .0
        .serialize()
}

/// A regtest PSBT spending a 100,000-sat P2WPKH coin of `owner` (33-byte key): `pay` sat
/// to the P2WPKH address of secret key `dest_secret`, the rest minus `fee` back to `owner`.
/// Returns the PSBT and the funding transaction.
pub fn btc_psbt_for(
    owner: &[u8],
    pay: u64,
    fee: u64,
    dest_secret: &[u8; 32],
) -> (bitcoin::psbt::Psbt, bitcoin::Transaction) {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use bitcoin::{Address, CompressedPublicKey, Network};
    let secp = Secp256k1::new();
    let ours = Address::p2wpkh(
        &CompressedPublicKey::from_slice(owner).expect("33-byte key"),
        Network::Regtest,
    );
    let dest = Address::p2wpkh(
        &CompressedPublicKey(
            SecretKey::from_slice(dest_secret)
                .expect("valid key")
                .public_key(&secp),
        ),
        Network::Regtest,
    );
    let p = signer_station::fixtures::coin_and_spend(
        &ours.script_pubkey(),
        100_000,
        0,
        &[
            (dest.script_pubkey(), pay),
            (ours.script_pubkey(), 100_000 - pay - fee),
        ],
    );
    let prev = signer_station::fixtures::coin_of(&p).expect("coin").clone();
    (p, prev)
}

/// The EVM recipient used by the fixtures.
pub const EVM_RECIPIENT: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

/// An unsigned EIP-1559 USDC transfer on chain 1.
pub fn evm_tx() -> Vec<u8> {
    use alloy_primitives::{address, U256};
    let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
    input.extend_from_slice(&[0; 12]);
    input.extend_from_slice(address!("52908400098527886e0f7030069857d2e4169ee7").as_slice());
    input.extend_from_slice(&U256::from(2_500_000u64).to_be_bytes::<32>());
    evm_tx_for(
        1,
        7,
        address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48"),
        0,
        input,
        60_000,
    )
}

/// An unsigned EIP-1559 transaction.
pub fn evm_tx_for(
    chain_id: u64,
    nonce: u64,
    to: alloy_primitives::Address,
    wei: u128,
    input: Vec<u8>,
    gas_limit: u64,
) -> Vec<u8> {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{TxKind, U256};
    let tx = TxEip1559 {
        chain_id,
        nonce,
        gas_limit,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value: U256::from(wei),
        access_list: Default::default(),
        input: input.into(),
    };
    let mut buf = Vec::new();
    tx.encode_for_signing(&mut buf);
    buf
}

/// A Solana message: advance a durable nonce, then transfer 1.5 SOL.
pub fn solana_message() -> Vec<u8> {
    solana_message_for([1; 32], [5; 32], [2; 32], 1_500_000_000, [9; 32])
}

/// A Solana message from `payer` (also the nonce authority): advance nonce account
/// `nonce`, whose stored value is `nonce_value`, then transfer `lamports` to `to`.
pub fn solana_message_for(
    payer: [u8; 32],
    nonce: [u8; 32],
    to: [u8; 32],
    lamports: u64,
    nonce_value: [u8; 32],
) -> Vec<u8> {
    use solana_address::Address;
    use solana_instruction::{AccountMeta, Instruction};
    let (payer, nonce, to) = (
        Address::new_from_array(payer),
        Address::new_from_array(nonce),
        Address::new_from_array(to),
    );
    let system = Address::new_from_array([0; 32]);
    let recent: Address = "SysvarRecentB1ockHashes11111111111111111111"
        .parse()
        .expect("sysvar id");
    let advance = Instruction {
        program_id: system,
        accounts: vec![
            AccountMeta::new(nonce, false),
            AccountMeta::new_readonly(recent, false),
            AccountMeta::new_readonly(payer, true),
        ],
        data: 4u32.to_le_bytes().to_vec(),
    };
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    let transfer = Instruction {
        program_id: system,
        accounts: vec![AccountMeta::new(payer, true), AccountMeta::new(to, false)],
        data,
    };
    solana_message::legacy::Message::new_with_blockhash(
        &[advance, transfer],
        Some(&payer),
        &solana_hash::Hash::new_from_array(nonce_value),
    )
    .serialize()
}

/// An unsigned request carrying one payload of each chain.
pub fn three_chain_request(now: u64) -> SignRequest {
    SignRequest {
        request_id: *b"0123456789abcdef",
        created: now - 60,
        expires: now + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::Withdrawal,
        requester: "treasury:alice".into(),
        memo: "weekly rebalance".into(),
        payloads: vec![
            Payload {
                network: "regtest".into(),
                signer: "wpkh-vault".into(),
                body: PayloadBody::Psbt {
                    version: 0,
                    bytes: btc_psbt(),
                },
                hints: DisplayHints::default(),
            },
            Payload {
                network: "evm:1".into(),
                signer: "0x0000000000000000000000000000000000000001".into(),
                body: PayloadBody::EvmTx {
                    chain_id: 1,
                    signer: [1; 20],
                    tx: evm_tx(),
                },
                hints: DisplayHints {
                    token_symbol: Some("USDC".into()),
                    decimals: Some(6),
                    contract: None,
                },
            },
            Payload {
                network: "solana:devnet".into(),
                signer: "vault".into(),
                body: PayloadBody::SolanaMessage {
                    message: solana_message(),
                    signers: vec![[1; 32]],
                    nonce_account: Some([5; 32]),
                },
                hints: DisplayHints::default(),
            },
        ],
        approvals: Vec::new(),
        coordinator_signature: [0; 64],
    }
}
