//! `strongroom demo`: the whole vault round trip on embedded defaults, in one process.

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
            println!("usage: strongroom demo [--out DIR]\n\nRuns a station ceremony and one request per chain through QR frames and a USB bundle, on MockHsm.");
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
