//! What the digest covers against what is shown.

use super::*;

// ======================================================================================
// What the digest covers against what is shown
// ======================================================================================

#[test]
fn defence_another_request_or_digest_gets_nothing_signed_and_the_approval_binds_the_bytes_shown() {
    let r = request(vec![eth_payment()]);
    let view = |r: &SignRequest| json!({"request": hex::encode(r.to_cbor()), "digest": hex::encode(r.digest())});
    // The approval is over the digest of the very bytes rendered: any change of a field
    // (approvals and coordinator signature aside) is another digest.
    let reviewed = Reviewed::of_view(&view(&r), ID).unwrap();
    assert_eq!(reviewed.digest, r.digest());
    assert_eq!(reviewed.request, r);
    let mut with_approvals = r.clone();
    with_approvals.approve_with(&ed25519_dalek::SigningKey::from_bytes(&[5; 32]));
    with_approvals.coordinator_key = KeyId([9; 8]);
    assert_eq!(with_approvals.digest(), r.digest());
    // Upper-case hex, another id, a digest of another request: refused.
    let mut v = view(&r);
    v["digest"] = json!(hex::encode(r.digest()).to_uppercase());
    assert!(Reviewed::of_view(&v, ID).is_err());
    assert!(Reviewed::of_view(&view(&r), "00112233-4455-6677-8899-aabbccddeef0").is_err());
    assert!(Reviewed::of_view(&view(&r), "not an id").is_err());
    // Non-canonical CBOR (a trailing byte) does not decode.
    let mut cbor = r.to_cbor();
    cbor.push(0);
    assert!(Reviewed::of_cbor(&cbor).is_err());
}

#[test]
fn defence_every_field_the_digest_covers_is_shown() {
    // Each variant is another digest, so another approval; the approver should be able
    // to tell them apart from what is shown.
    let base = request(vec![eth_payment(), sol_payment(FRIEND)]);
    let before = shown_without_digest(&base);
    let mut hidden = Vec::new();
    let mut check = |what: &str, change: &dyn Fn(&mut SignRequest)| {
        let mut r = base.clone();
        change(&mut r);
        assert_ne!(r.digest(), base.digest(), "{what}");
        if shown_without_digest(&r) == before {
            hidden.push(what.to_string());
        }
    };
    check("payload signer (label)", &|r| {
        r.payloads[0].signer = "cold-vault-2".into()
    });
    check("display hints", &|r| {
        r.payloads[0].hints = DisplayHints {
            token_symbol: Some("USDC".into()),
            decimals: Some(6),
            contract: Some(OWNED_CONTRACT.into()),
        }
    });
    check("EVM signer address", &|r| {
        if let PayloadBody::EvmTx { signer, .. } = &mut r.payloads[0].body {
            *signer = [8; 20];
        }
    });
    check("Solana signers list", &|r| {
        if let PayloadBody::SolanaMessage { signers, .. } = &mut r.payloads[1].body {
            signers.push(THIEF);
        }
    });
    check("Solana nonce account", &|r| {
        if let PayloadBody::SolanaMessage { nonce_account, .. } = &mut r.payloads[1].body {
            *nonce_account = Some(THIEF);
        }
    });
    check("created", &|r| r.created = NOW - 3000);
    assert!(
        hidden.is_empty(),
        "digest-covered fields never shown: {hidden:?}"
    );
}

#[test]
fn defence_a_post_dated_request_is_refused() {
    // Valid for one hour, a year from now: the approval given today lets the station
    // sign then. The tool shows only "expires in 525660 min".
    let mut r = request(vec![eth_payment()]);
    r.created = NOW + 365 * 86_400;
    r.expires = r.created + 3600;
    let rendered = Reviewed::of_cbor(&r.to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW);
    let day = &format_utc(r.created)[..10];
    match rendered {
        Err(_) => {}
        Ok(s) => assert!(
            s.contains(day),
            "a request valid only from {day} is shown without that date:\n{s}"
        ),
    }
}

