//! The vault round trip on embedded defaults: a station ceremony on MockHsm, then one
//! request per chain from the coordinator to the station through animated QR frames
//! (read back with frame loss and camera damage) and a USB bundle, custodian unlock,
//! review, signing, and the response back through QR frames.
//!
//! What it does not do yet: broadcast. The Bitcoin transaction is finalised and checked
//! by Bitcoin Core's script interpreter; the EVM and Solana signatures are verified
//! against the station's keys; sending them to a devnet arrives with the chain issues.

use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use age::secrecy::SecretString;
use airgap_protocol::envelope::*;
use airgap_protocol::qr::corpus::{degrade, place_on_canvas, Degradation, SplitMix};
use airgap_protocol::qr::{self, FrameRenderer, GrayFrame};
use airgap_protocol::scanner::{Payload as Scanned, ScanEvent, Scanner};
use airgap_protocol::summary::TokenList;
use anyhow::{anyhow, bail, Context, Result};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};
use signer_station::ceremony::{export_descriptor, generate_station_keys, init, OPERATING_KEY_ID};
use signer_station::hsm::{Connection, SigningBackend, YubiHsm};
use signer_station::ledger::{Ledger, Record};
use signer_station::quorum::QuorumFile;
use signer_station::station::policy;
use signer_station::station::registration::{self, RegisteredApprover, Registration};
use signer_station::station::Station;
use usb_transfer::{open_bundle, seal_bundle, write_atomically, write_bundle, BundleKind};

use strongroom_e2e::fixtures::{btc_psbt_for, evm_tx_for, solana_message_for, EVM_RECIPIENT};

const BTC_DEST_SECRET: [u8; 32] = [2; 32];
const SOL_RECIPIENT: [u8; 32] = [2; 32];
const SOL_NONCE_ACCOUNT: [u8; 32] = [5; 32];
const QR_VERSION: u8 = 20;

fn seed_key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn step(who: &str, what: impl AsRef<str>) {
    println!("[{who:<11}] {}", what.as_ref());
}

/// Writes an envelope as a stream of QR frames (PNG) and returns how many.
fn write_frames(env: &Envelope, dir: &Path, count_factor: usize) -> Result<usize> {
    std::fs::create_dir_all(dir)?;
    let (ur_type, message) = encode_envelope(env);
    let frag = qr::max_fragment_len_for_version(ur_type, QR_VERSION, message.len())
        .context("fragment length")?;
    let mut enc = airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag)?;
    let r = FrameRenderer::new(QR_VERSION)?;
    // A single-part message is one frame; a stream shows each fragment several times over.
    let n = if enc.is_single_part() {
        1
    } else {
        enc.fragment_count() * count_factor + 2
    };
    for i in 0..n {
        std::fs::write(
            dir.join(format!("{:04}.png", i + 1)),
            r.to_png(&enc.next_part(), 5)?,
        )?;
    }
    Ok(n)
}

/// Reads frames as a camera would: joins at a random point of the loop, loses 30 %,
/// and every other frame is JPEG-damaged or blurred.
fn read_frames(dir: &Path, seed: u64) -> Result<(Envelope, usize, usize)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.sort();
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

fn bs58_encode(k: &[u8; 32]) -> String {
    airgap_protocol::summary::solana::b58(k)
}

