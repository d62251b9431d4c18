//! The coordinator service as a real process on loopback (SQLite), with an HTTP client
//! for its API: what an operator's tools or the warm tier see.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::Value;

pub use crate::desks::{add_token, approver_dir, approver_key, serve_args, Desks};

/// A running `coordinator serve`.
pub struct Service {
    child: Child,
    /// The `strongroom` binary it runs as (and the approver's tool with it).
    pub(crate) exe: PathBuf,
    /// Base URL.
    pub url: String,
    /// Its database file.
    pub db: PathBuf,
    agent: ureq::Agent,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").field("url", &self.url).finish()
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Body as JSON (`Null` when it is not JSON).
    pub json: Value,
    /// Raw body.
    pub bytes: Vec<u8>,
}

impl Service {
    /// Starts `exe coordinator serve --db db --listen 127.0.0.1:<free> <extra…>` and
    /// waits for `/health`.
    pub fn start(exe: &Path, db: &Path, extra: &[String]) -> Result<Self> {
        Self::start_with_env(exe, db, extra, &[])
    }

    /// As [`Service::start`] with environment variables for the process.
    pub fn start_with_env(
        exe: &Path,
        db: &Path,
        extra: &[String],
        env: &[(&str, &str)],
    ) -> Result<Self> {
        Self::start_logged(exe, db, extra, env, None)
    }

