//! The sweep planner: which deposit addresses to collect, in which batches. Only
//! addresses holding at least the threshold; only coins whose own cost to spend is
//! under the allowed fraction of what they bring; batches of at most `max_inputs`
//! inputs, each of which must pay its whole fee within the same fraction. Pure: the
//! chain data comes in, a plan goes out.

use serde::Serialize;

/// One deposit address and the values of its coins, satoshis.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Address.
    pub address: String,
    /// Its unspent coins.
    pub coins: Vec<u64>,
}

/// The rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SweepRules {
    /// Addresses holding less are left alone, satoshis.
    pub threshold_sat: u64,
    /// The fee may be at most this many thousandths of the amount (default 50: 5 %).
    pub max_fee_per_mille: u64,
    /// Inputs per transaction.
    pub max_inputs: usize,
}

impl Default for SweepRules {
    fn default() -> Self {
        Self {
            threshold_sat: 100_000,
            max_fee_per_mille: 50,
            max_inputs: 100,
        }
    }
}

/// Virtual sizes of a P2WPKH spend into one P2WSH output: per input, the output, and
/// the transaction's own overhead (segwit marker included).
pub const INPUT_VBYTES: u64 = 68;
/// See [`INPUT_VBYTES`].
pub const OUTPUT_VBYTES: u64 = 43;
/// See [`INPUT_VBYTES`].
pub const OVERHEAD_VBYTES: u64 = 11;

/// One sweep transaction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Batch {
    /// Addresses swept.
    pub addresses: Vec<String>,
    /// Coins spent.
    pub inputs: usize,
    /// Total collected, before the fee.
    pub amount_sat: u64,
    /// Estimated fee.
    pub fee_sat: u64,
}

/// The plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Default, utoipa::ToSchema)]
pub struct Plan {
    /// Transactions to build.
    pub batches: Vec<Batch>,
    /// Addresses left alone, each as `[address, reason]`.
    #[schema(value_type = Vec<Vec<String>>)]
    pub skipped: Vec<(String, String)>,
}

fn fits(fee: u64, amount: u64, per_mille: u64) -> bool {
    u128::from(fee) * 1000 <= u128::from(amount) * u128::from(per_mille)
}

