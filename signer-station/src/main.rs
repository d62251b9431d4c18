//! `signer-station`: the offline station's command line.
//!
//! Today: USB bundle keys and import/export, and ledger verification. The station core
//! (HSM signing, quorum, ceremonies, policy) is a library (`signer_station`); the review
//! TUI that drives it for custodians lands with its issue (see docs/ARCHITECTURE.md).

mod commands;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("keys" | "bundle") => commands::bundle::run(&args),
        Some("ledger") => commands::ledger::run(&args[1..]),
        Some("ceremony") => commands::ceremony::run(&args[1..]),
        Some("tui") => commands::tui::run(&args[1..]),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", commands::USAGE);
            Ok(())
        }
        Some(other) => Err(format!("unknown command `{other}`\n\n{}", commands::USAGE)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
