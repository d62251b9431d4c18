//! EVM: unsigned legacy (EIP-155) and EIP-1559 transactions, native and ERC-20.

use alloy_primitives::{Address, U256};
use alloy_rlp::{Decodable, Header};

use super::{Amount, Asset, Recipient, Summary, SummaryError, SummaryOptions, Warning};
use crate::envelope::Chain;

/// The native coin of well-known chains.
pub fn evm_native_symbol(chain_id: u64) -> &'static str {
    match chain_id {
        1 | 10 | 42161 | 8453 | 11155111 | 17000 => "ETH",
        56 | 97 => "BNB",
        137 | 80002 => "POL",
        43114 => "AVAX",
        _ => "native coin",
    }
}

/// A decoded ERC-20 call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Erc20Call {
    /// `transfer(address,uint256)`.
    Transfer {
        /// Recipient.
        to: Address,
        /// Amount in token base units.
        amount: U256,
    },
    /// `approve(address,uint256)`.
    Approve {
        /// Spender.
        spender: Address,
        /// Allowance in token base units.
        amount: U256,
    },
}

impl Erc20Call {
    /// Decodes call data; `None` when it is not exactly one of the two calls.
    pub fn decode(data: &[u8]) -> Option<Self> {
        if data.len() != 4 + 64 {
            return None;
        }
        let word = |i: usize| &data[4 + 32 * i..4 + 32 * (i + 1)];
        // An address argument must have its upper 12 bytes zero.
        if word(0)[..12].iter().any(|&b| b != 0) {
            return None;
        }
        let addr = Address::from_slice(&word(0)[12..]);
        let amount = U256::from_be_slice(word(1));
        match data[..4] {
            [0xa9, 0x05, 0x9c, 0xbb] => Some(Self::Transfer { to: addr, amount }),
            [0x09, 0x5e, 0xa7, 0xb3] => Some(Self::Approve {
                spender: addr,
                amount,
            }),
            _ => None,
        }
    }
}

/// The fields of an unsigned transaction that matter for review and signing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvmTx {
    /// `legacy` or `EIP-1559 (type 2)`.
    pub kind: &'static str,
    /// Chain id (`None` for pre-EIP-155 legacy).
    pub chain_id: Option<u64>,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Gas price (legacy) or max fee per gas (EIP-1559).
    pub max_fee_per_gas: u128,
    /// Max priority fee per gas (EIP-1559).
    pub max_priority_fee_per_gas: Option<u128>,
    /// Recipient (`None`: contract creation).
    pub to: Option<Address>,
    /// Value in wei.
    pub value: U256,
    /// Call data.
    pub data: Vec<u8>,
    /// Size of the EIP-2930 access list, 0 when empty or legacy.
    pub access_list_bytes: usize,
}

fn malformed(reason: impl ToString) -> SummaryError {
    SummaryError::Malformed {
        chain: "evm",
        reason: reason.to_string(),
    }
}

fn field<T: Decodable>(buf: &mut &[u8], name: &str) -> Result<T, SummaryError> {
    T::decode(buf).map_err(|e| malformed(format!("{name}: {e}")))
}

fn to_field(buf: &mut &[u8]) -> Result<Option<Address>, SummaryError> {
    // An empty string means contract creation.
    if buf.first() == Some(&0x80) {
        *buf = &buf[1..];
        return Ok(None);
    }
    field::<Address>(buf, "to").map(Some)
}

/// Decodes an unsigned EIP-2718 transaction: legacy (6 or 9 fields) or type 2.
pub fn decode_unsigned(tx: &[u8]) -> Result<EvmTx, SummaryError> {
    let (kind, mut body) = match tx.first() {
        Some(0x02) => ("EIP-1559 (type 2)", &tx[1..]),
        Some(&b) if b >= 0xc0 => ("legacy", tx),
        Some(0x01) => return Err(SummaryError::Unsupported("EIP-2930 (type 1) transactions")),
        Some(0x03) => return Err(SummaryError::Unsupported("EIP-4844 (type 3) transactions")),
        Some(0x04) => return Err(SummaryError::Unsupported("EIP-7702 (type 4) transactions")),
        _ => return Err(malformed("not an EIP-2718 transaction")),
    };
    let header = Header::decode(&mut body).map_err(malformed)?;
    if !header.list || header.payload_length != body.len() {
        return Err(malformed("transaction is not exactly one RLP list"));
    }
    let b = &mut body;
    let t = if kind == "legacy" {
        let nonce = field(b, "nonce")?;
        let gas_price: u128 = field(b, "gas price")?;
        let gas_limit = field(b, "gas limit")?;
        let to = to_field(b)?;
        let value = field(b, "value")?;
        let data: alloy_primitives::Bytes = field(b, "data")?;
        // EIP-155 unsigned form appends [chain_id, 0, 0].
        let chain_id = if b.is_empty() {
            None
        } else {
            let id: u64 = field(b, "chain id")?;
            let (r, s): (u8, u8) = (field(b, "r")?, field(b, "s")?);
            if r != 0 || s != 0 {
                return Err(malformed("EIP-155 unsigned form must end in 0, 0"));
            }
            Some(id)
        };
        EvmTx {
            access_list_bytes: 0,
            kind,
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: gas_price,
            max_priority_fee_per_gas: None,
            to,
            value,
            data: data.to_vec(),
        }
    } else {
        let chain_id = field(b, "chain id")?;
        let nonce = field(b, "nonce")?;
        let prio: u128 = field(b, "max priority fee")?;
        let max_fee: u128 = field(b, "max fee")?;
        let gas_limit = field(b, "gas limit")?;
        let to = to_field(b)?;
        let value = field(b, "value")?;
        let data: alloy_primitives::Bytes = field(b, "data")?;
        let access = Header::decode(b).map_err(malformed)?;
        if !access.list || access.payload_length > b.len() {
            return Err(malformed("access list"));
        }
        *b = &b[access.payload_length..];
        EvmTx {
            access_list_bytes: access.payload_length,
            kind,
            chain_id: Some(chain_id),
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: Some(prio),
            to,
            value,
            data: data.to_vec(),
        }
    };
    if !b.is_empty() {
        return Err(malformed("trailing fields"));
    }
    Ok(t)
}