/// Plans the sweep at `fee_rate` sat/vB.
pub fn plan(candidates: &[Candidate], fee_rate: u64, rules: SweepRules) -> Plan {
    let mut out = Plan::default();
    let per_input = INPUT_VBYTES.saturating_mul(fee_rate);
    let mut eligible: Vec<(String, Vec<u64>, u64)> = Vec::new();
    for c in candidates {
        let total = c.coins.iter().fold(0u64, |a, v| a.saturating_add(*v));
        if total < rules.threshold_sat {
            out.skipped.push((
                c.address.clone(),
                format!("{total} sat under the threshold of {}", rules.threshold_sat),
            ));
            continue;
        }
        // Coins that cost more than the allowed fraction of themselves stay (dust).
        let coins: Vec<u64> = c
            .coins
            .iter()
            .copied()
            .filter(|v| fits(per_input, *v, rules.max_fee_per_mille))
            .collect();
        let kept = coins.iter().fold(0u64, |a, v| a.saturating_add(*v));
        if coins.is_empty() || kept < rules.threshold_sat {
            out.skipped.push((
                c.address.clone(),
                format!(
                    "spending its coins would cost over {}‰ of them at {fee_rate} sat/vB",
                    rules.max_fee_per_mille
                ),
            ));
            continue;
        }
        eligible.push((c.address.clone(), coins, kept));
    }
    // Largest first, packed into batches under the input cap.
    eligible.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
    let mut current = Batch {
        addresses: vec![],
        inputs: 0,
        amount_sat: 0,
        fee_sat: 0,
    };
    let fee_of = |inputs: usize| {
        (OVERHEAD_VBYTES + OUTPUT_VBYTES)
            .saturating_add(INPUT_VBYTES.saturating_mul(inputs as u64))
            .saturating_mul(fee_rate)
    };
    let close = |b: &mut Batch, out: &mut Plan| {
        if b.inputs == 0 {
            return;
        }
        b.fee_sat = fee_of(b.inputs);
        if fits(b.fee_sat, b.amount_sat, rules.max_fee_per_mille) {
            out.batches.push(b.clone());
        } else {
            for a in &b.addresses {
                out.skipped.push((
                    a.clone(),
                    format!(
                        "its batch would pay over {}‰ in fees",
                        rules.max_fee_per_mille
                    ),
                ));
            }
        }
        *b = Batch {
            addresses: vec![],
            inputs: 0,
            amount_sat: 0,
            fee_sat: 0,
        };
    };
    for (address, coins, kept) in eligible {
        if coins.len() > rules.max_inputs.max(1) {
            out.skipped.push((
                address,
                format!(
                    "{} coins, more than one transaction's {}",
                    coins.len(),
                    rules.max_inputs
                ),
            ));
            continue;
        }
        if current.inputs + coins.len() > rules.max_inputs {
            close(&mut current, &mut out);
        }
        current.addresses.push(address);
        current.inputs += coins.len();
        current.amount_sat = current.amount_sat.saturating_add(kept);
    }
    close(&mut current, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(a: &str, coins: &[u64]) -> Candidate {
        Candidate {
            address: a.into(),
            coins: coins.to_vec(),
        }
    }

    #[test]
    fn table() {
        let rules = SweepRules {
            threshold_sat: 10_000,
            max_fee_per_mille: 50,
            max_inputs: 3,
        };
        // (candidates, fee rate, expected batches as (addresses, inputs, amount), skipped)
        type Case = (
            Vec<Candidate>,
            u64,
            Vec<(Vec<&'static str>, usize, u64)>,
            Vec<&'static str>,
        );
        let cases: Vec<Case> = vec![
            // Under the threshold: left alone.
            (vec![c("a", &[5_000, 4_000])], 1, vec![], vec!["a"]),
            // Over it: one batch.
            (
                vec![c("a", &[200_000])],
                10,
                vec![(vec!["a"], 1, 200_000)],
                vec![],
            ),
            // A dust coin at 100 sat/vB (6,800 sat to spend a 20,000 coin: 34 %) stays,
            // the address's big coin goes.
            (
                vec![c("a", &[20_000, 500_000])],
                100,
                vec![(vec!["a"], 1, 500_000)],
                vec![],
            ),
            // Everything the address has is too costly to move: skipped.
            (vec![c("a", &[12_000])], 13, vec![], vec!["a"]),
            // Batches cut at 3 inputs, largest first.
            (
                vec![
                    c("a", &[100_000, 100_000]),
                    c("b", &[300_000]),
                    c("c", &[150_000, 1_000_000]),
                ],
                5,
                vec![(vec!["c", "b"], 3, 1_450_000), (vec!["a"], 2, 200_000)],
                vec![],
            ),
            // More coins than one transaction may hold: skipped, said so.
            (vec![c("a", &[50_000; 4])], 1, vec![], vec!["a"]),
        ];
        for (i, (cands, rate, want, skipped)) in cases.into_iter().enumerate() {
            let p = plan(&cands, rate, rules);
            let got: Vec<(Vec<&str>, usize, u64)> = p
                .batches
                .iter()
                .map(|b| {
                    (
                        b.addresses.iter().map(String::as_str).collect(),
                        b.inputs,
                        b.amount_sat,
                    )
                })
                .collect();
            assert_eq!(got, want, "case {i}: {p:?}");
            let s: Vec<&str> = p.skipped.iter().map(|(a, _)| a.as_str()).collect();
            assert_eq!(s, skipped, "case {i}: {p:?}");
            for b in &p.batches {
                assert!(
                    b.fee_sat * 1000 <= b.amount_sat * 50,
                    "case {i}: fee within 5 %"
                );
                assert_eq!(
                    b.fee_sat,
                    (OVERHEAD_VBYTES + OUTPUT_VBYTES + INPUT_VBYTES * b.inputs as u64) * rate
                );
            }
        }
    }

    #[test]
    fn a_batch_over_the_fee_fraction_is_not_planned() {
        // Each coin passes alone at 13 sat/vB (884 sat for 20,000), but the batch of one
        // carries the transaction overhead too: 1,586 sat, 7.9 % of 20,000.
        let rules = SweepRules {
            threshold_sat: 10_000,
            max_fee_per_mille: 50,
            max_inputs: 10,
        };
        let p = plan(&[c("a", &[20_000])], 13, rules);
        assert!(p.batches.is_empty(), "{p:?}");
        assert_eq!(p.skipped.len(), 1);
        assert!(p.skipped[0].1.contains("batch"));
    }
}
