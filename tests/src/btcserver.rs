//! A local Bitcoin chain source for the tests, speaking the real formats: the Esplora
//! HTTP API (under `/api`) and a Bitcoin Core JSON-RPC subset (at `/`), over a
//! [`Chain`] of real transactions. Broadcast transactions are verified input by input
//! with Bitcoin Core's script interpreter (and checked for double spends) before they
//! enter the mempool, as a node would; `mine` puts the mempool in a block; `reorg`
//! replaces the last blocks.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use bitcoin::consensus::encode::{deserialize, serialize, serialize_hex};
use bitcoin::{BlockHash, Network, OutPoint, Transaction, TxOut, Txid};
use serde_json::{json, Value};

use crate::btcchain::Chain;

/// The chain, mempool and fee estimate served.
#[derive(Debug, Default)]
pub struct State {
    /// Blocks.
    pub chain: Chain,
    /// Accepted, unmined transactions.
    pub mempool: Vec<Transaction>,
    /// Fee estimate, sat/vB.
    pub fee_rate: f64,
}

impl State {
    fn genesis() -> BlockHash {
        bitcoin::constants::genesis_block(Network::Regtest).block_hash()
    }

    fn hash_at(&self, h: u32) -> Option<BlockHash> {
        if h == 0 {
            return Some(Self::genesis());
        }
        self.chain
            .blocks
            .get(h as usize - 1)
            .map(|b| b.block_hash())
    }

    fn spent(&self) -> HashSet<OutPoint> {
        self.chain
            .blocks
            .iter()
            .flat_map(|b| b.txdata.iter())
            .chain(self.mempool.iter())
            .flat_map(|t| t.input.iter().map(|i| i.previous_output))
            .collect()
    }

    fn prevout(&self, o: &OutPoint) -> Option<TxOut> {
        self.chain.outputs.get(o).cloned().or_else(|| {
            self.mempool
                .iter()
                .find(|t| t.compute_txid() == o.txid)
                .and_then(|t| t.output.get(o.vout as usize).cloned())
        })
    }

    /// Accepts a transaction into the mempool, as a node's policy would.
    pub fn accept(&mut self, tx: Transaction) -> Result<Txid, String> {
        let spent = self.spent();
        for i in &tx.input {
            if self.prevout(&i.previous_output).is_none() {
                return Err(format!("missing inputs: {}", i.previous_output));
            }
            if spent.contains(&i.previous_output) {
                return Err(format!("txn-mempool-conflict: {}", i.previous_output));
            }
        }
        tx.verify(|o| self.prevout(o))
            .map_err(|e| format!("mandatory-script-verify-flag-failed: {e}"))?;
        let txid = tx.compute_txid();
        if !self.mempool.iter().any(|t| t.compute_txid() == txid) {
            self.mempool.push(tx);
        }
        Ok(txid)
    }

    /// Mines the mempool (and `extra`) into a block.
    pub fn mine(&mut self, extra: Vec<Transaction>) -> BlockHash {
        let mut txs = std::mem::take(&mut self.mempool);
        txs.extend(extra);
        self.chain.mine(Self::genesis(), txs).block_hash()
    }

    /// Drops the last `depth` blocks; their transactions go back to the mempool.
    pub fn reorg(&mut self, depth: usize) {
        for _ in 0..depth {
            if let Some(b) = self.chain.blocks.pop() {
                self.mempool.extend(b.txdata.into_iter().skip(1));
            }
        }
    }

    fn status(&self, txid: &Txid) -> Option<Value> {
        for (i, b) in self.chain.blocks.iter().enumerate() {
            if b.txdata.iter().any(|t| t.compute_txid() == *txid) {
                return Some(json!({
                    "confirmed": true,
                    "block_height": i + 1,
                    "block_hash": b.block_hash().to_string(),
                    "block_time": b.header.time,
                }));
            }
        }
        self.mempool
            .iter()
            .any(|t| t.compute_txid() == *txid)
            .then(|| json!({"confirmed": false}))
    }
}

