//! `coordinator serve`, `coordinator token add`, `coordinator audit verify|export`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::api::{router, AppState, Config};
use crate::audit;
use crate::risk::RiskConfig;
use crate::store::{Sqlite, Store};
use anyhow::{anyhow, bail, Context, Result};

pub(crate) fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Where the database is. A password never travels on the command line: it comes from a
/// file or the environment.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct DbArgs {
    /// An SQLite file, or `postgres:host=H port=P user=U dbname=D [sslmode=disable|prefer|require]`
    /// [default: coordinator.db]. Over TLS the server's certificate and name are always
    /// verified.
    #[arg(long, value_name = "FILE|postgres:…", env = "STRONGROOM_DB")]
    pub db: Option<String>,
    /// A file holding the PostgreSQL password (else STRONGROOM_DB_PASSWORD).
    #[arg(long, value_name = "FILE", env = "STRONGROOM_DB_PASSWORD_FILE")]
    pub db_password_file: Option<PathBuf>,
    /// PEM certificates the PostgreSQL server's TLS chain must end in (else the public
    /// web roots).
    #[arg(long, value_name = "FILE", env = "STRONGROOM_DB_CA")]
    pub db_ca: Option<PathBuf>,
}

impl DbArgs {
    fn target(&self) -> &str {
        self.db.as_deref().unwrap_or("coordinator.db")
    }

    /// PostgreSQL connection parameters with the password from its file or the
    /// environment; `None` for SQLite.
    fn postgres(&self) -> Result<Option<String>> {
        let Some(params) = self.target().strip_prefix("postgres:") else {
            return Ok(None);
        };
        if params.split_whitespace().any(|p| p.starts_with("password")) {
            bail!(
                "--db must not carry the password (it would show in the process list): \
                 give --db-password-file or STRONGROOM_DB_PASSWORD"
            );
        }
        let password = match &self.db_password_file {
            Some(f) => Some(
                std::fs::read_to_string(f)
                    .with_context(|| format!("reading {}", f.display()))?
                    .trim_end_matches(['\n', '\r'])
                    .to_string(),
            ),
            None => std::env::var("STRONGROOM_DB_PASSWORD").ok(),
        };
        Ok(Some(match password {
            Some(p) => format!(
                "{params} password='{}'",
                p.replace('\\', "\\\\").replace('\'', "\\'")
            ),
            None => params.to_string(),
        }))
    }

    /// Opens the store, creating an SQLite file only when `create`.
    pub(crate) fn open(&self, create: bool) -> Result<Box<dyn Store>> {
        if let Some(params) = self.postgres()? {
            let ca = match &self.db_ca {
                Some(f) => {
                    Some(std::fs::read(f).with_context(|| format!("reading {}", f.display()))?)
                }
                None => None,
            };
            return Ok(Box::new(crate::store::Postgres::connect_with(
                &params,
                ca.as_deref(),
            )?));
        }
        let path = PathBuf::from(self.target());
        if !create && !path.exists() {
            bail!(
                "no database at {} (give --db; this command never creates one)",
                path.display()
            );
        }
        Ok(Box::new(Sqlite::open(&path)?))
    }
}

