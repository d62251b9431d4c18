//! EVM end to end against a real node (anvil): the coordinator builds with
//! alloy-consensus, the request crosses to a MockHsm station as QR frames read from
//! their pixels, the station decodes and signs, the response comes back the same way,
//! the coordinator attaches the signature, checks the sender, broadcasts, and tracks the
//! receipt. Balances must move exactly and the nonce advance.

use std::time::Duration;

use airgap_protocol::envelope::*;
use airgap_protocol::summary::{TokenInfo, TokenList};
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::{Address, TxKind, U256};
use anyhow::{anyhow, bail, Result};
use coordinator::evm::*;
use coordinator::rpc::{Breaker, RpcClient};
use signer_station::hsm::faulty::{Faults, FaultyBackend};
use signer_station::hsm::{SigningBackend, YubiHsm};
use signer_station::keys::StationKeys;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::station::{Refusal, Station};
use signer_station::tui::rehearsal;
use strongroom_e2e::anvil::{Anvil, FUNDER};

const RECIPIENT: Address = Address::new([0x52; 20]);
const ETHER: u128 = 1_000_000_000_000_000_000;
const TUSD: u128 = 1_000_000;

use strongroom_e2e::requests::{now, round_trip, Channel};

struct Rig {
    anvil: Anvil,
    node: EvmRpc,
    config: ChainConfig,
    vault: Address,
    keys: StationKeys,
    station: Station,
    book: NonceBook,
    _dir: std::path::PathBuf,
}

fn policy_for(chain_id: u64, token: Address) -> signer_station::station::Policy {
    let mut p = rehearsal::policy().unwrap();
    let net = format!("evm:{chain_id}");
    p.networks = vec![net.clone()];
    p.limits = vec![
        AssetLimit {
            network: net.clone(),
            asset: "native".into(),
            per_transaction: (5 * ETHER).to_string(),
            per_24h: (20 * ETHER).to_string(),
        },
        AssetLimit {
            network: net.clone(),
            asset: token.to_checksum(None),
            per_transaction: (10_000 * TUSD).to_string(),
            per_24h: (50_000 * TUSD).to_string(),
        },
    ];
    p.allow_list = vec![Destination {
        network: net.clone(),
        address: RECIPIENT.to_checksum(None),
    }];
    p.fees = vec![FeeLimit {
        network: net,
        max: (ETHER / 100).to_string(),
        max_per_mille: 1000,
    }];
    p.standard_requests = true;
    p
}

