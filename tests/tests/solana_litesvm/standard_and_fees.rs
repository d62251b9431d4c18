//! A standard `sol-sign-request` end to end, and the station's fee and rent facts
//! against what the runtime charges.

use super::*;

/// A standard `sol-sign-request` (Keystone) for a durable-nonce transfer crosses as QR
/// frames; the station answers with `sol-signature`; the runtime executes it.
#[test]
fn standard_sol_sign_request() {
    use airgap_protocol::registry::{KeyPath, SolSignRequest, SolSignature};
    use signer_station::station::standard::StandardRequest;
    use strongroom_e2e::qr::standard_round_trip;
    let (mut r, hsm) = rig("standard");
    r.provision_nonce(&hsm);
    let bh = r.durable();
    let tx = r
        .builder()
        .sol_transfer(&r.vault, &r.recipient, SOL / 4, &bh, TxOptions::default())
        .unwrap();
    let req = SolSignRequest {
        request_id: Some([9; 16]),
        sign_data: tx.message.clone(),
        derivation_path: KeyPath::none(),
        address: Some(r.vault.to_bytes().to_vec()),
        origin: Some("treasury wallet".into()),
        sign_type: Some(1),
    };
    let (ur_type, cbor) =
        standard_round_trip(&mut r.station, &hsm, "sol-sign-request", &req.to_cbor()).unwrap();
    assert_eq!(ur_type, "sol-signature");
    let sig = SolSignature::from_cbor(&cbor).unwrap();
    assert_eq!(sig.request_id, Some([9; 16]));
    let before = r.node.balance(&r.recipient).unwrap();
    assert!(matches!(
        r.send(&tx, &[(r.vault.to_bytes(), sig.signature)]),
        SolState::Landed { .. }
    ));
    assert_eq!(r.node.balance(&r.recipient).unwrap(), before + SOL / 4);
    // The same request again is a replay.
    let e = r
        .station
        .review_standard(&StandardRequest::Sol(req), now())
        .unwrap()
        .verdict
        .unwrap_err();
    assert!(matches!(e, Refusal::RequestReplayed { .. }), "{e}");
}

/// The fee the station decides on is the fee the runtime charges. Without a compute-unit
/// limit the runtime allots 200,000 units to each instruction of a non-builtin program
/// (memo, SPL Token, the token-account program) and 3,000 to each builtin one (system,
/// compute budget), and the priority fee is price x units; a token account's rent is the
/// rent-exempt minimum of 165 bytes. Each case is signed by the station and executed by
/// LiteSVM, and the vault's balance must fall by exactly what the station's facts say.
#[test]
fn station_fee_and_rent_are_the_runtimes() {
    use solana_instruction::Instruction;
    let (mut r, hsm) = rig("fees");
    r.provision_nonce(&hsm);
    let memo = |text: &str| Instruction {
        program_id: "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr"
            .parse()
            .unwrap(),
        accounts: vec![],
        data: text.as_bytes().to_vec(),
    };
    let priced = TxOptions {
        compute_unit_limit: None,
        compute_unit_price: Some(20_000),
        version: MessageVersion::Legacy,
    };
    // What the station decided the payload costs: its fee, and what leaves the vault.
    let station_view = |r: &mut Rig, tx: &UnsignedSolTx, id: &str| -> (u64, u64) {
        let req = request(tx.payload(NET, &r.vault), id);
        let review = r.station.review(&req, now()).unwrap();
        review.verdict.clone().unwrap();
        let f = review.payloads[0].facts.clone().unwrap();
        let native: u128 = f
            .transfers
            .iter()
            .filter(|t| t.asset == signer_station::station::facts::AssetId::Native)
            .map(|t| t.amount)
            .sum();
        (
            u64::try_from(f.fee).unwrap(),
            u64::try_from(native).unwrap(),
        )
    };

    // A SOL transfer with three memos: 3 x 200,000 + 3 x 3,000 (advance nonce, compute
    // budget, transfer) = 609,000 units x 20,000 micro-lamports = 12,180 lamports.
    let bh = r.durable();
    let ixs = vec![
        memo("invoice 1"),
        memo("invoice 2"),
        memo("invoice 3"),
        coordinator::solana::ix::transfer(&r.vault, &r.recipient, SOL),
    ];
    let tx = r.builder().compile(&r.vault, ixs, &bh, priced).unwrap();
    let (fee, out) = station_view(&mut r, &tx, "memo fee");
    assert_eq!(fee, 5_000 + 12_180);
    let spent = lands(&mut r, &tx, "memo fee", &hsm);
    assert_eq!(
        spent,
        out + fee,
        "the runtime charged what the station computed"
    );

    // An SPL transfer creating the recipient's token account: the vault pays the rent.
    let bh = r.durable();
    let tx = r
        .builder()
        .spl_transfer(&r.vault, &r.mint, 6, &r.recipient, 10 * USDC, &bh, priced)
        .unwrap();
    let (fee, rent) = station_view(&mut r, &tx, "spl fee");
    assert_eq!(
        rent,
        r.node.rent_exempt(165).unwrap(),
        "the station's token-account rent is the runtime's"
    );
    let spent = lands(&mut r, &tx, "spl fee", &hsm);
    assert_eq!(
        spent,
        rent + fee,
        "the runtime charged the fee and the rent the station computed"
    );
}

/// Signs `tx` at the station and sends it; it lands. What the vault spent, lamports.
fn lands(r: &mut Rig, tx: &UnsignedSolTx, id: &str, hsm: &dyn SigningBackend) -> u64 {
    let before = r.node.balance(&r.vault).unwrap();
    let sigs = r.sign(tx, id, hsm).unwrap();
    assert!(matches!(r.send(tx, &sigs), SolState::Landed { .. }));
    before - r.node.balance(&r.vault).unwrap()
}