#[test]
fn defence_sources_are_shown_with_the_account_or_address_they_spend() {
    // The summary knows the account a Solana transfer debits and the address a Bitcoin
    // input spends; the tool drops both ("from instruction 0: 1000 SOL").
    // The Solana transfer debits a second signer's account, not the fee payer's.
    let vault2 = [6u8; 32];
    let from_vault2 = sol(sol_message(
        2,
        &[STATION, vault2, FRIEND, SYSTEM],
        &[ix(3, &[1, 2], system_transfer(1_000_000_000_000))],
        false,
    ));
    let r = request(vec![
        from_vault2,
        psbt(100_000, 90_000, &p2wpkh(0x55), None),
    ]);
    let s = shown(&r);
    let mut missing = Vec::new();
    for p in &r.payloads {
        for src in summarize(p, &SummaryOptions::default()).unwrap().sources {
            let a = src.address.expect("the summary names the source");
            if !s.contains(&a) {
                missing.push(a);
            }
        }
    }
    assert!(missing.is_empty(), "sources not shown: {missing:?}\n{s}");
}

#[test]
fn defence_an_evm_contract_call_names_the_contract_called() {
    // `transferOwnership(attacker)` on a contract the station's key owns, no value: the
    // tool shows only "WARNING: unknown contract call (selector f2fde38b)".
    let mut data = hex::decode("f2fde38b").unwrap();
    data.extend(word_addr(ATTACKER));
    let s = shown(&request(vec![evm(1, call(OWNED_CONTRACT, 0, data))]));
    assert!(s.contains("unknown contract call"), "{s}");
    assert!(
        s.contains(OWNED_CONTRACT),
        "the contract called is not shown:\n{s}"
    );
}

#[test]
fn defence_an_evm_contract_call_shows_its_data() {
    let mut data = hex::decode("f2fde38b").unwrap();
    data.extend(word_addr(ATTACKER));
    let s = shown(&request(vec![evm(1, call(OWNED_CONTRACT, 0, data))]));
    let arg = ATTACKER.trim_start_matches("0x").to_lowercase();
    assert!(
        s.to_lowercase().contains(&arg),
        "the call's argument (the new owner {ATTACKER}) is not shown:\n{s}"
    );
}

#[test]
fn attack_solana_account_setup_hides_who_controls_the_account() {
    // Create an account funded by the station and initialise it as a durable nonce
    // whose authority is the attacker; and a second account owned by the attacker's
    // program. Both are named: the authority and the owner program.
    let nonce = [4u8; 32];
    let other = [5u8; 32];
    let evil_authority = [0xaa; 32];
    let evil_program = [0xee; 32];
    let recent = b58_decode("SysvarRecentB1ockHashes11111111111111111111");
    let rent = b58_decode("SysvarRent111111111111111111111111111111111");
    let create = |owner: [u8; 32]| {
        let mut d = 0u32.to_le_bytes().to_vec();
        d.extend(1_447_680u64.to_le_bytes());
        d.extend(80u64.to_le_bytes());
        d.extend(owner);
        d
    };
    let mut init = 6u32.to_le_bytes().to_vec();
    init.extend(evil_authority);
    let m = sol_message(
        3,
        &[STATION, nonce, other, SYSTEM, recent, rent],
        &[
            ix(3, &[0, 1], create(SYSTEM)),
            ix(3, &[1, 4, 5], init),
            ix(3, &[0, 2], create(evil_program)),
        ],
        false,
    );
    let mut r = request(vec![sol(m)]);
    r.purpose = Purpose::KeyRegistration;
    let s = shown(&r);
    assert!(s.contains("initialize nonce account"), "{s}");
    assert!(
        s.contains(&b58(&evil_authority)),
        "the nonce authority is not shown:\n{s}"
    );
    assert!(
        s.contains(&b58(&evil_program)),
        "the program that will own the new account is not shown:\n{s}"
    );
}

