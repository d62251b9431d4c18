//! What the chains and the station hand the finishers: an EVM signature of any bytes,
//! a nonce account of any data, Solana signatures of any bytes.
#![no_main]
use coordinator::evm::{attach_signature, Fees, UnsignedEvmTx};
use coordinator::solana::{assemble, AccountInfo, NonceInfo, UnsignedSolTx};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 65 {
        let mut sig = [0u8; 65];
        sig.copy_from_slice(&data[..65]);
        let tx = UnsignedEvmTx {
            chain_id: 1,
            from: alloy_primitives::Address::ZERO,
            nonce: 0,
            gas_limit: 21_000,
            fees: Fees::Legacy { gas_price: 1 },
            to: alloy_primitives::Address::repeat_byte(1),
            value: alloy_primitives::U256::from(1u8),
            input: vec![],
            unsigned: data[65..].to_vec(),
        };
        let _ = attach_signature(&tx, &sig);
    }
    let account = AccountInfo {
        lamports: 1,
        owner: solana_address::Address::new_from_array([0; 32]),
        data: data.to_vec(),
    };
    let _ = NonceInfo::parse(solana_address::Address::new_from_array([1; 32]), &account);
    if data.len() >= 96 {
        let mut k = [0u8; 32];
        k.copy_from_slice(&data[..32]);
        let mut s = [0u8; 64];
        s.copy_from_slice(&data[32..96]);
        let tx = UnsignedSolTx {
            message: data[96..].to_vec(),
            signers: vec![solana_address::Address::new_from_array(k)],
            nonce_account: None,
            blockhash: Default::default(),
            last_valid_block_height: None,
        };
        let _ = assemble(&tx, &[(k, s)]);
    }
});
