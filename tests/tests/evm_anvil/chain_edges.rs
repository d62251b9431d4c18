//! What the chain does to a sent transaction (reorgs, drops, replacements), endpoints
//! failing over, and a standard `eth-sign-request` end to end.

use super::*;

/// The block a transaction was in is reverted: the tracker reports the reorg, then the
/// transaction as missing (its nonce unused), and the same signed bytes, sent again,
/// land. A replacement at the same nonce with higher fees makes the original dropped.
#[test]
fn reorg_missing_rebroadcast_and_deliberate_replacement() {
    let (mut r, hsm) = rig(1);
    let t = Transfer {
        from: r.vault,
        to: RECIPIENT,
        asset: Asset::Native,
        amount: U256::from(ETHER / 3),
    };
    let tx = r.build(&t, TxKindChoice::Eip1559, "reorged");
    let sig = r.sign_with(&tx, "reorged", &hsm).unwrap();
    let signed = attach_signature(&tx, &sig).unwrap();
    let snap = r.anvil.snapshot().unwrap();
    r.node.send_raw(&signed.raw).unwrap();
    let mut tracker = Tracker::new(&signed, 3);
    let TrackState::Included { block, .. } = settled(&mut tracker, &r.node) else {
        panic!("not included")
    };
    r.anvil.revert(snap).unwrap();
    r.anvil.mine(2).unwrap();
    assert_eq!(
        tracker.poll(&r.node).unwrap(),
        TrackState::Reorged { was_block: block }
    );
    assert_eq!(tracker.poll(&r.node).unwrap(), TrackState::Missing);
    r.node.send_raw(&signed.raw).unwrap();
    assert!(matches!(
        settled(&mut tracker, &r.node),
        TrackState::Included { success: true, .. }
    ));
    r.anvil.mine(2).unwrap();
    assert!(matches!(
        tracker.poll(&r.node).unwrap(),
        TrackState::Final { success: true, .. }
    ));

    // A stuck transaction (mining paused) replaced on purpose: same nonce, fees up 10 %+.
    r.anvil
        .rpc()
        .call_raw("evm_setAutomine", serde_json::json!([false]))
        .unwrap();
    let stuck = r.build(&t, TxKindChoice::Eip1559, "stuck");
    let stuck_sig = r.sign_with(&stuck, "stuck", &hsm).unwrap();
    let stuck_signed = attach_signature(&stuck, &stuck_sig).unwrap();
    r.node.send_raw(&stuck_signed.raw).unwrap();
    let mut stuck_tracker = Tracker::new(&stuck_signed, 1);
    assert_eq!(stuck_tracker.poll(&r.node).unwrap(), TrackState::Pending);
    let nonce = r
        .book
        .replace(1, r.vault, "stuck", "stuck (replacement)")
        .unwrap();
    assert_eq!(nonce, stuck.nonce);
    let b = Builder {
        config: &r.config,
        node: &r.node,
    };
    let bump = b.replacement(&stuck).unwrap();
    assert_eq!(bump.nonce, stuck.nonce);
    assert!(bump.max_fee_wei() * 100 >= stuck.max_fee_wei() * 110);
    // The station signs a second transaction at a nonce it signed only when it makes
    // the very same call (a fee bump): only one can land, and either pays the same.
    let bump_sig = r.sign_with(&bump, "stuck (replacement)", &hsm).unwrap();
    let bump_signed = attach_signature(&bump, &bump_sig).unwrap();
    r.node.send_raw(&bump_signed.raw).unwrap();
    r.anvil.mine(1).unwrap();
    let mut bump_tracker = Tracker::new(&bump_signed, 1);
    assert!(matches!(
        bump_tracker.poll(&r.node).unwrap(),
        TrackState::Final { success: true, .. }
    ));
    assert_eq!(stuck_tracker.poll(&r.node).unwrap(), TrackState::Dropped);
}

/// Failover: a dead endpoint first in the list is skipped; after three failures its
/// breaker opens and it is no longer tried.
#[test]
fn rpc_failover_and_breaker() {
    let anvil = Anvil::start(1).unwrap();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", l.local_addr().unwrap())
    };
    let rpc = RpcClient::new(
        &[dead.clone(), anvil.url.clone()],
        Duration::from_secs(5),
        Breaker {
            threshold: 3,
            cooldown: Duration::from_secs(60),
        },
    );
    let node = EvmRpc::new(rpc);
    for _ in 0..4 {
        assert_eq!(node.chain_id().unwrap(), 1);
    }
    let h = node.rpc.health();
    assert_eq!(h[0].consecutive_failures, 3, "{h:?}");
    assert!(h[0].open);
    assert_eq!(h[1].consecutive_failures, 0);
    // A node error is an answer, not a failover.
    let e = node.send_raw(&[0x02, 0xc0]).unwrap_err();
    assert!(matches!(e, coordinator::rpc::RpcError::Node { .. }), "{e}");
    // Nobody answering is an error naming each endpoint.
    let only_dead = EvmRpc::new(RpcClient::new(
        &[dead],
        Duration::from_secs(2),
        Breaker::default(),
    ));
    let e = only_dead.chain_id().unwrap_err().to_string();
    assert!(e.contains("no endpoint answered"), "{e}");
}

