//! `coordinator`: Strongroom's online coordinator — the API service and its signing
//! pipeline, tokens, audit verification and export, USB bundles, and the transport demo
//! (see docs/ARCHITECTURE.md).

mod commands;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Strongroom's online coordinator.
#[derive(Debug, Parser)]
#[command(name = "coordinator", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the API and the signing pipeline (SQLite by default, or PostgreSQL).
    Serve(Box<coordinator::service::ServeArgs>),
    /// API tokens.
    #[command(subcommand)]
    Token(coordinator::tokens::TokenCommand),
    /// The hash-chained audit table: verify, export.
    #[command(subcommand)]
    Audit(coordinator::audit::command::AuditCommand),
    /// Solana: provision the vault's durable nonce accounts.
    #[command(subcommand)]
    Solana(SolanaCommand),
    /// The coordinator's USB bundle keys (passphrase-encrypted).
    #[command(subcommand)]
    Keys(usb_transfer::cli::KeysCommand),
    /// USB bundles: export requests, import responses.
    #[command(subcommand)]
    Bundle(usb_transfer::cli::BundleCommand),
    /// The transport demo: QR frames written, damaged and read back.
    Demo(commands::demo::DemoArgs),
    /// Print the API's OpenAPI document (JSON), as `GET /openapi.json` serves it.
    Openapi,
}

/// `coordinator solana …`.
#[derive(Debug, Subcommand)]
enum SolanaCommand {
    /// Create durable nonce accounts under the vault's authority, paid by an online fee
    /// payer; prints the chains file's `nonce_accounts` line.
    NonceAccounts(coordinator::solana::provision::NonceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Serve(a) => coordinator::service::serve(a),
        Command::Token(c) => coordinator::tokens::run(c),
        Command::Audit(c) => coordinator::audit::command::run(c),
        Command::Solana(SolanaCommand::NonceAccounts(a)) => {
            coordinator::solana::provision::run(a).map_err(|e| anyhow::anyhow!(e))
        }
        Command::Keys(c) => commands::bundle::run(&usb_transfer::cli::Command::Keys(c.clone())),
        Command::Bundle(c) => commands::bundle::run(&usb_transfer::cli::Command::Bundle(c.clone())),
        Command::Demo(a) => commands::demo::run(a),
        Command::Openapi => coordinator::api::openapi_document()
            .to_pretty_json()
            .map(|doc| println!("{doc}"))
            .map_err(Into::into),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