pub fn run(args: &[String]) -> Result<()> {
    let t0 = Instant::now();
    let base = match args {
        [] => PathBuf::from("strongroom-demo"),
        [flag, dir] if flag == "--out" => PathBuf::from(dir),
        _ => bail!("usage: strongroom demo [--out DIR]"),
    };
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_secs();
    let run = base.join(format!("run-{now}"));
    std::fs::create_dir_all(run.join("station"))?;
    println!(
        "Strongroom vault round trip — HSM: MockHsm, NOT A HARDWARE SECURITY MODULE (demo only)"
    );
    println!("output: {}\n", run.display());

    // ---- station ceremony
    let custodians: Vec<(String, SecretString)> = ["ana", "ben", "cy"]
        .iter()
        .map(|n| {
            (
                n.to_string(),
                SecretString::from(format!("demo passphrase of {n}")),
            )
        })
        .collect();
    let (quorum, credential) = QuorumFile::create(OPERATING_KEY_ID, 2, &custodians, Some(14))?;
    write_atomically(
        &run.join("station"),
        "quorum.json",
        serde_json::to_string_pretty(&quorum)?.as_bytes(),
    )?;
    let factory = YubiHsm::open_factory(Connection::Mock)?;
    let hsm = init(&factory, &credential)?;
    drop(credential);
    let mut ledger = Ledger::open(&run.join("station/ledger.jsonl"))?;
    ledger.append(
        now,
        Record::Ceremony {
            step: "init".into(),
            detail: "quorum 2 of 3 (ana, ben, cy); factory key removed; forced audit on".into(),
        },
    )?;
    let keys = generate_station_keys(&hsm)?;
    let evm_address =
        signer_station::station::evm::address_of(&keys.evm.public_key).context("evm key")?;
    let sol_key: [u8; 32] = keys.solana.public_key.as_slice().try_into()?;
    ledger.append(
        now,
        Record::Ceremony {
            step: "keys generate".into(),
            detail: format!(
                "identity, bitcoin, evm {evm_address}, solana {}",
                bs58_encode(&sol_key)
            ),
        },
    )?;
    step(
        "station",
        format!(
            "ceremony: {} initialised, custodian quorum 2 of 3, factory key removed",
            hsm.info()?.model
        ),
    );
    step(
        "station",
        format!(
            "keys: bitcoin {}, evm {}, solana {}",
            hex(&keys.bitcoin.public_key),
            evm_address.to_checksum(None),
            bs58_encode(&sol_key)
        ),
    );

    let coordinator = seed_key("demo coordinator request key");
    let approvers = [("ana-approver", "treasury"), ("ben-approver", "risk")];
    let reg = Registration {
        coordinator_keys: vec![hex(coordinator.verifying_key().as_bytes())],
        approvers: approvers
            .iter()
            .map(|(n, role)| RegisteredApprover {
                name: n.to_string(),
                role: role.to_string(),
                key: hex(seed_key(n).verifying_key().as_bytes()),
            })
            .collect(),
    };
    let identity =
        ed25519_dalek::VerifyingKey::from_bytes(&keys.identity.public_key.as_slice().try_into()?)?;
    let signed_reg = registration::sign(&hsm, &keys.identity, reg)?;
    let reg_json = serde_json::to_string_pretty(&signed_reg)?;
    write_atomically(
        &run.join("station"),
        "registration.json",
        reg_json.as_bytes(),
    )?;
    let anchors = registration::load(&reg_json, &identity)?;
    let signed_policy = policy::sign(
        &hsm,
        &keys.identity,
        signer_station::tui::rehearsal::policy()?,
    )?;
    let policy_json = serde_json::to_string_pretty(&signed_policy)?;
    write_atomically(&run.join("station"), "policy.json", policy_json.as_bytes())?;
    let station_policy = policy::load(&policy_json, &identity)?;
    ledger.append(
        now,
        Record::Ceremony {
            step: "register".into(),
            detail: "coordinator key and 2 approvers pinned; policy signed".into(),
        },
    )?;
    let descriptor = export_descriptor(&hsm, &keys, "vault-demo", &station_policy, now)?;
    ledger.append(
        now,
        Record::Ceremony {
            step: "export descriptor".into(),
            detail: hex(&Sha256::digest(descriptor.to_cbor())),
        },
    )?;
    let n = write_frames(
        &Envelope::Descriptor(descriptor.clone()),
        &run.join("descriptor-frames"),
        2,
    )?;
    step(
        "station",
        format!(
            "descriptor exported as {n} QR frames (station id {})",
            descriptor.station_id()?
        ),
    );

    // ---- coordinator: pin the descriptor, build and export a request
    let (env, shown, lost) = read_frames(&run.join("descriptor-frames"), 1)?;
    let Envelope::Descriptor(pinned) = env else {
        bail!("expected a descriptor")
    };
    pinned.verify()?;
    step("coordinator", format!("descriptor read from {shown} frames ({lost} lost); self-signature verified; station {} pinned", pinned.station_id()?));
    if pinned.mock_hsm {
        step(
            "coordinator",
            "WARNING: this station runs on MockHsm — never fund it",
        );
    }
    let btc_key = &pinned
        .keys
        .iter()
        .find(|k| k.chain == Chain::Bitcoin)
        .context("bitcoin key")?
        .public_key;
    let (psbt, funding) = btc_psbt_for(btc_key, 60_000, 1_000, &BTC_DEST_SECRET);
    let evm_tx = evm_tx_for(
        1,
        0,
        EVM_RECIPIENT.parse()?,
        500_000_000_000_000_000,
        vec![],
        21_000,
    );
    let sol_msg = solana_message_for(
        sol_key,
        SOL_NONCE_ACCOUNT,
        SOL_RECIPIENT,
        1_500_000_000,
        [9; 32],
    );
    let mut request = SignRequest {
        request_id: Sha256::digest(format!("demo {now}"))[..16].try_into()?,
        created: now,
        expires: now + 3600,
        coordinator_key: KeyId([0; 8]),
        purpose: Purpose::Withdrawal,
        requester: "treasury:demo".into(),
        memo: "demo: one payment per chain".into(),
        payloads: vec![
            Payload {
                network: "regtest".into(),
                signer: "station bitcoin key".into(),
                body: PayloadBody::Psbt {
                    version: 0,
                    bytes: psbt.serialize(),
                },
                hints: DisplayHints::default(),
            },
            Payload {
                network: "evm:1".into(),
                signer: evm_address.to_checksum(None),
                body: PayloadBody::EvmTx {
                    chain_id: 1,
                    signer: evm_address.0 .0,
                    tx: evm_tx.clone(),
                },
                hints: DisplayHints::default(),
            },
            Payload {
                network: "solana:devnet".into(),
                signer: bs58_encode(&sol_key),
                body: PayloadBody::SolanaMessage {
                    message: sol_msg.clone(),
                    signers: vec![sol_key],
                    nonce_account: Some(SOL_NONCE_ACCOUNT),
                },
                hints: DisplayHints::default(),
            },
        ],
        approvals: vec![],
        coordinator_signature: [0; 64],
    };
    for (n, _) in approvers {
        request.approve_with(&seed_key(n));
    }
    request.sign_with(&coordinator);
    step(
        "coordinator",
        format!(
            "request {}: 3 payloads, approved by ana-approver and ben-approver, signed",
            format_uuid(&request.request_id)
        ),
    );
    let n = write_frames(
        &Envelope::Request(request.clone()),
        &run.join("request-frames"),
        3,
    )?;
    let station_box = age::x25519::Identity::generate();
    let (_, env_bytes) = encode_envelope(&Envelope::Request(request.clone()));
    let bundle = seal_bundle(
        BundleKind::Request,
        &env_bytes,
        &station_box.to_public(),
        &coordinator,
        now,
    )?;
    std::fs::create_dir_all(run.join("usb"))?;
    let bundle_path = write_bundle(&run.join("usb"), BundleKind::Request, "demo", &bundle)?;
    step(
        "coordinator",
        format!(
            "exported as {n} QR frames (version {QR_VERSION}) and USB bundle {}",
            bundle_path.display()
        ),
    );

    // ---- station: capture, unlock, review, sign
    let (env, shown, lost) = read_frames(&run.join("request-frames"), 2)?;
    let Envelope::Request(captured) = env else {
        bail!("expected a request")
    };
    step(
        "station",
        format!("request captured from {shown} frames ({lost} lost, JPEG and blur on the rest)"),
    );
    let opened = open_bundle(
        &std::fs::read(&bundle_path)?,
        &station_box,
        &[coordinator.verifying_key()],
    )?;
    let Envelope::Request(from_usb) = decode_envelope(REQUEST_UR_TYPE, &opened.envelope)? else {
        bail!("bundle: expected a request")
    };
    if from_usb != captured {
        bail!("the USB bundle and the QR frames carry different requests");
    }
    step(
        "station",
        "USB bundle opened, signature and digests verified: same request",
    );
    let mut unlock = quorum.unlock();
    for n in ["ana", "cy"] {
        unlock.enter(n, SecretString::from(format!("demo passphrase of {n}")))?;
    }
    let credential = unlock.finish()?;
    let session = hsm.reopen(OPERATING_KEY_ID, credential.expose())?;
    drop(credential);
    step(
        "station",
        "custodians ana and cy unlocked the HSM (2 of 3); credential kept in memory only",
    );
    let mut station = Station::new(
        keys.clone(),
        anchors,
        station_policy,
        TokenList::default(),
        ledger,
    );
    let review = station
        .review(&captured, now)
        .map_err(|e| anyhow!("refused: {e}"))?;
    for (i, p) in review.payloads.iter().enumerate() {
        let s = &p.summary;
        for r in &s.recipients {
            let change = if p.change_outputs.contains(&r.index) && s.chain == Chain::Bitcoin {
                " (verified change)"
            } else {
                ""
            };
            step(
                "station",
                format!(
                    "review #{i} {}: {} → {}{change}",
                    s.network,
                    r.amount.display(),
                    r.address
                ),
            );
        }
        if let Some(fee) = &s.fee {
            step(
                "station",
                format!("review #{i} fee {} ({})", fee.display(), s.fee_detail),
            );
        }
        for c in &p.passed {
            step("station", format!("review #{i} ✓ {c}"));
        }
        for w in &p.warnings {
            step("station", format!("review #{i} ! {w}"));
        }
    }
    review
        .verdict
        .clone()
        .map_err(|e| anyhow!("station refuses: {e}"))?;
    let response = station
        .sign(&review, &session, now)
        .map_err(|e| anyhow!("signing failed: {e}"))?;
    step(
        "station",
        format!(
            "signed 3 payloads; ledger now {} entries, head {}",
            station.ledger().len(),
            &station.ledger().head()[..16]
        ),
    );
    let n = write_frames(
        &Envelope::Response(response),
        &run.join("response-frames"),
        3,
    )?;
    step("station", format!("response shown as {n} QR frames"));

    // ---- coordinator: import and check
    let (env, shown, lost) = read_frames(&run.join("response-frames"), 3)?;
    let Envelope::Response(resp) = env else {
        bail!("expected a response")
    };
    let id_key = ed25519_dalek::VerifyingKey::from_bytes(&pinned.identity)?;
    verify_response(&resp, &request, &id_key)?;
    step("coordinator", format!("response read from {shown} frames ({lost} lost); station signature and request binding verified"));
    let Outcome::Signed(sigs) = &resp.outcome else {
        bail!("station refused")
    };
    let [PayloadSignature::Psbt(signed_psbt), PayloadSignature::Evm(rsv), PayloadSignature::Solana(sol_sigs)] =
        sigs.as_slice()
    else {
        bail!("unexpected signature kinds")
    };
    let mut p = bitcoin::psbt::Psbt::deserialize(signed_psbt)?;
    let (pk, sig) = p.inputs[0]
        .partial_sigs
        .iter()
        .next()
        .map(|(k, s)| (*k, *s))
        .context("no partial signature")?;
    p.inputs[0].final_script_witness = Some(bitcoin::Witness::p2wpkh(&sig, &pk.inner));
    let tx = p.extract_tx_unchecked_fee_rate();
    tx.verify(|op| {
        (op.txid == funding.compute_txid()).then(|| funding.output[op.vout as usize].clone())
    })
    .map_err(|e| anyhow!("Bitcoin Core's interpreter rejects the transaction: {e}"))?;
    let raw = bitcoin::consensus::encode::serialize_hex(&tx);
    write_atomically(&run, "bitcoin-signed-tx.hex", raw.as_bytes())?;
    step(
        "coordinator",
        format!(
            "bitcoin: finalised; Bitcoin Core script check passed; txid {}",
            tx.compute_txid()
        ),
    );
    let digest = alloy_primitives::keccak256(&evm_tx);
    let recovered = k256::ecdsa::VerifyingKey::recover_from_prehash(
        digest.as_slice(),
        &k256::ecdsa::Signature::from_slice(&rsv[..64])?,
        k256::ecdsa::RecoveryId::from_byte(rsv[64]).context("recovery id")?,
    )?;
    let signer =
        signer_station::station::evm::address_of(&recovered.to_sec1_bytes()).context("address")?;
    if signer != evm_address {
        bail!("EVM signature recovers {signer}, not the vault {evm_address}");
    }
    step(
        "coordinator",
        format!(
            "evm: signature recovers the vault address {}",
            signer.to_checksum(None)
        ),
    );
    let (pk, s) = sol_sigs.first().context("no solana signature")?;
    ed25519_dalek::VerifyingKey::from_bytes(pk)?
        .verify_strict(&sol_msg, &ed25519_dalek::Signature::from_bytes(s))?;
    step(
        "coordinator",
        "solana: signature verifies over the message (durable nonce)",
    );
    step(
        "coordinator",
        "broadcast: not in this build — Bitcoin/EVM/Solana chain adapters arrive with their issues",
    );
    println!(
        "\ndone in {:.1} s. frames: {}/*-frames, USB bundle: {}, station ledger: {}",
        t0.elapsed().as_secs_f64(),
        run.display(),
        bundle_path.display(),
        run.join("station/ledger.jsonl").display()
    );
    Ok(())
}
