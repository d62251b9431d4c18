//! The edges of the EVM cancel rule and of deposit sweeps, as a compromised coordinator
//! probes them: a cancel next to other calls in one request or
//! across transaction types, sweeps re-signed or split over payloads, fees at the share's
//! boundary, deposit keys on other branches or hardened, and networks crossed.

use bitcoin::bip32::{ChildNumber, Xpriv};
use bitcoin::secp256k1::Secp256k1;
use bitcoin::PublicKey;
use signer_station::hsm::SigningBackend;
use signer_station::station::deposits;

use super::sweeps::{
    add_deposits, coin_at, deposit_coin, sweep, sweep_as, sweep_request, with_deposits, Deposit,
};
use super::*;

/// The HSM's deposit account key of `n`, private (to build a hardened child a
/// coordinator could not, to show the station still refuses it).
fn account_xpriv(r: &Rig, n: BitcoinNetwork) -> Xpriv {
    let seed = r.h.hsm.read_opaque(deposits::SEED_OBJECT).unwrap().unwrap();
    let secp = Secp256k1::new();
    Xpriv::new_master(n.to_bitcoin(), &seed)
        .unwrap()
        .derive_priv(&secp, &deposits::account_path(n))
        .unwrap()
}

attacks! {
    // ---- EVM cancel at a signed nonce

    // A cancel and, after it in the same request, a payment at that nonce.
    review_evm_cancel_then_payment_in_one_request => DOUBLE_SPEND; |r| {
        r.send(vec![
            evm(r, "evm:1", &cancel(r, 9, 40_000_000_000)),
            evm(r, "evm:1", &Evm::pay(1, 9, EVM_TO, ETH)),
        ])
    };
    // A payment signed; then one request with a cancel and a second, different payment.
    review_evm_cancel_and_second_payment_after_a_signed_one => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        r.send(vec![
            evm(r, "evm:1", &cancel(r, 7, 40_000_000_000)),
            evm(r, "evm:1", &Evm::pay(1, 7, EVM_INTERNAL, ETH)),
        ])
    };
    // A legacy (EIP-155) cancel signed, then a type-2 payment at the nonce.
    review_evm_legacy_cancel_then_type2_payment => DOUBLE_SPEND; |r| {
        let c = evm_payload(r.evm_address(), "evm:1", 1, super::legacy155(1, 4, &ours_evm(r), 0, vec![]));
        let req = r.request(vec![c]);
        r.sign_ok(&req);
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 4, EVM_TO, ETH))])
    };
    // A payment, a cancel of it, then the payment again with a higher fee.
    review_evm_fee_bump_of_a_cancelled_payment => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let req = r.request(vec![evm(r, "evm:1", &cancel(r, 7, 40_000_000_000))]);
        r.sign_ok(&req);
        let mut again = Evm::pay(1, 7, EVM_TO, ETH);
        again.max_fee = 45_000_000_000;
        r.send(vec![evm(r, "evm:1", &again)])
    };
    // "Cancel" as a contract creation (no recipient, no value, no data).
    review_evm_empty_creation_at_a_signed_nonce => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let mut tx = cancel(r, 7, 40_000_000_000);
        tx.to = None;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // An ERC-20 transfer of 0 to the station at a signed nonce: a call, not a cancel.
    review_evm_zero_token_transfer_to_self_at_a_signed_nonce => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let tx = Evm::call(1, 7, EVM_TOKEN, erc20_transfer(&ours_evm(r), alloy_primitives::U256::ZERO));
        r.send(vec![evm(r, "evm:1", &tx)])
    };

    // ---- Sweeps

    // One deposit coin swept by two payloads of one request (two fees, one coin).
    review_btc_one_deposit_coin_in_two_sweep_payloads => DOUBLE_SPEND; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let a = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        let b = sweep(r, &coins, &[(r.vault_script(0, 2), 96_000, Some((0, 2)))]);
        let req = sweep_as(r, &[(&a, "regtest"), (&b, "regtest")]);
        r.attempt(&req)
    };
    // A sweep signed, then the same coin swept again with a higher fee.
    review_btc_sweep_resigned_with_a_higher_fee => DOUBLE_SPEND; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let a = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        let req = sweep_request(r, &a);
        r.sign_ok(&req);
        let b = sweep(r, &coins, &[(r.vault_script(0, 1), 96_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &b))
    };
    // One satoshi of fee over 5 % of what it collects.
    review_btc_sweep_fee_one_sat_over_its_share => FEE; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 60_000), deposit_coin(r, acct, (1, 9), 40_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 94_999, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // Into the vault, but at a receive index beyond the policy's limit (1,000).
    review_btc_sweep_into_the_vault_beyond_the_index_limit => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1_001), 99_000, Some((0, 1_001)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // A coin of the deposit account's key on branch 2 (not receive, not change).
    review_btc_deposit_key_on_a_third_branch => FOREIGN_INPUT; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (2, 5), 100_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // A coin of the account key itself, one step below it, and three steps below it.
    review_btc_deposit_key_at_other_depths => FOREIGN_INPUT; |r| {
        let acct = with_deposits(r);
        let coins = [
            coin_at(r, REGTEST, acct, &[], 40_000),
            coin_at(r, REGTEST, acct, &[0], 30_000),
            coin_at(r, REGTEST, acct, &[0, 0, 1], 30_000),
        ];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // A coin of a hardened child of the deposit account, its path named hardened.
    review_btc_deposit_key_at_a_hardened_child => FOREIGN_INPUT; |r| {
        let (fp, _) = with_deposits(r);
        let secp = Secp256k1::new();
        let steps = [ChildNumber::from_hardened_idx(0).unwrap(), ChildNumber::from_hardened_idx(3).unwrap()];
        let child = account_xpriv(r, REGTEST).derive_priv(&secp, &steps).unwrap();
        let pk = child.private_key.public_key(&secp);
        let script = ScriptBuf::new_p2wpkh(&PublicKey::new(pk).wpubkey_hash().unwrap());
        let coin = r.coin(script, 100_000);
        let d = Deposit { pk, fp, path: deposits::account_path(REGTEST).extend(steps) };
        let psbt = sweep(r, &[(coin, d)], &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // A vault coin first, then a deposit coin, everything back to the vault.
    review_btc_vault_coin_then_deposit_coin => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let vault = r.vault_coin(6, 100_000);
        let coin = deposit_coin(r, acct, (0, 5), 100_000);
        let mut psbt = r.psbt(&[(&vault, Some((0, 6))), (&coin.0, None)], &[(r.vault_script(1, 2), 199_000, Some((1, 2)))]);
        psbt.inputs[1].bip32_derivation.insert(coin.1.pk, (coin.1.fp, coin.1.path.clone()));
        r.attempt(&sweep_request(r, &psbt))
    };
    // Regtest deposit coins labelled testnet, swept into the station's testnet key.
    review_btc_regtest_deposit_labelled_testnet => NETWORK_MISMATCH; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let other = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let psbt = sweep(r, &coins, &[(other, 99_000, None)]);
        r.attempt(&sweep_as(r, &[(&psbt, "testnet")]))
    };
    // Mainnet deposit coins swept into the regtest vault (another network's vault).
    review_btc_mainnet_deposit_into_the_regtest_vault => DISALLOWED; |r| {
        let main = add_deposits(r, BitcoinNetwork::Mainnet, "deposits-main");
        let coins = [coin_at(r, BitcoinNetwork::Mainnet, main, &[0, 0], 100_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        r.attempt(&sweep_as(r, &[(&psbt, "bitcoin")]))
    };
    // A coin at the mainnet account's path but of the test account key (coin type 1)
    // labelled mainnet: it is proven a test coin, so the label is refused.
    review_btc_test_account_coin_labelled_mainnet => NETWORK_MISMATCH; |r| {
        let acct = with_deposits(r);
        add_deposits(r, BitcoinNetwork::Mainnet, "deposits-main");
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let out = single_of(&r.h.keys, BitcoinNetwork::Mainnet);
        let psbt = sweep(r, &coins, &[(out, 99_000, None)]);
        r.attempt(&sweep_as(r, &[(&psbt, "bitcoin")]))
    };
    // An output paying a deposit address that names a vault path (a lying path).
    review_btc_sweep_output_to_a_deposit_address_naming_a_vault_path => DISALLOWED; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let back = deposit_coin(r, acct, (0, 1), 1).0.output[0].script_pubkey.clone();
        let psbt = sweep(r, &coins, &[(back, 99_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    // A deposit coin asking SIGHASH_NONE (outputs left open).
    review_btc_sweep_with_sighash_none => SIGHASH; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let mut psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        psbt.inputs[0].sighash_type = Some(bitcoin::psbt::PsbtSighashType::from_u32(2));
        r.attempt(&sweep_request(r, &psbt))
    };
    // A sweep of deposit coins (the station sees deposit inputs: it is a sweep) claimed
    // as a consolidation, with the one approval a consolidation needs; the policy asks
    // two for a sweep (its default quorum; consolidation has its own entry of one).
    review_btc_sweep_labelled_consolidation_with_one_approval => APPROVALS; |r| {
        let acct = with_deposits(r);
        assert_eq!(r.station().policy().approvals_for("sweep"), 2);
        assert_eq!(r.station().policy().approvals_for("consolidation"), 1);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 99_000, Some((0, 1)))]);
        let req = r.request_as(vec![btc_payload(&psbt, "regtest")], Purpose::Consolidation, &[10]);
        r.attempt(&req)
    };
    // The witness UTXO inflates the deposit coin's value (the fee share looks smaller).
    review_btc_sweep_with_an_inflated_witness_utxo => PREVOUT_MISMATCH; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 100_000)];
        let mut psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 90_000, Some((0, 1)))]);
        if let Some(w) = psbt.inputs[0].witness_utxo.as_mut() {
            w.value = bitcoin::Amount::from_sat(200_000);
        }
        r.attempt(&sweep_request(r, &psbt))
    };
}

