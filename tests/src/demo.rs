//! The vault round trip on embedded defaults, through the coordinator service: the
//! coordinator runs as a process on SQLite and loopback; two stations on MockHsm go
//! through their ceremony (custodian quorum, HSM init, keys, pinned coordinator and
//! approver keys, signed policy, descriptor shown as QR frames and registered with the
//! coordinator from those frames); then one request per chain is created through the API,
//! cleared by risk, built by the coordinator's worker, approved by two approvers'
//! signatures, exported as animated QR frames (PNG, read back by the station with frame
//! loss and camera damage) and as USB bundles, reviewed and signed at the station(s),
//! imported, finalised, broadcast and confirmed:
//!
//! - Bitcoin: a 2-of-2 vault across both stations on the regtest fixture chain (a local
//!   server speaking the Esplora API that verifies every transaction with Bitcoin Core's
//!   interpreter). Always runs.
//! - EVM: on anvil (chain id 1) when it is installed.
//! - Solana: on LiteSVM (the real runtime, PyPI `solders`) when it is installed.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;
use airgap_protocol::envelope::*;
use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload as Scanned, ScanEvent, Scanner};
use airgap_protocol::summary::TokenList;
use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::{Signer, SigningKey};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use signer_station::ceremony::StationKeys;
use signer_station::ceremony::{export_descriptor, generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, YubiHsm};
use signer_station::ledger::{Ledger, Record};
use signer_station::quorum::QuorumFile;
use signer_station::station::policy::{self, AssetLimit, Destination, FeeLimit, Policy};
use signer_station::station::registration::{self, RegisteredApprover, Registration};
use signer_station::station::Station;
use usb_transfer::keyfile::{KeyPair, PublicKeys};
use usb_transfer::{open_bundle, seal_bundle, BundleKind};

use strongroom_e2e::anvil::{Anvil, FUNDER};
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::litesvm::LiteSvm;
use strongroom_e2e::service::{add_token, ur_texts, write_key, Service};

const QR_VERSION: u8 = 15;
const USB_PASSPHRASE: &str = "demo usb passphrase";
const ETHER: u128 = 1_000_000_000_000_000_000;
const SOL: u64 = 1_000_000_000;

fn seed_key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn step(who: &str, what: impl AsRef<str>) {
    println!("[{who:<11}] {}", what.as_ref());
}

fn btc_recipient() -> bitcoin::Address {
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&[2; 32]).expect("a valid key");
    let pk = bitcoin::CompressedPublicKey(sk.public_key(&bitcoin::secp256k1::Secp256k1::new()));
    bitcoin::Address::p2wpkh(&pk, bitcoin::Network::Regtest)
}
const EVM_RECIPIENT: &str = "0x5252525252525252525252525252525252525252";
fn sol_recipient() -> String {
    bs58::encode(
        seed_key("demo exchange hot wallet")
            .verifying_key()
            .to_bytes(),
    )
    .into_string()
}
fn sol_nonce_key() -> SigningKey {
    seed_key("demo durable nonce account")
}

/// Writes an envelope as QR frames (PNG) and returns how many.
fn write_frames(env: &Envelope, dir: &Path) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    let (ur_type, message) = encode_envelope(env);
    let frag = qr::max_fragment_len_for_version(ur_type, QR_VERSION, message.len())
        .context("fragment length")?;
    let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag)?;
    let r = FrameRenderer::new(QR_VERSION)?;
    let n = if enc.is_single_part() {
        1
    } else {
        enc.fragment_count() * 2 + 2
    };
    for i in 0..n {
        std::fs::write(
            dir.join(format!("{:04}.png", i + 1)),
            r.to_png(&enc.next_part(), 4)?,
        )?;
    }
    Ok(n)
}

fn frame_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
    Ok(files)
}

