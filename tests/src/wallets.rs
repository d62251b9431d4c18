//! Standard wallets' libraries on the other side of the coordinator's standard formats:
//! the Keystone registry (npm, `tests/wallet/*.cjs`) reads what the coordinator emits.

use std::path::PathBuf;
use std::process::Command;

use airgap_protocol::envelope::{PayloadBody, SignRequest};
use anyhow::{bail, Result};
use serde_json::Value;

use crate::service::Service;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs the Python `tests/wallet/<script>` (a library of PyPI `package` on the other
/// side) with `ask` as JSON on stdin; the JSON it printed.
pub fn python(script: &str, ask: &Value, package: &str) -> Result<Value> {
    let mut child = Command::new("python3")
        .arg(root().join("tests/wallet").join(script))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()?;
    if let Some(mut input) = child.stdin.take() {
        std::io::Write::write_all(&mut input, ask.to_string().as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!(
            "{script} (pip install {package}): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(serde_json::from_slice(&out.stdout)?)
}

/// Runs `tests/wallet/<script>` with the Keystone packages found; what it printed.
pub fn keystone(script: &str, args: &[&str]) -> Result<String> {
    let modules = root().join(".tools/node_modules/@keystonehq");
    if !modules.join("bc-ur-registry-sol").exists() {
        bail!("the Keystone registry is missing from .tools/ (bash scripts/test.sh installs it)");
    }
    let out = Command::new("node")
        .arg(root().join("tests/wallet").join(script))
        .args(args)
        .env("KEYSTONE", modules.join("bc-ur-registry-eth"))
        .env("KEYSTONE_SOL", modules.join("bc-ur-registry-sol"))
        .output()?;
    if !out.status.success() {
        bail!(
            "keystone {script}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8(out.stdout)?)
}

/// Reads request `id`'s standard requests (`export/standard`) with the Keystone
/// registry and checks each carries what the exported envelope `req` holds: the PSBT,
/// the EVM transaction with its chain id and signer, the Solana message and its signer.
/// The UR types read, in order.
pub fn check_standard(
    svc: &Service,
    id: &str,
    token: &str,
    req: &SignRequest,
) -> Result<Vec<String>> {
    let a = svc.read(id, "export/standard", token)?;
    if a.status != 200 {
        bail!("export/standard: {} {}", a.status, a.json);
    }
    let mut types = Vec::new();
    for s in a.json["requests"].as_array().into_iter().flatten() {
        let parts: Vec<&str> = s["frames"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let read: Value = serde_json::from_str(&keystone("standard.cjs", &parts)?)?;
        let n = s["payload"].as_u64().unwrap_or(0) as usize;
        let Some(p) = n.checked_sub(1).and_then(|i| req.payloads.get(i)) else {
            bail!("no payload {n}: {s}");
        };
        let uuid = hex::encode(req.request_id);
        let same = match &p.body {
            PayloadBody::Psbt { bytes, .. } => {
                read["type"] == "crypto-psbt" && read["psbt"] == hex::encode(bytes)
            }
            PayloadBody::EvmTx {
                chain_id,
                signer,
                tx,
            } => {
                read["type"] == "eth-sign-request"
                    && read["signData"] == hex::encode(tx)
                    && read["chainId"] == *chain_id
                    && read["address"] == hex::encode(signer)
                    && read["requestId"] == uuid
            }
            PayloadBody::SolanaMessage {
                message, signers, ..
            } => {
                read["type"] == "sol-sign-request"
                    && read["signData"] == hex::encode(message)
                    && read["signType"] == 1
                    && signers.iter().any(|k| read["address"] == hex::encode(k))
                    && read["requestId"] == uuid
            }
        };
        if !same {
            bail!("the Keystone registry read {read} for payload {n}");
        }
        types.push(read["type"].as_str().unwrap_or_default().to_string());
    }
    Ok(types)
}
