//! `coordinator serve`, `coordinator token add`, `coordinator audit verify|export`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::{router, token_hash, AppState, Config, ROLES};
use crate::audit;
use crate::risk::RiskConfig;
use crate::store::{Sqlite, Store};
use anyhow::{anyhow, bail, Context, Result};

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

/// The chains file of `serve --chains`: one `[[evm]]` table per EVM network.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainsFile {
    /// EVM networks.
    #[serde(default)]
    pub evm: Vec<crate::evm::ChainConfig>,
    /// Bitcoin vaults.
    #[serde(default)]
    pub bitcoin: Vec<crate::pipeline::BtcConfig>,
    /// Solana networks.
    #[serde(default)]
    pub solana: Vec<crate::pipeline::SolConfig>,
    /// Warm wallets whose balance is watched.
    #[serde(default)]
    pub watch: Vec<crate::pipeline::Watch>,
    /// Deposit address pools.
    #[serde(default)]
    pub deposits: Vec<crate::pipeline::DepositConfig>,
}

/// Reads the coordinator request key: 32 bytes of hex (the Ed25519 seed), in a file
/// only its owner can read.
pub fn read_key(path: &str) -> Result<ed25519_dalek::SigningKey> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("reading {path}"))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            bail!(
                "{path} is readable by others (mode {:o}); chmod 600 it",
                mode & 0o777
            );
        }
    }
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
    );
    let bytes =
        zeroize::Zeroizing::new(hex::decode(text.trim()).map_err(|_| anyhow!("{path}: not hex"))?);
    let seed: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| anyhow!("{path}: the key is 32 bytes of hex"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// `coordinator serve`: the API and the pipeline worker.
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
    let chains: ChainsFile = match opt(args, "--chains") {
        Some(p) => {
            toml::from_str(&std::fs::read_to_string(p).with_context(|| format!("reading {p}"))?)
                .map_err(|e| anyhow!("{p}: {e}"))?
        }
        None => ChainsFile::default(),
    };
    let mut networks: Vec<String> = opt(args, "--networks")
        .unwrap_or("regtest,evm:1,solana:devnet")
        .split(',')
        .map(String::from)
        .collect();
    for n in chains
        .evm
        .iter()
        .map(|c| c.network())
        .chain(chains.bitcoin.iter().map(|c| c.network.clone()))
        .chain(chains.solana.iter().map(|c| c.network.clone()))
    {
        if !networks.contains(&n) {
            networks.push(n);
        }
    }
    // `--db postgres:host=… port=… user=… dbname=…` for several replicas; a file path
    // for the embedded SQLite default.
    let store: Arc<dyn Store> = match db.to_str().and_then(|d| d.strip_prefix("postgres:")) {
        Some(params) => Arc::new(crate::store::Postgres::connect(params)?),
        None => Arc::new(Sqlite::open(&db)?),
    };
    let mut pipeline = crate::pipeline::Pipeline::unconfigured(store.clone());
    pipeline.key = opt(args, "--key").map(read_key).transpose()?;
    if let Some(dir) = opt(args, "--usb-keys") {
        let pass = std::env::var("STRONGROOM_USB_PASSPHRASE").map_err(|_| {
            anyhow!("--usb-keys needs STRONGROOM_USB_PASSPHRASE in the environment")
        })?;
        pipeline.usb = Some(
            usb_transfer::keyfile::load(std::path::Path::new(dir), pass.into())
                .map_err(|e| anyhow!("{dir}: {e}"))?,
        );
    }
    pipeline.evm = chains
        .evm
        .into_iter()
        .map(|config| {
            let node = crate::evm::EvmRpc::new(crate::rpc::RpcClient::new(
                &config.endpoints,
                std::time::Duration::from_secs(10),
                crate::rpc::Breaker::default(),
            ));
            crate::pipeline::EvmChain { config, node }
        })
        .collect();
    pipeline.bitcoin = chains
        .bitcoin
        .into_iter()
        .map(|config| {
            let timeout = std::time::Duration::from_secs(10);
            let source: Box<dyn crate::bitcoin::chain::ChainSource + Send + Sync> =
                match (config.esplora.is_empty(), config.core.is_empty()) {
                    (false, _) => Box::new(crate::bitcoin::chain::Esplora::new(
                        &config.esplora,
                        timeout,
                        crate::rpc::Breaker::default(),
                    )),
                    (true, false) => Box::new(crate::bitcoin::chain::CoreRpc {
                        rpc: crate::rpc::RpcClient::new(
                            &config.core,
                            timeout,
                            crate::rpc::Breaker::default(),
                        ),
                    }),
                    (true, true) => bail!(
                        "bitcoin vault {}: give esplora or core endpoints",
                        config.name
                    ),
                };
            for c in &config.cosigners {
                c.public_key()
                    .map_err(|e| anyhow!("chains file: bitcoin vault {}: {e}", config.name))?;
            }
            Ok(crate::pipeline::BtcChain::new(config, source))
        })
        .collect::<Result<_>>()?;
    pipeline.solana = chains
        .solana
        .into_iter()
        .map(|config| {
            let node = crate::solana::SolRpc::new(crate::rpc::RpcClient::new(
                &config.endpoints,
                std::time::Duration::from_secs(10),
                crate::rpc::Breaker::default(),
            ));
            crate::pipeline::SolChain { config, node }
        })
        .collect();
    for w in &chains.watch {
        w.marks().map_err(|e| anyhow!("chains file: {e}"))?;
        if let Some(c) = pipeline
            .bitcoin
            .iter()
            .find(|c| c.config.network == w.network)
        {
            let network = c.network().map_err(|e| anyhow!("chains file: {e}"))?;
            w.bitcoin_wallet(network)
                .map_err(|e| anyhow!("chains file: {e}"))?;
        } else if w.descriptor.is_some() {
            bail!(
                "chains file: watch {} on {}: a descriptor is for Bitcoin watches",
                w.address,
                w.network
            );
        }
    }
    pipeline.watches = chains.watch;
    pipeline.deposits = chains
        .deposits
        .into_iter()
        .map(|d| crate::pipeline::Deposits::new(d).map_err(|e| anyhow!("chains file: {e}")))
        .collect::<Result<_>>()?;
    pipeline.approvals_required = opt(args, "--approvals")
        .unwrap_or("2")
        .parse()
        .context("--approvals takes a number")?;
    pipeline.allow_mock_hsm = args.iter().any(|a| a == "--allow-mock-hsm");
    // The lease owner names this replica, stably across restarts: a coordinator that
    // crashed mid-step takes its own leases back at once instead of waiting them out.
    pipeline.owner = match opt(args, "--replica") {
        Some(name) => name.to_string(),
        None => format!(
            "{}:{listen}",
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into())
        ),
    };
    // Fault injection for the crash-resume tests only.
    pipeline.crash_after = opt(args, "--fault-crash-after").map(String::from);
    let poll = std::time::Duration::from_millis(
        opt(args, "--poll-ms")
            .unwrap_or("2000")
            .parse()
            .context("--poll-ms takes a number")?,
    );
    let state = Arc::new(
        AppState::new(
            store,
            Config {
                networks,
                risk: risk.into(),
            },
            Box::new(now),
        )
        .with_pipeline(pipeline),
    );
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
        // The worker: moves every request as far as it goes without a person, and
        // after a restart picks up whatever a crash left half done.
        let worker = state.clone();
        tokio::spawn(async move {
            // What was last said about each request: a condition that persists (a lease
            // another replica holds, a vault short of funds) is logged once, not every
            // round, and again when it changes.
            let mut said: std::collections::HashMap<String, String> = Default::default();
            loop {
                let w = worker.clone();
                let (errors, alerts) = tokio::task::spawn_blocking(move || {
                    let t = now();
                    (
                        w.pipeline.advance_all(t),
                        crate::api::treasury::watch(&w, t),
                    )
                })
                .await
                .unwrap_or_default();
                let mut now_said = std::collections::HashMap::new();
                for (id, e) in errors {
                    if said.get(&id) != Some(&e) {
                        eprintln!("pipeline: {id}: {e}");
                    }
                    now_said.insert(id, e);
                }
                said = now_said;
                for a in alerts {
                    eprintln!("treasury: {a}");
                }
                tokio::time::sleep(poll).await;
            }
        });
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await?;
        Ok(())
    })
}

/// `coordinator token add`.
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
            Some(params) => Box::new(crate::store::Postgres::connect(params)?),
            None => Box::new(Sqlite::open(&db)?),
        },
    )
}

/// `coordinator audit verify|export`.
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
