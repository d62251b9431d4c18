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
    // A cancel pays a fee: the fee limit holds for it as for any transaction.
    evm_cancel_over_the_fee_limit => FEE; |r| {
        signed_payment(r, 7);
        r.send(vec![evm(r, "evm:1", &cancel(r, 7, 10_000_000_000_000))])
    };
}

controls! {
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
