//! EVM attacks of the first suite: chain ids, calls and tokens, fees, replays.

use super::*;

attacks! {
    // A chain-56 transaction labelled Ethereum, to get Ethereum's limits.
    evm_bsc_transaction_labelled_ethereum => NETWORK_MISMATCH; |r| {
        let tx = Evm::pay(56, 0, EVM_TO, ETH);
        let p = evm_payload(r.evm_address(), "evm:1", 56, tx.bytes());
        r.send(vec![p])
    };
    // 500 ETH on Ethereum labelled Polygon, to get Polygon's limits.
    evm_ethereum_transaction_labelled_polygon => NETWORK_MISMATCH; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, 500 * ETH);
        let p = evm_payload(r.evm_address(), "evm:137", 1, tx.bytes());
        r.send(vec![p])
    };
    evm_request_chain_id_disagrees_with_the_transaction => NETWORK_MISMATCH; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH);
        let p = evm_payload(r.evm_address(), "evm:137", 137, tx.bytes());
        r.send(vec![p])
    };
    // 1.9 ETH as `evm:1`, then 1.9 ETH as `eip155:1`: one network, one 3 ETH budget.
    evm_alias_label_splits_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, 19 * ETH / 10);
        let req = r.request(vec![evm(r, "evm:1", &tx)]);
        r.sign_ok(&req);
        let tx = Evm::pay(1, 1, EVM_TO, 19 * ETH / 10);
        r.send(vec![evm(r, "eip155:1", &tx)])
    };
    evm_unknown_network_label => NETWORK_MISMATCH; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH);
        r.send(vec![evm(r, "ethereum", &tx)])
    };
    evm_pre_eip155_transaction => DISALLOWED; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH);
        let p = evm_payload(r.evm_address(), "evm:1", 1, tx.legacy_without_chain_id());
        r.send(vec![p])
    };
    evm_eip2930_transaction => UNDECODABLE; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH);
        let p = evm_payload(r.evm_address(), "evm:1", 1, tx.eip2930());
        r.send(vec![p])
    };
    evm_signer_is_not_the_station => NOT_OURS; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, ETH);
        let p = evm_payload([0x66; 20], "evm:1", 1, tx.bytes());
        r.send(vec![p])
    };
    evm_undecoded_call_data => DISALLOWED; |r| {
        let tx = Evm::call(1, 0, EVM_OK_CONTRACT, vec![0xde, 0xad, 0xbe, 0xef]);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // With undecoded calls allowed, the contract called is still a destination.
    evm_undecoded_call_to_a_contract_off_the_allow_list => NOT_ALLOW_LISTED,
        policy: |p| p.allow_unknown_calldata = true; |r| {
        let tx = Evm::call(1, 0, EVM_ATTACKER, vec![0xde, 0xad, 0xbe, 0xef]);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_undecoded_call_carrying_value_over_the_limit => OVER_TX_LIMIT,
        policy: |p| p.allow_unknown_calldata = true; |r| {
        let mut tx = Evm::call(1, 0, EVM_OK_CONTRACT, vec![0xde, 0xad, 0xbe, 0xef]);
        tx.value = 5 * ETH / 2;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_unlimited_token_approval => DISALLOWED; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_approve(EVM_TO, U256::MAX));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_token_approval_to_a_spender_off_the_allow_list => NOT_ALLOW_LISTED; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_approve(EVM_ATTACKER, U256::from(1_000u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_token_approval_over_the_limit => OVER_TX_LIMIT; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_approve(EVM_TO, U256::from(1_500_000_000u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_token_transfer_off_the_allow_list => NOT_ALLOW_LISTED; |r| {
        let tx = Evm::call(1, 0, EVM_TOKEN, erc20_transfer(EVM_ATTACKER, U256::from(1_000u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_token_the_policy_does_not_name => UNLISTED_ASSET; |r| {
        let tx = Evm::call(1, 0, EVM_OK_CONTRACT, erc20_transfer(EVM_TO, U256::from(1_000u64)));
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_value_to_a_token_contract_off_the_allow_list => NOT_ALLOW_LISTED; |r| {
        let mut tx = Evm::call(1, 0, EVM_TOKEN, erc20_transfer(EVM_TO, U256::from(1_000u64)));
        tx.value = 1;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_contract_creation => DISALLOWED; |r| {
        let mut tx = Evm::call(1, 0, EVM_TO, vec![0x60, 0x00]);
        tx.to = None;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_fee_over_the_cap => FEE; |r| {
        let mut tx = Evm::pay(1, 0, EVM_TO, ETH);
        tx.max_fee = 1_000_000_000_000;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_over_the_transaction_limit => OVER_TX_LIMIT; |r| {
        let tx = Evm::pay(1, 0, EVM_TO, 5 * ETH / 2);
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    evm_signed_nonce_reused_for_another_call => DOUBLE_SPEND; |r| {
        let req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 7, EVM_TO, ETH))]);
        r.sign_ok(&req);
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 7, EVM_TO, ETH + 1))])
    };
    evm_second_review_at_one_nonce_signed_later => DOUBLE_SPEND; |r| {
        let ra = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH))]);
        let rb = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH / 2))]);
        second_review_signed_later(r, &ra, &rb)
    };
    evm_payment_labelled_consolidation_with_one_approval => APPROVALS; |r| {
        let p = evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH));
        let req = r.request_as(vec![p], Purpose::Consolidation, &[10]);
        r.attempt(&req)
    };
    evm_request_replayed => REQUEST_REPLAYED; |r| {
        let req = r.request(vec![evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH))]);
        r.sign_ok(&req);
        r.attempt(&req)
    };
    evm_payload_replayed_in_a_new_request => PAYLOAD_REPLAYED; |r| {
        let p = evm(r, "evm:1", &Evm::pay(1, 0, EVM_TO, ETH));
        let req = r.request(vec![p.clone()]);
        r.sign_ok(&req);
        let mut again = r.request(vec![p]);
        again.request_id = [9; 16];
        rig_resign(&mut again);
        r.attempt(&again)
    };
}
