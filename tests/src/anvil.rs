//! A real EVM node for the tests: anvil (npm `@foundry-rs/anvil-linux-amd64`), started
//! on a free loopback port and killed when dropped.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy_primitives::{Address, Bytes, B256, U256};
use anyhow::{bail, Context, Result};
use coordinator::rpc::{Breaker, RpcClient};
use serde_json::{json, Value};

/// Anvil's first default account (unlocked; funds the vault and deploys the token).
pub const FUNDER: Address = Address::new([
    0xf3, 0x9f, 0xd6, 0xe5, 0x1a, 0xad, 0x88, 0xf6, 0xf4, 0xce, 0x6a, 0xb8, 0x82, 0x72, 0x79, 0xcf,
    0xff, 0xb9, 0x22, 0x66,
]);

/// Where the anvil binary is: `$STRONGROOM_ANVIL`, the copy `scripts/peers.sh` installs
/// under `.tools/`, or `anvil` on the PATH.
pub fn binary() -> Result<PathBuf> {
    if let Ok(p) = std::env::var("STRONGROOM_ANVIL") {
        return Ok(PathBuf::from(p));
    }
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let local = root.join(".tools/node_modules/@foundry-rs/anvil-linux-amd64/bin/anvil");
    if local.exists() {
        return Ok(local);
    }
    if let Ok(out) = Command::new("which").arg("anvil").output() {
        if out.status.success() {
            return Ok(PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()));
        }
    }
    bail!(
        "anvil not found: run `bash scripts/demo.sh` or `bash scripts/test.sh` (each \
         installs it under .tools/), or set STRONGROOM_ANVIL"
    )
}

/// A running anvil.
#[derive(Debug)]
pub struct Anvil {
    child: Child,
    /// Its JSON-RPC URL.
    pub url: String,
    /// Chain id.
    pub chain_id: u64,
}

impl Drop for Anvil {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port.
pub fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

impl Anvil {
    /// Starts anvil with `chain_id`, automining.
    pub fn start(chain_id: u64) -> Result<Self> {
        let bin = binary()?;
        for _ in 0..5 {
            let port = free_port()?;
            let child = Command::new(&bin)
                .args([
                    "--host",
                    "127.0.0.1",
                    "--port",
                    &port.to_string(),
                    "--chain-id",
                    &chain_id.to_string(),
                    "--silent",
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .with_context(|| format!("starting {}", bin.display()))?;
            let mut a = Anvil {
                child,
                url: format!("http://127.0.0.1:{port}"),
                chain_id,
            };
            let t0 = Instant::now();
            while t0.elapsed() < Duration::from_secs(15) {
                if let Ok(Some(_)) = a.child.try_wait() {
                    break; // port taken between probe and bind: try another
                }
                if a.rpc().call::<Value>("eth_chainId", json!([])).is_ok() {
                    return Ok(a);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        bail!("anvil did not start")
    }

    /// A client for this node.
    pub fn rpc(&self) -> RpcClient {
        RpcClient::new(
            std::slice::from_ref(&self.url),
            Duration::from_secs(10),
            Breaker::default(),
        )
    }

    /// Sends a transaction from an unlocked account and waits for its receipt.
    pub fn send_from(
        &self,
        from: Address,
        to: Option<Address>,
        value: U256,
        data: &[u8],
    ) -> Result<Value> {
        let rpc = self.rpc();
        let mut tx = json!({"from": from, "value": value, "data": Bytes::copy_from_slice(data)});
        if let Some(to) = to {
            tx["to"] = json!(to);
        }
        let hash: B256 = rpc.call("eth_sendTransaction", json!([tx]))?;
        for _ in 0..100 {
            let r: Value = rpc.call_raw("eth_getTransactionReceipt", json!([hash]))?;
            if !r.is_null() {
                if r["status"] != json!("0x1") {
                    bail!("transaction {hash} reverted");
                }
                return Ok(r);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        bail!("no receipt for {hash}")
    }

    /// Deploys the test ERC-20 (`tests/fixtures/erc20`) with `supply` minted to the funder.
    pub fn deploy_token(&self, supply: U256) -> Result<Address> {
        let hex = include_str!("../fixtures/erc20/TestToken.bin").trim();
        let mut code = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
            .collect::<Result<Vec<u8>, _>>()?;
        code.extend_from_slice(&supply.to_be_bytes::<32>());
        let r = self.send_from(FUNDER, None, U256::ZERO, &code)?;
        let addr: Address = serde_json::from_value(r["contractAddress"].clone())?;
        Ok(addr)
    }

    /// Mines `n` blocks.
    pub fn mine(&self, n: u64) -> Result<()> {
        self.rpc()
            .call_raw("anvil_mine", json!([format!("0x{n:x}")]))?;
        Ok(())
    }

    /// Takes a chain snapshot; returns its id.
    pub fn snapshot(&self) -> Result<Value> {
        Ok(self.rpc().call_raw("evm_snapshot", json!([]))?)
    }

    /// Reverts to a snapshot (blocks after it are gone).
    pub fn revert(&self, id: Value) -> Result<()> {
        let ok: bool = self.rpc().call("evm_revert", json!([id]))?;
        if !ok {
            bail!("evm_revert refused");
        }
        Ok(())
    }
}
