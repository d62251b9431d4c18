//! Building unsigned transactions.

use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{Address, TxKind, U256};
use serde::{Deserialize, Serialize};

use super::{ChainConfig, EvmRpc};
use crate::rpc::RpcError;

/// What is moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Asset {
    /// The chain's native coin.
    Native,
    /// A configured token, by symbol.
    Token(String),
}

/// A transfer to build.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    /// Sender: the vault address.
    pub from: Address,
    /// Recipient.
    pub to: Address,
    /// Asset.
    pub asset: Asset,
    /// Amount in base units (wei or token units).
    pub amount: U256,
}

/// Transaction type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxKindChoice {
    /// EIP-1559 (type 2).
    Eip1559,
    /// Legacy with EIP-155 replay protection.
    Legacy,
}

/// Fees chosen for a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Fees {
    /// EIP-1559 fees, wei per gas.
    Eip1559 {
        /// Max fee.
        max_fee_per_gas: u128,
        /// Priority fee.
        max_priority_fee_per_gas: u128,
    },
    /// Legacy gas price, wei per gas.
    Legacy {
        /// Gas price.
        gas_price: u128,
    },
}

/// An unsigned transaction as exported to the station.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsignedEvmTx {
    /// Chain id.
    pub chain_id: u64,
    /// Sender.
    pub from: Address,
    /// Nonce.
    pub nonce: u64,
    /// Gas limit.
    pub gas_limit: u64,
    /// Fees.
    pub fees: Fees,
    /// Destination of the call (recipient, or the token contract).
    pub to: Address,
    /// Value sent, wei.
    pub value: U256,
    /// Call data.
    pub input: Vec<u8>,
    /// The EIP-2718 signing payload (what the station hashes and signs).
    pub unsigned: Vec<u8>,
}

impl UnsignedEvmTx {
    /// The most this transaction can cost in fees, wei.
    pub fn max_fee_wei(&self) -> u128 {
        self.fee_per_gas()
            .saturating_mul(u128::from(self.gas_limit))
    }

    /// The most it pays per gas (max fee, or gas price), wei.
    pub fn fee_per_gas(&self) -> u128 {
        match self.fees {
            Fees::Eip1559 {
                max_fee_per_gas, ..
            } => max_fee_per_gas,
            Fees::Legacy { gas_price } => gas_price,
        }
    }
}

/// ERC-20 `transfer(to, amount)` call data.
pub fn erc20_transfer_data(to: Address, amount: U256) -> Vec<u8> {
    let mut d = vec![0xa9, 0x05, 0x9c, 0xbb];
    d.extend_from_slice(&[0; 12]);
    d.extend_from_slice(to.as_slice());
    d.extend_from_slice(&amount.to_be_bytes::<32>());
    d
}

/// Why a transaction was not built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The node could not be asked.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The node serves another chain than configured.
    #[error("the node serves chain id {found}, configured {expected}")]
    WrongChain {
        /// Configured.
        expected: u64,
        /// Reported.
        found: u64,
    },
    /// Not a configured token.
    #[error("token {0} is not configured for this chain")]
    UnknownToken(String),
    /// Fees above what operators allow.
    #[error("network fee {needed} wei/gas is above the operator cap {cap} wei/gas")]
    FeeAboveCap {
        /// What the network needs now.
        needed: u128,
        /// The cap.
        cap: u128,
    },
    /// A zero amount or a transfer to the zero address.
    #[error("{0}")]
    Invalid(String),
}

/// Builds transactions for one chain.
#[derive(Debug)]
pub struct Builder<'a> {
    /// Chain configuration.
    pub config: &'a ChainConfig,
    /// Node.
    pub node: &'a EvmRpc,
}

