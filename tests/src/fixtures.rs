//! Sample payloads for a three-chain request, built with the chains' own libraries.

use airgap_protocol::envelope::{DisplayHints, KeyId, Payload, PayloadBody, Purpose, SignRequest};
use ed25519_dalek::SigningKey;

/// A key with a fixed seed.
pub fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

/// A regtest PSBT spending one P2WPKH coin of 100,000 sat to two outputs.
pub fn btc_psbt() -> Vec<u8> {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use bitcoin::{
        absolute::LockTime, psbt::Psbt, transaction::Version, Address, Amount, CompressedPublicKey,
        Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
    };
    let secp = Secp256k1::new();
    let addr = |n: u8| {
        let sk = SecretKey::from_slice(&[n; 32]).expect("valid key");
        Address::p2wpkh(&CompressedPublicKey(sk.public_key(&secp)), Network::Regtest)
    };
    let txin = |previous_output| TxIn {
        previous_output,
        script_sig: ScriptBuf::new(),
        sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
        witness: Witness::new(),
    };
    let prev = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![txin(OutPoint::null())],
        output: vec![TxOut {
            value: Amount::from_sat(100_000),
            script_pubkey: addr(1).script_pubkey(),
        }],
    };
    let spend = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: vec![txin(OutPoint {
            txid: prev.compute_txid(),
            vout: 0,
        })],
        output: vec![
            TxOut {
                value: Amount::from_sat(60_000),
                script_pubkey: addr(2).script_pubkey(),
            },
            TxOut {
                value: Amount::from_sat(39_000),
                script_pubkey: addr(1).script_pubkey(),
            },
        ],
    };
    let mut p = Psbt::from_unsigned_tx(spend).expect("unsigned");
    p.inputs[0].witness_utxo = Some(prev.output[0].clone());
    p.inputs[0].non_witness_utxo = Some(prev);
    p.serialize()
}

/// An unsigned EIP-1559 USDC transfer on chain 1.
pub fn evm_tx() -> Vec<u8> {
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{address, TxKind, U256};
    let mut input = vec![0xa9, 0x05, 0x9c, 0xbb];
    input.extend_from_slice(&[0; 12]);
    input.extend_from_slice(address!("52908400098527886e0f7030069857d2e4169ee7").as_slice());
    input.extend_from_slice(&U256::from(2_500_000u64).to_be_bytes::<32>());
    let tx = TxEip1559 {
        chain_id: 1,
        nonce: 7,
        gas_limit: 60_000,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48")),
        value: U256::ZERO,
        access_list: Default::default(),
        input: input.into(),
    };
    let mut buf = Vec::new();
    tx.encode_for_signing(&mut buf);
    buf
}

/// A Solana message: advance a durable nonce, then transfer 1.5 SOL.
pub fn solana_message() -> Vec<u8> {
    use solana_address::Address;
    use solana_instruction::{AccountMeta, Instruction};
    let a = |n: u8| Address::new_from_array([n; 32]);
    let system = Address::new_from_array([0; 32]);
    let recent: Address = "SysvarRecentB1ockHashes11111111111111111111"
        .parse()
        .expect("sysvar id");
    let advance = Instruction {
        program_id: system,
        accounts: vec![
            AccountMeta::new(a(5), false),
            AccountMeta::new_readonly(recent, false),
            AccountMeta::new_readonly(a(1), true),
        ],
        data: 4u32.to_le_bytes().to_vec(),
    };
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&1_500_000_000u64.to_le_bytes());
    let transfer = Instruction {
        program_id: system,
        accounts: vec![AccountMeta::new(a(1), true), AccountMeta::new(a(2), false)],
        data,
    };
    solana_message::legacy::Message::new_with_blockhash(
        &[advance, transfer],
        Some(&a(1)),
        &solana_hash::Hash::new_from_array([9; 32]),
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
