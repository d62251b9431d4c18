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
    opts: String,
    /// Connection parameters.
    pub params: String,
    /// The CA that signed the server's certificate (PEM), when started with TLS.
    pub ca_pem: Option<Vec<u8>>,
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
        Self::start_with(name, false)
    }

    /// Starts one, with TLS (`ssl=on`, a server certificate for 127.0.0.1 signed by a
    /// throwaway CA made with the `openssl` command) when `tls`.
    pub fn start_with(name: &str, tls: bool) -> Result<Self, String> {
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
        let mut opts = format!(
            "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync=off",
            dir.to_string_lossy()
        );
        let ca_pem = if tls {
            Some(make_certs(&dir, as_postgres)?)
        } else {
            None
        };
        if tls {
            opts.push_str(&format!(
                " -c ssl=on -c ssl_cert_file={0}/server.pem -c ssl_key_file={0}/server.key",
                dir.to_string_lossy()
            ));
        }
        let log = dir.join("log").to_string_lossy().to_string();
        run(&[
            "pg_ctl", "-D", &data_s, "-o", &opts, "-l", &log, "-w", "start",
        ])?;
        Ok(Self {
            dir,
            bin,
            as_postgres,
            opts,
            params: format!("host=127.0.0.1 port={port} user=strongroom dbname=postgres"),
            ca_pem,
        })
    }

    /// `pg_ctl`, run as the postgres user when the cluster is that user's.
    fn pg_ctl(&self) -> Command {
        if !self.as_postgres {
            return Command::new(self.bin.join("pg_ctl"));
        }
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"));
        c
    }

    /// Restarts the server (`pg_ctl restart -m fast`): every connection is cut.
    pub fn restart(&self) -> Result<(), String> {
        let data = self.dir.join("data").to_string_lossy().to_string();
        let log = self.dir.join("log").to_string_lossy().to_string();
        let mut c = self.pg_ctl();
        let out = c
            .args([
                "-D", &data, "-o", &self.opts, "-l", &log, "-m", "fast", "-w", "restart",
            ])
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

/// A CA and a server certificate for 127.0.0.1 signed by it, in `dir`; returns the CA.
fn make_certs(dir: &std::path::Path, as_postgres: bool) -> Result<Vec<u8>, String> {
    let openssl = |args: &[&str]| -> Result<(), String> {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .map_err(|e| format!("openssl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            Err(format!("openssl: {}", String::from_utf8_lossy(&out.stderr)))
        }
    };
    std::fs::write(
        dir.join("san.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n",
    )
    .map_err(|e| e.to_string())?;
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=strongroom test CA",
    ])?;
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ])?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "san.ext",
    ])?;
    let key = dir.join("server.key");
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o600))
        .map_err(|e| e.to_string())?;
    if as_postgres {
        for f in ["server.key", "server.pem"] {
            let ok = Command::new("chown")
                .args(["postgres:postgres", &dir.join(f).to_string_lossy()])
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!("cannot hand {f} to the postgres user"));
            }
        }
    }
    std::fs::read(dir.join("ca.pem")).map_err(|e| e.to_string())
}

impl Drop for TempCluster {
    fn drop(&mut self) {
        let data = self.dir.join("data").to_string_lossy().to_string();
        let mut c = self.pg_ctl();
        let _ = c.args(["-D", &data, "-m", "immediate", "stop"]).output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
