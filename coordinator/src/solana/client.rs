//! The Solana JSON-RPC methods the coordinator uses, typed.

use base64::Engine;
use serde::Deserialize;
use serde_json::{json, Value};
use solana_address::Address;
use solana_hash::Hash;

use crate::rpc::{RpcClient, RpcError};

/// A Solana node (several endpoints behind one client).
#[derive(Debug)]
pub struct SolRpc {
    /// The underlying client.
    pub rpc: RpcClient,
}

/// An account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountInfo {
    /// Balance.
    pub lamports: u64,
    /// Owner program.
    pub owner: Address,
    /// Data.
    pub data: Vec<u8>,
}

/// A signature's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureStatus {
    /// Slot it landed in.
    pub slot: u64,
    /// Execution error, if any (the transaction still landed and paid its fee).
    pub err: Option<String>,
    /// `processed`, `confirmed` or `finalized`.
    pub confirmation: String,
}

#[derive(Deserialize)]
struct Ctx<T> {
    value: T,
}

fn bad(method: &str, reason: impl ToString) -> RpcError {
    RpcError::BadAnswer {
        method: method.into(),
        reason: reason.to_string(),
    }
}

impl SolRpc {
    /// Over `rpc`.
    pub fn new(rpc: RpcClient) -> Self {
        Self { rpc }
    }

    /// `getLatestBlockhash`: the hash and the last block height it is valid for.
    pub fn latest_blockhash(&self) -> Result<(Hash, u64), RpcError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct B {
            blockhash: String,
            last_valid_block_height: u64,
        }
        let m = "getLatestBlockhash";
        let b: Ctx<B> = self.rpc.call(m, json!([{"commitment": "finalized"}]))?;
        let h: Hash = b.value.blockhash.parse().map_err(|_| bad(m, "blockhash"))?;
        Ok((h, b.value.last_valid_block_height))
    }

    /// `getSlot`.
    pub fn slot(&self) -> Result<u64, RpcError> {
        self.rpc.call("getSlot", json!([]))
    }

    /// `getBalance`.
    pub fn balance(&self, who: &Address) -> Result<u64, RpcError> {
        let c: Ctx<u64> = self.rpc.call("getBalance", json!([who.to_string()]))?;
        Ok(c.value)
    }

    /// `getMinimumBalanceForRentExemption`.
    pub fn rent_exempt(&self, space: u64) -> Result<u64, RpcError> {
        self.rpc
            .call("getMinimumBalanceForRentExemption", json!([space]))
    }

    /// `getAccountInfo` with base64 data (`None`: no such account).
    pub fn account(&self, who: &Address) -> Result<Option<AccountInfo>, RpcError> {
        #[derive(Deserialize)]
        struct A {
            lamports: u64,
            owner: String,
            data: (String, String),
        }
        let m = "getAccountInfo";
        let c: Ctx<Option<A>> = self.rpc.call(
            m,
            json!([who.to_string(), {"encoding": "base64", "commitment": "finalized"}]),
        )?;
        let Some(a) = c.value else { return Ok(None) };
        if a.data.1 != "base64" {
            return Err(bad(m, format!("data encoding {}", a.data.1)));
        }
        Ok(Some(AccountInfo {
            lamports: a.lamports,
            owner: a.owner.parse().map_err(|_| bad(m, "owner"))?,
            data: base64::engine::general_purpose::STANDARD
                .decode(a.data.0)
                .map_err(|e| bad(m, e))?,
        }))
    }

    /// SPL token account balance (raw units), `None` when the account does not exist.
    pub fn token_balance(&self, account: &Address) -> Result<Option<u64>, RpcError> {
        let Some(a) = self.account(account)? else {
            return Ok(None);
        };
        let amount = a
            .data
            .get(64..72)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .ok_or_else(|| bad("getAccountInfo", "not a token account"))?;
        Ok(Some(amount))
    }

    /// `sendTransaction` (base64); returns the signature the node reports.
    pub fn send(&self, tx: &[u8]) -> Result<String, RpcError> {
        self.rpc.call(
            "sendTransaction",
            json!([
                base64::engine::general_purpose::STANDARD.encode(tx),
                {"encoding": "base64", "preflightCommitment": "confirmed"}
            ]),
        )
    }

    /// `getSignatureStatuses` with history search.
    pub fn statuses(&self, sigs: &[String]) -> Result<Vec<Option<SignatureStatus>>, RpcError> {
        let m = "getSignatureStatuses";
        let c: Ctx<Vec<Option<Value>>> = self
            .rpc
            .call(m, json!([sigs, {"searchTransactionHistory": true}]))?;
        if c.value.len() != sigs.len() {
            return Err(bad(m, "one status per signature expected"));
        }
        c.value
            .into_iter()
            .map(|v| {
                let Some(v) = v else { return Ok(None) };
                Ok(Some(SignatureStatus {
                    slot: v["slot"].as_u64().ok_or_else(|| bad(m, "slot"))?,
                    err: (!v["err"].is_null()).then(|| v["err"].to_string()),
                    confirmation: v["confirmationStatus"]
                        .as_str()
                        .unwrap_or("processed")
                        .to_string(),
                }))
            })
            .collect()
    }
}
