//! The real Solana runtime for the tests: LiteSVM (PyPI `solders`) behind a small
//! JSON-RPC endpoint (`tests/solana_rpc/litesvm_rpc.py`) on a free loopback port,
//! killed when dropped.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{bail, Context, Result};
use coordinator::rpc::{Breaker, RpcClient};

/// A running endpoint.
#[derive(Debug)]
pub struct LiteSvm {
    child: Child,
    /// Its URL.
    pub url: String,
}

impl Drop for LiteSvm {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LiteSvm {
    /// Starts the endpoint.
    pub fn start() -> Result<Self> {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/solana_rpc/litesvm_rpc.py");
        let python = std::env::var("STRONGROOM_PYTHON").unwrap_or_else(|_| "python3".into());
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let mut child = Command::new(&python)
            .arg(script)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {python} {script}"))?;
        let stdout = child.stdout.take().context("stdout")?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        if line.trim() != "ready" {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            let _ = child.kill();
            bail!(
                "the LiteSVM endpoint did not start (is PyPI `solders` installed? \
                 `bash scripts/test.sh` installs it): {}",
                err.lines().last().unwrap_or("")
            );
        }
        Ok(Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }

    /// A client for this endpoint.
    pub fn rpc(&self) -> RpcClient {
        RpcClient::new(
            std::slice::from_ref(&self.url),
            Duration::from_secs(20),
            Breaker::default(),
        )
    }
}
