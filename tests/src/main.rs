//! `strongroom`: the whole vault round trip on embedded defaults (`demo`), and the
//! coordinator's service commands and the approver's tool, run as this binary's child
//! processes by the demo and the tests.

mod demo;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Strongroom end to end: the demo, and the coordinator's service commands.
#[derive(Debug, Parser)]
#[command(name = "strongroom", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the vault round trip on embedded defaults across all three chains.
    Demo(demo::DemoArgs),
    /// The coordinator's service commands (as `coordinator …`).
    #[command(subcommand)]
    Coordinator(CoordinatorCommand),
    /// The approver's tool (as `approver …`).
    #[command(subcommand)]
    Approver(approver::cli::Command),
}

#[derive(Debug, Subcommand)]
enum CoordinatorCommand {
    /// Run the API and the signing pipeline.
    Serve(Box<coordinator::service::ServeArgs>),
    /// API tokens.
    #[command(subcommand)]
    Token(coordinator::tokens::TokenCommand),
    /// The audit table: verify, export.
    #[command(subcommand)]
    Audit(coordinator::audit::command::AuditCommand),
    /// Solana: create durable nonce accounts under the vault's authority.
    SolanaNonceAccounts(coordinator::solana::provision::NonceArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Demo(a) => demo::run(a),
        Command::Coordinator(CoordinatorCommand::Serve(a)) => coordinator::service::serve(a),
        Command::Coordinator(CoordinatorCommand::Token(c)) => coordinator::tokens::run(c),
        Command::Coordinator(CoordinatorCommand::Audit(c)) => coordinator::audit::command::run(c),
        Command::Coordinator(CoordinatorCommand::SolanaNonceAccounts(a)) => {
            coordinator::solana::provision::run(a).map_err(anyhow::Error::msg)
        }
        Command::Approver(c) => approver::cli::run(c),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
