//! `strongroom demo`: the whole vault round trip on embedded defaults, in one process.

mod demo;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("demo") => demo::run(&args[1..]),
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
