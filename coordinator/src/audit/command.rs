//! `coordinator audit verify|export`: read only; never creates a database.

use std::path::PathBuf;

use anyhow::{anyhow, Result};

use crate::audit;
use crate::service::DbArgs;

/// `coordinator audit …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AuditCommand {
    /// Check the hash-chained audit table; say where it breaks. Never creates a database.
    Verify {
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
        /// The checkpoints file `serve --audit-checkpoints` writes: catches rows cut
        /// from the end and rows edited and re-hashed.
        #[arg(long, value_name = "FILE", requires = "public_key")]
        checkpoints: Option<PathBuf>,
        /// The coordinator's public key (hex) that must have signed the checkpoints (as
        /// `serve` prints it).
        #[arg(long, value_name = "HEX", requires = "checkpoints")]
        public_key: Option<String>,
    },
    /// Match every signature the stations' HSMs logged to a signing their ledgers
    /// recorded and to a request this coordinator knows; exit 1 on any alert.
    Reconcile {
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
    },
    /// Export a period for compliance.
    Export {
        /// Where the database is.
        #[command(flatten)]
        db: DbArgs,
        /// From (Unix seconds).
        #[arg(long, default_value_t = 0)]
        from: u64,
        /// To (Unix seconds).
        #[arg(long, default_value_t = u64::MAX)]
        to: u64,
        /// Only rows this principal (or station, or service) wrote.
        #[arg(long, value_name = "PRINCIPAL")]
        actor: Option<String>,
        /// Only rows about requests on this network (regtest, evm:1, solana:devnet …).
        #[arg(long)]
        network: Option<String>,
        /// Output format.
        #[arg(long, value_enum, default_value = "json")]
        format: ExportFormat,
    },
}

/// Audit export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ExportFormat {
    /// JSON rows.
    Json,
    /// CSV with a header line.
    Csv,
}

/// An Ed25519 public key from 64 hex characters.
fn public_key_of(hex_key: &str) -> Result<ed25519_dalek::VerifyingKey> {
    let b: [u8; 32] = hex::decode(hex_key.trim())
        .ok()
        .and_then(|b| b.try_into().ok())
        .ok_or_else(|| anyhow!("--public-key: expected 64 hex characters"))?;
    ed25519_dalek::VerifyingKey::from_bytes(&b).map_err(|e| anyhow!("--public-key: {e}"))
}

/// `coordinator audit verify|reconcile|export`: read only; never creates a database.
pub fn run(command: &AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Reconcile { db } => {
            let store: std::sync::Arc<dyn crate::store::Store> = db.open(false)?.into();
            let stations = crate::pipeline::Pipeline::unconfigured(store.clone()).stations()?;
            let report = audit::reconcile::reconcile(store.as_ref(), &stations)?;
            for s in &report.stations {
                println!(
                    "station {}: {} ledger entries, {} HSM log entries, {} signature(s) matched, {} pending",
                    s.station, s.ledger_entries, s.hsm_entries, s.signatures_matched, s.signatures_pending
                );
            }
            if report.alerts.is_empty() {
                println!(
                    "reconciled: every HSM signature matches a recorded signing of a known request"
                );
                return Ok(());
            }
            for a in &report.alerts {
                eprintln!("ALERT: {a}");
            }
            anyhow::bail!("{} alert(s)", report.alerts.len())
        }
        AuditCommand::Verify {
            db,
            checkpoints,
            public_key,
        } => {
            let rows = db.open(false)?.audit_rows(1, usize::MAX)?;
            let Some(path) = checkpoints else {
                audit::verify(&rows, None).map_err(|e| anyhow!("audit chain broken: {e}"))?;
                println!("audit chain intact: {} rows (no checkpoints given: rows cut from the end or re-hashed would not show)", rows.len());
                return Ok(());
            };
            let key = public_key_of(public_key.as_deref().unwrap_or_default())?;
            let cps = audit::checkpoints::read(path).map_err(|e| anyhow!(e))?;
            let newest = audit::checkpoints::verify(&rows, &cps, &key)
                .map_err(|e| anyhow!("audit chain broken: {e}"))?;
            let head = rows.last().map_or(0, |r| r.seq);
            println!(
                "audit chain intact: {} rows, {} signed checkpoints hold; the newest vouches for row {newest}, {} row(s) after it are covered by none yet",
                rows.len(),
                cps.len(),
                head.saturating_sub(newest)
            );
            Ok(())
        }
        AuditCommand::Export {
            db,
            from,
            to,
            actor,
            network,
            format,
        } => {
            let rows = db.open(false)?.audit_rows(1, usize::MAX)?;
            let selection = super::export::Selection {
                period: (*from, Some(*to)),
                actor: actor.clone(),
                network: network.clone(),
            };
            let period = super::export::select(&rows, &selection);
            match format {
                ExportFormat::Json => println!("{}", serde_json::to_string_pretty(&period)?),
                ExportFormat::Csv => print!("{}", super::export::csv(&period)),
            }
            Ok(())
        }
    }
}