/// `coordinator serve`. Every setting also comes from a TOML `--config` file (keys as the
/// flags, without `--`) or the environment; flags win over the environment, which wins
/// over the file.
#[derive(Debug, Clone, Default, clap::Args, serde::Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeArgs {
    /// A TOML file with any of these settings.
    #[arg(long, value_name = "FILE", env = "STRONGROOM_CONFIG")]
    #[serde(skip)]
    pub config: Option<PathBuf>,
    /// Where the database is.
    #[command(flatten)]
    #[serde(flatten)]
    pub db: DbArgs,
    /// Address to listen on [default: 127.0.0.1:8420].
    #[arg(long, value_name = "HOST:PORT", env = "STRONGROOM_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Risk rules (TOML) [default: small limits for regtest and devnets].
    #[arg(long, value_name = "FILE", env = "STRONGROOM_RISK")]
    pub risk: Option<PathBuf>,
    /// Chains file (TOML): EVM, Bitcoin and Solana nodes, vaults, watches, deposits.
    #[arg(long, value_name = "FILE", env = "STRONGROOM_CHAINS")]
    pub chains: Option<PathBuf>,
    /// Networks requests may name, besides the chains file's [default: regtest,evm:1,solana:devnet].
    #[arg(long, value_delimiter = ',', value_name = "NETWORK,…")]
    pub networks: Option<Vec<String>>,
    /// The coordinator's request-signing key (a 0600 file of 32 bytes hex).
    #[arg(long, value_name = "FILE", env = "STRONGROOM_KEY_FILE")]
    pub key: Option<PathBuf>,
    /// The coordinator's USB bundle keys (passphrase in STRONGROOM_USB_PASSPHRASE).
    #[arg(long, value_name = "DIR", env = "STRONGROOM_USB_KEYS")]
    pub usb_keys: Option<PathBuf>,
    /// Append signed checkpoints of the audit chain's head to this file (outside the
    /// database; needs --key): `audit verify --checkpoints` then catches a rewritten or
    /// truncated audit table.
    #[arg(long, value_name = "FILE", env = "STRONGROOM_AUDIT_CHECKPOINTS")]
    pub audit_checkpoints: Option<PathBuf>,
    /// Post every request state change and alert here, signed (HMAC-SHA256), in order,
    /// retried until taken (needs --webhook-secret-file).
    #[arg(long, value_name = "URL", env = "STRONGROOM_WEBHOOK_URL")]
    pub webhook_url: Option<String>,
    /// The webhooks' shared secret: a file of at least 16 bytes (trimmed).
    #[arg(long, value_name = "FILE", env = "STRONGROOM_WEBHOOK_SECRET_FILE")]
    pub webhook_secret_file: Option<PathBuf>,
    /// Approvals a request needs [default: 2].
    #[arg(long, value_name = "N")]
    pub approvals: Option<usize>,
    /// Requests a minute per API token, in bursts of as many; over it, 429 [default: 1200;
    /// 0: no limit].
    #[arg(long, value_name = "N", env = "STRONGROOM_RATE_LIMIT")]
    pub rate_limit: Option<u32>,
    /// How often the worker moves requests on, milliseconds [default: 2000].
    #[arg(long, value_name = "MS")]
    pub poll_ms: Option<u64>,
    /// This replica's name, stable across restarts [default: host:listen].
    #[arg(long, value_name = "NAME", env = "STRONGROOM_REPLICA")]
    pub replica: Option<String>,
    /// Accept stations on MockHsm (demos only).
    #[arg(long)]
    #[serde(default)]
    pub allow_mock_hsm: bool,
    /// Publish each vault's balance on /metrics (which needs no token): off unless
    /// the metrics endpoint is only reachable from where balances may be seen.
    #[arg(long, env = "STRONGROOM_METRICS_VAULT_BALANCES")]
    #[serde(default)]
    pub metrics_vault_balances: bool,
    /// Log format: text or json (level by RUST_LOG, default info).
    #[arg(long, value_enum, env = "STRONGROOM_LOG_FORMAT")]
    pub log_format: Option<crate::server::LogFormat>,
    /// Crash after the named pipeline step (crash-resume tests only).
    #[arg(long, hide = true, value_name = "STEP")]
    #[serde(skip)]
    pub fault_crash_after: Option<String>,
}

impl ServeArgs {
    /// These settings over those of the `--config` file.
    fn resolved(&self) -> Result<Self> {
        let Some(path) = &self.config else {
            return Ok(self.clone());
        };
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let file: ServeArgs =
            toml::from_str(&text).map_err(|e| anyhow!("{}: {e}", path.display()))?;
        Ok(Self {
            config: self.config.clone(),
            db: DbArgs {
                db: self.db.db.clone().or(file.db.db),
                db_password_file: self
                    .db
                    .db_password_file
                    .clone()
                    .or(file.db.db_password_file),
                db_ca: self.db.db_ca.clone().or(file.db.db_ca),
            },
            listen: self.listen.or(file.listen),
            risk: self.risk.clone().or(file.risk),
            chains: self.chains.clone().or(file.chains),
            networks: self.networks.clone().or(file.networks),
            key: self.key.clone().or(file.key),
            usb_keys: self.usb_keys.clone().or(file.usb_keys),
            audit_checkpoints: self.audit_checkpoints.clone().or(file.audit_checkpoints),
            webhook_url: self.webhook_url.clone().or(file.webhook_url),
            webhook_secret_file: self
                .webhook_secret_file
                .clone()
                .or(file.webhook_secret_file),
            approvals: self.approvals.or(file.approvals),
            rate_limit: self.rate_limit.or(file.rate_limit),
            poll_ms: self.poll_ms.or(file.poll_ms),
            replica: self.replica.clone().or(file.replica),
            allow_mock_hsm: self.allow_mock_hsm || file.allow_mock_hsm,
            metrics_vault_balances: self.metrics_vault_balances || file.metrics_vault_balances,
            log_format: self.log_format.or(file.log_format),
            fault_crash_after: self.fault_crash_after.clone(),
        })
    }
}

