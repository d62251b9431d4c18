//! A throwaway PostgreSQL cluster for the conformance suite: `initdb` into a temporary
//! directory, `pg_ctl start` on a free loopback port (as the `postgres` user when the
//! tests run as root, since PostgreSQL refuses root), stopped when dropped.

use std::path::PathBuf;
use std::process::Command;

/// A running cluster.
pub struct TempCluster {
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    /// Connection parameters.
    pub params: String,
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("STRONGROOM_PG_BIN") {
        return Some(PathBuf::from(p));
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|p| p.join("initdb").exists())
        .collect();
    versions.sort();
    versions.pop()
}

impl TempCluster {
    /// Starts one; the error says what is missing.
    pub fn start(name: &str) -> Result<Self, String> {
        let bin = bin_dir().ok_or(
            "PostgreSQL not found (/usr/lib/postgresql/*/bin): `bash scripts/test.sh` installs it, or set STRONGROOM_PG_BIN",
        )?;
        let as_postgres = std::env::var("USER").map_or(true, |u| u == "root")
            && Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0"));
        let dir = std::env::temp_dir().join(format!("strongroom-pg-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let run = |args: &[&str]| -> Result<(), String> {
            let mut c = if as_postgres {
                let mut c = Command::new("runuser");
                c.args(["-u", "postgres", "--"]);
                c.arg(bin.join(args[0]));
                c
            } else {
                Command::new(bin.join(args[0]))
            };
            let out = c
                .args(&args[1..])
                .output()
                .map_err(|e| format!("{}: {e}", args[0]))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(format!(
                    "{}: {}",
                    args[0],
                    String::from_utf8_lossy(&out.stderr)
                ))
            }
        };
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres", &dir.to_string_lossy()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err("cannot hand the cluster directory to the postgres user".into());
            }
        }
        let data = dir.join("data");
        let data_s = data.to_string_lossy().to_string();
        run(&[
            "initdb",
            "-D",
            &data_s,
            "-A",
            "trust",
            "-U",
            "strongroom",
            "--no-sync",
        ])?;
        let opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            dir.to_string_lossy()
        );
        let log = dir.join("log").to_string_lossy().to_string();
        run(&[
            "pg_ctl", "-D", &data_s, "-o", &opts, "-l", &log, "-w", "start",
        ])?;
        Ok(Self {
            dir,
            bin,
            as_postgres,
            params: format!("host=127.0.0.1 port={port} user=strongroom dbname=postgres"),
        })
    }
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data").to_string_lossy().to_string();
        let mut c = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"])
                .arg(self.bin.join("pg_ctl"));
            c
        } else {
            Command::new(self.bin.join("pg_ctl"))
        };
        let _ = c.args(["-D", &data, "-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
