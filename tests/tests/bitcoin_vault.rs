//! Bitcoin end to end: watch-only vaults built by the coordinator (bdk_wallet), PSBTs to
//! MockHsm stations through QR frames and a USB bundle, partial signatures combined,
//! finalised, and every input of every transaction verified by Bitcoin Core's script
//! interpreter; fees equal inputs minus outputs; local standardness checks pass.

use std::time::{SystemTime, UNIX_EPOCH};

use airgap_protocol::envelope::*;
use bitcoin::{Amount, FeeRate, Network, PublicKey, TxOut};
use coordinator::bitcoin::*;
use signer_station::hsm::{SigningBackend, YubiHsm};
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::station::{Policy, Refusal, Station};
use signer_station::tui::rehearsal;
use strongroom_e2e::btcchain::Chain;
use strongroom_e2e::qr::through_qr;

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn recipient(n: u32) -> bitcoin::Address {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    let mut b = [7u8; 32];
    b[..4].copy_from_slice(&n.to_be_bytes());
    let sk = SecretKey::from_slice(&b).unwrap();
    let pk = bitcoin::CompressedPublicKey(sk.public_key(&Secp256k1::new()));
    bitcoin::Address::p2wpkh(&pk, Network::Regtest)
}

fn policy(recipients: usize) -> Policy {
    let mut p = rehearsal::policy().unwrap();
    p.networks = vec!["regtest".into()];
    p.limits = vec![AssetLimit {
        network: "regtest".into(),
        asset: "native".into(),
        per_transaction: "500000000".into(),
        per_24h: "5000000000".into(),
    }];
    p.allow_list = (0..recipients as u32)
        .map(|n| Destination {
            network: "regtest".into(),
            address: recipient(n).to_string(),
        })
        .collect();
    p.fees = vec![FeeLimit {
        network: "regtest".into(),
        max: "2000000".into(),
        max_per_mille: 1000,
    }];
    p
}

struct StationRig {
    station: Station,
    hsm: YubiHsm,
    key: PublicKey,
    identity: ed25519_dalek::VerifyingKey,
    _dir: std::path::PathBuf,
}

