//! `signer-station ledger verify|repair`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use signer_station::ledger::Ledger;

/// `signer-station ledger …`.
#[derive(Debug, clap::Subcommand)]
pub enum LedgerCommand {
    /// Check the hash chain; say where it breaks.
    Verify {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
    },
    /// Cut off an incomplete last entry left by a crash (and record that it did).
    Repair {
        /// The ledger file.
        #[arg(long, value_name = "FILE")]
        ledger: PathBuf,
    },
}

pub fn run(command: &LedgerCommand) -> Result<(), String> {
    match command {
        LedgerCommand::Verify { ledger } => {
            let path: &Path = ledger;
            let n = Ledger::verify(path).map_err(|e| e.to_string())?;
            let head = Ledger::open(path)
                .map_err(|e| e.to_string())?
                .head()
                .to_string();
            println!("{}: {n} entries, chain intact, head {head}", path.display());
            Ok(())
        }
        LedgerCommand::Repair { ledger } => {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let l = Ledger::repair(ledger, now).map_err(|e| e.to_string())?;
            println!(
                "{}: {} entries, head {}",
                ledger.display(),
                l.len(),
                l.head()
            );
            Ok(())
        }
    }
}
