//! Payload summaries, from transactions built by the chains' own libraries.

use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody};
use airgap_protocol::summary::*;

/// The summary's first recipient is `address`, paid `amount` (as displayed), and the
/// fee is `fee` base units.
fn first_pays(s: &Summary, address: &str, amount: &str, fee: u128) {
    assert_eq!(s.recipients[0].address, address);
    assert_eq!(s.recipients[0].amount.display(), amount);
    assert_eq!(s.fee.as_ref().unwrap().base_units, fee);
}

fn payload(network: &str, body: PayloadBody) -> Payload {
    Payload {
        network: network.into(),
        signer: "vault".into(),
        body,
        hints: DisplayHints::default(),
    }
}

mod btc {
    use super::*;
    use ::bitcoin::psbt::Psbt;
    use ::bitcoin::secp256k1::{Secp256k1, SecretKey};
    use ::bitcoin::{
        absolute::LockTime, transaction::Version, Address, Amount, CompressedPublicKey, Network,
        OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Witness,
    };

    fn addr(n: u8) -> Address {
        let secp = Secp256k1::new();
        let sk = SecretKey::from_slice(&[n; 32]).unwrap();
        Address::p2wpkh(&CompressedPublicKey(sk.public_key(&secp)), Network::Regtest)
    }

    pub fn psbt() -> (Psbt, Transaction) {
        let prev = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint::null(),
                script_sig: ScriptBuf::new(),
                sequence: Sequence::MAX,
                witness: Witness::new(),
            }],
            output: vec![TxOut {
                value: Amount::from_sat(100_000),
                script_pubkey: addr(1).script_pubkey(),
            }],
        };
        let spend = Transaction {
            version: Version::TWO,
            lock_time: LockTime::ZERO,
            input: vec![TxIn {
                previous_output: OutPoint {
                    txid: prev.compute_txid(),
                    vout: 0,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            }],
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
        let mut p = Psbt::from_unsigned_tx(spend).unwrap();
        p.inputs[0].non_witness_utxo = Some(prev.clone());
        p.inputs[0].witness_utxo = Some(prev.output[0].clone());
        (p, prev)
    }

    fn sum(p: &Psbt) -> Summary {
        summarize(
            &payload(
                "regtest",
                PayloadBody::Psbt {
                    version: 0,
                    bytes: p.serialize(),
                },
            ),
            &SummaryOptions::default(),
        )
        .unwrap()
    }

    #[test]
    fn outputs_amounts_and_fee() {
        let (p, _) = psbt();
        let s = sum(&p);
        assert_eq!(s.recipients.len(), 2);
        first_pays(
            &s,
            &addr(2).to_string(),
            "0.0006 BTC (60000 base units)",
            1_000,
        );
        assert!(s.recipients[0].address.starts_with("bcrt1q"));
        assert_eq!(s.sources[0].amount.as_ref().unwrap().base_units, 100_000);
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
        // The second output goes back to the address the input spends from.
        let change: Vec<_> = s
            .details
            .iter()
            .filter(|(k, _)| k.starts_with("output"))
            .collect();
        assert_eq!(change.len(), 1, "{:?}", s.details);
        assert_eq!(change[0].0, "output 1");
    }

    /// Change is named only from a previous transaction the input's txid matches: a
    /// witness UTXO alone (the coordinator's word) names none.
    #[test]
    fn change_only_from_a_verified_previous_transaction() {
        let (mut p, _) = psbt();
        p.inputs[0].non_witness_utxo = None;
        let s = sum(&p);
        assert!(
            !s.details.iter().any(|(k, _)| k.starts_with("output")),
            "{:?}",
            s.details
        );
    }

    #[test]
    fn fail_amount_lie_and_missing_previous_tx_are_flagged() {
        let (mut p, _) = psbt();
        p.inputs[0].witness_utxo.as_mut().unwrap().value = Amount::from_sat(1_000_000);
        let s = sum(&p);
        assert!(s.warnings.contains(&Warning::PrevoutMismatch { input: 0 }));
        assert_eq!(s.fee, None, "no fee from a lying input");
        let (mut p, _) = psbt();
        p.inputs[0].non_witness_utxo = None;
        assert!(sum(&p)
            .warnings
            .contains(&Warning::MissingPreviousTx { input: 0 }));
        p.inputs[0].witness_utxo = None;
        assert!(sum(&p)
            .warnings
            .contains(&Warning::MissingPrevout { input: 0 }));
    }

    #[test]
    fn fail_high_fee_warns() {
        let (mut p, _) = psbt();
        p.unsigned_tx.output[1].value = Amount::from_sat(1_000);
        let s = sum(&p);
        assert!(
            s.warnings
                .iter()
                .any(|w| matches!(w, Warning::HighFee { .. })),
            "{:?}",
            s.warnings
        );
    }

    #[test]
    fn fail_garbage_and_unknown_network() {
        let opts = SummaryOptions::default();
        assert!(summarize(
            &payload(
                "regtest",
                PayloadBody::Psbt {
                    version: 0,
                    bytes: b"psbt\xff".to_vec()
                }
            ),
            &opts
        )
        .is_err());
        let (p, _) = psbt();
        assert!(matches!(
            summarize(
                &payload(
                    "dogecoin",
                    PayloadBody::Psbt {
                        version: 0,
                        bytes: p.serialize()
                    }
                ),
                &opts
            ),
            Err(SummaryError::UnknownNetwork(_))
        ));
    }
}

