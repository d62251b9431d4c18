//! `coordinator serve`, `coordinator token add`, `coordinator audit verify|export`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use coordinator::api::{router, token_hash, AppState, Config, ROLES};
use coordinator::audit;
use coordinator::risk::RiskConfig;
use coordinator::store::{Sqlite, Store};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `--name value` pairs.
fn opt<'a>(args: &'a [String], name: &str) -> Option<&'a str> {
    args.windows(2)
        .find(|w| w[0] == name)
        .map(|w| w[1].as_str())
}

fn db_path(args: &[String]) -> PathBuf {
    PathBuf::from(opt(args, "--db").unwrap_or("coordinator.db"))
}

/// The default risk rules for a fresh install (regtest and devnets only, small limits).
pub const DEFAULT_RISK: &str = r#"
history_multiple = 5

[[limits]]
network = "regtest"
asset = "native"
per_transaction = "100000000"
per_day = "500000000"

[[limits]]
network = "evm:1"
asset = "native"
per_transaction = "5000000000000000000"
per_day = "20000000000000000000"

[[limits]]
network = "solana:devnet"
asset = "native"
per_transaction = "5000000000"
per_day = "20000000000"

[[velocity]]
max_count = 20
window_secs = 3600
"#;

pub fn serve(args: &[String]) -> Result<()> {
    let db = db_path(args);
    let listen: SocketAddr = opt(args, "--listen")
        .unwrap_or("127.0.0.1:8420")
        .parse()
        .context("--listen takes host:port")?;
    let risk = match opt(args, "--risk") {
        Some(p) => RiskConfig::from_toml(
            &std::fs::read_to_string(p).with_context(|| format!("reading {p}"))?,
        )
        .map_err(|e| anyhow!("{p}: {e}"))?,
        None => RiskConfig::from_toml(DEFAULT_RISK).map_err(|e| anyhow!(e))?,
    };
    let networks = opt(args, "--networks")
        .unwrap_or("regtest,evm:1,solana:devnet")
        .split(',')
        .map(String::from)
        .collect();
    // `--db postgres:host=… port=… user=… dbname=…` for several replicas; a file path
    // for the embedded SQLite default.
    let store: Arc<dyn Store> = match db.to_str().and_then(|d| d.strip_prefix("postgres:")) {
        Some(params) => Arc::new(coordinator::store::Postgres::connect(params)?),
        None => Arc::new(Sqlite::open(&db)?),
    };
    let state = Arc::new(AppState::new(
        store,
        Config { networks, risk },
        Box::new(now),
    ));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let shown = if db.to_string_lossy().starts_with("postgres:") {
            "PostgreSQL".to_string()
        } else {
            db.display().to_string()
        };
        println!(
            "coordinator listening on http://{} (database {shown})",
            listener.local_addr()?
        );
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

pub fn token(args: &[String]) -> Result<()> {
    match args.first().map(String::as_str) {
        Some("add") => {}
        _ => bail!("usage: coordinator token add --principal NAME --roles ROLE[,ROLE] [--db FILE]"),
    }
    let principal = opt(args, "--principal").ok_or_else(|| anyhow!("--principal is required"))?;
    let roles: Vec<String> = opt(args, "--roles")
        .ok_or_else(|| anyhow!("--roles is required ({})", ROLES.join(", ")))?
        .split(',')
        .map(String::from)
        .collect();
    if let Some(r) = roles.iter().find(|r| !ROLES.contains(&r.as_str())) {
        bail!("unknown role {r:?} ({})", ROLES.join(", "));
    }
    let mut raw = [0u8; 32];
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, &mut raw)?;
    let token = format!("sr_{}", hex::encode(raw));
    let store = open_store(args)?;
    store.add_token(&token_hash(&token), principal, &roles, now())?;
    // Shown once; only its hash is stored.
    println!("{token}");
    Ok(())
}

fn open_store(args: &[String]) -> Result<Box<dyn Store>> {
    let db = db_path(args);
    Ok(
        match db.to_str().and_then(|d| d.strip_prefix("postgres:")) {
            Some(params) => Box::new(coordinator::store::Postgres::connect(params)?),
            None => Box::new(Sqlite::open(&db)?),
        },
    )
}

pub fn audit_cmd(args: &[String]) -> Result<()> {
    let store = open_store(args)?;
    let rows = store.audit_rows(1, usize::MAX)?;
    match args.first().map(String::as_str) {
        Some("verify") => match audit::verify(&rows, None) {
            Ok(()) => {
                println!("audit chain intact: {} rows", rows.len());
                Ok(())
            }
            Err(e) => bail!("audit chain broken: {e}"),
        },
        Some("export") => {
            let from: u64 = opt(args, "--from").unwrap_or("0").parse()?;
            let to: u64 = opt(args, "--to").unwrap_or("18446744073709551615").parse()?;
            let period: Vec<_> = rows
                .iter()
                .filter(|r| r.time >= from && r.time <= to)
                .collect();
            match opt(args, "--format").unwrap_or("json") {
                "json" => println!("{}", serde_json::to_string_pretty(&period)?),
                "csv" => {
                    println!("seq,time,actor,action,subject,detail,prev_hash,hash");
                    let q = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
                    for r in period {
                        println!(
                            "{},{},{},{},{},{},{},{}",
                            r.seq,
                            r.time,
                            q(&r.actor),
                            q(&r.action),
                            q(&r.subject),
                            q(&r.detail.to_string()),
                            r.prev_hash,
                            r.hash
                        );
                    }
                }
                f => bail!("--format {f}: json or csv"),
            }
            Ok(())
        }
        _ => bail!("usage: coordinator audit verify|export [--from UNIX] [--to UNIX] [--format json|csv] [--db FILE]"),
    }
}
