//! Shared by the Bitcoin end-to-end tests: MockHsm stations with a regtest policy, the
//! request / response round trip through QR frames or a USB bundle, funding and the
//! coordinator's checks before broadcast.
#![allow(dead_code)]

use airgap_protocol::envelope::*;
use bitcoin::{Amount, Network, PublicKey, TxOut};
use coordinator::bitcoin::*;
use signer_station::hsm::YubiHsm;
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::station::{Policy, Refusal, Station};
use signer_station::tui::rehearsal;
use strongroom_e2e::btcchain::Chain;
use strongroom_e2e::requests::round_trip;

pub use strongroom_e2e::requests::now;

pub fn recipient(n: u32) -> bitcoin::Address {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    let sk = SecretKey::from_slice(&b).unwrap();
    let pk = bitcoin::CompressedPublicKey(sk.public_key(&Secp256k1::new()));
    bitcoin::Address::p2wpkh(&pk, Network::Regtest)
}

pub fn policy(recipients: usize) -> Policy {
    let mut p = rehearsal::policy().unwrap();
    p.networks = vec!["regtest".into()];
    p.limits = vec![AssetLimit::new(
        "regtest",
        "native",
        "500000000",
        "5000000000",
    )];
    p.allow_list = (0..recipients as u32)
        .map(|n| Destination::new("regtest", recipient(n)))
        .collect();
    p.fees = vec![FeeLimit::new("regtest", "2000000", 1000)];
    p
}

pub struct StationRig {
    pub station: Station,
    pub hsm: YubiHsm,
    pub key: PublicKey,
    pub identity: ed25519_dalek::VerifyingKey,
    _dir: std::path::PathBuf,
}

pub fn station(name: &str, recipients: usize) -> StationRig {
    let dir = std::env::temp_dir().join(format!("strongroom-btc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = rehearsal::station(&dir.join("rehearsal"), now()).unwrap();
    let station =
        strongroom_e2e::requests::station_of(&r, &dir, policy(recipients), Default::default())
            .unwrap();
    StationRig {
        station,
        key: PublicKey::from_slice(
            &r.keys
                .bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
                .unwrap()
                .public_key,
        )
        .unwrap(),
        identity: r.keys.identity.ed25519().unwrap(),
        hsm: r.hsm,
        _dir: dir,
    }
}

pub fn request(psbt: &bitcoin::psbt::Psbt, purpose: Purpose, id: &str) -> SignRequest {
    strongroom_e2e::requests::signed_request(
        signer_station::fixtures::psbt_payload("regtest", "vault", psbt),
        purpose,
        id,
    )
}

pub use strongroom_e2e::requests::Channel;

pub fn sign(
    s: &mut StationRig,
    req: &SignRequest,
    channel: Channel,
) -> Result<bitcoin::psbt::Psbt, Refusal> {
    let identity = s.identity.to_bytes();
    let sigs = round_trip(&mut s.station, &s.hsm, &identity, req, channel).unwrap()?;
    match sigs.as_slice() {
        [PayloadSignature::Psbt(b)] => Ok(bitcoin::psbt::Psbt::deserialize(b).unwrap()),
        other => panic!("{other:?}"),
    }
}

/// Funds `vault` with `n` coins of `each` in one block.
pub fn fund(chain: &mut Chain, vault: &mut Vault, n: usize, each: Amount) {
    let genesis = bitcoin::constants::genesis_block(Network::Regtest).block_hash();
    let spk = vault.address().script_pubkey();
    let mut txs = Vec::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(50) {
        txs.push(
            chain.funding(
                chunk
                    .iter()
                    .map(|_| TxOut {
                        value: each,
                        script_pubkey: spk.clone(),
                    })
                    .collect(),
            ),
        );
    }
    let block = chain.mine(genesis, txs);
    vault.apply_block(&block, chain.height()).unwrap();
}

/// Finalises, extracts and checks a transaction as the coordinator does before broadcast.
pub fn finish(chain: &Chain, vault: &Vault, mut psbt: bitcoin::psbt::Psbt) -> bitcoin::Transaction {
    let fee = fee_of(&psbt).unwrap();
    let tx = vault.finalize(&mut psbt).unwrap();
    verify_with_core(&tx, |o| chain.outputs.get(o).cloned()).unwrap();
    let inputs: Amount = tx
        .input
        .iter()
        .map(|i| chain.outputs[&i.previous_output].value)
        .sum();
    let outputs: Amount = tx.output.iter().map(|o| o.value).sum();
    assert_eq!(fee, inputs - outputs, "fee is inputs minus outputs");
    assert!(standardness(&tx).is_empty(), "{:?}", standardness(&tx));
    assert!(
        tx.input.iter().all(|i| i.sequence.is_rbf()),
        "RBF signalled"
    );
    tx
}
