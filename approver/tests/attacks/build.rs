//! Requests for each chain, built with the chains' own libraries.

use super::*;

// ---- building requests ----

pub fn id_bytes() -> [u8; 16] {
    hex::decode(ID.replace('-', ""))
        .unwrap()
        .try_into()
        .unwrap()
}

pub fn request_at(now: u64, payloads: Vec<Payload>) -> SignRequest {
    SignRequest {
        request_id: id_bytes(),
        created: now - 60,
        expires: now + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::Withdrawal,
        requester: "treasury-desk".into(),
        memo: "exchange withdrawal 4711".into(),
        payloads,
        approvals: vec![],
        coordinator_signature: [0; 64],
    }
}

pub fn request(payloads: Vec<Payload>) -> SignRequest {
    request_at(NOW, payloads)
}

pub fn eip1559(
    chain_id: u64,
    to: TxKind,
    value: u128,
    input: Vec<u8>,
    gas_limit: u64,
    max_fee: u128,
) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id,
        nonce: 3,
        gas_limit,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 1_000_000_000,
        to,
        value: U256::from(value),
        input: input.into(),
        ..Default::default()
    };
    let mut bytes = Vec::new();
    tx.encode_for_signing(&mut bytes);
    bytes
}

pub fn call(to: &str, value: u128, input: Vec<u8>) -> Vec<u8> {
    eip1559(
        1,
        TxKind::Call(to.parse::<Address>().unwrap()),
        value,
        input,
        60_000,
        30_000_000_000,
    )
}

pub fn evm(chain_id: u64, tx: Vec<u8>) -> Payload {
    Payload {
        network: "evm:1".into(),
        signer: "vault".into(),
        body: PayloadBody::EvmTx {
            chain_id,
            signer: [7; 20],
            tx,
        },
        hints: DisplayHints::default(),
    }
}

/// 1.5 ETH to `TO`.
pub fn eth_payment() -> Payload {
    evm(1, call(TO, 1_500_000_000_000_000_000, vec![]))
}

pub fn word_addr(a: &str) -> Vec<u8> {
    let mut w = vec![0u8; 12];
    w.extend_from_slice(a.parse::<Address>().unwrap().as_slice());
    w
}

pub fn word_u256(v: U256) -> Vec<u8> {
    v.to_be_bytes::<32>().to_vec()
}

pub fn shown(r: &SignRequest) -> String {
    Reviewed::of_cbor(&r.to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW)
        .unwrap()
}

/// What is shown, without the digest line (which changes with every byte).
pub fn shown_without_digest(r: &SignRequest) -> String {
    shown(r)
        .lines()
        .filter(|l| !l.starts_with("Digest "))
        .collect::<Vec<_>>()
        .join("\n")
}

// Solana messages, by hand.

pub const STATION: [u8; 32] = [1; 32];
pub const FRIEND: [u8; 32] = [2; 32];
pub const THIEF: [u8; 32] = [3; 32];
pub const SYSTEM: [u8; 32] = [0; 32];

pub fn b58_decode(s: &str) -> [u8; 32] {
    const A: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut n = [0u8; 32];
    for c in s.bytes() {
        let mut carry = A.iter().position(|&a| a == c).unwrap() as u32;
        for b in n.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = carry as u8;
            carry >>= 8;
        }
        assert_eq!(carry, 0);
    }
    assert_eq!(b58(&n), s);
    n
}

pub fn memo_program() -> [u8; 32] {
    b58_decode(airgap_protocol::summary::solana::program::MEMO)
}

pub fn short(n: usize, out: &mut Vec<u8>) {
    let mut n = n;
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

pub struct Ix {
    program: u8,
    accounts: Vec<u8>,
    data: Vec<u8>,
}

pub fn ix(program: u8, accounts: &[u8], data: Vec<u8>) -> Ix {
    Ix {
        program,
        accounts: accounts.to_vec(),
        data,
    }
}

/// A legacy message; with `lookup`, a v0 message with one lookup table of one account.
pub fn sol_message(signers: u8, keys: &[[u8; 32]], ixs: &[Ix], lookup: bool) -> Vec<u8> {
    let mut m = Vec::new();
    if lookup {
        m.push(0x80);
    }
    m.extend([signers, 0, 0]);
    short(keys.len(), &mut m);
    for k in keys {
        m.extend(k);
    }
    m.extend([9u8; 32]);
    short(ixs.len(), &mut m);
    for i in ixs {
        m.push(i.program);
        short(i.accounts.len(), &mut m);
        m.extend(&i.accounts);
        short(i.data.len(), &mut m);
        m.extend(&i.data);
    }
    if lookup {
        short(1, &mut m);
        m.extend([0x77u8; 32]);
        short(1, &mut m);
        m.push(0);
        short(0, &mut m);
    }
    m
}

pub fn sol(message: Vec<u8>) -> Payload {
    Payload {
        network: "solana:mainnet-beta".into(),
        signer: b58(&STATION),
        body: PayloadBody::SolanaMessage {
            message,
            signers: vec![STATION],
            nonce_account: None,
        },
        hints: DisplayHints::default(),
    }
}

pub fn system_transfer(lamports: u64) -> Vec<u8> {
    let mut d = 2u32.to_le_bytes().to_vec();
    d.extend(lamports.to_le_bytes());
    d
}

/// 1,000 SOL from the station's account to `to`.
pub fn sol_payment(to: [u8; 32]) -> Payload {
    sol(sol_message(
        1,
        &[STATION, to, SYSTEM],
        &[ix(2, &[0, 1], system_transfer(1_000_000_000_000))],
        false,
    ))
}

// PSBTs (v0), by hand: one input known only by its witness UTXO, one output.

pub fn p2wpkh(h: u8) -> Vec<u8> {
    let mut s = vec![0x00, 0x14];
    s.extend([h; 20]);
    s
}

pub fn psbt(prev_value: u64, pay_value: u64, pay_script: &[u8], sighash: Option<u32>) -> Payload {
    let mut tx = 2u32.to_le_bytes().to_vec();
    tx.push(1);
    tx.extend([0x33; 32]);
    tx.extend(0u32.to_le_bytes());
    tx.push(0);
    tx.extend(0xffff_fffdu32.to_le_bytes());
    tx.push(1);
    tx.extend(pay_value.to_le_bytes());
    tx.push(pay_script.len() as u8);
    tx.extend(pay_script);
    tx.extend(0u32.to_le_bytes());
    let mut p = b"psbt\xff".to_vec();
    p.extend([1, 0, tx.len() as u8]);
    p.extend(tx);
    p.push(0);
    let mut txout = prev_value.to_le_bytes().to_vec();
    let prev = p2wpkh(0x44);
    txout.push(prev.len() as u8);
    txout.extend(prev);
    p.extend([1, 1, txout.len() as u8]);
    p.extend(txout);
    if let Some(s) = sighash {
        p.extend([1, 3, 4]);
        p.extend(s.to_le_bytes());
    }
    p.push(0);
    p.push(0);
    Payload {
        network: "bitcoin".into(),
        signer: "vault".into(),
        body: PayloadBody::Psbt {
            version: 0,
            bytes: p,
        },
        hints: DisplayHints::default(),
    }
}
