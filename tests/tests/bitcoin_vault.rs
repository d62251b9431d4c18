//! Bitcoin end to end: watch-only vaults built by the coordinator (bdk_wallet), PSBTs to
//! MockHsm stations through QR frames and a USB bundle, partial signatures combined,
//! finalised, and every input of every transaction verified by Bitcoin Core's script
//! interpreter; fees equal inputs minus outputs; local standardness checks pass.

mod btc_common;

use airgap_protocol::envelope::Purpose;
use bitcoin::{Amount, FeeRate, Network, PublicKey};
use btc_common::*;
use coordinator::bitcoin::*;
use signer_station::station::Refusal;
use strongroom_e2e::btcchain::Chain;
use strongroom_e2e::requests::register_vault;

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
    for s in [&mut a, &mut b] {
        register_vault(
            &mut s.station,
            "treasury 2-of-3",
            "regtest",
            &vault.descriptor,
        )
        .unwrap();
    }
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

/// The coordinator's PSBTs round-trip unchanged through rust-bitcoin and through PSBT
/// v2 (psbt-v2); a hardware wallet holding the vault's third key receives v2, signs, and
/// answers with a `crypto-psbt` UR over QR frames; its signature combines with a
/// station's and the spend verifies.
#[test]
fn psbt_v2_export_and_a_hardware_wallet_cosigner() {
    use bitcoin::secp256k1::{Secp256k1, SecretKey};
    use coordinator::bitcoin::v2;
    let mut a = station("hw-a", 1);
    let secp = Secp256k1::new();
    let hw_secret =
        bitcoin::PrivateKey::new(SecretKey::from_slice(&[33; 32]).unwrap(), Network::Regtest);
    let hw = hw_secret.public_key(&secp);
    let other = PublicKey::new(SecretKey::from_slice(&[34; 32]).unwrap().public_key(&secp));
    let mut vault = Vault::multisig("with hw", 2, &[a.key, hw, other], Network::Regtest).unwrap();
    register_vault(&mut a.station, "with hw", "regtest", &vault.descriptor).unwrap();
    let mut chain = Chain::default();
    fund(&mut chain, &mut vault, 2, Amount::from_sat(3_000_000));
    let psbt = vault
        .payment(
            &[(recipient(0).into_unchecked(), Amount::from_sat(2_500_000))],
            FeeRate::from_sat_per_vb(6).unwrap(),
        )
        .unwrap();
    // Version 0 bytes round-trip unchanged.
    let v0 = psbt.serialize();
    assert_eq!(
        bitcoin::psbt::Psbt::deserialize(&v0).unwrap().serialize(),
        v0
    );
    // Version 2: psbt-v2 parses what we export, and it converts back unchanged.
    let v2_bytes = v2::serialize_v2(&psbt).unwrap();
    let parsed = v2::parse_v2(&v2_bytes).unwrap();
    assert_eq!(v2::from_v2(&parsed).unwrap(), psbt);
    assert_eq!(v2::deserialize_any(&v2_bytes).unwrap(), psbt);

    // The hardware wallet: reads v2, signs its key, answers v2 in a crypto-psbt UR.
    let mut at_hw = v2::deserialize_any(&v2_bytes).unwrap();
    let mut keys = std::collections::BTreeMap::new();
    keys.insert(hw, hw_secret);
    at_hw.sign(&keys, &secp).unwrap();
    let answer = airgap_protocol::registry::encode_psbt(&v2::serialize_v2(&at_hw).unwrap());
    let (ur_type, cbor, _) = strongroom_e2e::qr::ur_through_qr("crypto-psbt", &answer).unwrap();
    assert_eq!(ur_type, "crypto-psbt");
    let from_hw =
        v2::deserialize_any(&airgap_protocol::registry::decode_psbt(&cbor).unwrap()).unwrap();

    let from_station = sign(
        &mut a,
        &request(&psbt, Purpose::Withdrawal, "with a hardware wallet"),
        Channel::Qr,
    )
    .unwrap();
    let both = combine(&psbt, &[from_hw, from_station]).unwrap();
    finish(&chain, &vault, both);
}