#[test]
fn defence_evm_network_comes_from_the_bytes_not_the_label() {
    // Labelled evm:1 but for Polygon: shown as evm:137 in POL. Body chain id and the
    // transaction's disagree: a warning. (The station also refuses both: check_label.)
    let tx = eip1559(
        137,
        TxKind::Call(TO.parse().unwrap()),
        10,
        vec![],
        21_000,
        1,
    );
    let s = shown(&request(vec![evm(137, tx.clone())]));
    assert!(
        s.contains("on evm:137") && s.contains("POL") && !s.contains("ETH"),
        "{s}"
    );
    let s = shown(&request(vec![evm(1, tx)]));
    assert!(
        s.contains("WARNING: labelled chain id 1 but the transaction says chain id 137"),
        "{s}"
    );
    // A legacy transaction without a chain id (replayable everywhere): warned.
    let legacy = TxLegacy {
        chain_id: None,
        nonce: 0,
        gas_price: 1,
        gas_limit: 21_000,
        to: TxKind::Call(TO.parse().unwrap()),
        value: U256::from(1u8),
        input: Default::default(),
    };
    let mut bytes = Vec::new();
    legacy.encode_for_signing(&mut bytes);
    let s = shown(&request(vec![evm(1, bytes)]));
    assert!(s.contains("pre-EIP-155, replayable"), "{s}");
}

#[test]
fn defence_a_label_that_names_no_network_is_refused() {
    // The approver cannot derive a Solana cluster; the label is shown verbatim, any
    // text. (The station refuses such a label — check_label — so nothing is signed with
    // it, but the approver was told "rehearsal, no real funds".)
    let mut p = sol_payment(THIEF);
    p.network = "solana:devnet (rehearsal: no real funds)".into();
    let rendered = Reviewed::of_cbor(&request(vec![p]).to_cbor())
        .unwrap()
        .render(&SummaryOptions::default(), NOW);
    assert!(
        rendered.is_err(),
        "a label naming no network is shown:\n{}",
        rendered.unwrap()
    );
}

#[test]
fn defence_every_warning_the_summary_gives_is_shown() {
    let mut transfer_ownership = hex::decode("f2fde38b").unwrap();
    transfer_ownership.extend(word_addr(ATTACKER));
    let mut approve = hex::decode("095ea7b3").unwrap();
    approve.extend(word_addr(ATTACKER));
    approve.extend(word_u256(U256::MAX));
    let unknown_program = [0x99; 32];
    let payloads = vec![
        evm(1, call(OWNED_CONTRACT, 0, transfer_ownership)),
        evm(1, call(OWNED_CONTRACT, 0, approve)),
        evm(
            1,
            eip1559(1, TxKind::Create, 0, vec![0x60, 0x00], 100_000, 1),
        ),
        evm(5, call(TO, 1, vec![])),
        // 0.0001 ETH with up to 0.0018 ETH of fee.
        evm(1, call(TO, 100_000_000_000_000, vec![])),
        sol(sol_message(
            1,
            &[STATION, unknown_program],
            &[ix(1, &[0], vec![1, 2, 3])],
            false,
        )),
        sol(sol_message(
            1,
            &[STATION, SYSTEM],
            &[ix(1, &[0, 2], system_transfer(5))],
            true,
        )),
        psbt(100_000, 0, &[0x6a, 0x04, 1, 2, 3, 4], None),
    ];
    let r = request(payloads);
    let s = shown(&r);
    let mut n = 0;
    for p in &r.payloads {
        for w in summarize(p, &SummaryOptions::default()).unwrap().warnings {
            n += 1;
            let line = visible(&format!("  WARNING: {w}"));
            assert!(s.contains(&line), "missing `{line}`:\n{s}");
        }
    }
    assert!(n >= 10, "{n} warnings:\n{s}");
}

#[test]
fn attack_a_token_transfer_with_an_enormous_fee_is_not_warned() {
    // One token unit, with a maximum fee of 100 ETH: no native value to compare the fee
    // with, so the bar is a hundredth of the coin.
    let mut data = hex::decode("a9059cbb").unwrap();
    data.extend(word_addr(TO));
    data.extend(word_u256(U256::from(1u8)));
    let tx = eip1559(
        1,
        TxKind::Call(OWNED_CONTRACT.parse().unwrap()),
        0,
        data,
        1_000_000,
        100_000_000_000_000,
    );
    let s = shown(&request(vec![evm(1, tx)]));
    assert!(s.contains("fee at most 100 ETH"), "{s}");
    assert!(
        s.contains("WARNING: fee"),
        "a 100 ETH fee carries no warning:\n{s}"
    );
}