/// The default risk rules for a fresh install (regtest and devnets only, small limits).
pub const DEFAULT_RISK: &str = include_str!("default_risk.toml");

/// The chains file of `serve --chains`: one `[[evm]]` table per EVM network.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChainsFile {
    /// EVM networks.
    #[serde(default)]
    pub evm: Vec<crate::evm::ChainConfig>,
    /// Bitcoin vaults.
    #[serde(default)]
    pub bitcoin: Vec<crate::bitcoin::BtcConfig>,
    /// Solana networks.
    #[serde(default)]
    pub solana: Vec<crate::solana::SolConfig>,
    /// Warm wallets whose balance is watched.
    #[serde(default)]
    pub watch: Vec<crate::treasury::Watch>,
    /// Deposit address pools.
    #[serde(default)]
    pub deposits: Vec<crate::treasury::DepositConfig>,
}

/// The adapters of one chain's configured networks.
fn adapters<C, A: crate::chain::ChainAdapter + 'static>(
    configs: Vec<C>,
    adapter: fn(C) -> Result<A, String>,
) -> Result<Vec<Arc<dyn crate::chain::ChainAdapter>>> {
    configs
        .into_iter()
        .map(|c| {
            adapter(c)
                .map(|a| Arc::new(a) as Arc<dyn crate::chain::ChainAdapter>)
                .map_err(|e| anyhow!("chains file: {e}"))
        })
        .collect()
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
pub fn serve(args: &ServeArgs) -> Result<()> {
    let args = args.resolved()?;
    crate::server::init_tracing(args.log_format.unwrap_or_default());
    let listen: SocketAddr = args
        .listen
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8420)));
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))
    };
    let risk = match &args.risk {
        Some(p) => RiskConfig::from_toml(&read(p)?).map_err(|e| anyhow!("{}: {e}", p.display()))?,
        None => RiskConfig::from_toml(DEFAULT_RISK).map_err(|e| anyhow!(e))?,
    };
    let chains: ChainsFile = match &args.chains {
        Some(p) => toml::from_str(&read(p)?).map_err(|e| anyhow!("{}: {e}", p.display()))?,
        None => ChainsFile::default(),
    };
    // `--db postgres:host=… port=… user=… dbname=…` for several replicas; a file path
    // for the embedded SQLite default.
    let store: Arc<dyn Store> = Arc::from(args.db.open(true)?);
    let mut pipeline = crate::pipeline::Pipeline::unconfigured(store.clone());
    pipeline.key = args
        .key
        .as_deref()
        .map(|p| read_key(&p.to_string_lossy()))
        .transpose()?;
    let checkpoints = match (&args.audit_checkpoints, &pipeline.key) {
        (None, _) => None,
        (Some(_), None) => bail!("--audit-checkpoints needs --key: checkpoints are signed"),
        (Some(p), Some(k)) => {
            Some(audit::checkpoints::Checkpointer::open(p, k.clone()).map_err(|e| anyhow!(e))?)
        }
    };
    if let (Some(c), Some(path)) = (&checkpoints, &args.audit_checkpoints) {
        println!(
            "audit checkpoints: {} (verify with --public-key {})",
            path.display(),
            hex::encode(c.public_key().as_bytes())
        );
    }
    if let Some(dir) = &args.usb_keys {
        let pass = std::env::var("STRONGROOM_USB_PASSPHRASE").map_err(|_| {
            anyhow!("--usb-keys needs STRONGROOM_USB_PASSPHRASE in the environment")
        })?;
        pipeline.usb = Some(
            usb_transfer::keyfile::load(dir, pass.into())
                .map_err(|e| anyhow!("{}: {e}", dir.display()))?,
        );
    }
    // The chain adapters: one per configured network.
    let adapters = [
        adapters(chains.evm, crate::evm::EvmChain::from_config)?,
        adapters(chains.bitcoin, crate::bitcoin::BtcChain::from_config)?,
        adapters(chains.solana, crate::solana::SolChain::from_config)?,
    ];
    for adapter in adapters.into_iter().flatten() {
        pipeline.register(adapter);
    }
    // Requests may name the networks asked for, and every configured one.
    let mut networks: Vec<String> = args.networks.clone().unwrap_or_else(|| {
        ["regtest", "evm:1", "solana:devnet"]
            .map(String::from)
            .to_vec()
    });
    for n in pipeline.adapters().iter().map(|a| a.network()) {
        if !networks.contains(&n) {
            networks.push(n);
        }
    }
    for w in &chains.watch {
        w.marks().map_err(|e| anyhow!("chains file: {e}"))?;
        pipeline
            .adapter(&w.network)
            .map_err(|e| anyhow!("chains file: watch {}: {e}", w.address))?
            .check_watch(w)
            .map_err(|e| anyhow!("chains file: {e}"))?;
    }
    pipeline.watches = chains.watch;
    pipeline.deposits = chains
        .deposits
        .into_iter()
        .map(|d| {
            crate::treasury::Deposits::new(d)
                .map(Arc::new)
                .map_err(|e| anyhow!("chains file: {e}"))
        })
        .collect::<Result<_>>()?;
    // Each pool's sweeps go into its network's Bitcoin vault.
    for d in &pipeline.deposits {
        if let Some(vault) = pipeline
            .adapter(&d.config.network)
            .ok()
            .and_then(|a| a.as_bitcoin())
        {
            let _ = vault.deposits.set(d.clone());
        }
    }
    pipeline.approvals_required = args.approvals.unwrap_or(2);
    pipeline.allow_mock_hsm = args.allow_mock_hsm;
    // The lease owner names this replica, stably across restarts: a coordinator that
    // crashed mid-step takes its own leases back at once instead of waiting them out.
    pipeline.ctx.owner = match &args.replica {
        Some(name) => name.clone(),
        None => format!(
            "{}:{listen}",
            std::fs::read_to_string("/etc/hostname")
                .map(|h| h.trim().to_string())
                .unwrap_or_else(|_| "localhost".into())
        ),
    };
    // Fault injection for the crash-resume tests only.
    pipeline.ctx.crash_after = args.fault_crash_after.clone();
    let poll = std::time::Duration::from_millis(args.poll_ms.unwrap_or(2000));
    let webhook = webhook(&args)?;
    let state = Arc::new(
        AppState::new(
            store,
            Config {
                networks,
                risk: risk.into(),
            },
            Box::new(now),
        )
        .with_pipeline(pipeline)
        .with_rate_limit(args.rate_limit.unwrap_or(crate::api::DEFAULT_RATE)),
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let shown = if args.db.target().starts_with("postgres:") {
            "PostgreSQL".to_string()
        } else {
            args.db.target().to_string()
        };
        println!(
            "coordinator listening on http://{} (database {shown})",
            listener.local_addr()?
        );
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let balances = args.metrics_vault_balances;
        let worker = tokio::spawn(crate::worker::run(
            state.clone(),
            poll,
            balances,
            stopped,
            checkpoints,
        ));
        let hooks = webhook.map(|hook| {
            let owner = state.pipeline.ctx.owner.clone();
            tokio::spawn(crate::webhook::run(
                state.store.clone(),
                hook,
                owner,
                poll,
                stop.subscribe(),
            ))
        });
        crate::server::serve(
            listener,
            router(state.clone()),
            crate::server::Limits::default(),
            async {
                crate::server::shutdown_signal().await;
                state.closing.send_replace(true);
            },
        )
        .await?;
        // The HTTP side has drained; the worker finishes the step it is in and stops.
        state
            .pipeline
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let _ = stop.send(true);
        let _ = worker.await;
        if let Some(h) = hooks {
            let _ = h.await;
        }
        tracing::info!("stopped");
        println!("coordinator stopped");
        Ok(())
    })
}

/// The webhook of `--webhook-url`, its secret read from `--webhook-secret-file`.
fn webhook(args: &ServeArgs) -> Result<Option<crate::webhook::Webhook>> {
    let (url, file) = match (&args.webhook_url, &args.webhook_secret_file) {
        (None, None) => return Ok(None),
        (Some(u), Some(f)) => (u, f),
        _ => bail!("--webhook-url and --webhook-secret-file go together"),
    };
    let text = zeroize::Zeroizing::new(
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?,
    );
    let secret = zeroize::Zeroizing::new(text.trim().as_bytes().to_vec());
    let hook = crate::webhook::Webhook::new(url, secret).map_err(|e| anyhow!(e))?;
    println!("webhook: {url}");
    Ok(Some(hook))
}