/// Reads frames as a camera would: joins at a random point of the loop, loses 30 %,
/// and every other frame is JPEG-damaged or blurred.
fn read_frames(dir: &Path, seed: u64) -> Result<(Envelope, usize, usize)> {
    let files = frame_files(dir)?;
    let mut rng = SplitMix::new(seed);
    let start = (rng.next_u64() % files.len() as u64) as usize;
    let mut scanner = Scanner::default();
    let (mut shown, mut lost) = (0, 0);
    for k in 0..files.len() * 4 {
        shown += 1;
        if rng.next_f64() < 0.3 {
            lost += 1;
            continue;
        }
        let code = image::open(&files[(start + k) % files.len()])?.to_luma8();
        let canvas = place_on_canvas(&code, 620);
        let d = match k % 4 {
            0 => Degradation::Jpeg(30),
            2 => Degradation::Blur(1),
            _ => Degradation::Clean,
        };
        let frame = degrade(&canvas, 620, d, k as u64);
        let g = GrayFrame {
            width: frame.width() as usize,
            height: frame.height() as usize,
            data: frame.as_raw(),
        };
        for ev in scanner.push_frame(g) {
            if let ScanEvent::Complete(Scanned::Ur { ur_type, message }) = ev {
                return Ok((decode_envelope(&ur_type, &message)?, shown, lost));
            }
        }
    }
    bail!("frames in {} never completed", dir.display())
}

/// The texts of QR frames (PNG files), as the console's camera would scan them.
fn scan_texts(dir: &Path) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    for f in frame_files(dir)? {
        let img = image::open(&f)?.to_luma8();
        let g = GrayFrame {
            width: img.width() as usize,
            height: img.height() as usize,
            data: img.as_raw(),
        };
        for t in qr::decode_gray(g, qr::DecoderKind::default()) {
            if !texts.contains(&t) {
                texts.push(t);
            }
        }
    }
    Ok(texts)
}

/// The station policy of the demo: the three networks, their recipients and limits.
fn station_policy() -> Result<Policy> {
    let mut p = signer_station::tui::rehearsal::policy()?;
    p.networks = vec!["regtest".into(), "evm:1".into(), "solana:devnet".into()];
    let limit = |network: &str, per_tx: String, per_day: String| AssetLimit {
        network: network.into(),
        asset: "native".into(),
        per_transaction: per_tx,
        per_24h: per_day,
    };
    p.limits = vec![
        limit("regtest", "50000000".into(), "200000000".into()),
        limit("evm:1", (2 * ETHER).to_string(), (10 * ETHER).to_string()),
        limit(
            "solana:devnet",
            (5 * SOL).to_string(),
            (20 * SOL).to_string(),
        ),
    ];
    let dest = |network: &str, address: String| Destination {
        network: network.into(),
        address,
    };
    p.allow_list = vec![
        dest("regtest", btc_recipient().to_string()),
        dest("evm:1", EVM_RECIPIENT.into()),
        dest("solana:devnet", sol_recipient()),
        dest(
            "solana:devnet",
            bs58::encode(sol_nonce_key().verifying_key().to_bytes()).into_string(),
        ),
    ];
    p.fees = vec![
        FeeLimit {
            network: "regtest".into(),
            max: "200000".into(),
            max_per_mille: 100,
        },
        FeeLimit {
            network: "evm:1".into(),
            max: (ETHER / 100).to_string(),
            max_per_mille: 1000,
        },
        FeeLimit {
            network: "solana:devnet".into(),
            max: "1000000".into(),
            max_per_mille: 1000,
        },
    ];
    Ok(p)
}

/// One station after its ceremony, unlocked by two of its three custodians.
struct DemoStation {
    name: String,
    station: Station,
    session: YubiHsm,
    keys: StationKeys,
    descriptor: StationDescriptor,
    usb: KeyPair,
    usb_pub: PublicKeys,
    dir: PathBuf,
}