/// A standard ERC-4527 `eth-sign-request` (data type 4, typed; and 1, legacy) crosses as
/// QR frames; the station answers with `eth-signature` (v the y-parity, or EIP-155 `v`
/// for legacy); the coordinator attaches it and the node accepts the transaction. A
/// station whose policy does not answer standard requests refuses.
#[test]
fn standard_eth_sign_request_types_4_and_1() {
    use airgap_protocol::registry::{EthDataType, EthSignRequest, EthSignature, KeyPath};
    use signer_station::station::standard::{StandardAnswer, StandardRequest};
    use strongroom_e2e::qr::standard_round_trip;
    let (mut r, hsm) = rig(137);
    for (i, (kind, data_type)) in [
        (TxKindChoice::Eip1559, EthDataType::TypedTransaction),
        (TxKindChoice::Legacy, EthDataType::LegacyTransaction),
    ]
    .into_iter()
    .enumerate()
    {
        let id = format!("standard {i}");
        let amount = U256::from(ETHER / 8 + i as u128);
        let tx = r.build(
            &Transfer {
                from: r.vault,
                to: RECIPIENT,
                asset: Asset::Native,
                amount,
            },
            kind,
            &id,
        );
        let req = EthSignRequest {
            request_id: Some([i as u8 + 1; 16]),
            sign_data: tx.unsigned.clone(),
            data_type,
            chain_id: Some(137),
            derivation_path: KeyPath::none(),
            address: Some(r.vault.0 .0),
            origin: Some("treasury wallet".into()),
        };
        let (ur_type, cbor) =
            standard_round_trip(&mut r.station, &hsm, "eth-sign-request", &req.to_cbor()).unwrap();
        assert_eq!(ur_type, "eth-signature");
        let sig = EthSignature::from_cbor(&cbor).unwrap();
        assert_eq!(sig.request_id, req.request_id);
        // Back to r || s || parity for the coordinator.
        let v = sig.signature[64..]
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
        let parity = if data_type == EthDataType::LegacyTransaction {
            assert!(v == 137 * 2 + 35 || v == 137 * 2 + 36, "EIP-155 v {v}");
            (v - 35 - 137 * 2) as u8
        } else {
            v as u8
        };
        let mut rsv = [0u8; 65];
        rsv[..64].copy_from_slice(&sig.signature[..64]);
        rsv[64] = parity;
        let before = r.balances();
        let (_, fee) = r.broadcast(&tx, &rsv).unwrap();
        assert_eq!(r.balances().1, before.1 + amount);
        assert_eq!(r.balances().0, before.0 - amount - U256::from(fee));
        let _ = StandardAnswer::Eth(sig);
    }
    // Personal messages are not signed; nor is anything by a station whose policy
    // does not answer standard requests.
    let personal = StandardRequest::Eth(EthSignRequest {
        request_id: None,
        sign_data: b"hello".to_vec(),
        data_type: EthDataType::PersonalMessage,
        chain_id: None,
        derivation_path: KeyPath::none(),
        address: None,
        origin: None,
    });
    let e = r.station.review_standard(&personal, now()).unwrap_err();
    assert!(e.to_string().contains("personal message"), "{e}");
    // A policy that does not answer standard requests.
    let mut refusing = rehearsal::policy().unwrap();
    refusing.standard_requests = false;
    let mut strict = rehearsal::station_with(
        &hsm,
        &r.keys,
        &r._dir.join("strict"),
        now(),
        refusing,
        TokenList(vec![]),
    )
    .unwrap();
    let tx = r.build(
        &Transfer {
            from: r.vault,
            to: RECIPIENT,
            asset: Asset::Native,
            amount: U256::from(ETHER / 9),
        },
        TxKindChoice::Eip1559,
        "strict",
    );
    let e = strict
        .review_standard(
            &StandardRequest::Eth(EthSignRequest {
                request_id: None,
                sign_data: tx.unsigned,
                data_type: EthDataType::TypedTransaction,
                chain_id: Some(137),
                derivation_path: KeyPath::none(),
                address: None,
                origin: None,
            }),
            now(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("does not answer"), "{e}");
}
