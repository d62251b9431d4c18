//! Chain-neutral summaries of payloads, decoded from the payload bytes alone.
//!
//! One decoder serves the station's review screen and the coordinator's console, so
//! both show the same thing. Nothing here trusts the coordinator's display hints for an
//! amount, a decimal count or a token's identity: token metadata comes from the
//! caller's own [`TokenList`]; a hint is shown only as a labelled hint.

pub mod bitcoin;
pub mod evm;
pub mod solana;

use crate::envelope::{Chain, Payload, PayloadBody};

pub use self::evm::{evm_native_symbol, Erc20Call};

/// An amount in base units with the unit it is counted in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// Base units (satoshi, wei, lamports, token base units).
    pub base_units: u128,
    /// Decimals of the display unit, when known.
    pub decimals: Option<u8>,
    /// Display symbol (`BTC`, `ETH`, `SOL`, a token symbol, or the contract).
    pub symbol: String,
}

impl Amount {
    /// `1.5 BTC (150000000 base units)`, or raw units when decimals are unknown.
    pub fn display(&self) -> String {
        match self.decimals {
            Some(_) => format!("{} ({} base units)", self.units(), self.base_units),
            None => format!("{} (decimals unknown)", self.units()),
        }
    }

    /// `1.5 BTC`, or `9 base units of <contract>` when decimals are unknown.
    pub fn units(&self) -> String {
        match self.decimals {
            Some(d) => format!("{} {}", format_units(self.base_units, d), self.symbol),
            None => format!("{} base units of {}", self.base_units, self.symbol),
        }
    }
}

/// Formats base units with `decimals`, without trailing zeros.
pub fn format_units(v: u128, decimals: u8) -> String {
    let d = u32::from(decimals.min(38));
    let scale = 10u128.pow(d);
    let (whole, frac) = (v / scale, v % scale);
    if d == 0 || frac == 0 {
        return whole.to_string();
    }
    let frac = format!("{frac:0width$}", width = d as usize);
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

/// What moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Asset {
    /// The chain's native coin.
    Native,
    /// A token, identified by its contract or mint (in the chain's own format).
    Token {
        /// Contract address or mint.
        contract: String,
        /// True when the caller's token list knows this contract.
        known: bool,
    },
}

/// Where value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// Outpoint, account or address.
    pub reference: String,
    /// Address of the owner, when known.
    pub address: Option<String>,
    /// Amount, when known.
    pub amount: Option<Amount>,
}

/// Where value goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    /// Address in the chain's own format (bech32, EIP-55 hex, base58).
    pub address: String,
    /// Amount.
    pub amount: Amount,
    /// Asset.
    pub asset: Asset,
    /// Output or instruction index, for reference.
    pub index: usize,
}

/// Something a custodian must look at.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Warning {
    /// A Bitcoin input without previous-output data: its amount cannot be known.
    MissingPrevout {
        /// Input index.
        input: usize,
    },
    /// A Bitcoin input without its full previous transaction (segwit v0 fee attack).
    MissingPreviousTx {
        /// Input index.
        input: usize,
    },
    /// The witness UTXO disagrees with the previous transaction.
    PrevoutMismatch {
        /// Input index.
        input: usize,
    },
    /// An output script with no address form.
    NonStandardOutput {
        /// Output index.
        output: usize,
    },
    /// EVM call data that is not a known ERC-20 transfer or approve.
    UnknownCallData {
        /// The 4-byte selector, hex.
        selector: String,
    },
    /// ERC-20 approve of an unlimited allowance.
    UnlimitedApproval {
        /// Spender.
        spender: String,
    },
    /// A token not in the caller's token list: amounts are raw units.
    UnknownToken {
        /// Contract or mint.
        contract: String,
    },
    /// Fee above the threshold fraction of the amount sent.
    HighFee {
        /// Fee / amount, in per mille.
        per_mille: u64,
    },
    /// No native amount is sent (a token transfer, a contract call), and the fee is
    /// above a hundredth of the native coin: no proportion to judge it by.
    FeeWithoutValue {
        /// The fee, as displayed.
        fee: String,
    },
    /// A v0 Solana message whose lookup tables were not supplied.
    UnresolvedLookupTables {
        /// Number of tables.
        tables: usize,
    },
    /// An instruction of a program this decoder does not know.
    UnknownProgram {
        /// Program id.
        program: String,
    },
    /// A token amount of 2^128 base units or more: the amount shown is the largest one
    /// this summary holds, less than the real one.
    AmountTooLarge {
        /// The exact amount, base units.
        exact: String,
    },
    /// A contract creation (no recipient).
    ContractCreation,
    /// The payload's network label disagrees with the bytes.
    NetworkMismatch {
        /// Label.
        label: String,
        /// From the bytes.
        decoded: String,
    },
}

/// A chain-neutral summary.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Chain family.
    pub chain: Chain,
    /// Network, from the bytes where they carry it, else the payload label.
    pub network: String,
    /// Inputs or sources.
    pub sources: Vec<Source>,
    /// Outputs or recipients.
    pub recipients: Vec<Recipient>,
    /// Fee (maximum fee for EVM), when known.
    pub fee: Option<Amount>,
    /// How the fee was computed.
    pub fee_detail: String,
    /// Other facts worth showing (nonce, nonce account, compute budget, locktime ...).
    pub details: Vec<(String, String)>,
    /// Warnings.
    pub warnings: Vec<Warning>,
}