fn rig(chain_id: u64) -> (Rig, YubiHsm) {
    let anvil = Anvil::start(chain_id).unwrap();
    let token = anvil.deploy_token(U256::from(1_000_000 * TUSD)).unwrap();
    let dir =
        std::env::temp_dir().join(format!("strongroom-evm-{chain_id}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = rehearsal::station(&dir.join("rehearsal"), now()).unwrap();
    let tokens = TokenList(vec![TokenInfo {
        chain: Chain::Evm,
        contract: token.to_checksum(None),
        symbol: "TUSD".into(),
        decimals: 6,
    }]);
    let station = rehearsal::station_with(
        &r.hsm,
        &r.keys,
        &dir.join("station"),
        now(),
        policy_for(chain_id, token),
        tokens,
    )
    .unwrap();
    let vault = vault_address(&r.keys.evm.public_key).unwrap();
    anvil
        .send_from(FUNDER, Some(vault), U256::from(10 * ETHER), &[])
        .unwrap();
    anvil
        .send_from(
            FUNDER,
            Some(token),
            U256::ZERO,
            &erc20_transfer_data(vault, U256::from(5_000 * TUSD)),
        )
        .unwrap();
    let config = ChainConfig {
        name: format!("anvil-{chain_id}"),
        chain_id,
        endpoints: vec![anvil.url.clone()],
        tokens: vec![Token {
            symbol: "TUSD".into(),
            contract: token,
            decimals: 6,
        }],
        confirmations: 2,
        legacy: false,
        max_fee_per_gas_cap: 200_000_000_000,
        max_priority_fee_cap: 5_000_000_000,
        min_priority_fee: 1_000_000_000,
        gas_margin_percent: 20,
        station: None,
    };
    let node = EvmRpc::new(RpcClient::new(
        &config.endpoints,
        Duration::from_secs(10),
        Breaker::default(),
    ));
    (
        Rig {
            anvil,
            node,
            config,
            vault,
            keys: r.keys,
            station,
            book: NonceBook::default(),
            _dir: dir,
        },
        r.hsm,
    )
}

fn request(payload: Payload, id: &str) -> SignRequest {
    strongroom_e2e::requests::signed_request(payload, Purpose::Withdrawal, id)
}

impl Rig {
    fn build(&mut self, t: &Transfer, kind: TxKindChoice, id: &str) -> UnsignedEvmTx {
        let b = Builder {
            config: &self.config,
            node: &self.node,
        };
        b.check_chain().unwrap();
        let pending = self.node.nonce(self.vault, "pending").unwrap();
        let nonce = self
            .book
            .reserve(self.config.chain_id, self.vault, id, pending);
        let fees = b.fees(kind).unwrap();
        b.build_with(t, nonce, fees).unwrap()
    }

    /// Through QR to the station and back; the station's verdict or its signature.
    fn sign_with(
        &mut self,
        tx: &UnsignedEvmTx,
        id: &str,
        backend: &dyn SigningBackend,
    ) -> Result<[u8; 65], Refusal> {
        let req = request(tx.payload(), id);
        let identity = self.keys.identity.public_key.clone();
        let sigs = round_trip(&mut self.station, backend, &identity, &req, Channel::Qr).unwrap()?;
        match sigs.as_slice() {
            [PayloadSignature::Evm(sig)] => Ok(*sig),
            other => panic!("unexpected signatures {other:?}"),
        }
    }

    /// Signs through the station, broadcasts, and follows the receipt to finality.
    fn send(
        &mut self,
        tx: &UnsignedEvmTx,
        id: &str,
        hsm: &dyn SigningBackend,
    ) -> Result<(SignedEvmTx, u128)> {
        let sig = self
            .sign_with(tx, id, hsm)
            .map_err(|e| anyhow!("station refused: {e}"))?;
        self.broadcast(tx, &sig)
    }

    fn broadcast(&mut self, tx: &UnsignedEvmTx, sig: &[u8; 65]) -> Result<(SignedEvmTx, u128)> {
        let signed = attach_signature(tx, sig)?;
        let hash = self.node.send_raw(&signed.raw)?;
        assert_eq!(hash, signed.hash, "the node hashes what we hashed");
        let mut tracker = Tracker::new(&signed, self.config.confirmations);
        let first = settled(&mut tracker, &self.node);
        let TrackState::Included {
            confirmations: 1,
            success: true,
            ..
        } = first
        else {
            bail!("after automine: {first:?}")
        };
        self.anvil.mine(1)?;
        let done = tracker.poll(&self.node)?;
        let TrackState::Final { success: true, .. } = done else {
            bail!("after a second block: {done:?}")
        };
        let receipt = self.node.receipt(signed.hash)?.ok_or(anyhow!("receipt"))?;
        let fee = u128::from(receipt.gas_used.to::<u64>())
            * receipt
                .effective_gas_price
                .ok_or(anyhow!("effective gas price"))?
                .to::<u128>();
        self.book.settle(
            self.config.chain_id,
            self.vault,
            self.node.nonce(self.vault, "latest")?,
        );
        Ok((signed, fee))
    }

    fn balances(&self) -> (U256, U256, U256, U256) {
        let token = self.config.tokens[0].contract;
        (
            self.node.balance(self.vault).unwrap(),
            self.node.balance(RECIPIENT).unwrap(),
            self.node.token_balance(token, self.vault).unwrap(),
            self.node.token_balance(token, RECIPIENT).unwrap(),
        )
    }
}

/// Polls until the node is done with the transaction's mempool stage (anvil mines
/// automatically, but not synchronously with the send).
fn settled(tracker: &mut Tracker, node: &EvmRpc) -> TrackState {
    for _ in 0..250 {
        match tracker.poll(node).unwrap() {
            TrackState::Pending => std::thread::sleep(Duration::from_millis(20)),
            other => return other,
        }
    }
    TrackState::Pending
}

/// Native and ERC-20, type 2 and legacy, on one chain; every transfer settles exactly.
fn four_transfers(r: &mut Rig, hsm: &YubiHsm) {
    for (i, (kind, asset)) in [
        (TxKindChoice::Eip1559, Asset::Native),
        (TxKindChoice::Eip1559, Asset::Token("TUSD".into())),
        (TxKindChoice::Legacy, Asset::Native),
        (TxKindChoice::Legacy, Asset::Token("tusd".into())),
    ]
    .into_iter()
    .enumerate()
    {
        let native = matches!(asset, Asset::Native);
        let amount = if native {
            U256::from(ETHER / 4 + i as u128)
        } else {
            U256::from(1_234 * TUSD + i as u128)
        };
        let t = Transfer {
            from: r.vault,
            to: RECIPIENT,
            asset,
            amount,
        };
        let id = format!("chain {} transfer {i}", r.config.chain_id);
        let before = r.balances();
        let nonce_before = r.node.nonce(r.vault, "latest").unwrap();
        let tx = r.build(&t, kind, &id);
        assert_eq!(tx.nonce, nonce_before);
        assert_eq!(tx.unsigned[0] == 0x02, kind == TxKindChoice::Eip1559);
        let (_, fee) = r.send(&tx, &id, hsm).unwrap();
        let after = r.balances();
        assert_eq!(r.node.nonce(r.vault, "latest").unwrap(), nonce_before + 1);
        let fee = U256::from(fee);
        if native {
            assert_eq!(
                after.0,
                before.0 - amount - fee,
                "{id}: vault pays amount + fee"
            );
            assert_eq!(
                after.1,
                before.1 + amount,
                "{id}: recipient receives amount"
            );
            assert_eq!((after.2, after.3), (before.2, before.3));
        } else {
            assert_eq!(after.0, before.0 - fee, "{id}: vault pays the fee only");
            assert_eq!(after.1, before.1);
            assert_eq!(after.2, before.2 - amount, "{id}: tokens leave the vault");
            assert_eq!(
                after.3,
                before.3 + amount,
                "{id}: tokens reach the recipient"
            );
        }
    }
}

#[test]
fn ethereum_chain_1_transfers_refusals_and_high_s() {
    let (mut r, hsm) = rig(1);
    four_transfers(&mut r, &hsm);

    // Refused: a chain the station's policy does not list.
    let mut other = r.config.clone();
    other.chain_id = 10;
    let pending = r.node.nonce(r.vault, "pending").unwrap();
    let t = Transfer {
        from: r.vault,
        to: RECIPIENT,
        asset: Asset::Native,
        amount: U256::from(ETHER / 10),
    };
    let b = Builder {
        config: &other,
        node: &r.node,
    };
    let fees = b.fees(TxKindChoice::Eip1559).unwrap();
    let wrong_chain = b.build_with(&t, pending, fees).unwrap();
    let e = r.sign_with(&wrong_chain, "wrong chain", &hsm).unwrap_err();
    assert!(matches!(e, Refusal::NetworkNotAllowed { .. }), "{e}");

    // Refused: unknown call data to the token contract.
    let token = r.config.tokens[0].contract;
    let mut unsigned = Vec::new();
    TxEip1559 {
        chain_id: 1,
        nonce: pending,
        gas_limit: 100_000,
        max_fee_per_gas: 3_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(token),
        value: U256::ZERO,
        access_list: Default::default(),
        input: vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1].into(),
    }
    .encode_for_signing(&mut unsigned);
    let odd_call = UnsignedEvmTx {
        chain_id: 1,
        from: r.vault,
        nonce: pending,
        gas_limit: 100_000,
        fees: Fees::Eip1559 {
            max_fee_per_gas: 3_000_000_000,
            max_priority_fee_per_gas: 1_000_000_000,
        },
        to: token,
        value: U256::ZERO,
        input: vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 1],
        unsigned,
    };
    let e = r.sign_with(&odd_call, "odd call", &hsm).unwrap_err();
    assert_eq!(e.code(), 35, "unknown call data refused: {e}");

    // Refused: a token the station does not list.
    let stranger = r.anvil.deploy_token(U256::from(1_000_000 * TUSD)).unwrap();
    r.anvil
        .send_from(
            FUNDER,
            Some(stranger),
            U256::ZERO,
            &erc20_transfer_data(r.vault, U256::from(100 * TUSD)),
        )
        .unwrap();
    let mut with_stranger = r.config.clone();
    with_stranger.tokens.push(Token {
        symbol: "XYZ".into(),
        contract: stranger,
        decimals: 6,
    });
    let b = Builder {
        config: &with_stranger,
        node: &r.node,
    };
    let x = b
        .build_with(
            &Transfer {
                from: r.vault,
                to: RECIPIENT,
                asset: Asset::Token("XYZ".into()),
                amount: U256::from(50 * TUSD),
            },
            pending,
            fees,
        )
        .unwrap();
    let e = r.sign_with(&x, "stranger token", &hsm).unwrap_err();
    assert!(matches!(e, Refusal::UnlistedAsset { .. }), "{e}");

    // Refused: the nonce is already signed for a different transaction. The first one
    // is then broadcast and settles.
    let first = r.build(&t, TxKindChoice::Eip1559, "first at this nonce");
    let first_sig = r.sign_with(&first, "first at this nonce", &hsm).unwrap();
    let mut second_t = t.clone();
    second_t.amount = U256::from(ETHER / 5);
    let b = Builder {
        config: &r.config,
        node: &r.node,
    };
    let second = b.build_with(&second_t, first.nonce, fees).unwrap();
    let e = r
        .sign_with(&second, "second at this nonce", &hsm)
        .unwrap_err();
    assert!(matches!(e, Refusal::DoubleSpend { .. }), "{e}");
    let before = r.balances();
    let (_, fee) = r.broadcast(&first, &first_sig).unwrap();
    assert_eq!(r.balances().1, before.1 + t.amount);
    assert_eq!(r.balances().0, before.0 - t.amount - U256::from(fee));

    // A device that returns high-S (as the real YubiHSM does) is normalised by the
    // station; the node accepts the transaction. The coordinator itself refuses high-S.
    let faulty = FaultyBackend::new(
        &hsm,
        Faults {
            high_s: true,
            ..Faults::default()
        },
    );
    let seventh = Transfer {
        amount: U256::from(ETHER / 7),
        ..t.clone()
    };
    let hs = r.build(&seventh, TxKindChoice::Eip1559, "high-s device");
    let sig = r.sign_with(&hs, "high-s device", &faulty).unwrap();
    let n = U256::from_be_slice(&[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xfe, 0xba, 0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36,
        0x41, 0x41,
    ]);
    let s = U256::from_be_slice(&sig[32..64]);
    assert!(s <= n >> 1, "normalised to low-S");
    let mut high = sig;
    high[32..64].copy_from_slice(&(n - s).to_be_bytes::<32>());
    high[64] ^= 1;
    assert_eq!(attach_signature(&hs, &high), Err(FinishError::HighS));
    let before = r.balances();
    let (_, fee) = r.broadcast(&hs, &sig).unwrap();
    assert_eq!(r.balances().0, before.0 - seventh.amount - U256::from(fee));
}

