//! Bitcoin chain sources against a local server speaking the real Esplora and Bitcoin
//! Core JSON-RPC formats over transactions that really verify: the vault syncs blocks,
//! the fee rate comes from the source, the signed transaction is broadcast (and verified
//! by the server with Bitcoin Core's interpreter before it enters the mempool),
//! confirmations are tracked, a reorg is noticed, and failover passes a dead endpoint.

mod btc_common;

use std::time::Duration;

use airgap_protocol::envelope::Purpose;
use bitcoin::{Amount, Network, TxOut};
use btc_common::*;
use coordinator::bitcoin::chain::*;
use coordinator::bitcoin::*;
use coordinator::rpc::{Breaker, RpcClient};
use strongroom_e2e::btcserver::BtcServer;

fn dead_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    format!("http://{}", l.local_addr().unwrap())
}

/// Funds `vault` through the server's chain: a block with `n` coins of `each`.
fn fund_on(server: &BtcServer, vault: &Vault, n: usize, each: Amount) {
    let spk = vault.address().script_pubkey();
    server.with(|s| {
        let tx = s.chain.funding(
            (0..n)
                .map(|_| TxOut {
                    value: each,
                    script_pubkey: spk.clone(),
                })
                .collect(),
        );
        s.mine(vec![tx]);
    });
}

fn round_trip(source: &dyn ChainSource, server: &BtcServer, name: &str) {
    let mut st = station(name, 1);
    let mut vault = Vault::single("cold", &st.key, Network::Regtest).unwrap();
    fund_on(server, &vault, 3, Amount::from_sat(400_000));
    server.with(|s| s.mine(vec![]));
    assert_eq!(sync(&mut vault, source).unwrap(), 2);
    assert_eq!(vault.balance(), Amount::from_sat(1_200_000));
    assert_eq!(sync(&mut vault, source).unwrap(), 0, "nothing new");

    let rate = source.fee_rate(6).unwrap();
    assert_eq!(rate.to_sat_per_kwu(), 3125, "12.5 sat/vB from the source");
    let psbt = vault
        .payment(
            &[(recipient(0).into_unchecked(), Amount::from_sat(700_000))],
            rate,
        )
        .unwrap();
    let signed = sign(
        &mut st,
        &request(&psbt, Purpose::Withdrawal, name),
        Channel::Qr,
    )
    .unwrap();
    let mut all = combine(&psbt, &[signed]).unwrap();
    let tx = vault.finalize(&mut all).unwrap();
    verify_with_core(&tx, |o| server.with(|s| s.chain.outputs.get(o).cloned())).unwrap();

    // A broken copy is rejected by the source with its reason; nothing changes.
    let mut broken = tx.clone();
    broken.input[0].witness = bitcoin::Witness::new();
    let e = source.broadcast(&broken).unwrap_err();
    assert!(matches!(e, ChainError::Rejected { .. }), "{e}");
    assert!(server.with(|s| s.mempool.is_empty()));

    let txid = source.broadcast(&tx).unwrap();
    assert_eq!(txid, tx.compute_txid());
    let mut t = ConfirmationTracker::new(txid);
    assert_eq!(t.poll(source).unwrap(), Confirmation::Pending);
    server.with(|s| s.mine(vec![]));
    let h = server.with(|s| s.chain.height());
    assert_eq!(
        t.poll(source).unwrap(),
        Confirmation::Confirmed {
            height: h,
            confirmations: 1
        }
    );
    server.with(|s| s.mine(vec![]));
    assert!(matches!(
        t.poll(source).unwrap(),
        Confirmation::Confirmed {
            confirmations: 2,
            ..
        }
    ));
    assert_eq!(sync(&mut vault, source).unwrap(), 2);

    // Reorg: the two blocks are replaced by three others (the transaction goes back to
    // the mempool); the tracker says so, then follows it into its new block.
    server.with(|s| {
        s.reorg(2);
        let held = std::mem::take(&mut s.mempool);
        s.mine(vec![]);
        s.mine(vec![]);
        s.mempool = held;
    });
    assert_eq!(
        t.poll(source).unwrap(),
        Confirmation::Reorged { was_height: h }
    );
    assert_eq!(t.poll(source).unwrap(), Confirmation::Pending);
    server.with(|s| s.mine(vec![]));
    assert_eq!(
        t.poll(source).unwrap(),
        Confirmation::Confirmed {
            height: h + 2,
            confirmations: 1
        }
    );
    // The vault follows the new branch from the fork point.
    assert_eq!(sync(&mut vault, source).unwrap(), 3);
    assert_eq!(vault.tip().0, h + 2);
    let change = vault.balance();
    assert!(change < Amount::from_sat(500_000) && change > Amount::from_sat(490_000));
}

#[test]
fn esplora_sync_fee_broadcast_confirmations_reorg_and_failover() {
    let server = BtcServer::start().unwrap();
    let esplora = Esplora::new(
        &[dead_url(), server.esplora()],
        Duration::from_secs(5),
        Breaker::default(),
    );
    round_trip(&esplora, &server, "esplora");
    let h = esplora.health();
    assert!(h[0].open, "the dead endpoint's breaker opened: {h:?}");
    assert_eq!(h[1].consecutive_failures, 0);
    assert_eq!(esplora.block_hash(10_000).unwrap(), None);
}

#[test]
fn bitcoin_core_rpc_sync_fee_broadcast_confirmations_and_reorg() {
    let server = BtcServer::start().unwrap();
    let core = CoreRpc {
        rpc: RpcClient::new(
            &[dead_url(), server.url.clone()],
            Duration::from_secs(5),
            Breaker::default(),
        )
        .with_basic_auth("strongroom", "regtest"),
    };
    round_trip(&core, &server, "core");
    assert_eq!(core.block_hash(10_000).unwrap(), None);
    let unknown: bitcoin::Txid = "00".repeat(32).parse().unwrap();
    assert_eq!(core.status(&unknown).unwrap(), None);
}