/// A token the caller trusts: its own list, never the coordinator's hints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenInfo {
    /// Chain family.
    pub chain: Chain,
    /// Contract or mint in the chain's own format (EVM: EIP-55 or lower-case hex).
    pub contract: String,
    /// Symbol.
    pub symbol: String,
    /// Decimals.
    pub decimals: u8,
}

/// The caller's token list.
#[derive(Debug, Clone, Default)]
pub struct TokenList(pub Vec<TokenInfo>);

impl TokenList {
    /// Looks a contract up (EVM contracts case-insensitively).
    pub fn find(&self, chain: Chain, contract: &str) -> Option<&TokenInfo> {
        self.0
            .iter()
            .find(|t| t.chain == chain && t.contract.eq_ignore_ascii_case(contract))
    }
}

/// Options for summarising.
#[derive(Debug, Clone)]
pub struct SummaryOptions {
    /// Token list.
    pub tokens: TokenList,
    /// Warn when the fee exceeds this many per mille of the amount sent.
    pub high_fee_per_mille: u64,
}

impl Default for SummaryOptions {
    fn default() -> Self {
        Self {
            tokens: TokenList::default(),
            high_fee_per_mille: 50,
        }
    }
}

/// Why a payload could not be summarised.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SummaryError {
    /// The payload bytes do not decode.
    #[error("{chain} payload does not decode: {reason}")]
    Malformed {
        /// Chain name.
        chain: &'static str,
        /// Why.
        reason: String,
    },
    /// A network label this build does not know.
    #[error("unknown network `{0}`")]
    UnknownNetwork(String),
    /// A format not supported yet.
    #[error("{0} is not supported yet")]
    Unsupported(&'static str),
}

/// Summarises one payload.
pub fn summarize(payload: &Payload, opts: &SummaryOptions) -> Result<Summary, SummaryError> {
    let mut s = match &payload.body {
        PayloadBody::Psbt { version, bytes } => {
            bitcoin::summarize(*version, bytes, &payload.network)?
        }
        PayloadBody::EvmTx { chain_id, tx, .. } => evm::summarize(*chain_id, tx, opts)?,
        PayloadBody::SolanaMessage { message, .. } => {
            solana::summarize(message, &payload.network, opts)?
        }
    };
    if let Some(fee) = &s.fee {
        let sent: u128 = s
            .recipients
            .iter()
            .filter(|r| r.asset == Asset::Native)
            .map(|r| r.amount.base_units)
            .sum();
        if let Some(per_mille) = fee.base_units.saturating_mul(1000).checked_div(sent) {
            if per_mille > u128::from(opts.high_fee_per_mille) {
                s.warnings.push(Warning::HighFee {
                    per_mille: u64::try_from(per_mille).unwrap_or(u64::MAX),
                });
            }
        } else if let Some(d) = fee.decimals {
            // Nothing native to compare with: a fixed bar of 0.01 coin.
            let bar = 10u128.saturating_pow(u32::from(d.saturating_sub(2)));
            if fee.base_units > bar {
                s.warnings
                    .push(Warning::FeeWithoutValue { fee: fee.units() });
            }
        }
    }
    Ok(s)
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingPrevout { input } => {
                write!(f, "input {input}: amount unknown (no previous-output data)")
            }
            Self::MissingPreviousTx { input } => {
                write!(f, "input {input}: previous transaction missing")
            }
            Self::PrevoutMismatch { input } => write!(
                f,
                "input {input}: claimed coin disagrees with its previous transaction"
            ),
            Self::NonStandardOutput { output } => {
                write!(f, "output {output}: script without an address form")
            }
            Self::UnknownCallData { selector } => {
                write!(f, "unknown contract call (selector {selector})")
            }
            Self::UnlimitedApproval { spender } => {
                write!(f, "UNLIMITED token approval to {spender}")
            }
            Self::UnknownToken { contract } => write!(
                f,
                "token {contract} is not in the station's list: amount in raw units"
            ),
            Self::HighFee { per_mille } => write!(f, "fee is {per_mille}‰ of the amount sent"),
            Self::FeeWithoutValue { fee } => {
                write!(f, "fee of up to {fee}, with no native amount sent")
            }
            Self::UnresolvedLookupTables { tables } => write!(
                f,
                "{tables} address lookup table(s) whose contents were not supplied"
            ),
            Self::UnknownProgram { program } => {
                write!(f, "instruction of unknown program {program}")
            }
            Self::AmountTooLarge { exact } => write!(
                f,
                "a token amount of {exact} base units, more than can be shown in units"
            ),
            Self::ContractCreation => write!(f, "contract creation"),
            Self::NetworkMismatch { label, decoded } => {
                write!(f, "labelled {label} but the transaction says {decoded}")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_units() {
        assert_eq!(format_units(150_000_000, 8), "1.5");
        assert_eq!(format_units(1, 18), "0.000000000000000001");
        assert_eq!(format_units(42, 0), "42");
        assert_eq!(
            format_units(u128::MAX, 18),
            "340282366920938463463.374607431768211455"
        );
    }
}
