//! Arguments of the ceremony steps (clap). Passphrases come from files, one per
//! custodian or holder, never from the command line.

use std::path::PathBuf;

use age::secrecy::SecretString;
use clap::{Args, Subcommand, ValueEnum};
use signer_station::hsm::Connection;

/// Which HSM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Hsm {
    /// A YubiHSM 2 on USB.
    Usb,
    /// The in-process MockHsm: only `rehearse` (it keeps no state between runs).
    #[cfg(feature = "rehearsal")]
    Mock,
}

impl Hsm {
    pub fn connection(self) -> Connection {
        match self {
            Self::Usb => Connection::Usb,
            #[cfg(feature = "rehearsal")]
            Self::Mock => Connection::Mock,
        }
    }
}

/// The station directory and its HSM.
#[derive(Debug, Clone, Args)]
pub struct Station {
    /// The station directory (quorum, ledger, policy, registration, descriptor).
    #[arg(long, value_name = "DIR")]
    pub station: PathBuf,
    /// The HSM.
    #[arg(long, value_enum, default_value = "usb")]
    pub hsm: Hsm,
}

/// The custodians who unlock the HSM (k of them), each with a file holding their
/// passphrase.
#[derive(Debug, Clone, Args)]
pub struct Custodians {
    /// A custodian and the file holding their passphrase; repeat for each.
    #[arg(long = "custodian", value_name = "NAME=PASSFILE", required = true)]
    pub custodian: Vec<String>,
}

impl Custodians {
    pub fn read(&self) -> Result<Vec<(String, SecretString)>, String> {
        read_passfiles(&self.custodian)
    }
}

/// The scrypt work factor of new shares.
#[derive(Debug, Clone, Args)]
pub struct WorkFactor {
    /// log2(N) of scrypt for new shares, 10 to 22 (default: age's, about a second).
    #[arg(long, value_parser = clap::value_parser!(u8).range(10..=22))]
    pub work_factor: Option<u8>,
}

/// What `init` needs (also the first step of `rehearse`).
#[derive(Debug, Clone, Args)]
pub struct InitArgs {
    /// Custodians needed to unlock (k of n).
    #[arg(long, value_name = "K")]
    pub threshold: usize,
    #[command(flatten)]
    pub custodians: Custodians,
    #[command(flatten)]
    pub work_factor: WorkFactor,
}

/// What `register` needs (also a step of `rehearse`).
#[derive(Debug, Clone, Args)]
pub struct RegisterArgs {
    /// The coordinator's request key (Ed25519, hex); repeat for several.
    #[arg(long = "coordinator", value_name = "HEX", required = true)]
    pub coordinator: Vec<String>,
    /// An approver: name, role (treasury, risk, security) and key: the Ed25519 key of
    /// their approver's tool (64 hex digits), or their own wallet's Ethereum address
    /// (0x…, for typed approvals); repeat.
    #[arg(long = "approver", value_name = "NAME:ROLE:KEY")]
    pub approver: Vec<String>,
    /// The policy to sign (JSON: networks, limits, allow-list, vaults …).
    #[arg(long, value_name = "FILE")]
    pub policy: PathBuf,
    /// The station's name in its descriptor.
    #[arg(long, default_value = "station")]
    pub name: String,
}

/// A ceremony step.
#[derive(Debug, Subcommand)]
pub enum Step {
    /// New quorum; replace the factory authentication key; force auditing.
    Init {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        init: InitArgs,
    },
    /// Generate the identity key, the EVM key, and a Bitcoin key per network and a Solana
    /// key per cluster inside the HSM.
    Keys {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        custodians: Custodians,
        /// The HSM key domain (1 to 16) the station's keys are made in.
        #[arg(long, value_name = "N", default_value_t = 1,
              value_parser = clap::value_parser!(u8).range(1..=16))]
        domain: u8,
    },
    /// Pin the coordinator and approvers, sign the policy (each Bitcoin vault shown with
    /// its first address to compare), export the descriptor.
    Register {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        custodians: Custodians,
        #[command(flatten)]
        register: RegisterArgs,
    },
    /// Wrap every key under a new wrap key split k-of-n among holders.
    Backup {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        custodians: Custodians,
        /// Holders needed to restore (k of n).
        #[arg(long, value_name = "K")]
        threshold: usize,
        /// A holder of a wrap-key share and the file holding their passphrase; repeat.
        #[arg(long = "holder", value_name = "NAME=PASSFILE", required = true)]
        holder: Vec<String>,
        /// The backup file to write.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        work_factor: WorkFactor,
    },
    /// Restore a backup onto this (initialised) HSM; every key checked against the
    /// descriptor.
    Restore {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        custodians: Custodians,
        /// The backup file.
        #[arg(long, value_name = "FILE")]
        backup: PathBuf,
        /// A holder of a wrap-key share and their passphrase file; k of them.
        #[arg(long = "holder", value_name = "NAME=PASSFILE", required = true)]
        holder: Vec<String>,
        /// The station descriptor the restored keys must match.
        #[arg(long, value_name = "FILE")]
        descriptor: PathBuf,
    },
    /// Accept the ledger as it is after it no longer matches the HSM's anchor (recorded in
    /// the ledger).
    Reanchor {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        custodians: Custodians,
        /// Why (what the custodians found), recorded in the ledger.
        #[arg(long)]
        reason: String,
    },
    /// Every step in one process on MockHsm, with a restore drill.
    #[cfg(feature = "rehearsal")]
    Rehearse {
        #[command(flatten)]
        station: Station,
        #[command(flatten)]
        init: InitArgs,
        #[command(flatten)]
        register: RegisterArgs,
    },
}

/// Reads `NAME=PASSFILE` specs.
pub fn read_passfiles(specs: &[String]) -> Result<Vec<(String, SecretString)>, String> {
    specs.iter().map(|s| super::read_passfile(s)).collect()
}