fn station(name: &str, recipients: usize) -> StationRig {
    let dir = std::env::temp_dir().join(format!("strongroom-btc-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let r = rehearsal::station(&dir.join("rehearsal"), now()).unwrap();
    let station = rehearsal::station_with(
        &r.hsm,
        &r.keys,
        &dir.join("station"),
        now(),
        policy(recipients),
        Default::default(),
    )
    .unwrap();
    StationRig {
        station,
        key: PublicKey::from_slice(&r.keys.bitcoin.public_key).unwrap(),
        identity: ed25519_dalek::VerifyingKey::from_bytes(
            &r.keys.identity.public_key.clone().try_into().unwrap(),
        )
        .unwrap(),
        hsm: r.hsm,
        _dir: dir,
    }
}

fn request(psbt: &bitcoin::psbt::Psbt, purpose: Purpose, id: &str) -> SignRequest {
    use sha2::Digest;
    let mut r = SignRequest {
        request_id: sha2::Sha256::digest(id.as_bytes())[..16]
            .try_into()
            .unwrap(),
        created: now(),
        expires: now() + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose,
        requester: "treasury".into(),
        memo: id.into(),
        payloads: vec![Payload {
            network: "regtest".into(),
            signer: "vault".into(),
            body: PayloadBody::Psbt {
                version: 0,
                bytes: psbt.serialize(),
            },
            hints: DisplayHints::default(),
        }],
        approvals: vec![],
        coordinator_signature: [0; 64],
    };
    rehearsal::resign(&mut r);
    r
}

/// How the request reaches the station and the answer comes back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Channel {
    Qr,
    Usb,
}

/// The station's signed PSBT, or its refusal.
fn sign(
    s: &mut StationRig,
    req: &SignRequest,
    channel: Channel,
) -> Result<bitcoin::psbt::Psbt, Refusal> {
    let carry = |env: Envelope| -> Envelope {
        match channel {
            Channel::Qr => through_qr(&env).unwrap().0,
            Channel::Usb => {
                use usb_transfer::{open_bundle, seal_bundle, BundleKind};
                let id = age::x25519::Identity::generate();
                let sender = ed25519_dalek::SigningKey::from_bytes(&[42; 32]);
                let (ur_type, bytes) = encode_envelope(&env);
                let kind = if ur_type == REQUEST_UR_TYPE {
                    BundleKind::Request
                } else {
                    BundleKind::Response
                };
                let sealed = seal_bundle(kind, &bytes, &id.to_public(), &sender, now()).unwrap();
                let opened = open_bundle(&sealed, &id, &[sender.verifying_key()]).unwrap();
                decode_envelope(ur_type, &opened.envelope).unwrap()
            }
        }
    };
    let Envelope::Request(seen) = carry(Envelope::Request(req.clone())) else {
        panic!()
    };
    let review = s.station.review(&seen, now())?;
    review.verdict.clone()?;
    let resp = s
        .station
        .sign(&review, &s.hsm as &dyn SigningBackend, now())?;
    let Envelope::Response(resp) = carry(Envelope::Response(resp)) else {
        panic!()
    };
    verify_response(&resp, req, &s.identity).unwrap();
    match resp.outcome {
        Outcome::Signed(sigs) => match sigs.as_slice() {
            [PayloadSignature::Psbt(b)] => Ok(bitcoin::psbt::Psbt::deserialize(b).unwrap()),
            other => panic!("{other:?}"),
        },
        Outcome::Refused { code, reason } => panic!("refused {code}: {reason}"),
    }
}

/// Funds `vault` with `n` coins of `each` in one block.
fn fund(chain: &mut Chain, vault: &mut Vault, n: usize, each: Amount) {
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
fn finish(chain: &Chain, vault: &Vault, mut psbt: bitcoin::psbt::Psbt) -> bitcoin::Transaction {
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

#[test]
fn multisig_2_of_3_across_two_stations_by_qr_and_usb() {
    let mut a = station("ms-a", 1);
    let mut b = station("ms-b", 1);
    // The third key: a hardware wallet's, which signs nothing here.
    let hw = {
        use bitcoin::secp256k1::{Secp256k1, SecretKey};
        PublicKey::new(
            SecretKey::from_slice(&[33; 32])
                .unwrap()
                .public_key(&Secp256k1::new()),
        )
    };
    let mut vault =
        Vault::multisig("treasury 2-of-3", 2, &[a.key, b.key, hw], Network::Regtest).unwrap();
    let mut chain = Chain::default();
    fund(&mut chain, &mut vault, 3, Amount::from_sat(50_000_000));
    assert_eq!(vault.balance(), Amount::from_sat(150_000_000));
    let psbt = vault
        .payment(
            &[(recipient(0).into_unchecked(), Amount::from_sat(70_000_000))],
            FeeRate::from_sat_per_vb(5).unwrap(),
        )
        .unwrap();
    assert!(psbt
        .inputs
        .iter()
        .all(|i| i.non_witness_utxo.is_some() && i.witness_utxo.is_some()));
    let req = request(&psbt, Purpose::Withdrawal, "2-of-3 withdrawal");
    let from_a = sign(&mut a, &req, Channel::Qr).unwrap();
    // One signature is not enough.
    let mut one = combine(&psbt, std::slice::from_ref(&from_a)).unwrap();
    assert!(vault.finalize(&mut one).is_err());
    let from_b = sign(&mut b, &req, Channel::Usb).unwrap();
    let both = combine(&psbt, &[from_a.clone(), from_b]).unwrap();
    let tx = finish(&chain, &vault, both);
    assert!(tx
        .output
        .iter()
        .any(|o| o.script_pubkey == recipient(0).script_pubkey()
            && o.value == Amount::from_sat(70_000_000)));
    assert!(
        tx.output
            .iter()
            .any(|o| o.script_pubkey == vault.address().script_pubkey()),
        "change back to the vault"
    );

    // A signature from a key the script does not name is refused at combine.
    let mut forged = from_a;
    let (pk, sig) = forged.inputs[0].partial_sigs.pop_first().unwrap();
    let stranger = {
        use bitcoin::secp256k1::{Secp256k1, SecretKey};
        PublicKey::new(
            SecretKey::from_slice(&[44; 32])
                .unwrap()
                .public_key(&Secp256k1::new()),
        )
    };
    forged.inputs[0].partial_sigs.insert(stranger, sig);
    assert!(matches!(
        combine(&psbt, &[forged.clone()]),
        Err(CombineError::ForeignKey { .. })
    ));
    // A signature moved to another input does not verify.
    forged.inputs[0].partial_sigs.clear();
    forged.inputs[1].partial_sigs.clear();
    forged.inputs[1].partial_sigs.insert(pk, sig);
    assert!(matches!(
        combine(&psbt, &[forged]),
        Err(CombineError::BadSignature { .. })
    ));
}

#[test]
fn single_key_vault() {
    let mut s = station("single", 1);
    let mut vault = Vault::single("hot refill", &s.key, Network::Regtest).unwrap();
    let mut chain = Chain::default();
    fund(&mut chain, &mut vault, 2, Amount::from_sat(1_000_000));
    let psbt = vault
        .payment(
            &[(recipient(0).into_unchecked(), Amount::from_sat(1_500_000))],
            FeeRate::from_sat_per_vb(3).unwrap(),
        )
        .unwrap();
    let signed = sign(
        &mut s,
        &request(&psbt, Purpose::Withdrawal, "1-of-1"),
        Channel::Qr,
    )
    .unwrap();
    let all = combine(&psbt, &[signed]).unwrap();
    finish(&chain, &vault, all);
    // A wrong-network address is refused by the builder.
    let main =
        bitcoin::Address::p2wpkh(&bitcoin::CompressedPublicKey(s.key.inner), Network::Bitcoin);
    let e = vault
        .payment(
            &[(main.into_unchecked(), Amount::from_sat(1_000))],
            FeeRate::from_sat_per_vb(3).unwrap(),
        )
        .unwrap_err();
    assert!(e.to_string().contains("not for"), "{e}");
}

#[test]
fn consolidation_of_200_inputs() {
    let mut s = station("consolidate", 1);
    let mut vault = Vault::single("cold", &s.key, Network::Regtest).unwrap();
    let mut chain = Chain::default();
    fund(&mut chain, &mut vault, 200, Amount::from_sat(100_000));
    let psbt = vault
        .consolidate(FeeRate::from_sat_per_vb(2).unwrap())
        .unwrap();
    assert_eq!(psbt.inputs.len(), 200);
    assert_eq!(psbt.unsigned_tx.output.len(), 1);
    let signed = sign(
        &mut s,
        &request(&psbt, Purpose::Consolidation, "consolidation"),
        Channel::Qr,
    )
    .unwrap();
    let tx = finish(&chain, &vault, combine(&psbt, &[signed]).unwrap());
    assert_eq!(tx.input.len(), 200);
}

#[test]
fn batch_of_300_outputs() {
    let mut s = station("batch", 300);
    let mut vault = Vault::single("withdrawals", &s.key, Network::Regtest).unwrap();
    let mut chain = Chain::default();
    fund(&mut chain, &mut vault, 4, Amount::from_sat(20_000_000));
    let recipients: Vec<_> = (0..300)
        .map(|n| {
            (
                recipient(n).into_unchecked(),
                Amount::from_sat(100_000 + u64::from(n)),
            )
        })
        .collect();
    let psbt = vault
        .payment(&recipients, FeeRate::from_sat_per_vb(4).unwrap())
        .unwrap();
    assert_eq!(
        psbt.unsigned_tx.output.len(),
        301,
        "300 payments and change"
    );
    let signed = sign(
        &mut s,
        &request(&psbt, Purpose::Withdrawal, "batch"),
        Channel::Usb,
    )
    .unwrap();
    let tx = finish(&chain, &vault, combine(&psbt, &[signed]).unwrap());
    for n in 0..300 {
        assert!(tx
            .output
            .iter()
            .any(|o| o.script_pubkey == recipient(n).script_pubkey()
                && o.value == Amount::from_sat(100_000 + u64::from(n))));
    }
}

#[test]
fn station_refuses_tampered_psbts() {
    let mut s = station("refuse", 1);
    let mut vault = Vault::single("cold", &s.key, Network::Regtest).unwrap();
    let mut chain = Chain::default();
    fund(&mut chain, &mut vault, 2, Amount::from_sat(1_000_000));
    let psbt = vault
        .payment(
            &[(recipient(0).into_unchecked(), Amount::from_sat(500_000))],
            FeeRate::from_sat_per_vb(3).unwrap(),
        )
        .unwrap();
    let refused = |s: &mut StationRig, p: &bitcoin::psbt::Psbt, id: &str| {
        let req = request(p, Purpose::Withdrawal, id);
        let review = s.station.review(&req, now()).unwrap();
        review.verdict.unwrap_err()
    };
    // Change to a key not in the vault.
    let mut p = psbt.clone();
    let change = p
        .unsigned_tx
        .output
        .iter()
        .position(|o| o.script_pubkey == vault.address().script_pubkey())
        .unwrap();
    p.unsigned_tx.output[change].script_pubkey = recipient(99).script_pubkey();
    let e = refused(&mut s, &p, "foreign change");
    assert!(matches!(e, Refusal::NotAllowListed { .. }), "{e}");
    // Missing previous transaction.
    let mut p = psbt.clone();
    p.inputs[0].non_witness_utxo = None;
    let e = refused(&mut s, &p, "no prev tx");
    assert!(matches!(e, Refusal::MissingPreviousTx { .. }), "{e}");
    // Input amount lie: witness_utxo disagrees with the previous transaction.
    let mut p = psbt.clone();
    if let Some(u) = p.inputs[0].witness_utxo.as_mut() {
        u.value = Amount::from_sat(5_000_000);
    }
    let e = refused(&mut s, &p, "amount lie");
    assert!(matches!(e, Refusal::PrevoutMismatch { .. }), "{e}");
    // A sighash type other than ALL.
    let mut p = psbt.clone();
    p.inputs[0].sighash_type = Some(bitcoin::psbt::PsbtSighashType::from(
        bitcoin::sighash::EcdsaSighashType::SinglePlusAnyoneCanPay,
    ));
    let e = refused(&mut s, &p, "sighash");
    assert!(e.to_string().to_lowercase().contains("sighash"), "{e}");
    // And the honest one is signed.
    sign(
        &mut s,
        &request(&psbt, Purpose::Withdrawal, "honest"),
        Channel::Qr,
    )
    .unwrap();
}
