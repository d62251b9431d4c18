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

#[path = "evm_anvil/chain_edges.rs"]
mod chain_edges;

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
        AssetLimit::new(&net.clone(), "native", 5 * ETHER, 20 * ETHER),
        AssetLimit::new(
            &net.clone(),
            token.to_checksum(None),
            10_000 * TUSD,
            50_000 * TUSD,
        ),
    ];
    p.allow_list = vec![Destination::new(&net.clone(), RECIPIENT.to_checksum(None))];
    p.fees = vec![FeeLimit::new(&net, ETHER / 100, 1000)];
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
    let station =
        strongroom_e2e::requests::station_of(&r, &dir, policy_for(chain_id, token), tokens)
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