/// A running server.
#[derive(Debug, Clone)]
pub struct BtcServer {
    /// Shared state.
    pub state: Arc<Mutex<State>>,
    /// Base URL (`http://127.0.0.1:port`); Esplora is under `/api`.
    pub url: String,
}

enum Reply {
    Text(u16, String),
    Bytes(Vec<u8>),
    Json(Value),
}

impl BtcServer {
    /// Starts serving on a free loopback port.
    pub fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}", listener.local_addr()?);
        let state = Arc::new(Mutex::new(State {
            fee_rate: 12.5,
            ..State::default()
        }));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let s = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(stream, &s);
                });
            }
        });
        Ok(Self { state, url })
    }

    /// The Esplora base URL.
    pub fn esplora(&self) -> String {
        format!("{}/api", self.url)
    }

    /// Confirms a transaction paying `outputs`, two blocks deep.
    pub fn fund(&self, outputs: Vec<bitcoin::TxOut>) {
        self.with(|s| {
            let tx = s.chain.funding(outputs);
            s.mine(vec![tx]);
            s.mine(vec![]);
        })
    }

    /// What transaction `txid` paid to `script`.
    pub fn paid(&self, txid: bitcoin::Txid, script: &bitcoin::Script) -> bitcoin::Amount {
        self.with(|s| {
            s.chain
                .outputs
                .iter()
                .filter(|(o, out)| o.txid == txid && out.script_pubkey.as_script() == script)
                .map(|(_, out)| out.value)
                .sum()
        })
    }

    /// Mines an empty block.
    pub fn mine_empty(&self) {
        self.with(|s| {
            s.mine(vec![]);
        });
    }

    /// Runs `f` on the state.
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let mut g = self.state.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut g)
    }
}

fn serve(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let (method, path) = (
        parts.next().unwrap_or("").to_string(),
        parts.next().unwrap_or("").to_string(),
    );
    let mut len = 0usize;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                len = v.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; len.min(8 << 20)];
    reader.read_exact(&mut body)?;
    let reply = {
        let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
        route(&method, &path, &body, &mut s)
    };
    let (status, ctype, bytes) = match reply {
        Reply::Text(c, t) => (c, "text/plain", t.into_bytes()),
        Reply::Bytes(b) => (200, "application/octet-stream", b),
        Reply::Json(v) => {
            let code = if v.get("error").is_some_and(|e| !e.is_null()) && v.get("jsonrpc").is_some()
            {
                500
            } else {
                200
            };
            (code, "application/json", v.to_string().into_bytes())
        }
    };
    let mut out = stream;
    write!(
        out,
        "HTTP/1.1 {status} X\r\ncontent-type: {ctype}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        bytes.len()
    )?;
    out.write_all(&bytes)?;
    out.flush()
}