impl Builder<'_> {
    /// Checks the node serves the configured chain.
    pub fn check_chain(&self) -> Result<(), BuildError> {
        let found = self.node.chain_id()?;
        if found != self.config.chain_id {
            return Err(BuildError::WrongChain {
                expected: self.config.chain_id,
                found,
            });
        }
        Ok(())
    }

    /// Fees for a new transaction now, within the operator caps.
    pub fn fees(&self, kind: TxKindChoice) -> Result<Fees, BuildError> {
        let c = self.config;
        match kind {
            TxKindChoice::Legacy => {
                let price: u128 = self.node.gas_price()?.saturating_to();
                if price > c.max_fee_per_gas_cap {
                    return Err(BuildError::FeeAboveCap {
                        needed: price,
                        cap: c.max_fee_per_gas_cap,
                    });
                }
                Ok(Fees::Legacy { gas_price: price })
            }
            TxKindChoice::Eip1559 => {
                let h = self.node.fee_history(5)?;
                let next_base: u128 = h
                    .base_fee_per_gas
                    .last()
                    .map(|b| b.saturating_to())
                    .unwrap_or(0);
                let mut rewards: Vec<u128> = h
                    .reward
                    .unwrap_or_default()
                    .iter()
                    .filter_map(|r| r.first().map(|x| x.saturating_to()))
                    .collect();
                rewards.sort_unstable();
                let median = rewards.get(rewards.len() / 2).copied().unwrap_or(0);
                let priority = median.max(c.min_priority_fee);
                if priority > c.max_priority_fee_cap {
                    return Err(BuildError::FeeAboveCap {
                        needed: priority,
                        cap: c.max_priority_fee_cap,
                    });
                }
                // Room for the base fee to double; never more than the cap, and never a
                // cap below what the next block needs.
                let needed = next_base.saturating_add(priority);
                if needed > c.max_fee_per_gas_cap {
                    return Err(BuildError::FeeAboveCap {
                        needed,
                        cap: c.max_fee_per_gas_cap,
                    });
                }
                let max_fee = next_base
                    .saturating_mul(2)
                    .saturating_add(priority)
                    .min(c.max_fee_per_gas_cap);
                Ok(Fees::Eip1559 {
                    max_fee_per_gas: max_fee,
                    max_priority_fee_per_gas: priority,
                })
            }
        }
    }

    /// The call a transfer makes: (to, value, data).
    pub fn call_of(&self, t: &Transfer) -> Result<(Address, U256, Vec<u8>), BuildError> {
        if t.to == Address::ZERO {
            return Err(BuildError::Invalid("transfer to the zero address".into()));
        }
        if t.amount.is_zero() {
            return Err(BuildError::Invalid("zero amount".into()));
        }
        match &t.asset {
            Asset::Native => Ok((t.to, t.amount, Vec::new())),
            Asset::Token(sym) => {
                let token = self
                    .config
                    .token(sym)
                    .ok_or_else(|| BuildError::UnknownToken(sym.clone()))?;
                Ok((
                    token.contract,
                    U256::ZERO,
                    erc20_transfer_data(t.to, t.amount),
                ))
            }
        }
    }

    /// Builds `t` with `nonce` (from the [`super::NonceBook`]) and the given fees.
    pub fn build_with(
        &self,
        t: &Transfer,
        nonce: u64,
        fees: Fees,
    ) -> Result<UnsignedEvmTx, BuildError> {
        let (to, value, input) = self.call_of(t)?;
        let estimate = self.node.estimate_gas(t.from, to, value, &input)?;
        // A plain transfer to an account costs exactly 21,000; calls get a margin.
        let gas_limit = if input.is_empty() && estimate == 21_000 {
            estimate
        } else {
            estimate.saturating_mul(100 + self.config.gas_margin_percent) / 100
        };
        Ok(self.assemble(t.from, to, value, input, nonce, gas_limit, fees))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        &self,
        from: Address,
        to: Address,
        value: U256,
        input: Vec<u8>,
        nonce: u64,
        gas_limit: u64,
        fees: Fees,
    ) -> UnsignedEvmTx {
        let chain_id = self.config.chain_id;
        let mut unsigned = Vec::new();
        match fees {
            Fees::Eip1559 {
                max_fee_per_gas,
                max_priority_fee_per_gas,
            } => TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to: TxKind::Call(to),
                value,
                access_list: Default::default(),
                input: input.clone().into(),
            }
            .encode_for_signing(&mut unsigned),
            Fees::Legacy { gas_price } => TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price,
                gas_limit,
                to: TxKind::Call(to),
                value,
                input: input.clone().into(),
            }
            .encode_for_signing(&mut unsigned),
        }
        UnsignedEvmTx {
            chain_id,
            from,
            nonce,
            gas_limit,
            fees,
            to,
            value,
            input,
            unsigned,
        }
    }

    /// A replacement of `old` (same nonce, same call) with fees raised by at least the
    /// 10 % nodes require, or to what the network needs now if that is more.
    pub fn replacement(&self, old: &UnsignedEvmTx) -> Result<UnsignedEvmTx, BuildError> {
        let fees = self.bumped(old)?;
        Ok(self.assemble(
            old.from,
            old.to,
            old.value,
            old.input.clone(),
            old.nonce,
            old.gas_limit,
            fees,
        ))
    }

    /// A cancel of `old`: at its nonce, with fees raised as for [`Builder::replacement`],
    /// nothing (no value, no data) to the sender itself, which the station signs at a
    /// nonce it has signed. Whichever lands, the other cannot.
    pub fn cancellation(&self, old: &UnsignedEvmTx) -> Result<UnsignedEvmTx, BuildError> {
        let fees = self.bumped(old)?;
        Ok(self.assemble(
            old.from,
            old.from,
            U256::ZERO,
            Vec::new(),
            old.nonce,
            21_000,
            fees,
        ))
    }

    /// `old`'s fees raised by at least 10 %, or to what the network needs now.
    fn bumped(&self, old: &UnsignedEvmTx) -> Result<Fees, BuildError> {
        let bump = |x: u128| x.saturating_mul(110).div_ceil(100);
        let fees = match (
            old.fees,
            self.fees(match old.fees {
                Fees::Eip1559 { .. } => TxKindChoice::Eip1559,
                Fees::Legacy { .. } => TxKindChoice::Legacy,
            })?,
        ) {
            (
                Fees::Eip1559 {
                    max_fee_per_gas: a,
                    max_priority_fee_per_gas: b,
                },
                Fees::Eip1559 {
                    max_fee_per_gas: na,
                    max_priority_fee_per_gas: nb,
                },
            ) => Fees::Eip1559 {
                max_fee_per_gas: bump(a).max(na),
                max_priority_fee_per_gas: bump(b).max(nb),
            },
            (Fees::Legacy { gas_price: a }, Fees::Legacy { gas_price: na }) => Fees::Legacy {
                gas_price: bump(a).max(na),
            },
            _ => return Err(BuildError::Invalid("fee kind changed".into())),
        };
        let cap = self.config.max_fee_per_gas_cap;
        let per_gas = match fees {
            Fees::Eip1559 {
                max_fee_per_gas, ..
            } => max_fee_per_gas,
            Fees::Legacy { gas_price } => gas_price,
        };
        if per_gas > cap {
            return Err(BuildError::FeeAboveCap {
                needed: per_gas,
                cap,
            });
        }
        Ok(fees)
    }
}

impl UnsignedEvmTx {
    /// The request payload carrying this transaction to the station.
    pub fn payload(&self) -> airgap_protocol::envelope::Payload {
        use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody};
        Payload {
            network: format!("evm:{}", self.chain_id),
            signer: self.from.to_checksum(None),
            body: PayloadBody::EvmTx {
                chain_id: self.chain_id,
                signer: self.from.0 .0,
                tx: self.unsigned.clone(),
            },
            hints: DisplayHints::default(),
        }
    }
}
