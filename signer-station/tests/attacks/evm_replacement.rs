//! EVM replacements at a signed nonce. The station signs a second transaction at a
//! nonce it signed only as a fee bump of the very same call, or as a cancel: a
//! zero-value transfer with no data to the station's own address, which moves nothing.
//! Anything else at a signed nonce is a second spend of it.

use super::*;

attacks! {
    // "Cancel" that still moves value: one wei back to the station is not nothing, and
    // the value is the attacker's to choose.
    evm_cancel_carrying_value_at_a_signed_nonce => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let mut tx = cancel(r, 7, 40_000_000_000);
        tx.value = 1;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // "Cancel" with call data to the station's own address: a call, not a cancel.
    evm_cancel_with_call_data_at_a_signed_nonce => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let mut tx = cancel(r, 7, 40_000_000_000);
        tx.data = vec![0xa9, 0x05, 0x9c, 0xbb];
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // A zero-value, empty transfer to someone else at a signed nonce: not a cancel.
    evm_empty_transfer_to_another_address_at_a_signed_nonce => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let mut tx = Evm::pay(1, 7, EVM_TO, 0);
        tx.max_fee = 40_000_000_000;
        r.send(vec![evm(r, "evm:1", &tx)])
    };
    // After a cancel, another call at that nonce (a different payment) is refused.
    evm_new_payment_at_a_cancelled_nonce => DOUBLE_SPEND; |r| {
        signed_payment(r, 7);
        let req = r.request(vec![evm(r, "evm:1", &cancel(r, 7, 40_000_000_000))]);
        r.sign_ok(&req);
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 7, EVM_TO, 2 * ETH))])
    };
    // A cancel signed first does not make its nonce free for a payment either.
    evm_payment_at_a_nonce_whose_cancel_was_signed => DOUBLE_SPEND; |r| {
        let req = r.request(vec![evm(r, "evm:1", &cancel(r, 3, 40_000_000_000))]);
        r.sign_ok(&req);
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 3, EVM_TO, ETH))])
    };
    // A speed-up counts once against the day's budget, but the payment it replaces does
    // count: 1.5 ETH (sped up twice) and 1.6 ETH at the next nonce are over 3 ETH a day.
    evm_payment_after_a_sped_up_one_over_the_daily_budget => OVER_DAY_LIMIT; |r| {
        sped_up_twice(r, 7, 3 * ETH / 2);
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 8, EVM_TO, 8 * ETH / 5))])
    };
    // The largest of the transactions at a nonce is what counts: 1.5 ETH, then the same
    // call with a fee of 0.21 ETH, then 1.4 ETH at the next nonce: 1.71 + 1.4 is over
    // 3 ETH a day (with the original's 0.00063 ETH fee counted instead it would not be).
    evm_largest_alternative_at_a_nonce_is_counted => OVER_DAY_LIMIT,
        policy: |p| {
            p.fees[3].max = (ETH / 4).to_string();
            p.fees[3].max_per_mille = 200;
        }; |r| {
        let pay = Evm::pay(1, 7, EVM_TO, 3 * ETH / 2);
        r.sign_ok(&r.request(vec![evm(r, "evm:1", &pay)]));
        let bumped = Evm { max_fee: 10_000_000_000_000, ..pay };
        r.sign_ok(&r.request(vec![evm(r, "evm:1", &bumped)]));
        r.send(vec![evm(r, "evm:1", &Evm::pay(1, 8, EVM_TO, 7 * ETH / 5))])
    };
    // A cancel pays a fee: the fee limit holds for it as for any transaction.
    evm_cancel_over_the_fee_limit => FEE; |r| {
        signed_payment(r, 7);
        r.send(vec![evm(r, "evm:1", &cancel(r, 7, 10_000_000_000_000))])
    };
}

controls! {
    // 1.5 ETH sped up twice (the same call, higher fees) is 1.5 ETH of a 3 ETH day: only
    // one of the three can be mined.
    control_evm_speed_ups_of_one_payment_count_once; |r| {
        sped_up_twice(r, 7, 3 * ETH / 2);
        let mut third = Evm::pay(1, 7, EVM_TO, 3 * ETH / 2);
        third.max_fee = 60_000_000_000;
        r.send(vec![evm(r, "evm:1", &third)])
    };
    control_evm_cancel_of_a_signed_payment; |r| {
        signed_payment(r, 7);
        r.send(vec![evm(r, "evm:1", &cancel(r, 7, 40_000_000_000))])
    };
    control_evm_second_cancel_with_a_higher_fee; |r| {
        signed_payment(r, 7);
        let req = r.request(vec![evm(r, "evm:1", &cancel(r, 7, 40_000_000_000))]);
        r.sign_ok(&req);
        r.send(vec![evm(r, "evm:1", &cancel(r, 7, 50_000_000_000))])
    };
}

/// Signs a payment of `value` at `nonce`, then the same call twice more with higher fees.
fn sped_up_twice(r: &mut Rig, nonce: u64, value: u128) {
    for max_fee in [30_000_000_000, 40_000_000_000, 50_000_000_000] {
        let mut tx = Evm::pay(1, nonce, EVM_TO, value);
        tx.max_fee = max_fee;
        let req = r.request(vec![evm(r, "evm:1", &tx)]);
        r.sign_ok(&req);
    }
}
