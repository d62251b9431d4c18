//! Solana attacks of the first suite: clusters, nonce accounts, programs, tokens.

use super::*;

attacks! {
    // A message for the station's mainnet key labelled devnet, to get devnet's limits.
    sol_mainnet_message_labelled_devnet => NETWORK_MISMATCH; |r| {
        let ours = r.sol_key(SolanaCluster::MainnetBeta);
        let m = message(ours, &[transfer(ours, [2; 32], 900 * SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    sol_message_needing_keys_of_two_clusters => NETWORK_MISMATCH; |r| {
        let (dev, main) = (devnet(r), r.sol_key(SolanaCluster::MainnetBeta));
        let m = message(dev, &[transfer(dev, [2; 32], SOL), transfer(main, [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    sol_cluster_the_policy_does_not_allow => NETWORK_NOT_ALLOWED; |r| {
        let ours = r.sol_key(SolanaCluster::Testnet);
        let m = message(ours, &[transfer(ours, [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:testnet", m, None)])
    };
    sol_no_station_key_signs => NOT_OURS; |r| {
        let m = message([66; 32], &[transfer([66; 32], [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    // Token account rent paid to an account the attacker owns.
    sol_token_account_rent_for_an_attacker => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![create_ata(ours, [67; 32], [66; 32], SOL_MINT, TOKEN)], 1);
        r.send(vec![p])
    };
    // Three token accounts' rent (6,117,840 lamports) over a 5,000,000 limit.
    sol_token_account_rent_over_the_limit => OVER_TX_LIMIT,
        policy: |p| p.limits[7].per_transaction = "5000000".into(); |r| {
        let ours = devnet(r);
        let ixs = (0..3u8).map(|i| create_ata(ours, [70 + i; 32], [2; 32], [80 + i; 32], TOKEN)).collect();
        let p = sol(r, ixs, 1);
        r.send(vec![p])
    };
    sol_token_2022_account_creation => DISALLOWED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![create_ata(ours, [67; 32], [2; 32], SOL_MINT, TOKEN_2022)], 1);
        r.send(vec![p])
    };
    // Five memos and a priority fee without a limit: the runtime allots 200,000 compute
    // units to each memo, so the fee is 105,900 lamports, over the 100,000 cap.
    sol_priority_fee_hidden_by_memos => FEE; |r| {
        let ours = devnet(r);
        let mut ixs: Vec<_> = (0..5).map(|i| memo(&format!("invoice {i}"))).collect();
        ixs.push(cu_price(100_000));
        ixs.push(transfer(ours, [2; 32], SOL));
        let p = sol(r, ixs, 1);
        r.send(vec![p])
    };
    sol_nonce_authority_is_not_the_station => FOREIGN_NONCE; |r| {
        let ours = devnet(r);
        let m = message(ours, &[advance_nonce([5; 32], [66; 32]), transfer(ours, [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, Some([5; 32]))])
    };
    sol_nonce_account_swapped => FOREIGN_NONCE; |r| {
        let ours = devnet(r);
        let m = message(ours, &[advance_nonce([5; 32], ours), transfer(ours, [2; 32], SOL)], 1);
        r.send(vec![sol_payload("solana:devnet", m, Some([6; 32]))])
    };
    sol_address_lookup_table => DISALLOWED; |r| {
        let ours = devnet(r);
        let m = with_lookup_table(&message(ours, &[transfer(ours, [2; 32], SOL)], 1));
        r.send(vec![sol_payload("solana:devnet", m, None)])
    };
    sol_unknown_program => DISALLOWED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![unknown_program([66; 32], ours)], 1);
        r.send(vec![p])
    };
    // With unknown programs allowed, the program called is still a destination.
    sol_unknown_program_off_the_allow_list => NOT_ALLOW_LISTED,
        policy: |p| p.allow_unknown_programs = true; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![unknown_program([66; 32], ours)], 1);
        r.send(vec![p])
    };
    sol_unchecked_token_transfer => DISALLOWED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![token_unchecked([[30; 32], [3; 32], ours], 1_000)], 1);
        r.send(vec![p])
    };
    sol_token_delegate_approval => DISALLOWED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![token_approve([[30; 32], [66; 32], ours], 1_000)], 1);
        r.send(vec![p])
    };
    sol_mint_the_policy_does_not_name => UNLISTED_ASSET; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![transfer_checked([30; 32], [31; 32], [3; 32], ours, 1_000, 6)], 1);
        r.send(vec![p])
    };
    sol_transfer_off_the_allow_list => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![transfer(ours, [66; 32], SOL)], 1);
        r.send(vec![p])
    };
    sol_account_created_for_an_attacker => NOT_ALLOW_LISTED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![create_account(ours, [66; 32], SOL)], 1);
        r.send(vec![p])
    };
    sol_nonce_account_emptied => DISALLOWED; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![withdraw_nonce([5; 32], [66; 32], ours, SOL)], 1);
        r.send(vec![p])
    };
    sol_over_the_transaction_limit => OVER_TX_LIMIT; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![transfer(ours, [2; 32], 6 * SOL)], 1);
        r.send(vec![p])
    };
    sol_over_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let ours = devnet(r);
        let req = r.request(vec![sol(r, vec![transfer(ours, [2; 32], 4 * SOL)], 1)]);
        r.sign_ok(&req);
        r.send(vec![sol(r, vec![transfer(ours, [2; 32], 4 * SOL)], 2)])
    };
    sol_durable_nonce_reused => DOUBLE_SPEND; |r| {
        let ours = devnet(r);
        let req = r.request(vec![sol(r, vec![transfer(ours, [2; 32], SOL)], 1)]);
        r.sign_ok(&req);
        r.send(vec![sol(r, vec![transfer(ours, [2; 32], 2 * SOL)], 1)])
    };
    sol_second_review_at_one_nonce_signed_later => DOUBLE_SPEND; |r| {
        let ours = devnet(r);
        let ra = r.request(vec![sol(r, vec![transfer(ours, [2; 32], SOL)], 1)]);
        let rb = r.request(vec![sol(r, vec![transfer(ours, [2; 32], 2 * SOL)], 1)]);
        second_review_signed_later(r, &ra, &rb)
    };
    sol_payment_labelled_consolidation_with_one_approval => APPROVALS; |r| {
        let ours = devnet(r);
        let p = sol(r, vec![transfer(ours, [2; 32], SOL)], 1);
        let req = r.request_as(vec![p], Purpose::Consolidation, &[10]);
        r.attempt(&req)
    };
}
