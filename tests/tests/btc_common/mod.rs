//! Shared by the Bitcoin end-to-end tests: MockHsm stations with a regtest policy, the
//! request / response round trip through QR frames or a USB bundle, funding and the
//! coordinator's checks before broadcast.
#![allow(dead_code)]

use airgap_protocol::envelope::*;
use bitcoin::{Amount, Network, PublicKey, TxOut};
use coordinator::bitcoin::*;
use signer_station::ceremony::export_descriptor;
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

/// A MockHsm station with a regtest policy for recipients 0 and 1, its regtest key and
/// its signed descriptor (what the coordinator registers).
pub struct Registered {
    pub station: signer_station::station::Station,
    pub hsm: signer_station::hsm::YubiHsm,
    pub key: bitcoin::PublicKey,
    pub descriptor: airgap_protocol::envelope::StationDescriptor,
}

/// Sets up station `name` in `dir`.
pub fn registered(dir: &std::path::Path, name: &str) -> anyhow::Result<Registered> {
    registered_with(dir, name, 2)
}

/// Sets up station `name` in `dir`, the first `recipients` recipients allow-listed.
pub fn registered_with(
    dir: &std::path::Path,
    name: &str,
    recipients: usize,
) -> anyhow::Result<Registered> {
    let r =
        rehearsal::station(&dir.join(name).join("rehearsal"), now()).map_err(anyhow::Error::msg)?;
    let p = policy(recipients);
    let station = rehearsal::station_with(
        &r.hsm,
        &r.keys,
        &dir.join(name).join("station"),
        now(),
        p.clone(),
        Default::default(),
    )
    .map_err(anyhow::Error::msg)?;
    let descriptor = export_descriptor(&r.hsm, &r.keys, name, &p, now())?;
    Ok(Registered {
        station,
        key: bitcoin::PublicKey::from_slice(
            &r.keys
                .bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
                .expect("regtest key")
                .public_key,
        )?,
        hsm: r.hsm,
        descriptor,
    })
}

/// A 2-of-2 vault `cold` of station `a` and a cosigner (`cosigner_key`, with its origin)
/// served by a coordinator: the station's custodians register the vault, `sat` funds
/// it, the coordinator is configured with the cosigner named `name` and has the station
/// and the approvers registered. The vault, the desks' tokens and the service.
pub fn cosigned_vault(
    exe: &std::path::Path,
    (server, dir): (&strongroom_e2e::btcserver::BtcServer, &std::path::Path),
    a: &mut Registered,
    (name, cosigner_key): (&str, &str),
    sat: u64,
) -> anyhow::Result<(
    Vault,
    strongroom_e2e::service::Desks,
    strongroom_e2e::service::Service,
)> {
    let vault = Vault::from_descriptor(
        "cold",
        &format!("wsh(sortedmulti(2,{},{cosigner_key}))", with_origin(&a.key)),
        Network::Regtest,
    )?;
    strongroom_e2e::requests::register_vault(&mut a.station, "cold", "regtest", &vault.descriptor)?;
    server.fund(vec![TxOut {
        value: Amount::from_sat(sat),
        script_pubkey: vault.address().script_pubkey(),
    }]);
    let (key_path, chains) = strongroom_e2e::service::coordinator_files(
        dir,
        &format!(
            "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 2\n\
             stations = [\"vault-a\"]\nconfirmations = 1\nmax_fee_rate = 50\n\
             cosigners = [{{ name = \"{name}\", key = \"{cosigner_key}\" }}]\n",
            server.esplora()
        ),
    )?;
    let (desk, svc) = strongroom_e2e::service::Desks::serve(
        exe,
        &dir.join("coordinator.db"),
        &chains,
        &key_path,
    )?;
    svc.register_station(&desk.admin, &a.descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;
    Ok((vault, desk, svc))
}
