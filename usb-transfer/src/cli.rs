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

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;

use crate::format::{open_bundle, seal_bundle, BundleKind};
use crate::fs::{scan_dir, write_atomically, write_bundle, BundleState};
use crate::keyfile::{self, PublicKeys};

/// Usage text.
pub const USAGE: &str = "keys generate --dir DIR
keys show --dir DIR
bundle export --envelope FILE --to PUBFILE --keys DIR --out DIR [--label TEXT]
bundle import --bundle FILE --keys DIR --trust PUBFILE --out FILE
bundle list --dir DIR --keys DIR --trust PUBFILE
(passphrase: --passphrase-file FILE or STRONGROOM_PASSPHRASE)";

/// Which side is running: it exports `exports` and imports the other kind.
#[derive(Debug, Clone, Copy)]
pub struct Side {
    /// What this side writes.
    pub exports: BundleKind,
}

fn flags(args: &[String]) -> Result<HashMap<String, String>, String> {
    let mut m = HashMap::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let name = a
            .strip_prefix("--")
            .ok_or_else(|| format!("unexpected argument `{a}`\n\n{USAGE}"))?;
        let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
        m.insert(name.to_string(), v.clone());
    }
    Ok(m)
}

fn need<'a>(f: &'a HashMap<String, String>, name: &str) -> Result<&'a str, String> {
    f.get(name)
        .map(String::as_str)
        .ok_or_else(|| format!("missing --{name}\n\n{USAGE}"))
}

fn passphrase(f: &HashMap<String, String>) -> Result<SecretString, String> {
    if let Some(p) = f.get("passphrase-file") {
        let s = std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"))?;
        return Ok(SecretString::from(
            s.trim_end_matches(['\n', '\r']).to_string(),
        ));
    }
    std::env::var("STRONGROOM_PASSPHRASE")
        .map(SecretString::from)
        .map_err(|_| {
            "no passphrase: give --passphrase-file or set STRONGROOM_PASSPHRASE".to_string()
        })
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

/// Runs `keys …` or `bundle …`; returns what to print.
pub fn run(side: Side, args: &[String]) -> Result<String, String> {
    let (group, verb, rest) = match args {
        [g, v, rest @ ..] => (g.as_str(), v.as_str(), rest),
        _ => return Err(USAGE.to_string()),
    };
    let f = flags(rest)?;
    let err = |e: &dyn std::fmt::Display| e.to_string();
    match (group, verb) {
        ("keys", "generate") => {
            let dir = PathBuf::from(need(&f, "dir")?);
            std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            let work_factor = f
                .get("work-factor")
                .map(|w| w.parse::<u8>())
                .transpose()
                .map_err(|_| "--work-factor takes 10..=22")?;
            let public =
                keyfile::generate(&dir, passphrase(&f)?, work_factor).map_err(|e| err(&e))?;
            Ok(format!(
                "keys written to {}\n{}",
                dir.display(),
                public.to_text()
            ))
        }
        ("keys", "show") => {
            let public = PublicKeys::read(&Path::new(need(&f, "dir")?).join("keys.pub"))
                .map_err(|e| err(&e))?;
            Ok(public.to_text())
        }
        ("bundle", "export") => {
            let envelope =
                std::fs::read(need(&f, "envelope")?).map_err(|e| format!("--envelope: {e}"))?;
            let to = PublicKeys::read(Path::new(need(&f, "to")?)).map_err(|e| err(&e))?;
            let keys = keyfile::load(Path::new(need(&f, "keys")?), passphrase(&f)?)
                .map_err(|e| err(&e))?;
            let bundle = seal_bundle(side.exports, &envelope, &to.x25519, &keys.signing, now())
                .map_err(|e| err(&e))?;
            let label = f.get("label").map_or("envelope", String::as_str);
            let path = write_bundle(Path::new(need(&f, "out")?), side.exports, label, &bundle)
                .map_err(|e| err(&e))?;
            Ok(format!(
                "{} bundle written: {}",
                kind_name(side.exports),
                path.display()
            ))
        }
        ("bundle", "import") => {
            let path = need(&f, "bundle")?;
            let bytes = std::fs::read(path).map_err(|e| format!("{path}: {e}"))?;
            let keys = keyfile::load(Path::new(need(&f, "keys")?), passphrase(&f)?)
                .map_err(|e| err(&e))?;
            let trust = PublicKeys::read(Path::new(need(&f, "trust")?)).map_err(|e| err(&e))?;
            let b = open_bundle(&bytes, &keys.identity, &[trust.ed25519])
                .map_err(|e| format!("{path}: {e}"))?;
            if b.manifest.kind == side.exports {
                return Err(format!(
                    "{path} holds a {}; this side imports {}s",
                    kind_name(b.manifest.kind),
                    kind_name(other(side.exports))
                ));
            }
            let out = PathBuf::from(need(&f, "out")?);
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
        ("bundle", "list") => {
            let keys = keyfile::load(Path::new(need(&f, "keys")?), passphrase(&f)?)
                .map_err(|e| err(&e))?;
            let trust = PublicKeys::read(Path::new(need(&f, "trust")?)).map_err(|e| err(&e))?;
            let list = scan_dir(
                Path::new(need(&f, "dir")?),
                &keys.identity,
                &[trust.ed25519],
                &Default::default(),
            )
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
        _ => Err(USAGE.to_string()),
    }
}

fn other(k: BundleKind) -> BundleKind {
    match k {
        BundleKind::Request => BundleKind::Response,
        BundleKind::Response => BundleKind::Request,
    }
}
