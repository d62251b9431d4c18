//! The Ethereum JSON-RPC methods the coordinator uses, typed.

use alloy_primitives::{Address, Bytes, B256, U256, U64};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::rpc::{RpcClient, RpcError};

/// An EVM node (several endpoints behind one client).
#[derive(Debug)]
pub struct EvmRpc {
    /// The underlying client.
    pub rpc: RpcClient,
}

/// What `eth_feeHistory` returns, the parts used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeeHistory {
    /// Base fee per block, one more than asked (the next block's).
    pub base_fee_per_gas: Vec<U256>,
    /// Priority fee percentiles per block.
    #[serde(default)]
    pub reward: Option<Vec<Vec<U256>>>,
}

/// A receipt, the parts used.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    /// Transaction hash.
    pub transaction_hash: B256,
    /// Block number.
    pub block_number: U64,
    /// Block hash.
    pub block_hash: B256,
    /// 1 success, 0 reverted.
    pub status: U64,
    /// Gas used.
    pub gas_used: U64,
    /// Effective gas price.
    #[serde(default)]
    pub effective_gas_price: Option<U256>,
}

/// A block header, the parts used.
#[derive(Debug, Clone, Deserialize)]
pub struct BlockHead {
    /// Number.
    pub number: U64,
    /// Hash.
    pub hash: B256,
}

fn bad(method: &str, reason: impl ToString) -> RpcError {
    RpcError::BadAnswer {
        method: method.into(),
        reason: reason.to_string(),
    }
}

fn u64_of(v: U64) -> u64 {
    v.to::<u64>()
}

impl EvmRpc {
    /// Over `rpc`.
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }

    /// `eth_chainId`.
    pub fn chain_id(&self) -> Result<u64, RpcError> {
        self.rpc.call::<U64>("eth_chainId", json!([])).map(u64_of)
    }

    /// `eth_blockNumber`.
    pub fn block_number(&self) -> Result<u64, RpcError> {
        self.rpc
            .call::<U64>("eth_blockNumber", json!([]))
            .map(u64_of)
    }

    /// `eth_getBalance` at the latest block.
    pub fn balance(&self, who: Address) -> Result<U256, RpcError> {
        self.rpc.call("eth_getBalance", json!([who, "latest"]))
    }

    /// ERC-20 `balanceOf` through `eth_call`.
    pub fn token_balance(&self, token: Address, who: Address) -> Result<U256, RpcError> {
        let mut data = vec![0x70, 0xa0, 0x82, 0x31];
        data.extend_from_slice(&[0; 12]);
        data.extend_from_slice(who.as_slice());
        let out: Bytes = self.rpc.call(
            "eth_call",
            json!([{"to": token, "data": Bytes::from(data)}, "latest"]),
        )?;
        if out.len() != 32 {
            return Err(bad(
                "eth_call",
                format!("balanceOf returned {} bytes", out.len()),
            ));
        }
        Ok(U256::from_be_slice(&out))
    }

    /// `eth_getTransactionCount` at `block` (`latest` or `pending`).
    pub fn nonce(&self, who: Address, block: &str) -> Result<u64, RpcError> {
        self.rpc
            .call::<U64>("eth_getTransactionCount", json!([who, block]))
            .map(u64_of)
    }

    /// `eth_estimateGas`.
    pub fn estimate_gas(
        &self,
        from: Address,
        to: Address,
        value: U256,
        data: &[u8],
    ) -> Result<u64, RpcError> {
        self.rpc
            .call::<U64>(
                "eth_estimateGas",
                json!([{"from": from, "to": to, "value": value, "data": Bytes::copy_from_slice(data)}]),
            )
            .map(u64_of)
    }

    /// `eth_feeHistory` over the last `blocks` blocks with the 50th percentile reward.
    pub fn fee_history(&self, blocks: u64) -> Result<FeeHistory, RpcError> {
        let h: FeeHistory = self.rpc.call(
            "eth_feeHistory",
            json!([format!("0x{blocks:x}"), "latest", [50.0]]),
        )?;
        if h.base_fee_per_gas.is_empty() {
            return Err(bad("eth_feeHistory", "no base fee"));
        }
        Ok(h)
    }

    /// `eth_gasPrice`.
    pub fn gas_price(&self) -> Result<U256, RpcError> {
        self.rpc.call("eth_gasPrice", json!([]))
    }

    /// `eth_sendRawTransaction`; returns the hash the node reports.
    pub fn send_raw(&self, raw: &[u8]) -> Result<B256, RpcError> {
        self.rpc.call(
            "eth_sendRawTransaction",
            json!([Bytes::copy_from_slice(raw)]),
        )
    }

    /// `eth_getTransactionReceipt` (`None` while not included).
    pub fn receipt(&self, hash: B256) -> Result<Option<Receipt>, RpcError> {
        self.rpc.call("eth_getTransactionReceipt", json!([hash]))
    }

    /// Whether the node knows the transaction at all (mempool or chain).
    pub fn knows(&self, hash: B256) -> Result<bool, RpcError> {
        let v: Value = self
            .rpc
            .call_raw("eth_getTransactionByHash", json!([hash]))?;
        Ok(!v.is_null())
    }

    /// The block at `number` (`None` beyond the tip).
    pub fn block(&self, number: u64) -> Result<Option<BlockHead>, RpcError> {
        self.rpc.call(
            "eth_getBlockByNumber",
            json!([format!("0x{number:x}"), false]),
        )
    }
}
