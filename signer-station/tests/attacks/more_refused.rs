//! Attacks the station refused from the start, chain by chain, then hostile bytes.

use super::*;

attacks! {
    // ---- Bitcoin

    // Single-key coins into the cold vault's change branch (the cold vault is not spent).
    btc_single_key_coins_to_the_cold_vault_change_branch => NOT_ALLOW_LISTED; |r| {
        let coin = r.single_coin(100_000);
        let cold = r.vault_script(1, 3);
        let psbt = r.psbt(&[(&coin, None)], &[(cold, 99_000, Some((1, 3)))]);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };
    // The change proof is buried behind 16 decoy derivations: proof is capped, so the
    // output is a payment.
    btc_change_proof_behind_sixteen_decoy_paths => NOT_ALLOW_LISTED; |r| {
        let coin = r.vault_coin(8, 100_000);
        let change = r.vault_script(1, 4);
        let mut psbt = r.psbt(&[(&coin, Some((0, 8)))], &[(pay(2), 10_000, None), (change, 89_000, None)]);
        // 16 decoy keys that sort before any real key (BTreeMap order is by key bytes:
        // 0x02 prefix; pick decoys whose serialisation is smallest among many).
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let mut decoys: Vec<_> = (1..=200u8)
            .map(|i| bitcoin::secp256k1::SecretKey::from_slice(&[i; 32]).unwrap().public_key(&secp))
            .collect();
        decoys.sort();
        let real = r.derivations(1, 4);
        let min_real = *real.keys().min().unwrap();
        let decoys: Vec<_> = decoys.into_iter().filter(|k| *k < min_real).take(16).collect();
        assert_eq!(decoys.len(), 16, "not enough decoys sorting first");
        let mut map = real.clone();
        for (n, k) in decoys.into_iter().enumerate() {
            let path: bitcoin::bip32::DerivationPath = format!("m/1/{}", 500 + n).parse().unwrap();
            map.insert(k, (bitcoin::bip32::Fingerprint::default(), path));
        }
        psbt.outputs[1].bip32_derivation = map;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_sighash_all_anyone_can_pay => SIGHASH; |r| with_sighash(r, bitcoin::EcdsaSighashType::AllPlusAnyoneCanPay.into());
    btc_sighash_none => SIGHASH; |r| with_sighash(r, bitcoin::EcdsaSighashType::None.into());
    btc_taproot_sighash_default => SIGHASH; |r| with_sighash(r, bitcoin::TapSighashType::Default.into());
    btc_prevout_index_past_the_previous_transaction => PREVOUT_MISMATCH; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.unsigned_tx.input[0].previous_output.vout = 1;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // A previous transaction with two outputs: the vault's and the attacker's; the input
    // names the attacker's.
    btc_input_naming_the_foreign_output_of_a_vault_previous_tx => FOREIGN_INPUT; |r| {
        let mut prev = r.single_coin(100_000);
        prev.output.push(bitcoin::TxOut { value: bitcoin::Amount::from_sat(900_000), script_pubkey: pay(66) });
        let mut psbt = r.psbt(&[(&prev, None)], &[(pay(2), 10_000, None)]);
        psbt.unsigned_tx.input[0].previous_output.vout = 1;
        psbt.inputs[0].witness_utxo = Some(prev.output[1].clone());
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_taproot_output_to_the_attacker => NOT_ALLOW_LISTED; |r| {
        let secp = bitcoin::secp256k1::Secp256k1::new();
        let sk = bitcoin::secp256k1::SecretKey::from_slice(&[66; 32]).unwrap();
        let (x, _) = sk.public_key(&secp).x_only_public_key();
        let tr = ScriptBuf::new_p2tr(&secp, x, None);
        let psbt = single_spend(r, tr, 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_zero_value_op_return => NOT_ALLOW_LISTED; |r| {
        let psbt = single_spend(r, ScriptBuf::new_op_return([1u8; 20]), 0, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_output_sum_overflows => UNDECODABLE; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.unsigned_tx.output[0].value = bitcoin::Amount::from_sat(u64::MAX);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    btc_outputs_exceed_inputs => UNDECODABLE; |r| {
        let mut psbt = single_spend(r, pay(2), 10_000, 1_000);
        psbt.unsigned_tx.output[1].value = bitcoin::Amount::from_sat(95_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // A vault input claiming a hardened-range index (2^31 + 6).
    btc_vault_input_at_a_hardened_index => FOREIGN_INPUT; |r| {
        let coin = r.vault_coin(6, 100_000);
        let mut psbt = r.psbt(&[(&coin, None)], &[(pay(2), 10_000, None)]);
        let mut map = std::collections::BTreeMap::new();
        for c in &r.cosigners {
            let (pk, _) = c.child(0, 6);
            let path = c.path.extend([bitcoin::bip32::ChildNumber::Normal { index: 0 }, bitcoin::bip32::ChildNumber::Hardened { index: 6 }]);
            map.insert(pk, (c.master_fp, path));
        }
        psbt.inputs[0].bip32_derivation = map;
        r.send(vec![btc_payload(&psbt, "regtest")])
    };
    // Internal destination (refill, one approval) that is the station's OWN key of
    // another network: still just internal/external by address, and not on the allow-list.
    btc_payment_to_the_testnet_key_script_with_one_approval => NOT_ALLOW_LISTED; |r| {
        let to = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let psbt = single_spend(r, to, 10_000, 1_000);
        let req = consolidation(r, vec![btc_payload(&psbt, "regtest")]);
        r.attempt(&req)
    };
    // One approval for a request whose second payload pays (refill to internal #4 is
    // fine, but a withdrawal in another payload needs two).
    btc_payment_hidden_in_second_payload_with_one_approval => APPROVALS; |r| {
        let a = single_spend(r, pay(4), 10_000, 1_000);
        let b = single_spend(r, pay(2), 10_000, 1_000);
        let req = r.request_as(vec![btc_payload(&a, "regtest"), btc_payload(&b, "regtest")], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    // Two payloads in one request, each within the per-tx limit, over the daily budget.
    btc_two_payloads_over_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let a = single_spend(r, pay(2), 80_000, 1_000);
        let b = single_spend(r, pay(2), 80_000, 1_000);
        r.send(vec![btc_payload(&a, "regtest"), btc_payload(&b, "regtest")])
    };
    // Label alias `bitcoin:regtest` is the same network for history.
    btc_alias_bitcoin_regtest_splits_the_budget => OVER_DAY_LIMIT; |r| {
        let a = single_spend(r, pay(2), 90_000, 1_000);
        let req = btc(r, &a);
        r.sign_ok(&req);
        let b = single_spend(r, pay(2), 70_000, 1_000);
        r.send(vec![btc_payload(&b, " Bitcoin:RegTest ")])
    };

    // Coins of the station's signet key: the network is not in the policy.
    btc_signet_coin_network_not_allowed => NETWORK_NOT_ALLOWED; |r| {
        let ours = single_of(&r.h.keys, BitcoinNetwork::Signet);
        let coin = r.coin(ours.clone(), 100_000);
        let psbt = r.psbt(&[(&coin, None)], &[(ours, 99_000, None)]);
        let req = consolidation(r, vec![btc_payload(&psbt, "signet")]);
        r.attempt(&req)
    };
    // A testnet coin labelled testnet4 (same address format).
    btc_testnet_coin_labelled_testnet4 => NETWORK_MISMATCH; |r| {
        let ours = single_of(&r.h.keys, BitcoinNetwork::Testnet);
        let coin = r.coin(ours.clone(), 100_000);
        let psbt = r.psbt(&[(&coin, None)], &[(ours, 99_000, None)]);
        r.send(vec![btc_payload(&psbt, "testnet4")])
    };
    // A network allowed without a native limit: nothing moves (fail closed).
    btc_network_without_a_limit => UNLISTED_ASSET,
        policy: |p| p.limits.retain(|l| l.network != "regtest"); |r| {
        let psbt = single_spend(r, pay(2), 10_000, 1_000);
        r.send(vec![btc_payload(&psbt, "regtest")])
    };

    // ---- EVM

    evm_erc20_transfer_with_trailing_data => DISALLOWED; |r| {
        let mut d = erc20_transfer(EVM_TO, U256::from(1_000u64));
        d.push(0);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_transfer_from_the_station_to_the_attacker => DISALLOWED; |r| {
        let ours = ours_evm(r);
        let d = selector_call([0x23, 0xb8, 0x72, 0xdd], &[addr_word(&ours), addr_word(EVM_ATTACKER), u256_word(U256::from(1u64))]);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_increase_allowance_to_the_attacker_on_an_unlisted_contract => NOT_ALLOW_LISTED,
        policy: |p| p.allow_unknown_calldata = true; |r| {
        let d = selector_call([0x39, 0x50, 0x93, 0x51], &[addr_word(EVM_ATTACKER), u256_word(U256::MAX)]);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // An approve whose address word has dirty upper bytes is not decoded as approve.
    evm_approve_with_dirty_address_word => DISALLOWED; |r| {
        let mut w = addr_word(EVM_TO);
        w[0] = 1;
        let d = selector_call([0x09, 0x5e, 0xa7, 0xb3], &[w, u256_word(U256::MAX)]);
        let tx = Evm::call(1, 0, EVM_TOKEN, d);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // An approval just below the "unlimited" line (2^255 - 1): an amount over u128 is
    // saturated and over the limit.
    evm_huge_but_not_unlimited_approval => OVER_TX_LIMIT; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_approve(EVM_TO, (U256::from(1u64) << 255) - U256::from(1u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // Call data on a plain payment to the station's own address (undecoded).
    evm_self_call_with_undecoded_data => DISALLOWED; |r| {
        let ours = ours_evm(r);
        let tx = Evm::call(1, 0, &ours, vec![0xde, 0xad, 0xbe, 0xef]);
        let req = consolidation(r, vec![evm(r, "evm:1", &tx)]);
        r.attempt(&req)
    };
    // Self "transfer" selector, but value to the contract.
    evm_self_transfer_selector_with_value_to_the_contract => NOT_ALLOW_LISTED; |r| {
        let ours = ours_evm(r);
        let mut tx = Evm::call(1, 0, EVM_ATTACKER, erc20_transfer(&ours, U256::from(1u64)));
        tx.value = 1;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_legacy_eip155_chain_zero => NETWORK_NOT_ALLOWED; |r| {
        let p = evm_payload(r.evm_address(), "evm:0", 0, legacy155(0, 0, EVM_TO, ETH, vec![]));
        r.send(vec![p])
    };
    evm_legacy_eip155_bsc_labelled_ethereum => NETWORK_MISMATCH; |r| {
        let p = evm_payload(r.evm_address(), "evm:1", 56, legacy155(56, 0, EVM_TO, ETH, vec![]));
        r.send(vec![p])
    };
    evm_legacy_eip155_with_nonzero_r => UNDECODABLE; |r| {
        let mut b = legacy155(1, 0, EVM_TO, ETH, vec![]);
        // The last field (s = 0x80) becomes 0x01.
        let n = b.len();
        b[n - 1] = 0x01;
        let p = evm_payload(r.evm_address(), "evm:1", 1, b);
        r.send(vec![p])
    };
    evm_chain_id_u64_max => NETWORK_NOT_ALLOWED; |r| {
        let b = eip1559_raw(u64::MAX, EVM_TO, U256::from(1u64), 21_000, 1);
        let p = evm_payload(r.evm_address(), &format!("eip155:{}", u64::MAX), u64::MAX, b);
        r.send(vec![p])
    };
    evm_value_above_u128 => UNDECODABLE; |r| {
        let b = eip1559_raw(1, EVM_TO, U256::from(1u64) << 130, 21_000, 1);
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, b)])
    };
    evm_fee_overflows => UNDECODABLE; |r| {
        let b = eip1559_raw(1, EVM_TO, U256::from(1u64), u64::MAX, u128::MAX);
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, b)])
    };
    // A refill of the internal address (one approval) with an allow-listed token
    // withdrawal in a second payload: the strictest class needs two approvals.
    evm_refill_hides_a_withdrawal_in_a_second_payload => APPROVALS; |r| {
        let p1 = evm(r, "evm:1", &Evm::pay(1, 0, EVM_INTERNAL, ETH / 10));
        let p2 = evm(r, "evm:1", &Evm::call(1, 1, EVM_TOKEN, erc20_transfer(EVM_TO, U256::from(1u64))));
        let req = r.request_as(vec![p1, p2], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    // Two payloads at one nonce: a payment and its "fee bump" that changes the call.
    evm_two_payloads_one_nonce_different_calls => DOUBLE_SPEND; |r| {
        let p1 = evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH / 10));
        let p2 = evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH / 5));
        r.send(vec![p1, p2])
    };
    // A legacy and a typed transaction at one nonce with the same call: one of them at
    // most is mined, so they count once (the larger), and the next nonce's payment on
    // top of that is over the 3 ETH a day.
    evm_same_call_two_types_then_the_next_nonce => OVER_DAY_LIMIT; |r| {
        let tx = Evm::pay(1, 3, EVM_TO, 16 * ETH / 10);
        let req = r.request(vec![evm(r, "evm:1", &tx)]);
        r.sign_ok(&req);
        let b = legacy155(1, 3, EVM_TO, 16 * ETH / 10, vec![]);
        let req = r.request(vec![evm_payload(r.evm_address(), "evm:1", 1, b)]);
        r.sign_ok(&req);
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 4, EVM_TO, 3 * ETH / 2))])
    };

    // ---- Solana

    sol_two_advance_nonce_instructions => DISALLOWED; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![advance_nonce([6; 32], ours), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_advance_nonce_not_first => DISALLOWED; |r| {
        let ours = devnet(r);
        let m = message(ours, &[transfer(ours, [2; 32], SOL), advance_nonce([5; 32], ours)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // Advance nonce with a trailing byte: the runtime still treats it as a durable-nonce
    // transaction (bincode allows trailing bytes); the station refuses it.
    sol_advance_nonce_with_trailing_byte => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut adv = advance_nonce([5; 32], ours);
        adv.data.push(0);
        let m = message(ours, &[adv, transfer(ours, [66; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    sol_request_heap_frame => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = vec![1];
        d.extend_from_slice(&(256u32 * 1024).to_le_bytes());
        r.send(vec![sol(r, vec![compute_budget_raw(d), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_loaded_accounts_data_size_limit => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = vec![4];
        d.extend_from_slice(&1u32.to_le_bytes());
        r.send(vec![sol(r, vec![compute_budget_raw(d), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_two_compute_unit_prices => DISALLOWED; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![cu_price(1), cu_price(1), transfer(ours, [2; 32], SOL)], 1)])
    };
    // A limit of 1.4M units at a price that makes the priority fee 1.4 SOL.
    sol_huge_priority_fee => FEE; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![cu_limit(u32::MAX), cu_price(1_000_000_000), transfer(ours, [2; 32], SOL)], 1)])
    };
    sol_create_account_with_seed => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 3u32.to_le_bytes().to_vec();
        d.extend_from_slice(&ours);
        d.extend_from_slice(&1u64.to_le_bytes());
        d.extend_from_slice(b"a");
        d.extend_from_slice(&[0; 7]);
        d.extend_from_slice(&SOL.to_le_bytes());
        d.extend_from_slice(&0u64.to_le_bytes());
        d.extend_from_slice(&[0; 32]);
        let ix = system_raw(vec![solana_instruction::AccountMeta::new(sa(ours), true), solana_instruction::AccountMeta::new(sa([66; 32]), false)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_transfer_with_seed => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 11u32.to_le_bytes().to_vec();
        d.extend_from_slice(&SOL.to_le_bytes());
        d.extend_from_slice(&1u64.to_le_bytes());
        d.extend_from_slice(b"a");
        d.extend_from_slice(&[0; 32]);
        let ix = system_raw(vec![
            solana_instruction::AccountMeta::new(sa([70; 32]), false),
            solana_instruction::AccountMeta::new_readonly(sa(ours), true),
            solana_instruction::AccountMeta::new(sa([66; 32]), false)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_assign_station_account => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 1u32.to_le_bytes().to_vec();
        d.extend_from_slice(&[66; 32]);
        let ix = system_raw(vec![solana_instruction::AccountMeta::new(sa(ours), true)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_authorize_nonce_to_attacker => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut d = 7u32.to_le_bytes().to_vec();
        d.extend_from_slice(&[66; 32]);
        let ix = system_raw(vec![
            solana_instruction::AccountMeta::new(sa([5; 32]), false),
            solana_instruction::AccountMeta::new_readonly(sa(ours), true)], d);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    // A system transfer with a 13th byte: the runtime's bincode still reads a transfer.
    sol_transfer_with_trailing_byte => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut ix = transfer(ours, [66; 32], SOL);
        ix.data.push(0);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    // Another signer pays the attacker: counted as outflow (conservative).
    sol_transfer_from_another_signer => NOT_ALLOW_LISTED; |r| {
        r.send(vec![sol(r, vec![transfer([66; 32], [67; 32], 1)], 1)])
    };
    // A token transfer to the station's own wallet address is not "own" (it is a token
    // account address that is not registered).
    sol_token_transfer_to_station_wallet_address => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        r.send(vec![sol(r, vec![transfer_checked([30; 32], SOL_MINT, ours, ours, 1_000, 6)], 1)])
    };
    sol_token_close_account_to_attacker => DISALLOWED; |r| {
        let ours = devnet(r);
        let ix = solana_instruction::Instruction {
            program_id: program(TOKEN),
            accounts: vec![
                solana_instruction::AccountMeta::new(sa([30; 32]), false),
                solana_instruction::AccountMeta::new(sa([66; 32]), false),
                solana_instruction::AccountMeta::new_readonly(sa(ours), true)],
            data: vec![9],
        };
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_token_2022_transfer_checked_of_an_unlisted_mint => UNLISTED_ASSET; |r| {
        let ours = devnet(r);
        let mut ix = transfer_checked([30; 32], [31; 32], [3; 32], ours, 1_000, 6);
        ix.program_id = program(TOKEN_2022);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_ata_recover_nested => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut ix = create_ata(ours, [67; 32], [2; 32], SOL_MINT, TOKEN);
        ix.data = vec![2];
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_ata_create_without_token_program_account => DISALLOWED; |r| {
        let ours = devnet(r);
        let mut ix = create_ata(ours, [67; 32], [2; 32], SOL_MINT, TOKEN);
        ix.accounts.truncate(5);
        r.send(vec![sol(r, vec![ix], 1)])
    };
    sol_ed25519_precompile => DISALLOWED; |r| {
        with_precompile(r, vec![200, 0])
    };
    // With unknown programs allowed and the precompile not allow-listed.
    sol_ed25519_precompile_programs_allowed => NOT_ALLOW_LISTED,
        policy: |p| p.allow_unknown_programs = true; |r| {
        with_precompile(r, vec![1, 0])
    };
    // The instruction names an account index past the static keys (no lookup table).
    sol_account_index_out_of_range => UNDECODABLE; |r| {
        let ours = devnet(r);
        let m = raw_message([1, 0, 1], &[ours, [2; 32], SYSTEM], 1, &[(2, vec![0, 9], sys_transfer_data(SOL))]);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // A v0 message with an empty lookup-table section naming a lookup account index.
    sol_v0_lookup_index_without_tables => UNDECODABLE; |r| {
        let ours = devnet(r);
        let mut m = vec![0x80];
        m.extend(raw_message([1, 0, 1], &[ours, SYSTEM], 1, &[(1, vec![0, 2], sys_transfer_data(SOL))]));
        m.push(0);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // The station key twice in the key list (once as signer): an off-list transfer "to"
    // the second copy would be own.
    sol_duplicate_station_key_as_destination => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        let m = raw_message([1, 0, 1], &[ours, [66; 32], ours, SYSTEM], 1,
            &[(3, vec![0, 1], sys_transfer_data(SOL))]);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // The nonce account named in the request but the message uses a recent blockhash.
    sol_claimed_nonce_without_advance => FOREIGN_NONCE; |r| {
        let ours = devnet(r);
        let m = message(ours, &[transfer(ours, [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, Some([5; 32]))])
    };
    // A mainnet message labelled with the `solana:mainnet` alias is mainnet's; mainnet
    // limits apply and the attacker is still off the list.
    sol_mainnet_alias_off_list => NOT_ALLOW_LISTED; |r| {
        let ours = r.sol_key(SolanaCluster::MainnetBeta);
        let m = message(ours, &[transfer(ours, [66; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:mainnet", m, None)])
    };
    // Two payloads in one request advancing one nonce with different messages.
    sol_two_payloads_one_nonce => DOUBLE_SPEND; |r| {
        let ours = devnet(r);
        let a = sol(r, vec![transfer(ours, [2; 32], SOL)], 1);
        let b = sol(r, vec![transfer(ours, [2; 32], 2 * SOL)], 1);
        r.send(vec![a, b])
    };
    // Create-account funding of an internal address (refill, 1 approval) plus a payment
    // to an allow-listed external one in the same message: two approvals needed.
    sol_internal_funding_hides_external_payment => APPROVALS; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![create_account(ours, [4; 32], SOL), transfer(ours, [2; 32], SOL)], 1);
        let req = r.request_as(vec![p], Purpose::Refill, &[10]);
        r.attempt(&req)
    };
    sol_not_a_station_signer_only_a_readonly_key => NOT_OURS; |r| {
        let ours = devnet(r);
        let m = raw_message([1, 0, 2], &[[66; 32], ours, SYSTEM], 1, &[(2, vec![1, 0], sys_transfer_data(SOL))]);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };

    // ---- hostile encodings

    hostile_psbt_bytes => UNDECODABLE; |r| {
        let p = Payload { network: "regtest".into(), signer: "x".into(),
            body: PayloadBody::Psbt { version: 0, bytes: b"psbt\xff\x01\x00\x00\x00".to_vec() },
            hints: DisplayHints::default() };
        r.send(vec![p])
    };
    hostile_evm_bytes => UNDECODABLE; |r| {
        r.send(vec![evm_payload(r.evm_address(), "evm:1", 1, vec![0x02, 0xff, 0xff])])
    };
    hostile_solana_bytes => UNDECODABLE; |r| {
        r.send(vec![sol_payload("solana:devnet", vec![0x80, 1, 0, 0, 0xff, 0xff, 0x03], None)])
    };
}

/// An Ed25519 signature-verify precompile call with `data`, before a plain transfer.
fn with_precompile(r: &mut Rig, data: Vec<u8>) -> Attempt {
    let ours = devnet(r);
    let ix = solana_instruction::Instruction {
        program_id: program("Ed25519SigVerify111111111111111111111111111"),
        accounts: vec![],
        data,
    };
    r.send(vec![sol(r, vec![ix, transfer(ours, [2; 32], SOL)], 1)])
}
