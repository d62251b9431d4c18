//! The `keys` and `bundle` subcommands, shared by the coordinator and station binaries
//! (each exports its own kind of envelope and imports the other's).
//!
//! ```text
//! keys generate --dir DIR
//! keys show --dir DIR
//! bundle export --envelope FILE --to PUBFILE --keys DIR --out DIR [--label TEXT]
//! bundle import --bundle FILE --keys DIR --trust PUBFILE --out FILE
//! bundle list --dir DIR --keys DIR --trust PUBFILE
//! ```
//! The passphrase comes from `--passphrase-file FILE` or `STRONGROOM_PASSPHRASE`.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;
use clap::{Args, Parser, Subcommand};

use crate::format::{open_bundle, seal_bundle, BundleKind};
use crate::fs::{scan_dir, write_atomically, write_bundle, BundleState};
use crate::keyfile::{self, PublicKeys};

/// Which side is running: it exports `exports` and imports the other kind.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    /// What this side writes.
    pub exports: BundleKind,
}

/// Where the key file's passphrase comes from: a file, or `STRONGROOM_PASSPHRASE`
/// (never the command line).
#[derive(Debug, Clone, Args)]
pub struct Passphrase {
    /// A file holding the passphrase (else STRONGROOM_PASSPHRASE).
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
}

