//! `coordinator`: Strongroom's online coordinator.
//!
//! The API service on SQLite, tokens, audit verification and export, USB bundles, and
//! the transport demo (see docs/ARCHITECTURE.md).

mod commands;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => commands::demo::run(&args[1..]),
        Some("keys" | "bundle") => commands::bundle::run(&args),
        Some("serve") => coordinator::service::serve(&args[1..]),
        Some("token") => coordinator::service::token(&args[1..]),
        Some("audit") => coordinator::service::audit_cmd(&args[1..]),
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