#[test]
fn bsc_chain_56_transfers() {
    let (mut r, hsm) = rig(56);
    four_transfers(&mut r, &hsm);
}

#[test]
fn polygon_chain_137_transfers() {
    let (mut r, hsm) = rig(137);
    four_transfers(&mut r, &hsm);
}

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
    use strongroom_e2e::qr::ur_through_qr;
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
            derivation_path: KeyPath {
                components: vec![],
                source_fingerprint: None,
                depth: None,
                tag: 304,
            },
            address: Some(r.vault.0 .0),
            origin: Some("treasury wallet".into()),
        };
        let (ur_type, cbor, _) = ur_through_qr("eth-sign-request", &req.to_cbor()).unwrap();
        let seen = StandardRequest::decode(&ur_type, &cbor).unwrap().unwrap();
        let review = r.station.review_standard(&seen, now()).unwrap();
        review.verdict.clone().unwrap();
        let answer = r
            .station
            .sign_standard(&seen, &review, &hsm, now())
            .unwrap();
        let (ur_type, cbor) = answer.to_ur();
        let (ur_type, cbor, _) = ur_through_qr(ur_type, &cbor).unwrap();
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
        derivation_path: KeyPath {
            components: vec![],
            source_fingerprint: None,
            depth: None,
            tag: 304,
        },
        address: None,
        origin: None,
    });
    let e = r.station.review_standard(&personal, now()).unwrap_err();
    assert!(e.to_string().contains("personal message"), "{e}");
    let mut strict = rehearsal::station_with(
        &hsm,
        &r.keys,
        &r._dir.join("strict"),
        now(),
        rehearsal::policy().unwrap(),
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
                derivation_path: KeyPath {
                    components: vec![],
                    source_fingerprint: None,
                    depth: None,
                    tag: 304,
                },
                address: None,
                origin: None,
            }),
            now(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("does not answer"), "{e}");
}