fn u256_to_u128(v: U256) -> Option<u128> {
    u128::try_from(v).ok()
}

pub(super) fn summarize(
    chain_id: u64,
    bytes: &[u8],
    opts: &SummaryOptions,
) -> Result<Summary, SummaryError> {
    let tx = decode_unsigned(bytes)?;
    let mut warnings = Vec::new();
    let decoded_chain = tx.chain_id.unwrap_or(0);
    if tx.chain_id != Some(chain_id) {
        warnings.push(Warning::NetworkMismatch {
            label: format!("chain id {chain_id}"),
            decoded: tx
                .chain_id
                .map_or("no chain id (pre-EIP-155, replayable)".into(), |c| {
                    format!("chain id {c}")
                }),
        });
    }
    let native = evm_native_symbol(decoded_chain).to_string();
    let wei = |v: u128| Amount {
        base_units: v,
        decimals: Some(18),
        symbol: native.clone(),
    };
    let mut recipients = Vec::new();
    let value = u256_to_u128(tx.value).ok_or_else(|| malformed("value above 2^128"))?;
    match tx.to {
        None => warnings.push(Warning::ContractCreation),
        Some(to) => {
            if value > 0 || tx.data.is_empty() {
                recipients.push(Recipient {
                    address: to.to_checksum(None),
                    amount: wei(value),
                    asset: Asset::Native,
                    index: 0,
                });
            }
            if !tx.data.is_empty() {
                let contract = to.to_checksum(None);
                let token = opts.tokens.find(Chain::Evm, &contract);
                let mut too_large = None;
                let mut amount = |v: U256| Amount {
                    base_units: u256_to_u128(v).unwrap_or_else(|| {
                        too_large = Some(v.to_string());
                        u128::MAX
                    }),
                    decimals: token.map(|t| t.decimals),
                    symbol: token.map_or(contract.clone(), |t| t.symbol.clone()),
                };
                match Erc20Call::decode(&tx.data) {
                    Some(call) => {
                        if token.is_none() {
                            warnings.push(Warning::UnknownToken {
                                contract: contract.clone(),
                            });
                        }
                        match call {
                            Erc20Call::Transfer { to, amount: a } => recipients.push(Recipient {
                                address: to.to_checksum(None),
                                amount: amount(a),
                                asset: Asset::Token {
                                    contract,
                                    known: token.is_some(),
                                },
                                index: 0,
                            }),
                            Erc20Call::Approve { spender, amount: a } => {
                                if a >= U256::from(1u8) << 255 {
                                    warnings.push(Warning::UnlimitedApproval {
                                        spender: spender.to_checksum(None),
                                    });
                                }
                                recipients.push(Recipient {
                                    address: format!(
                                        "approve spender {}",
                                        spender.to_checksum(None)
                                    ),
                                    amount: amount(a),
                                    asset: Asset::Token {
                                        contract,
                                        known: token.is_some(),
                                    },
                                    index: 0,
                                });
                            }
                        }
                    }
                    None => warnings.push(Warning::UnknownCallData {
                        selector: tx.data.iter().take(4).map(|b| format!("{b:02x}")).collect(),
                    }),
                }
                if let Some(exact) = too_large {
                    warnings.push(Warning::AmountTooLarge { exact });
                }
            }
        }
    }
    let max_fee = u128::from(tx.gas_limit)
        .checked_mul(tx.max_fee_per_gas)
        .ok_or_else(|| malformed("fee overflows"))?;
    let mut details = vec![
        ("type".to_string(), tx.kind.to_string()),
        ("nonce".to_string(), tx.nonce.to_string()),
        ("gas limit".to_string(), tx.gas_limit.to_string()),
        (
            "max fee per gas (wei)".to_string(),
            tx.max_fee_per_gas.to_string(),
        ),
    ];
    if let (Some(to), false) = (&tx.to, tx.data.is_empty()) {
        // What a call does is in its data: the contract and the data are shown whole
        // (the first 512 bytes, then how many more).
        details.push(("contract called".to_string(), to.to_checksum(None)));
        let shown: String = tx
            .data
            .iter()
            .take(512)
            .map(|b| format!("{b:02x}"))
            .collect();
        let more = tx.data.len().saturating_sub(512);
        details.push((
            "call data".to_string(),
            if more > 0 {
                format!("0x{shown}… ({more} bytes more)")
            } else {
                format!("0x{shown}")
            },
        ));
    }
    if tx.access_list_bytes > 0 {
        details.push((
            "access list".to_string(),
            format!("{} bytes (not decoded)", tx.access_list_bytes),
        ));
    }
    if let Some(p) = tx.max_priority_fee_per_gas {
        details.push(("max priority fee per gas (wei)".to_string(), p.to_string()));
    }
    Ok(Summary {
        chain: Chain::Evm,
        network: tx
            .chain_id
            .map_or("evm (no chain id)".into(), |c| format!("evm:{c}")),
        sources: Vec::new(),
        recipients,
        fee: Some(wei(max_fee)),
        fee_detail: "maximum: gas limit x max fee per gas".into(),
        details,
        warnings,
    })
}