/// `keys …`: this side's bundle keys.
#[derive(Debug, Clone, Subcommand)]
pub enum KeysCommand {
    /// Generate the bundle keys (X25519 for age, Ed25519 for signing), passphrase-encrypted.
    Generate {
        /// Directory for keys.age and keys.pub (created; existing keys are never replaced).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// scrypt work factor, log2(N), 10 to 22 (default: age's, about a second).
        #[arg(long, value_parser = clap::value_parser!(u8).range(10..=22))]
        work_factor: Option<u8>,
        /// The key file's passphrase.
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// Print the public keys (to give the other side).
    Show {
        /// Directory holding keys.pub.
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
    },
}

/// `bundle …`: USB bundles.
#[derive(Debug, Clone, Subcommand)]
pub enum BundleCommand {
    /// Seal an envelope for the other side: encrypted to it, signed by this side.
    Export {
        /// The envelope (UR message bytes).
        #[arg(long, value_name = "FILE")]
        envelope: PathBuf,
        /// The recipient's keys.pub.
        #[arg(long, value_name = "PUBFILE")]
        to: PathBuf,
        /// This side's key directory.
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// Where to write the bundle (the USB stick).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// A label for the file name.
        #[arg(long, default_value = "envelope")]
        label: String,
        /// The key file's passphrase.
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// Open a bundle from the other side, verify it, write its envelope.
    Import {
        /// The bundle file.
        #[arg(long, value_name = "FILE")]
        bundle: PathBuf,
        /// This side's key directory.
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// The sender's keys.pub.
        #[arg(long, value_name = "PUBFILE")]
        trust: PathBuf,
        /// Where to write the envelope (never replaces a file).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The key file's passphrase.
        #[command(flatten)]
        passphrase: Passphrase,
    },
    /// List the bundles of a directory with each one's state.
    List {
        /// The directory (the USB stick).
        #[arg(long, value_name = "DIR")]
        dir: PathBuf,
        /// This side's key directory.
        #[arg(long, value_name = "DIR")]
        keys: PathBuf,
        /// The sender's keys.pub.
        #[arg(long, value_name = "PUBFILE")]
        trust: PathBuf,
        /// The key file's passphrase.
        #[command(flatten)]
        passphrase: Passphrase,
    },
}

/// `keys …` or `bundle …`, as both binaries embed them.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// This side's bundle keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// USB bundles: export, import, list.
    #[command(subcommand)]
    Bundle(BundleCommand),
}

#[derive(Debug, Parser)]
#[command(name = "bundle", no_binary_name = true)]
struct Standalone {
    #[command(subcommand)]
    command: Command,
}

fn passphrase(p: &Passphrase) -> Result<SecretString, String> {
    p.secret()?.ok_or_else(|| {
        "no passphrase: give --passphrase-file or set STRONGROOM_PASSPHRASE".to_string()
    })
}

impl Passphrase {
    /// The passphrase from the file, else from `STRONGROOM_PASSPHRASE`; `None` when
    /// neither is given.
    pub fn secret(&self) -> Result<Option<SecretString>, String> {
        let Some(path) = &self.passphrase_file else {
            return Ok(std::env::var("STRONGROOM_PASSPHRASE")
                .ok()
                .map(SecretString::from));
        };
        let s = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        Ok(Some(SecretString::from(
            s.trim_end_matches(['\n', '\r']).to_string(),
        )))
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn kind_name(k: BundleKind) -> &'static str {
    match k {
        BundleKind::Request => "request",
        BundleKind::Response => "response",
    }
}

/// Runs `keys …` or `bundle …` given as words (as a binary's arguments after its
/// name); returns what to print.
pub fn run(side: Side, args: &[String]) -> Result<String, String> {
    let cli = Standalone::try_parse_from(args).map_err(|e| e.to_string())?;
    execute(side, &cli.command)
}

/// Runs a parsed `keys …` or `bundle …`; returns what to print.
pub fn execute(side: Side, command: &Command) -> Result<String, String> {
    let err = |e: &dyn std::fmt::Display| e.to_string();
    let show = |p: &Path| p.display().to_string();
    match command {
        Command::Keys(KeysCommand::Generate {
            dir,
            work_factor,
            passphrase: p,
        }) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", show(dir)))?;
            let public =
                keyfile::generate(dir, passphrase(p)?, *work_factor).map_err(|e| err(&e))?;
            Ok(format!(
                "keys written to {}\n{}",
                show(dir),
                public.to_text()
            ))
        }
        Command::Keys(KeysCommand::Show { dir }) => {
            let public = PublicKeys::read(&dir.join("keys.pub")).map_err(|e| err(&e))?;
            Ok(public.to_text())
        }
        Command::Bundle(BundleCommand::Export {
            envelope,
            to,
            keys,
            out,
            label,
            passphrase: p,
        }) => {
            let envelope = std::fs::read(envelope).map_err(|e| format!("--envelope: {e}"))?;
            let to = PublicKeys::read(to).map_err(|e| err(&e))?;
            let keys = keyfile::load(keys, passphrase(p)?).map_err(|e| err(&e))?;
            let bundle = seal_bundle(side.exports, &envelope, &to.x25519, &keys.signing, now())
                .map_err(|e| err(&e))?;
            let path = write_bundle(out, side.exports, label, &bundle).map_err(|e| err(&e))?;
            Ok(format!(
                "{} bundle written: {}",
                kind_name(side.exports),
                path.display()
            ))
        }
        Command::Bundle(BundleCommand::Import {
            bundle,
            keys,
            trust,
            out,
            passphrase: p,
        }) => {
            let path = show(bundle);
            let bytes = std::fs::read(bundle).map_err(|e| format!("{path}: {e}"))?;
            let keys = keyfile::load(keys, passphrase(p)?).map_err(|e| err(&e))?;
            let trust = PublicKeys::read(trust).map_err(|e| err(&e))?;
            let b = open_bundle(&bytes, &keys.identity, &[trust.ed25519])
                .map_err(|e| format!("{path}: {e}"))?;
            if b.manifest.kind == side.exports {
                return Err(format!(
                    "{path} holds a {}; this side imports {}s",
                    kind_name(b.manifest.kind),
                    kind_name(other(side.exports))
                ));
            }
            let (dir, name) = (
                out.parent()
                    .filter(|p| !p.as_os_str().is_empty())
                    .unwrap_or(Path::new(".")),
                out.file_name()
                    .and_then(|n| n.to_str())
                    .ok_or("--out needs a file name")?,
            );
            write_atomically(dir, name, &b.envelope)
                .map_err(|e| format!("{}: {e}", out.display()))?;
            Ok(format!(
                "{} from {} verified; envelope written to {}",
                kind_name(b.manifest.kind),
                b.sender,
                out.display()
            ))
        }
        Command::Bundle(BundleCommand::List {
            dir,
            keys,
            trust,
            passphrase: p,
        }) => {
            let keys = keyfile::load(keys, passphrase(p)?).map_err(|e| err(&e))?;
            let trust = PublicKeys::read(trust).map_err(|e| err(&e))?;
            let list = scan_dir(dir, &keys.identity, &[trust.ed25519], &Default::default())
                .map_err(|e| err(&e))?;
            let mut out = String::new();
            for l in list {
                let state = match l.state {
                    BundleState::Valid { kind, .. } => format!("valid {}", kind_name(kind)),
                    BundleState::AlreadyImported => "already imported".into(),
                    BundleState::ForAnotherRecipient(r) => format!("for another recipient ({r})"),
                    BundleState::Damaged(e) => format!("refused: {e}"),
                    BundleState::Incomplete => {
                        "incomplete write (left by an interrupted copy)".into()
                    }
                };
                out.push_str(&format!("{}\t{state}\n", l.path.display()));
            }
            Ok(out)
        }
    }
}

fn other(k: BundleKind) -> BundleKind {
    match k {
        BundleKind::Request => BundleKind::Response,
        BundleKind::Response => BundleKind::Request,
    }
}
