//! Batched payouts on Solana (many transfers in one message), as a compromised
//! coordinator would use them: one recipient among many that the policy does not allow,
//! and amounts each under the per-transaction limit that are over it together. As
//! controls, full batches to allow-listed recipients sign, and the ledger counts their
//! whole amount against the day's budget.

use signer_station::ledger::Record;

use super::*;

/// `n` SOL transfers of `lamports` each from the station's devnet key to allow-listed
/// #2 and #3 in turn, with `(index, recipient)` swapped in.
fn sol_batch(r: &Rig, n: usize, lamports: u64, odd: Option<(usize, [u8; 32])>) -> Payload {
    let ours = devnet(r);
    let to = |i: usize| match odd {
        Some((at, who)) if at == i => who,
        _ => [2 + (i % 2) as u8; 32],
    };
    let ixs = (0..n).map(|i| transfer(ours, to(i), lamports)).collect();
    sol(r, ixs, 1)
}

/// `n` checked transfers of `amount` of the listed mint from the station's token
/// account to allow-listed token account #3, with `(index, account)` swapped in.
fn token_batch(r: &Rig, n: usize, amount: u64, odd: Option<(usize, [u8; 32])>) -> Payload {
    let ours = devnet(r);
    let ixs = (0..n)
        .map(|i| {
            let dest = match odd {
                Some((at, who)) if at == i => who,
                _ => [3; 32],
            };
            transfer_checked([30; 32], SOL_MINT, dest, ours, amount, 6)
        })
        .collect();
    sol(r, ixs, 1)
}

attacks! {
    // Eighteen allow-listed payments hide a nineteenth to the attacker, mid-batch.
    sol_batch_hiding_one_recipient_off_the_allow_list => NOT_ALLOW_LISTED; |r| {
        let p = sol_batch(r, 19, SOL / 10, Some((9, [66; 32])));
        r.send(vec![p])
    };
    // Six payments of 1 SOL, each under the 5 SOL per transaction, over it together.
    sol_batch_each_under_the_limit_over_it_together => OVER_TX_LIMIT; |r| {
        let p = sol_batch(r, 6, SOL, None);
        r.send(vec![p])
    };
    // A token batch whose fourth transfer goes to the attacker's token account.
    sol_token_batch_to_an_attackers_token_account => NOT_ALLOW_LISTED; |r| {
        let p = token_batch(r, 8, 1_000, Some((3, [66; 32])));
        r.send(vec![p])
    };
    // Eight token transfers of 7,000,000, each under 50,000,000, 56,000,000 together.
    sol_token_batch_over_the_limit_together => OVER_TX_LIMIT; |r| {
        let p = token_batch(r, 8, 7_000_000, None);
        r.send(vec![p])
    };
    // Two batches of 4 SOL in a day (each within 5 SOL per transaction) go over the
    // 8 SOL a day: the first batch counted whole.
    sol_second_batch_over_the_daily_budget => OVER_DAY_LIMIT; |r| {
        let first = r.request(vec![sol_batch(r, 16, SOL / 4, None)]);
        r.sign_ok(&first);
        let ours = devnet(r);
        let again = (0..16).map(|i| transfer(ours, [2 + (i % 2) as u8; 32], SOL / 4 + 1)).collect();
        r.send(vec![sol(r, again, 2)])
    };
}

controls! {
    sol_batch_of_nineteen_allow_listed_recipients; |r| {
        let p = sol_batch(r, 19, SOL / 10, None);
        r.send(vec![p])
    };
    sol_token_batch_of_eight_allow_listed_transfers; |r| {
        let p = token_batch(r, 8, 1_000_000, None);
        r.send(vec![p])
    };
}

/// What the ledger records of a signed batch is its whole amount, the day's budget's
/// measure: 19 x 0.1 SOL, and the fee of its one signature.
#[test]
fn a_signed_batch_is_counted_whole() {
    let mut r = Rig::new("a_signed_batch_is_counted_whole");
    let req = r.request(vec![sol_batch(&r, 19, SOL / 10, None)]);
    r.sign_ok(&req);
    let amounts = r.entries().into_iter().rev().find_map(|e| match e.record {
        Record::Signed { payloads, .. } => Some(payloads[0].amounts.clone()),
        _ => None,
    });
    assert_eq!(
        amounts,
        Some(vec![(
            "native".to_string(),
            (19 * SOL / 10 + 5_000).to_string()
        )])
    );
}
