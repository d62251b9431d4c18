//! `approver`: an approver's own tool (see [`approver::cli`]).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    match approver::cli::run(&approver::cli::Cli::parse().command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", approver::visible(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}
