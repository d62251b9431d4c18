//! `signer-station`: the offline station's command line — the custodians' screen, the
//! ceremonies, USB bundles and the ledger. The station core is the library
//! (`signer_station`).

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Strongroom's offline signer station.
/// The version, and what a test or rehearsal build compiled in: a production station
/// says its version only.
const VERSION: &str = match (
    cfg!(feature = "rehearsal"),
    cfg!(feature = "fault-injection"),
) {
    (false, false) => env!("CARGO_PKG_VERSION"),
    (true, false) => concat!(
        env!("CARGO_PKG_VERSION"),
        " (rehearsal build: MockHsm compiled in)"
    ),
    (false, true) => concat!(
        env!("CARGO_PKG_VERSION"),
        " (test build: fault injection compiled in)"
    ),
    (true, true) => concat!(
        env!("CARGO_PKG_VERSION"),
        " (test build: MockHsm and fault injection compiled in)"
    ),
};

#[derive(Debug, Parser)]
#[command(name = "signer-station", version = VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The custodians' screen: capture, review, unlock, sign or refuse.
    Tui(commands::tui::TuiArgs),
    /// Station ceremonies: init, keys, register, backup, restore, reanchor (and rehearse,
    /// on MockHsm, in a build with the `rehearsal` feature).
    #[command(subcommand)]
    Ceremony(commands::ceremony::Step),
    /// The station ledger: verify the hash chain, repair a torn tail.
    #[command(subcommand)]
    Ledger(commands::ledger::LedgerCommand),
    /// The station's USB bundle keys (passphrase-encrypted).
    #[command(subcommand)]
    Keys(usb_transfer::cli::KeysCommand),
    /// USB bundles: import requests, export responses.
    #[command(subcommand)]
    Bundle(usb_transfer::cli::BundleCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Tui(a) => commands::tui::run(a),
        Command::Ceremony(step) => commands::ceremony::run(step),
        Command::Ledger(c) => commands::ledger::run(c),
        Command::Keys(c) => commands::bundle::run(&usb_transfer::cli::Command::Keys(c.clone())),
        Command::Bundle(c) => commands::bundle::run(&usb_transfer::cli::Command::Bundle(c.clone())),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