controls! {
    control_review_evm_payment_then_its_cancel_in_one_request; |r| {
        r.send(vec![
            evm(r, "evm:1", &Evm::pay(1, 9, EVM_TO, ETH)),
            evm(r, "evm:1", &cancel(r, 9, 40_000_000_000)),
        ])
    };
    control_review_btc_sweep_fee_exactly_its_share; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 0), 60_000), deposit_coin(r, acct, (1, 9), 40_000)];
        let psbt = sweep(r, &coins, &[(r.vault_script(0, 1), 95_000, Some((0, 1)))]);
        r.attempt(&sweep_request(r, &psbt))
    };
    control_review_btc_sweep_into_the_station_single_key; |r| {
        let acct = with_deposits(r);
        let coins = [deposit_coin(r, acct, (0, 2_147_483_647), 100_000)];
        let psbt = sweep(r, &coins, &[(r.single(REGTEST), 99_000, None)]);
        r.attempt(&sweep_request(r, &psbt))
    };
    control_review_btc_two_sweeps_of_different_coins_in_one_request; |r| {
        let acct = with_deposits(r);
        let a = [deposit_coin(r, acct, (0, 0), 50_000)];
        let b = [deposit_coin(r, acct, (0, 1), 50_000)];
        let pa = sweep(r, &a, &[(r.vault_script(0, 1), 47_500, Some((0, 1)))]);
        let pb = sweep(r, &b, &[(r.vault_script(0, 2), 47_500, Some((0, 2)))]);
        let req = sweep_as(r, &[(&pa, "regtest"), (&pb, "regtest")]);
        r.attempt(&req)
    };
}