fn route(method: &str, path: &str, body: &[u8], s: &mut State) -> Reply {
    let not_found = || Reply::Text(404, "not found".into());
    if method == "POST" && path == "/" {
        return Reply::Json(rpc(body, s));
    }
    let Some(p) = path.strip_prefix("/api") else {
        return not_found();
    };
    let seg: Vec<&str> = p.trim_start_matches('/').split('/').collect();
    match (method, seg.as_slice()) {
        ("GET", ["blocks", "tip", "height"]) => Reply::Text(200, s.chain.height().to_string()),
        ("GET", ["blocks", "tip", "hash"]) => match s.hash_at(s.chain.height()) {
            Some(h) => Reply::Text(200, h.to_string()),
            None => not_found(),
        },
        ("GET", ["block-height", h]) => match h.parse().ok().and_then(|h| s.hash_at(h)) {
            Some(h) => Reply::Text(200, h.to_string()),
            None => Reply::Text(404, "Block not found".into()),
        },
        ("GET", ["block", hash, "raw"]) => s
            .chain
            .blocks
            .iter()
            .find(|b| b.block_hash().to_string() == *hash)
            .map_or_else(not_found, |b| Reply::Bytes(serialize(b))),
        ("GET", ["tx", txid, "status"]) => match txid.parse().ok().and_then(|t| s.status(&t)) {
            Some(v) => Reply::Json(v),
            None => Reply::Text(404, "Transaction not found".into()),
        },
        ("GET", ["fee-estimates"]) => Reply::Json(json!({
            "1": s.fee_rate * 2.0, "3": s.fee_rate * 1.5, "6": s.fee_rate, "144": 1.0
        })),
        ("POST", ["tx"]) => {
            let tx = hex::decode(String::from_utf8_lossy(body).trim())
                .ok()
                .and_then(|b| deserialize::<Transaction>(&b).ok());
            match tx {
                None => Reply::Text(400, "TX decode failed".into()),
                Some(tx) => match s.accept(tx) {
                    Ok(txid) => Reply::Text(200, txid.to_string()),
                    Err(e) => Reply::Text(400, format!("sendrawtransaction RPC error: {e}")),
                },
            }
        }
        _ => not_found(),
    }
}

fn rpc(body: &[u8], s: &mut State) -> Value {
    let Ok(req) = serde_json::from_slice::<Value>(body) else {
        return json!({"jsonrpc": "2.0", "id": null, "result": null, "error": {"code": -32700, "message": "Parse error"}});
    };
    let id = req["id"].clone();
    let p = &req["params"];
    let err = |code: i64, message: &str| json!({"jsonrpc": "2.0", "id": id, "result": null, "error": {"code": code, "message": message}});
    let ok = |v: Value| json!({"jsonrpc": "2.0", "id": id, "result": v, "error": null});
    let find_block = |hash: &str| {
        s.chain
            .blocks
            .iter()
            .enumerate()
            .find(|(_, b)| b.block_hash().to_string() == hash)
            .map(|(i, b)| (i as u32 + 1, b.clone()))
    };
    match req["method"].as_str().unwrap_or("") {
        "getblockcount" => ok(json!(s.chain.height())),
        "getblockhash" => match p[0].as_u64().and_then(|h| s.hash_at(h as u32)) {
            Some(h) => ok(json!(h.to_string())),
            None => err(-8, "Block height out of range"),
        },
        "getblock" => match find_block(p[0].as_str().unwrap_or("")) {
            Some((_, b)) => ok(json!(serialize_hex(&b))),
            None => err(-5, "Block not found"),
        },
        "getblockheader" => match find_block(p[0].as_str().unwrap_or("")) {
            Some((h, b)) => ok(json!({"hash": b.block_hash().to_string(), "height": h})),
            None => err(-5, "Block not found"),
        },
        "estimatesmartfee" => ok(json!({"feerate": s.fee_rate / 100_000.0, "blocks": p[0]})),
        "sendrawtransaction" => {
            let tx = hex::decode(p[0].as_str().unwrap_or(""))
                .ok()
                .and_then(|b| deserialize::<Transaction>(&b).ok());
            match tx {
                None => err(-22, "TX decode failed"),
                Some(tx) => match s.accept(tx) {
                    Ok(txid) => ok(json!(txid.to_string())),
                    Err(e) => err(-26, &e),
                },
            }
        }
        "getrawtransaction" => {
            let Some(txid) = p[0].as_str().and_then(|t| t.parse::<Txid>().ok()) else {
                return err(-8, "txid must be hexadecimal");
            };
            match s.status(&txid) {
                None => err(-5, "No such mempool or blockchain transaction"),
                Some(st) => ok(match st["block_hash"].as_str() {
                    Some(h) => json!({"txid": txid.to_string(), "blockhash": h}),
                    None => json!({"txid": txid.to_string()}),
                }),
            }
        }
        m => err(-32601, &format!("Method not found: {m}")),
    }
}
