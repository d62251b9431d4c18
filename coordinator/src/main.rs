//! `coordinator`: Strongroom's online coordinator.
//!
//! Today it carries the transport demo; the service, storage and chain adapters land
//! with their issues (see docs/ARCHITECTURE.md).

mod commands;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => commands::demo::run(&args[1..]),
        Some("keys" | "bundle") => commands::bundle::run(&args),
        Some("-h" | "--help" | "help") | None => {
            println!("{}", commands::USAGE);
            Ok(())
        }
        Some(other) => Err(anyhow::anyhow!(
            "unknown command `{other}`\n\n{}",
            commands::USAGE
        )),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