mod evm {
    use super::*;
    use alloy_consensus::{SignableTransaction, TxEip1559};
    use alloy_primitives::{address, hex, Address, TxKind, U256};

    const USDC: Address = address!("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48");
    const BOB: Address = address!("52908400098527886e0f7030069857d2e4169ee7");

    fn erc20(selector: [u8; 4], to: Address, amount: U256) -> Vec<u8> {
        let mut d = selector.to_vec();
        d.extend_from_slice(&[0; 12]);
        d.extend_from_slice(to.as_slice());
        d.extend_from_slice(&amount.to_be_bytes::<32>());
        d
    }

    const TRANSFER: [u8; 4] = [0xa9, 0x05, 0x9c, 0xbb];
    const APPROVE: [u8; 4] = [0x09, 0x5e, 0xa7, 0xb3];

    /// A USDC call `selector(BOB, amount)`.
    fn usdc(selector: [u8; 4], amount: U256) -> Vec<u8> {
        tx1559(USDC, 0, erc20(selector, BOB, amount))
    }

    fn tx1559(to: Address, value: u64, input: Vec<u8>) -> Vec<u8> {
        let tx = TxEip1559 {
            chain_id: 1,
            nonce: 7,
            gas_limit: 60_000,
            max_fee_per_gas: 30_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
            to: TxKind::Call(to),
            value: U256::from(value),
            access_list: Default::default(),
            input: input.into(),
        };
        let mut buf = Vec::new();
        tx.encode_for_signing(&mut buf);
        buf
    }

    fn sum(tx: Vec<u8>, opts: &SummaryOptions) -> Summary {
        summarize(
            &payload(
                "evm:1",
                PayloadBody::EvmTx {
                    chain_id: 1,
                    signer: [0; 20],
                    tx,
                },
            ),
            opts,
        )
        .unwrap()
    }

    fn tokens() -> SummaryOptions {
        SummaryOptions {
            tokens: TokenList(vec![TokenInfo {
                chain: airgap_protocol::envelope::Chain::Evm,
                contract: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48".into(),
                symbol: "USDC".into(),
                decimals: 6,
            }]),
            ..Default::default()
        }
    }

    #[test]
    fn eip155_legacy_signing_payload_from_the_eip() {
        // EIP-155's example: nonce 9, 20 gwei, 21000 gas, 1 ether to 0x3535..35, chain 1.
        let tx = hex!("ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080").to_vec();
        let s = sum(tx, &SummaryOptions::default());
        assert_eq!(s.network, "evm:1");
        first_pays(
            &s,
            "0x3535353535353535353535353535353535353535",
            "1 ETH (1000000000000000000 base units)",
            21_000 * 20_000_000_000,
        );
        assert!(s.details.contains(&("nonce".into(), "9".into())));
    }

    #[test]
    fn erc20_transfer_uses_the_stations_token_list() {
        let s = sum(usdc(TRANSFER, U256::from(2_500_000u64)), &tokens());
        assert_eq!(s.recipients.len(), 1);
        first_pays(
            &s,
            "0x52908400098527886E0F7030069857D2E4169EE7",
            "2.5 USDC (2500000 base units)",
            60_000 * 30_000_000_000,
        );
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn fail_unknown_token_unlimited_approve_and_unknown_call() {
        let s = sum(usdc(TRANSFER, U256::from(5u8)), &SummaryOptions::default());
        assert!(matches!(s.warnings[0], Warning::UnknownToken { .. }));
        assert!(s.recipients[0]
            .amount
            .display()
            .contains("decimals unknown"));
        let s = sum(usdc(APPROVE, U256::MAX), &tokens());
        assert!(matches!(s.warnings[0], Warning::UnlimitedApproval { .. }));
        let s = sum(
            tx1559(USDC, 0, vec![0xde, 0xad, 0xbe, 0xef, 1, 2]),
            &tokens(),
        );
        assert_eq!(
            s.warnings,
            vec![Warning::UnknownCallData {
                selector: "deadbeef".into()
            }]
        );
    }

    /// A token amount of 2^130 base units is not shown as a smaller number without a
    /// warning that names the exact one.
    #[test]
    fn fail_token_amount_over_2_pow_128_warns() {
        let s = sum(usdc(TRANSFER, U256::from(1u8) << 130), &tokens());
        assert_eq!(
            s.warnings,
            vec![Warning::AmountTooLarge {
                exact: "1361129467683753853853498429727072845824".into()
            }]
        );
        let s = sum(usdc(TRANSFER, U256::from(u128::MAX)), &tokens());
        assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    }

    #[test]
    fn fail_chain_id_mismatch_and_garbage() {
        let tx = tx1559(BOB, 1, vec![]);
        let s = summarize(
            &payload(
                "evm:56",
                PayloadBody::EvmTx {
                    chain_id: 56,
                    signer: [0; 20],
                    tx: tx.clone(),
                },
            ),
            &SummaryOptions::default(),
        )
        .unwrap();
        assert!(matches!(s.warnings[0], Warning::NetworkMismatch { .. }));
        for cut in 0..tx.len() {
            assert!(summarize(
                &payload(
                    "evm:1",
                    PayloadBody::EvmTx {
                        chain_id: 1,
                        signer: [0; 20],
                        tx: tx[..cut].to_vec()
                    }
                ),
                &SummaryOptions::default()
            )
            .is_err());
        }
    }
}

#[path = "summary/sol.rs"]
mod sol;
