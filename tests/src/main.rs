//! `strongroom demo`: the whole vault round trip on embedded defaults, through the
//! coordinator service (run as a child process of this binary).

mod demo;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
        // The coordinator's service commands, so tests can run it as a process.
        Some("coordinator") => match args.get(1).map(String::as_str) {
            Some("serve") => coordinator::service::serve(&args[2..]),
            Some("token") => coordinator::service::token(&args[2..]),
            Some("audit") => coordinator::service::audit_cmd(&args[2..]),
            _ => Err(anyhow::anyhow!(
                "usage: strongroom coordinator serve|token|audit …"
            )),
        },
        _ => {
            println!("usage: strongroom demo [--out DIR] [--keep]\n\nRuns two station ceremonies on MockHsm, the coordinator service on SQLite, and one request per chain (Bitcoin 2-of-2 on a regtest fixture chain; EVM on anvil and Solana on LiteSVM when installed) through QR frames and USB bundles to broadcast and confirmation. --keep leaves the coordinator and its web console running.");
            return ExitCode::SUCCESS;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