fn ceremony(run: &Path, name: &str, coordinator: &SigningKey, now: u64) -> Result<DemoStation> {
    let dir = run.join(name);
    std::fs::create_dir_all(&dir)?;
    let custodians: Vec<(String, SecretString)> = ["ana", "ben", "cy"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                SecretString::from(format!("{name} passphrase of {n}")),
            )
        })
        .collect();
    let (quorum, credential) = QuorumFile::create(OPERATING_KEY_ID, 2, &custodians, Some(12))?;
    usb_transfer::write_atomically(
        &dir,
        "quorum.json",
        serde_json::to_string_pretty(&quorum)?.as_bytes(),
    )?;
    let factory = YubiHsm::open_factory(Connection::Mock)?;
    let hsm = init(&factory, &credential)?;
    drop(credential);
    let mut ledger = Ledger::open(&dir.join("ledger.jsonl"))?;
    ledger.append(
        now,
        Record::Ceremony {
            step: "init".into(),
            detail: "quorum 2 of 3 (ana, ben, cy); factory key removed".into(),
        },
    )?;
    let keys = generate_station_keys(&hsm)?;
    let reg = Registration {
        coordinator_keys: vec![hex::encode(coordinator.verifying_key().as_bytes())],
        approvers: [("ana-approver", "treasury"), ("ben-approver", "risk")]
            .iter()
            .map(|(n, role)| RegisteredApprover {
                name: n.to_string(),
                role: role.to_string(),
                key: hex::encode(seed_key(n).verifying_key().as_bytes()),
            })
            .collect(),
    };
    let identity =
        ed25519_dalek::VerifyingKey::from_bytes(&keys.identity.public_key.as_slice().try_into()?)?;
    let reg_json = serde_json::to_string_pretty(&registration::sign(&hsm, &keys.identity, reg)?)?;
    usb_transfer::write_atomically(&dir, "registration.json", reg_json.as_bytes())?;
    let anchors = registration::load(&reg_json, &identity)?;
    let policy_json =
        serde_json::to_string_pretty(&policy::sign(&hsm, &keys.identity, station_policy()?)?)?;
    usb_transfer::write_atomically(&dir, "policy.json", policy_json.as_bytes())?;
    let station_policy = policy::load(&policy_json, &identity)?;
    ledger.append(
        now,
        Record::Ceremony {
            step: "register".into(),
            detail: "coordinator key and 2 approvers pinned; policy signed".into(),
        },
    )?;
    let descriptor = export_descriptor(&hsm, &keys, name, &station_policy, now)?;
    let n = write_frames(
        &Envelope::Descriptor(descriptor.clone()),
        &dir.join("descriptor-frames"),
    )?;
    let usb_dir = dir.join("usb-keys");
    std::fs::create_dir_all(&usb_dir)?;
    let usb_pub = usb_transfer::keyfile::generate(
        &usb_dir,
        SecretString::from(USB_PASSPHRASE.to_string()),
        Some(10),
    )?;
    let usb =
        usb_transfer::keyfile::load(&usb_dir, SecretString::from(USB_PASSPHRASE.to_string()))?;
    // The vault room opens: two of three custodians unlock the HSM.
    let mut unlock = quorum.unlock();
    for c in ["ana", "cy"] {
        unlock.enter(c, SecretString::from(format!("{name} passphrase of {c}")))?;
    }
    let credential = unlock.finish()?;
    let session = hsm.reopen(OPERATING_KEY_ID, credential.expose())?;
    drop(credential);
    step(
        name,
        format!(
            "ceremony: HSM initialised (quorum 2 of 3), keys generated, coordinator and approvers pinned, policy signed; descriptor shown as QR ({n} frame{}); unlocked by ana and cy",
            if n == 1 { "" } else { "s" }
        ),
    );
    Ok(DemoStation {
        name: name.into(),
        station: Station::new(
            keys.clone(),
            anchors,
            station_policy,
            TokenList::default(),
            ledger,
        ),
        session,
        keys,
        descriptor,
        usb,
        usb_pub,
        dir,
    })
}

fn regtest_key(keys: &StationKeys) -> Result<&signer_station::hsm::KeyInfo> {
    keys.bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
        .context("no regtest key")
}

/// Custodians register a Bitcoin vault: the policy, with the vault, signed again under
/// their quorum and written beside the old one; recorded in the ledger.
fn register_vault(s: &mut DemoStation, name: &str, descriptor: &str, now: u64) -> Result<()> {
    let mut p = s.station.policy().clone();
    p.vaults
        .push(signer_station::station::policy::RegisteredVault {
            name: name.into(),
            network: "regtest".into(),
            descriptor: descriptor.into(),
        });
    let signed = policy::sign(&s.session, &s.keys.identity, p)?;
    // The newly signed policy replaces the old one (as `ceremony register` does).
    std::fs::remove_file(s.dir.join("policy.json"))?;
    usb_transfer::write_atomically(
        &s.dir,
        "policy.json",
        serde_json::to_string_pretty(&signed)?.as_bytes(),
    )?;
    let identity = ed25519_dalek::VerifyingKey::from_bytes(
        &s.keys.identity.public_key.as_slice().try_into()?,
    )?;
    let loaded = policy::load(&serde_json::to_string(&signed)?, &identity)?;
    s.station.set_policy(loaded, now)?;
    if let Some(e) = s.station.vault_error() {
        bail!("{}: {e}", s.name);
    }
    step(&s.name, format!("vault {name} registered: {descriptor}"));
    Ok(())
}

/// How a request crosses to a station and back.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Via {
    Qr,
    Usb,
}