    /// As [`Service::start_with_env`], the process's log to `log` when given.
    pub fn start_logged(
        exe: &Path,
        db: &Path,
        extra: &[String],
        env: &[(&str, &str)],
        log: Option<&Path>,
    ) -> Result<Self> {
        let stderr = match log {
            Some(p) => Stdio::from(std::fs::File::create(p)?),
            None => Stdio::inherit(),
        };
        let port = crate::anvil::free_port()?;
        let listen = format!("127.0.0.1:{port}");
        let child = Command::new(exe)
            .args(["coordinator", "serve", "--db"])
            .arg(db)
            .args(["--listen", &listen])
            // Tests poll fast with one token per desk: a generous rate (the limit itself
            // is tested in the coordinator's API tests).
            .args(if extra.iter().any(|a| a == "--rate-limit") {
                &[][..]
            } else {
                &["--rate-limit", "6000"][..]
            })
            .args(extra)
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .context("starting the coordinator")?;
        let mut s = Self {
            child,
            exe: exe.to_path_buf(),
            url: format!("http://{listen}"),
            db: db.to_path_buf(),
            agent: coordinator::rpc::agent(Duration::from_secs(30)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(a) = s.call("GET", "/health", None, None) {
                if a.status == 200 {
                    return Ok(s);
                }
            }
            if let Some(status) = s.child.try_wait()? {
                bail!("the coordinator exited at start: {status}");
            }
            if Instant::now() > deadline {
                bail!("the coordinator did not answer /health");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// One API call with a bearer token and an optional JSON body.
    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<Answer> {
        self.call_with(method, path, token, body, &[])
    }

    /// `POST /v1/requests/{id}/{step}` as `token`, with `body` when given.
    pub fn step(&self, id: &str, step: &str, token: &str, body: Option<&Value>) -> Result<Answer> {
        self.call(
            "POST",
            &format!("/v1/requests/{id}/{step}"),
            Some(token),
            body,
        )
    }

    /// `POST /v1/requests/{id}/import` of QR frames as scanned (UR or BBQr text).
    pub fn import_frames(&self, id: &str, token: &str, frames: &[String]) -> Result<Answer> {
        self.step(
            id,
            "import",
            token,
            Some(&serde_json::json!({ "frames": frames })),
        )
    }

    /// `GET /v1/requests/{id}` (`what` empty) or `/v1/requests/{id}/{what}` as `token`.
    pub fn read(&self, id: &str, what: &str, token: &str) -> Result<Answer> {
        let path = if what.is_empty() {
            format!("/v1/requests/{id}")
        } else {
            format!("/v1/requests/{id}/{what}")
        };
        self.call("GET", &path, Some(token), None)
    }

    /// As [`Service::call`] with extra headers.
    pub fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> Result<Answer> {
        let url = format!("{}{path}", self.url);
        let mut extra: Vec<(String, String)> = headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        if let Some(t) = token {
            extra.push(("Authorization".into(), format!("Bearer {t}")));
        }
        let resp = match method {
            "GET" => with_headers(self.agent.get(&url), &extra).call(),
            "POST" => {
                let r = with_headers(self.agent.post(&url), &extra);
                match body {
                    Some(b) => r.send_json(b),
                    None => r.send_empty(),
                }
            }
            m => bail!("method {m}"),
        };
        answer(resp.map_err(|e| anyhow!("{method} {path}: {e}"))?)
    }

    /// A POST of raw bytes with a content type.
    pub fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        bytes: &[u8],
    ) -> Result<Answer> {
        let resp = self
            .agent
            .post(format!("{}{path}", self.url))
            .header("Authorization", format!("Bearer {token}"))
            .header("Content-Type", content_type)
            .send(bytes)
            .map_err(|e| anyhow!("POST {path}: {e}"))?;
        answer(resp)
    }

    /// Polls `GET /v1/requests/{id}` until its state is `state`, calling `between`
    /// each round (to mine a block, say).
    pub fn wait_state(
        &self,
        id: &str,
        token: &str,
        state: &str,
        mut between: impl FnMut(),
    ) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let a = self.call("GET", &format!("/v1/requests/{id}"), Some(token), None)?;
            if a.json["request"]["state"] == state {
                return Ok(a.json["request"].clone());
            }
            if Instant::now() > deadline {
                bail!("request {id} stayed {}", a.json["request"]["state"]);
            }
            between();
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `GET /v1/requests/{id}/envelope` until the worker has built it.
    pub fn wait_envelope(&self, id: &str, token: &str) -> Result<Value> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let a = self.call(
                "GET",
                &format!("/v1/requests/{id}/envelope"),
                Some(token),
                None,
            )?;
            if a.status == 200 {
                return Ok(a.json);
            }
            if Instant::now() > deadline {
                bail!("request {id} was not prepared: {}", a.json);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Asks the process to stop, as an init system would (SIGTERM).
    pub fn terminate(&self) -> Result<()> {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status()?;
        if !st.success() {
            bail!("kill -TERM {pid} failed");
        }
        Ok(())
    }

    /// Waits for the process to end (after an injected crash), at most 30 s.
    pub fn wait_exit(mut self) -> Result<std::process::ExitStatus> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(s) = self.child.try_wait()? {
                return Ok(s);
            }
            if Instant::now() > deadline {
                bail!("the coordinator is still running");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The UR texts of an envelope at QR version 15 (every fragment, then two mixed parts):
/// what a camera reading the frames yields.
pub fn ur_texts(env: &airgap_protocol::envelope::Envelope) -> Vec<String> {
    let (ur_type, message) = airgap_protocol::envelope::encode_envelope(env);
    let Some(frag) = airgap_protocol::qr::max_fragment_len_for_version(ur_type, 15, message.len())
    else {
        return Vec::new();
    };
    let Ok(mut enc) = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag) else {
        return Vec::new();
    };
    (0..enc.fragment_count() + 2)
        .map(|_| enc.next_part())
        .collect()
}

/// The envelope that scanned texts (as the API lists them) complete.
pub fn envelope_of(frames: &[Value]) -> Result<airgap_protocol::envelope::Envelope> {
    use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};
    let mut scanner = Scanner::default();
    for f in frames {
        if let ScanEvent::Complete(Payload::Ur { ur_type, message }) =
            scanner.push_text(f.as_str().unwrap_or_default())
        {
            return Ok(airgap_protocol::envelope::decode_envelope(
                &ur_type, &message,
            )?);
        }
    }
    bail!("the frames did not complete the stream")
}

/// Writes a coordinator request key file: the seed in hex, readable by its owner only.
pub fn write_key(path: &Path, key: &ed25519_dalek::SigningKey) -> Result<()> {
    std::fs::write(path, hex::encode(key.to_bytes()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

/// How many times the audit `rows` record request `id` moving to `state`.
pub fn moves_to(rows: &[Value], id: &str, state: &str) -> usize {
    rows.iter()
        .filter(|r| {
            r["subject"] == id && r["action"] == "request.state" && r["detail"]["to"] == state
        })
        .count()
}

/// The coordinator's files in `dir`: its request key (the rehearsal coordinator's, as
/// rehearsal stations pin it) and the chains file `chains`.
pub fn coordinator_files(
    dir: &Path,
    chains: &str,
) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let key = dir.join("coordinator.key");
    write_key(
        &key,
        &signer_station::tui::rehearsal::seed_key("rehearsal coordinator"),
    )?;
    let path = dir.join("chains.toml");
    std::fs::write(&path, chains)?;
    Ok((key, path))
}

impl Service {
    /// Exports request `id` (as `token`) and reads back the request its UR frames carry.
    pub fn export(&self, id: &str, token: &str) -> Result<airgap_protocol::envelope::SignRequest> {
        let a = self.step(id, "export", token, None)?;
        if a.status != 200 {
            bail!("exporting {id}: {} {}", a.status, a.json);
        }
        let frames = a.json["frames"].as_array().cloned().unwrap_or_default();
        match envelope_of(&frames)? {
            airgap_protocol::envelope::Envelope::Request(r) => Ok(r),
            _ => bail!("the export of {id} is not a request"),
        }
    }

    /// Imports a station's response to `id` as UR frames (as `token`).
    pub fn import(
        &self,
        id: &str,
        token: &str,
        resp: airgap_protocol::envelope::SignResponse,
    ) -> Result<Answer> {
        let frames = ur_texts(&airgap_protocol::envelope::Envelope::Response(resp));
        self.step(
            id,
            "import",
            token,
            Some(&serde_json::json!({"frames": frames})),
        )
    }

    /// Registers a station from its signed descriptor (as admin).
    pub fn register_station(
        &self,
        admin: &str,
        descriptor: &airgap_protocol::envelope::StationDescriptor,
    ) -> Result<()> {
        let body = serde_json::json!({"cbor_hex": hex::encode(descriptor.to_cbor())});
        let a = self.call("POST", "/v1/stations", Some(admin), Some(&body))?;
        if a.status != 201 {
            bail!(
                "registering station {}: {} {}",
                descriptor.name,
                a.status,
                a.json
            );
        }
        Ok(())
    }

    /// Posts `body` to `path` as `token` with idempotency key `key`.
    pub fn post_keyed(&self, path: &str, token: &str, body: &Value, key: &str) -> Result<Answer> {
        self.call_with(
            "POST",
            path,
            Some(token),
            Some(body),
            &[("Idempotency-Key", key)],
        )
    }

    /// As [`Service::post_keyed`] to a route that makes a request (201): its id.
    pub fn make(&self, path: &str, token: &str, body: &Value, key: &str) -> Result<String> {
        let a = self.post_keyed(path, token, body, key)?;
        if a.status != 201 {
            bail!("POST {path}: {} {}", a.status, a.json);
        }
        a.json["request"]["id"]
            .as_str()
            .map(String::from)
            .ok_or_else(|| anyhow!("no request id in {}", a.json))
    }

    /// One field (`state`, `why` …) of each step of request `id`'s history that has it,
    /// oldest first.
    pub fn history(&self, id: &str, token: &str, field: &str) -> Result<Vec<String>> {
        let h = self.read(id, "history", token)?.json;
        Ok(h["steps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s[field].as_str().map(String::from))
            .collect())
    }

    /// The next deposit address on `network` (as `token`, the warm tier): its index and
    /// address.
    pub fn deposit_address(&self, token: &str, network: &str) -> Result<(u64, String)> {
        let body = serde_json::json!({ "network": network });
        let a = self.call("POST", "/v1/deposits", Some(token), Some(&body))?;
        match (
            a.status,
            a.json["index"].as_u64(),
            a.json["address"].as_str(),
        ) {
            (201, Some(i), Some(address)) => Ok((i, address.to_string())),
            _ => bail!("no deposit address: {} {}", a.status, a.json),
        }
    }

    /// The first vault's balance as `GET /v1/vaults` reads it now, base units.
    pub fn vault_balance(&self, token: &str) -> Result<u128> {
        let a = self.call("GET", "/v1/vaults", Some(token), None)?;
        let b = a.json["vaults"][0]["balance"].as_str().unwrap_or_default();
        b.parse()
            .map_err(|_| anyhow!("no vault balance in {}", a.json))
    }

    /// Creates a request (as `treasury`, with `key` as its idempotency key) and, when the
    /// risk engine holds it for review, clears it (as `risk`, with `reason`); returns its id.
    pub fn create(
        &self,
        treasury: &str,
        risk: &str,
        key: &str,
        body: &Value,
        reason: &str,
    ) -> Result<String> {
        let a = self.call_with(
            "POST",
            "/v1/requests",
            Some(treasury),
            Some(body),
            &[("Idempotency-Key", key)],
        )?;
        if a.status != 201 {
            bail!("creating {key}: {} {}", a.status, a.json);
        }
        let id = a.json["request"]["id"]
            .as_str()
            .ok_or_else(|| anyhow!("no id in {}", a.json))?
            .to_string();
        if a.json["request"]["state"] == "manual-review" {
            let a = self.call(
                "POST",
                &format!("/v1/requests/{id}/review"),
                Some(risk),
                Some(&serde_json::json!({"decision": "clear", "reason": reason})),
            )?;
            if a.status != 200 {
                bail!("clearing {key}: {} {}", a.status, a.json);
            }
        }
        Ok(id)
    }
}

/// The station reviews `req` and signs it, as custodians do when the review shows nothing
/// wrong; a refusal at either step is an error.
pub fn station_signs(
    station: &mut signer_station::station::Station,
    hsm: &dyn signer_station::hsm::SigningBackend,
    req: &airgap_protocol::envelope::SignRequest,
) -> Result<airgap_protocol::envelope::SignResponse> {
    let review = station
        .review(req, crate::requests::now())
        .map_err(|e| anyhow!("{e}"))?;
    review
        .verdict
        .clone()
        .map_err(|e| anyhow!("station refused: {e}"))?;
    station
        .sign(&review, hsm, crate::requests::now())
        .map_err(|e| anyhow!("{e}"))
}

/// The station reviews `req`, its policy refuses it, and it answers with its signed
/// refusal (as custodians release it); the answer and the refusal's words. A request
/// the policy would sign is an error.
pub fn station_refuses_to_sign(
    station: &mut signer_station::station::Station,
    hsm: &dyn signer_station::hsm::SigningBackend,
    req: &airgap_protocol::envelope::SignRequest,
) -> Result<(airgap_protocol::envelope::SignResponse, String)> {
    let review = station
        .review(req, crate::requests::now())
        .map_err(|e| anyhow!("{e}"))?;
    let Err(refusal) = review.verdict.clone() else {
        bail!("the station's policy would sign it")
    };
    let answer = station
        .refuse(&review, &refusal, hsm, crate::requests::now())
        .map_err(|e| anyhow!("{e}"))?;
    Ok((answer, refusal.to_string()))
}

fn with_headers<B>(
    mut r: ureq::RequestBuilder<B>,
    headers: &[(String, String)],
) -> ureq::RequestBuilder<B> {
    for (k, v) in headers {
        r = r.header(k.as_str(), v.as_str());
    }
    r
}

/// An HTTP answer: status, the body and, when it is JSON, the body parsed.
fn answer(resp: ureq::http::Response<ureq::Body>) -> Result<Answer> {
    let status = resp.status().as_u16();
    let bytes = resp.into_body().read_to_vec()?;
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Ok(Answer {
        status,
        json,
        bytes,
    })
}

/// Owned strings of `list` (command-line arguments).
pub fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// A test's own empty folder, `strongroom-<name>-<pid>` under the temporary directory.
pub fn scratch(name: &str) -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("strongroom-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}
