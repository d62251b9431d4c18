//! `signer-station ledger verify|repair`.

use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use signer_station::ledger::Ledger;

pub fn run(args: &[String]) -> Result<(), String> {
    match args {
        [verb, flag, path] if flag == "--ledger" => {
            let path = Path::new(path);
            match verb.as_str() {
                "verify" => {
                    let n = Ledger::verify(path).map_err(|e| e.to_string())?;
                    let head = Ledger::open(path)
                        .map_err(|e| e.to_string())?
                        .head()
                        .to_string();
                    println!("{}: {n} entries, chain intact, head {head}", path.display());
                    Ok(())
                }
                "repair" => {
                    let now = SystemTime::now()
                        .duration_since(UNIX_EPOCH)
                        .map_or(0, |d| d.as_secs());
                    let l = Ledger::repair(path, now).map_err(|e| e.to_string())?;
                    println!("{}: {} entries, head {}", path.display(), l.len(), l.head());
                    Ok(())
                }
                _ => Err(super::USAGE.to_string()),
            }
        }
        _ => Err(super::USAGE.to_string()),
    }
}