struct Demo {
    svc: Service,
    run: PathBuf,
    coordinator_usb: PublicKeys,
    tokens: Tokens,
    seed: u64,
}

struct Tokens {
    treasury: String,
    risk: String,
    ana: String,
    ben: String,
    auditor: String,
}

impl Demo {
    fn ok(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Result<Value> {
        let a = self.svc.call(method, path, Some(token), body)?;
        if a.status >= 300 {
            bail!("{method} {path}: {} {}", a.status, a.json);
        }
        Ok(a.json)
    }

    /// Creates a request through the API and clears risk's manual review if asked.
    fn create(&self, network: &str, destination: &str, amount: &str, memo: &str) -> Result<String> {
        let body = json!({"network": network, "asset": "native", "destination": destination,
            "amount": amount, "purpose": "withdrawal", "memo": memo});
        let a = self.svc.call_with(
            "POST",
            "/v1/requests",
            Some(&self.tokens.treasury),
            Some(&body),
            &[("Idempotency-Key", memo)],
        )?;
        if a.status != 201 {
            bail!("create: {} {}", a.status, a.json);
        }
        let id = a.json["request"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let state = a.json["request"]["state"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        step(
            "coordinator",
            format!("{network}: request {id} created ({state}): {amount} to {destination}"),
        );
        if state == "manual-review" {
            let reasons = a.json["risk"].to_string();
            self.ok(
                "POST",
                &format!("/v1/requests/{id}/review"),
                &self.tokens.risk,
                Some(&json!({"decision": "clear", "reason": "demo: known counterparty"})),
            )?;
            step("risk", format!("cleared the manual review ({reasons})"));
        }
        Ok(id)
    }

    /// Approvals, export, the station(s), import; returns once the request is finalised
    /// or further.
    fn sign(
        &mut self,
        label: &str,
        id: &str,
        stations: &mut [(&mut DemoStation, Via)],
    ) -> Result<()> {
        let view = self.svc.wait_envelope(id, &self.tokens.ana)?;
        step(
            "coordinator",
            format!(
                "{label}: built by the worker: {}",
                compact(&view["transaction"])
            ),
        );
        let digest: [u8; 32] = hex::decode(view["digest"].as_str().unwrap_or_default())?
            .try_into()
            .map_err(|_| anyhow!("digest"))?;
        for (who, tok) in [("ana", &self.tokens.ana), ("ben", &self.tokens.ben)] {
            let sig =
                seed_key(&format!("{who}-approver")).sign(&SignRequest::approval_message(&digest));
            self.ok(
                "POST",
                &format!("/v1/requests/{id}/approvals"),
                tok,
                Some(&json!({"signature": hex::encode(sig.to_bytes())})),
            )?;
        }
        step(
            "approvers",
            format!(
                "{label}: ana and ben signed digest {}",
                &hex::encode(digest)[..16]
            ),
        );
        let e = self.ok(
            "POST",
            &format!("/v1/requests/{id}/export"),
            &self.tokens.treasury,
            None,
        )?;
        let count = e["frames"].as_array().map_or(0, Vec::len);
        let out = self.run.join(label);
        let frames_dir = out.join("request-frames");
        std::fs::create_dir_all(&frames_dir)?;
        for n in 0..count {
            let a = self.svc.call(
                "GET",
                &format!("/v1/requests/{id}/export/frames/{n}"),
                Some(&self.tokens.treasury),
                None,
            )?;
            std::fs::write(frames_dir.join(format!("{:04}.png", n + 1)), &a.bytes)?;
        }
        step(
            "coordinator",
            format!(
                "{label}: exported as {count} QR frames → {}",
                frames_dir.display()
            ),
        );
        for (s, via) in stations.iter_mut() {
            let request = match via {
                Via::Qr => {
                    self.seed += 1;
                    let (env, shown, lost) = read_frames(&frames_dir, self.seed)?;
                    step(&s.name, format!("{label}: request captured from {shown} frames ({lost} lost, JPEG and blur on the rest)"));
                    env
                }
                Via::Usb => {
                    let a = self.svc.call(
                        "GET",
                        &format!("/v1/requests/{id}/export/bundle?station={}", s.name),
                        Some(&self.tokens.treasury),
                        None,
                    )?;
                    if a.status != 200 {
                        bail!("bundle: {} {}", a.status, a.json);
                    }
                    let usb = out.join(format!("usb-to-{}", s.name));
                    std::fs::create_dir_all(&usb)?;
                    let path = usb_transfer::write_bundle(&usb, BundleKind::Request, id, &a.bytes)?;
                    let b = open_bundle(
                        &std::fs::read(&path)?,
                        &s.usb.identity,
                        &[self.coordinator_usb.ed25519],
                    )?;
                    step(&s.name, format!("{label}: USB bundle {} opened (signature, recipient, digests verified)", path.display()));
                    decode_envelope(REQUEST_UR_TYPE, &b.envelope)?
                }
            };
            let Envelope::Request(req) = request else {
                bail!("not a request")
            };
            let now = unix_now();
            let review = s
                .station
                .review(&req, now)
                .map_err(|e| anyhow!("refused: {e}"))?;
            for f in review.payloads.iter().filter_map(|p| p.facts.as_ref()) {
                for t in &f.transfers {
                    let class = match &t.class {
                        signer_station::station::Class::Own { proof } => {
                            format!(" (change, proven: {proof})")
                        }
                        signer_station::station::Class::Internal => " (internal)".into(),
                        signer_station::station::Class::External => String::new(),
                    };
                    let amount = airgap_protocol::summary::Amount {
                        base_units: t.amount,
                        decimals: t.decimals,
                        symbol: t.symbol.clone(),
                    };
                    step(
                        &s.name,
                        format!(
                            "{label}: review on {}: {} → {}{class}",
                            f.network,
                            amount.display(),
                            t.to
                        ),
                    );
                }
                step(
                    &s.name,
                    format!("{label}: review: fee {} base units", f.fee),
                );
            }
            review
                .verdict
                .clone()
                .map_err(|e| anyhow!("station refuses: {e}"))?;
            let resp = s
                .station
                .sign(&review, &s.session, now)
                .map_err(|e| anyhow!("signing: {e}"))?;
            step(
                &s.name,
                format!(
                    "{label}: signed; ledger {} entries",
                    s.station.ledger().len()
                ),
            );
            let answer = match via {
                Via::Qr => {
                    let dir = out.join(format!("response-frames-{}", s.name));
                    let n = write_frames(&Envelope::Response(resp), &dir)?;
                    let texts = scan_texts(&dir)?;
                    step(
                        "coordinator",
                        format!(
                            "{label}: response scanned from {n} frames → {}",
                            dir.display()
                        ),
                    );
                    self.svc.call(
                        "POST",
                        &format!("/v1/requests/{id}/import"),
                        Some(&self.tokens.treasury),
                        Some(&json!({"frames": texts})),
                    )?
                }
                Via::Usb => {
                    let (_, message) = encode_envelope(&Envelope::Response(resp));
                    let sealed = seal_bundle(
                        BundleKind::Response,
                        &message,
                        &self.coordinator_usb.x25519,
                        &s.usb.signing,
                        unix_now(),
                    )?;
                    let usb = out.join(format!("usb-from-{}", s.name));
                    std::fs::create_dir_all(&usb)?;
                    let path = usb_transfer::write_bundle(&usb, BundleKind::Response, id, &sealed)?;
                    step(
                        "coordinator",
                        format!("{label}: response bundle {}", path.display()),
                    );
                    self.svc.post_bytes(
                        &format!("/v1/requests/{id}/import"),
                        &self.tokens.treasury,
                        "application/octet-stream",
                        &std::fs::read(&path)?,
                    )?
                }
            };
            if answer.status != 200 {
                bail!("import: {} {}", answer.status, answer.json);
            }
            step(
                "coordinator",
                format!(
                    "{label}: imported from {} → {}",
                    s.name,
                    answer.json["request"]["state"].as_str().unwrap_or("?")
                ),
            );
        }
        Ok(())
    }

    fn confirmed(&self, label: &str, id: &str, mine: impl FnMut()) -> Result<()> {
        self.svc
            .wait_state(id, &self.tokens.auditor, "confirmed", mine)?;
        let c = self.ok(
            "GET",
            &format!("/v1/requests/{id}/chain"),
            &self.tokens.auditor,
            None,
        )?;
        step(
            "coordinator",
            format!(
                "{label}: broadcast and confirmed: {}",
                c["hash"].as_str().unwrap_or("?")
            ),
        );
        Ok(())
    }
}

fn compact(v: &Value) -> String {
    let mut s = v.to_string();
    if s.len() > 160 {
        s.truncate(157);
        s.push_str("...");
    }
    s
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `strongroom demo`: two station ceremonies on MockHsm, the coordinator service on
/// SQLite, and one request per chain (Bitcoin 2-of-2 on a regtest fixture chain; EVM on
/// anvil and Solana on LiteSVM when installed) through QR frames and USB bundles to
/// broadcast and confirmation.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Where each run writes its frames, bundles, ledgers, database and audit log.
    #[arg(long, value_name = "DIR", default_value = "strongroom-demo")]
    out: PathBuf,
    /// Leave the coordinator and its web console running afterwards.
    #[arg(long)]
    keep: bool,
}

pub fn run(args: &DemoArgs) -> Result<()> {
    let t0 = Instant::now();
    let base = args.out.clone();
    let keep = args.keep;
    let now = unix_now();
    let run = std::fs::canonicalize(std::fs::create_dir_all(&base).map(|()| &base)?)?
        .join(format!("run-{now}"));
    std::fs::create_dir_all(&run)?;
    println!("Strongroom vault round trip — stations on MockHsm, NOT A HARDWARE SECURITY MODULE (demo only)");
    println!("output: {}\n", run.display());

    // ---- chains
    let btc = BtcServer::start()?;
    step(
        "chains",
        format!(
            "bitcoin: regtest fixture chain, Esplora API at {}",
            btc.esplora()
        ),
    );
    let anvil = match Anvil::start(1) {
        Ok(a) => {
            step("chains", format!("evm: anvil (chain id 1) at {}", a.url));
            Some(a)
        }
        Err(e) => {
            step("chains", format!("evm: SKIPPED — {e}"));
            None
        }
    };
    let svm = match LiteSvm::start() {
        Ok(s) => {
            step(
                "chains",
                format!("solana: LiteSVM (the real runtime) at {}", s.url),
            );
            Some(s)
        }
        Err(e) => {
            step(
                "chains",
                format!(
                    "solana: SKIPPED — LiteSVM unavailable ({e}); `pip install solders==0.29.0`"
                ),
            );
            None
        }
    };

    // ---- stations
    let coordinator = seed_key("demo coordinator request key");
    let mut a = ceremony(&run, "vault-a", &coordinator, now)?;
    let mut b = ceremony(&run, "vault-b", &coordinator, now)?;

    // ---- coordinator service
    let exe = std::env::current_exe()?;
    let db = run.join("coordinator.db");
    let key_path = run.join("coordinator.key");
    write_key(&key_path, &coordinator)?;
    let coord_usb_dir = run.join("coordinator-usb-keys");
    std::fs::create_dir_all(&coord_usb_dir)?;
    let coordinator_usb = usb_transfer::keyfile::generate(
        &coord_usb_dir,
        SecretString::from(USB_PASSPHRASE.to_string()),
        Some(10),
    )?;
    let mut chains = format!(
        "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 2\n\
         stations = [\"vault-a\", \"vault-b\"]\nconfirmations = 2\nmax_fee_rate = 50\n",
        btc.esplora()
    );
    if let Some(an) = &anvil {
        chains.push_str(&format!(
            "\n[[evm]]\nname = \"anvil\"\nchain_id = 1\nendpoints = [\"{}\"]\nconfirmations = 2\n\
             max_fee_per_gas_cap = 200000000000\nmax_priority_fee_cap = 5000000000\n\
             min_priority_fee = 1000000000\nstation = \"vault-a\"\n",
            an.url
        ));
    }
    if let Some(s) = &svm {
        chains.push_str(&format!(
            "\n[[solana]]\nname = \"devnet\"\nnetwork = \"solana:devnet\"\nendpoints = [\"{}\"]\n\
             nonce_accounts = [\"{}\"]\nstation = \"vault-a\"\ncompute_unit_limit = 10000\ncompute_unit_price = 50000\n",
            s.url,
            bs58::encode(sol_nonce_key().verifying_key().to_bytes()).into_string()
        ));
    }
    std::fs::write(run.join("chains.toml"), &chains)?;
    let token = |p: &str, r: &str| add_token(&exe, &db, p, r);
    let admin = token("admin", "admin")?;
    let tokens = Tokens {
        treasury: token("treasury-desk", "treasury")?,
        risk: token("risk-desk", "risk")?,
        ana: token("ana", "approver")?,
        ben: token("ben", "approver")?,
        auditor: token("auditor", "auditor")?,
    };
    let svc = Service::start_logged(
        &exe,
        &db,
        &[
            "--chains".into(),
            run.join("chains.toml").display().to_string(),
            "--key".into(),
            key_path.display().to_string(),
            "--usb-keys".into(),
            coord_usb_dir.display().to_string(),
            "--approvals".into(),
            "2".into(),
            "--allow-mock-hsm".into(),
            "--poll-ms".into(),
            "200".into(),
        ],
        &[("STRONGROOM_USB_PASSPHRASE", USB_PASSPHRASE)],
        Some(&run.join("coordinator.log")),
    )?;
    step(
        "coordinator",
        format!(
            "serving on SQLite {} — web console {}/console (auditor token {})",
            db.display(),
            svc.url,
            tokens.auditor
        ),
    );
    let mut demo = Demo {
        svc,
        run: run.clone(),
        coordinator_usb,
        tokens,
        seed: 1,
    };

    // ---- registration: descriptors from the stations' frames, approver keys
    for s in [&a, &b] {
        let (env, shown, lost) = read_frames(&s.dir.join("descriptor-frames"), 7)?;
        let Envelope::Descriptor(d) = env else {
            bail!("not a descriptor")
        };
        let frames = ur_texts(&Envelope::Descriptor(d));
        let r = demo.ok(
            "POST",
            "/v1/stations",
            &admin,
            Some(&json!({"frames": frames, "usb_keys": s.usb_pub.to_text()})),
        )?;
        step("coordinator", format!("station {} registered from its descriptor frames ({shown} shown, {lost} lost); identity {}", s.name, &r["identity"].as_str().unwrap_or("?")[..16]));
        if s.descriptor.mock_hsm {
            step(
                "coordinator",
                format!(
                    "WARNING: {} runs on MockHsm — never fund it outside a demo",
                    s.name
                ),
            );
        }
    }
    for who in ["ana", "ben"] {
        demo.ok(
            "POST",
            "/v1/approvers",
            &admin,
            Some(&json!({"principal": who, "public_key": hex::encode(seed_key(&format!("{who}-approver")).verifying_key().to_bytes())})),
        )?;
    }
    step("coordinator", "approver keys of ana and ben registered");

    // ---- Bitcoin: 2-of-2 across both stations; vault-a by QR, vault-b by USB
    let vault = coordinator::bitcoin::Vault::multisig(
        "cold",
        2,
        &[
            bitcoin::PublicKey::from_slice(&regtest_key(&a.keys)?.public_key)?,
            bitcoin::PublicKey::from_slice(&regtest_key(&b.keys)?.public_key)?,
        ],
        bitcoin::Network::Regtest,
    )?;
    // Each station's custodians compare the vault with their screen and register it in
    // their signed policy: only then do they sign its coins or recognise its change.
    for s in [&mut a, &mut b] {
        register_vault(s, "cold", &vault.descriptor, now)?;
    }
    let spk = vault.address().script_pubkey();
    btc.with(|s| {
        let tx = s.chain.funding(
            (0..2)
                .map(|_| bitcoin::TxOut {
                    value: bitcoin::Amount::from_sat(1_000_000),
                    script_pubkey: spk.clone(),
                })
                .collect(),
        );
        s.mine(vec![tx]);
    });
    step(
        "chains",
        format!(
            "bitcoin: vault {} funded with 2 × 1,000,000 sat",
            vault.address()
        ),
    );
    let id = demo.create(
        "regtest",
        &btc_recipient().to_string(),
        "600000",
        "demo-btc",
    )?;
    demo.sign("bitcoin", &id, &mut [(&mut a, Via::Qr), (&mut b, Via::Usb)])?;
    demo.confirmed("bitcoin", &id, || {
        btc.with(|s| {
            s.mine(vec![]);
        })
    })?;

    // ---- EVM on anvil
    if let Some(an) = &anvil {
        let vault = coordinator::evm::vault_address(&a.keys.evm.public_key).context("evm key")?;
        an.send_from(
            FUNDER,
            Some(vault),
            alloy_primitives::U256::from(5 * ETHER),
            &[],
        )?;
        step(
            "chains",
            format!("evm: vault {} funded with 5 ETH", vault.to_checksum(None)),
        );
        let id = demo.create("evm:1", EVM_RECIPIENT, &(ETHER / 4).to_string(), "demo-evm")?;
        demo.sign("evm", &id, &mut [(&mut a, Via::Qr)])?;
        demo.confirmed("evm", &id, || {
            let _ = an.mine(1);
        })?;
    }

    // ---- Solana on LiteSVM: the nonce account is provisioned first (a ceremony step,
    // signed by the station outside the request queue), then a SOL transfer by USB.
    if let Some(s) = &svm {
        let node = coordinator::solana::SolRpc::new(s.rpc());
        let vault_key: [u8; 32] = a
            .keys
            .solana(airgap_protocol::network::SolanaCluster::Devnet)
            .and_then(|k| k.public_key.as_slice().try_into().ok())
            .context("no solana:devnet key")?;
        let vault = solana_address::Address::new_from_array(vault_key);
        s.rpc()
            .call_raw("test_airdrop", json!([vault.to_string(), 10 * SOL]))?;
        provision_nonce(&node, &mut a, &coordinator, vault)?;
        let id = demo.create(
            "solana:devnet",
            &sol_recipient(),
            &(3 * SOL / 2).to_string(),
            "demo-sol",
        )?;
        demo.sign("solana", &id, &mut [(&mut a, Via::Usb)])?;
        demo.confirmed("solana", &id, || {})?;
    }

    // ---- the record
    let audit = demo.ok("GET", "/v1/audit", &demo.tokens.auditor, None)?;
    std::fs::write(
        run.join("audit.json"),
        serde_json::to_string_pretty(&audit["rows"])?,
    )?;
    let v = demo.ok("GET", "/v1/audit/verify", &demo.tokens.auditor, None)?;
    step(
        "coordinator",
        format!(
            "audit chain: {} rows, intact: {} → {}",
            v["rows"],
            v["ok"],
            run.join("audit.json").display()
        ),
    );
    println!(
        "\ndone in {:.1} s. Frames and USB bundles: {}/<chain>/, station ledgers: {}/vault-*/ledger.jsonl, coordinator database: {}, log: {}",
        t0.elapsed().as_secs_f64(),
        run.display(),
        run.display(),
        db.display(),
        run.join("coordinator.log").display(),
    );
    if keep {
        println!(
            "coordinator still running at {}/console — press Enter to stop",
            demo.svc.url
        );
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
    }
    Ok(())
}

/// Creates the vault's durable nonce account: built by the coordinator library, approved,
/// signed by the station and by the throwaway nonce key, sent, and waited for.
fn provision_nonce(
    node: &coordinator::solana::SolRpc,
    s: &mut DemoStation,
    coordinator: &SigningKey,
    vault: solana_address::Address,
) -> Result<()> {
    let nonce_key = sol_nonce_key();
    let nonce = solana_address::Address::new_from_array(nonce_key.verifying_key().to_bytes());
    let b = coordinator::solana::SolBuilder { node };
    let tx = b.create_nonce_account(&vault, &nonce, coordinator::solana::TxOptions::default())?;
    let now = unix_now();
    let mut req = SignRequest {
        request_id: Sha256::digest(format!("provision {now}"))[..16].try_into()?,
        created: now,
        expires: now + 600,
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::KeyRegistration,
        requester: "admin".into(),
        memo: "durable nonce account for the Solana vault".into(),
        payloads: vec![tx.payload("solana:devnet", &vault)],
        approvals: vec![],
        coordinator_signature: [0; 64],
    };
    req.approve_with(&seed_key("ana-approver"));
    req.approve_with(&seed_key("ben-approver"));
    req.sign_with(coordinator);
    let review = s
        .station
        .review(&req, now)
        .map_err(|e| anyhow!("refused: {e}"))?;
    review
        .verdict
        .clone()
        .map_err(|e| anyhow!("station refuses: {e}"))?;
    let resp = s
        .station
        .sign(&review, &s.session, now)
        .map_err(|e| anyhow!("signing: {e}"))?;
    let Outcome::Signed(sigs) = resp.outcome else {
        bail!("refused")
    };
    let [PayloadSignature::Solana(sigs)] = sigs.as_slice() else {
        bail!("signatures")
    };
    let mut sigs = sigs.clone();
    sigs.push((nonce.to_bytes(), nonce_key.sign(&tx.message).to_bytes()));
    let wire = coordinator::solana::assemble(&tx, &sigs)?;
    node.send(&wire)?;
    let t = coordinator::solana::SolTracker::new(&tx, &wire, "confirmed");
    for _ in 0..200 {
        if let coordinator::solana::SolState::Landed { .. } = t.poll(node)? {
            step(
                &s.name,
                format!(
                    "solana: durable nonce account {nonce} provisioned under the vault's authority"
                ),
            );
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    bail!("the nonce account transaction did not land")
}
