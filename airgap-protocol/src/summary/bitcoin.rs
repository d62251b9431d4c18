//! Bitcoin: PSBT (BIP-174) summaries.

use bitcoin::psbt::Psbt;
use bitcoin::{Address, Network, TxOut};

use super::{Amount, Asset, Recipient, Source, Summary, SummaryError, Warning};
use crate::envelope::Chain;

/// The network named by a payload label.
pub fn network(label: &str) -> Result<Network, SummaryError> {
    crate::network::Network::parse(label)
        .ok()
        .and_then(crate::network::Network::bitcoin)
        .map(|n| n.to_bitcoin())
        .ok_or_else(|| SummaryError::UnknownNetwork(label.to_string()))
}

fn btc(sats: u64) -> Amount {
    Amount {
        base_units: u128::from(sats),
        decimals: Some(8),
        symbol: "BTC".into(),
    }
}

fn malformed(reason: impl ToString) -> SummaryError {
    SummaryError::Malformed {
        chain: "bitcoin",
        reason: reason.to_string(),
    }
}

pub(super) fn summarize(version: u8, bytes: &[u8], label: &str) -> Result<Summary, SummaryError> {
    if version != 0 {
        return Err(SummaryError::Unsupported("summary of PSBT v2"));
    }
    let net = network(label)?;
    let psbt = Psbt::deserialize(bytes).map_err(malformed)?;
    let tx = &psbt.unsigned_tx;
    let mut warnings = Vec::new();
    let mut sources = Vec::new();
    let mut total_in: Option<u64> = Some(0);
    // Scripts spent, each read from a previous transaction whose txid the input names.
    let mut spent = Vec::new();
    for (i, (txin, input)) in tx.input.iter().zip(&psbt.inputs).enumerate() {
        let vout = txin.previous_output.vout as usize;
        let full: Option<&TxOut> = match &input.non_witness_utxo {
            Some(prev) if prev.compute_txid() == txin.previous_output.txid => prev.output.get(vout),
            Some(_) => {
                warnings.push(Warning::PrevoutMismatch { input: i });
                None
            }
            None => {
                warnings.push(Warning::MissingPreviousTx { input: i });
                None
            }
        };
        let prevout = match (full, &input.witness_utxo) {
            (Some(a), Some(b)) if a != b => {
                warnings.push(Warning::PrevoutMismatch { input: i });
                None
            }
            (Some(a), _) => {
                spent.push(a.script_pubkey.clone());
                Some(a.clone())
            }
            (None, Some(b)) => Some(b.clone()),
            (None, None) => {
                warnings.push(Warning::MissingPrevout { input: i });
                None
            }
        };
        total_in = match (&prevout, total_in) {
            (Some(p), Some(t)) => t.checked_add(p.value.to_sat()),
            _ => None,
        };
        sources.push(Source {
            reference: txin.previous_output.to_string(),
            address: prevout
                .as_ref()
                .and_then(|p| Address::from_script(&p.script_pubkey, net).ok())
                .map(|a| a.to_string()),
            amount: prevout.map(|p| btc(p.value.to_sat())),
        });
    }
    let mut recipients = Vec::new();
    let mut total_out: u64 = 0;
    for (i, out) in tx.output.iter().enumerate() {
        total_out = total_out
            .checked_add(out.value.to_sat())
            .ok_or_else(|| malformed("output sum overflows"))?;
        let address = match Address::from_script(&out.script_pubkey, net) {
            Ok(a) => a.to_string(),
            Err(_) => {
                warnings.push(Warning::NonStandardOutput { output: i });
                format!("script {}", out.script_pubkey.to_hex_string())
            }
        };
        recipients.push(Recipient {
            address,
            amount: btc(out.value.to_sat()),
            asset: Asset::Native,
            index: i,
        });
    }
    let (fee, fee_detail) = match total_in {
        Some(i) if i >= total_out => (Some(btc(i - total_out)), "inputs minus outputs".to_string()),
        Some(_) => return Err(malformed("outputs exceed inputs")),
        None => (None, "unknown: previous-output data missing".to_string()),
    };
    let mut details = vec![
        ("txid".to_string(), tx.compute_txid().to_string()),
        ("locktime".to_string(), tx.lock_time.to_string()),
        (
            "replaceable (RBF)".to_string(),
            if tx.is_explicitly_rbf() { "yes" } else { "no" }.to_string(),
        ),
    ];
    // Change, as far as the transaction itself shows it: an output to a script one of
    // its inputs spends (the station knows its own keys; a summary knows only this).
    for (i, out) in tx.output.iter().enumerate() {
        if spent.contains(&out.script_pubkey) {
            details.push((
                format!("output {i}"),
                "back to an address this transaction spends from (change)".into(),
            ));
        }
    }
    Ok(Summary {
        chain: Chain::Bitcoin,
        network: net.to_string(),
        sources,
        recipients,
        fee,
        fee_detail,
        details,
        warnings,
    })
}
