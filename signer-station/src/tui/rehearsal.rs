//! A rehearsal station on MockHsm and a demo request for it, so custodians can practise
//! the whole flow on the TUI. Everything here is labelled as rehearsal; nothing here
//! runs on a real HSM.

use std::path::Path;

use age::secrecy::SecretString;
use airgap_protocol::envelope::*;
use airgap_protocol::qr::{self, FrameRenderer};
use airgap_protocol::summary::{TokenInfo, TokenList};
use alloy_consensus::{SignableTransaction, TxEip1559};
use alloy_primitives::TxKind;
use alloy_primitives::{Address, U256};
use ed25519_dalek::SigningKey;
use sha2::{Digest, Sha256};

use crate::ceremony::{export_descriptor, generate_station_keys, init, OPERATING_KEY_ID};
use crate::hsm::{Connection, HsmError, SigningBackend, YubiHsm};
use crate::keys::StationKeys;
use crate::ledger::Ledger;
use crate::quorum::QuorumFile;
use crate::station::policy::{AssetLimit, Destination, FeeLimit, Policy};
use crate::station::registration::{self, RegisteredApprover, Registration};
use crate::station::Station;

/// Custodians of the rehearsal station and their passphrases (printed on the screen:
/// this is a rehearsal).
pub const CUSTODIANS: [(&str, &str); 3] = [
    ("ana", "ana-rehearsal"),
    ("ben", "ben-rehearsal"),
    ("cy", "cy-rehearsal"),
];
/// EVM recipient of the demo request.
pub const EVM_TO: &str = "0x52908400098527886E0F7030069857D2E4169EE7";

/// A deterministic Ed25519 key for rehearsal roles (`rehearsal coordinator`, `ana-approver`, …).
pub fn seed_key(label: &str) -> SigningKey {
    SigningKey::from_bytes(&Sha256::digest(label.as_bytes()).into())
}

/// What the TUI needs from a rehearsal.
pub struct Rehearsal {
    /// The station (public keys, policy, ledger).
    pub station: Station,
    /// Its quorum.
    pub quorum: QuorumFile,
    /// The MockHsm, to reopen sessions on after unlock.
    pub hsm: YubiHsm,
    /// Station keys.
    pub keys: StationKeys,
}

impl std::fmt::Debug for Rehearsal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rehearsal").finish_non_exhaustive()
    }
}

/// The allow-listed rehearsal Bitcoin destination.
pub fn btc_dest() -> Result<bitcoin::Address, HsmError> {
    let sk = bitcoin::secp256k1::SecretKey::from_slice(&[2; 32])
        .map_err(|e| HsmError::Device(e.to_string()))?;
    let pk = bitcoin::CompressedPublicKey(sk.public_key(&bitcoin::secp256k1::Secp256k1::new()));
    Ok(bitcoin::Address::p2wpkh(&pk, bitcoin::Network::Regtest))
}

/// USDC's mint on Solana devnet.
pub const SOLANA_USDC: &str = "4zMMC9srt5Ri5X14GAgXhaHii3GnPAEERYPJgZJDncDU";

/// The allow-listed token account SPL rehearsal payments go to.
pub const SPL_RECIPIENT_TOKEN_ACCOUNT: [u8; 32] = [3; 32];

/// The rehearsal station's token list.
pub fn tokens() -> TokenList {
    TokenList(vec![TokenInfo {
        chain: Chain::Solana,
        contract: SOLANA_USDC.into(),
        symbol: "USDC".into(),
        decimals: 6,
    }])
}

/// The rehearsal policy.
pub fn policy() -> Result<Policy, HsmError> {
    let l = |n: &str, tx: &str, day: &str| AssetLimit::new(n, "native", tx, day);
    Ok(Policy {
        networks: vec!["regtest".into(), "evm:1".into(), "solana:devnet".into()],
        limits: vec![
            l("regtest", "100000", "500000"),
            l("evm:1", "2000000000000000000", "5000000000000000000"),
            l("solana:devnet", "5000000000", "10000000000"),
            AssetLimit::new("solana:devnet", SOLANA_USDC, "50000000000", "100000000000"),
        ],
        allow_list: vec![
            Destination::new("regtest", btc_dest()?),
            Destination::new("evm:1", EVM_TO),
            Destination::new("solana:devnet", bs58::encode([2u8; 32]).into_string()),
            Destination::new(
                "solana:devnet",
                bs58::encode(SPL_RECIPIENT_TOKEN_ACCOUNT).into_string(),
            ),
        ],
        fees: vec![
            FeeLimit::new("regtest", "20000", 50),
            FeeLimit::new("evm:1", "5000000000000000", 20),
            FeeLimit::new("solana:devnet", "100000", 10),
        ],
        // A rehearsal answers standard wallet requests too, to practise them.
        standard_requests: true,
        ..Policy::default()
    })
}

/// Sets up a rehearsal station in `dir` (ledger and descriptor there) on a fresh MockHsm.
pub fn station(dir: &Path, now: u64) -> Result<Rehearsal, String> {
    fresh(dir)?;
    let (quorum, cred) = quorum()?;
    let hsm = init(
        &YubiHsm::open_factory(Connection::Mock).map_err(|e| e.to_string())?,
        &cred,
    )
    .map_err(|e| e.to_string())?;
    drop(cred);
    let keys = generate_station_keys(&hsm).map_err(|e| e.to_string())?;
    let station = station_on(&hsm, &keys, dir, now)?;
    Ok(Rehearsal {
        station,
        quorum,
        hsm,
        keys,
    })
}

/// The file that marks a folder as a rehearsal's.
pub const MARKER: &str = "REHEARSAL.txt";

/// What a rehearsal writes in its folder (besides [`MARKER`]).
const WRITTEN: [&str; 6] = [
    "ledger.jsonl",
    "descriptor.envelope",
    "incoming",
    "outgoing",
    "usb",
    "frames",
];

/// Makes `dir` ready for a new rehearsal: created when missing; a previous rehearsal's
/// files removed (its marker says the folder is one), so a second run does not meet the
/// first one's ledger, frames or answers; any other folder with something in it is
/// refused, never emptied.
fn fresh(dir: &Path) -> Result<(), String> {
    let gone = |r: std::io::Result<()>, what: &Path| match r {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", what.display()))
        }
        _ => Ok(()),
    };
    if dir.join(MARKER).is_file() {
        for name in WRITTEN {
            let p = dir.join(name);
            if p.is_dir() {
                gone(std::fs::remove_dir_all(&p), &p)?;
            } else {
                gone(std::fs::remove_file(&p), &p)?;
            }
        }
    } else if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(format!(
            "{} is not empty and is not a rehearsal folder: choose a new or empty folder",
            dir.display()
        ));
    }
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    std::fs::write(
        dir.join(MARKER),
        "A signer-station rehearsal on MockHsm: no real keys, no real funds.\n\
         Running the rehearsal again in this folder starts it afresh.\n",
    )
    .map_err(|e| format!("{MARKER}: {e}"))
}

/// The rehearsal quorum (custodians of [`CUSTODIANS`], 2 of 3).
pub fn quorum() -> Result<(QuorumFile, crate::quorum::Credential), String> {
    let custodians: Vec<(String, SecretString)> = CUSTODIANS
        .iter()
        .map(|(n, p)| (n.to_string(), SecretString::from(p.to_string())))
        .collect();
    QuorumFile::create(OPERATING_KEY_ID, 2, &custodians, Some(12)).map_err(|e| e.to_string())
}

/// Registers the rehearsal coordinator and approvers, signs the rehearsal policy, writes
/// the descriptor, and opens the ledger in `dir`, on any backend holding `keys`.
pub fn station_on<B: SigningBackend + ?Sized>(
    hsm: &B,
    keys: &StationKeys,
    dir: &Path,
    now: u64,
) -> Result<Station, String> {
    station_with(
        hsm,
        keys,
        dir,
        now,
        policy().map_err(|e| e.to_string())?,
        tokens(),
    )
}

/// As [`station_on`] with another policy and token list (the chain end-to-end tests).
pub fn station_with<B: SigningBackend + ?Sized>(
    hsm: &B,
    keys: &StationKeys,
    dir: &Path,
    now: u64,
    p: Policy,
    tokens: TokenList,
) -> Result<Station, String> {
    station_with_approvers(hsm, keys, dir, now, (p, tokens), &[])
}

/// As [`station_with`], pinning `more` approvers beside the rehearsal's two (wallet
/// approvers, by their `0x` addresses).
pub fn station_with_approvers<B: SigningBackend + ?Sized>(
    hsm: &B,
    keys: &StationKeys,
    dir: &Path,
    now: u64,
    (p, tokens): (Policy, TokenList),
    more: &[RegisteredApprover],
) -> Result<Station, String> {
    let mut reg = Registration {
        coordinator_keys: vec![hex::encode(
            seed_key("rehearsal coordinator").verifying_key().as_bytes(),
        )],
        approvers: vec![
            RegisteredApprover {
                name: "ana-approver".into(),
                role: "treasury".into(),
                key: hex::encode(seed_key("ana-approver").verifying_key().as_bytes()),
            },
            RegisteredApprover {
                name: "ben-approver".into(),
                role: "risk".into(),
                key: hex::encode(seed_key("ben-approver").verifying_key().as_bytes()),
            },
        ],
    };
    reg.approvers.extend_from_slice(more);
    let identity = keys.identity.ed25519().map_err(|e| e.to_string())?;
    let json = serde_json::to_string(
        &registration::sign(hsm, &keys.identity, reg).map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let anchors = registration::load(&json, &identity).map_err(|e| e.to_string())?;
    let d = export_descriptor(hsm, keys, "rehearsal", &p, now).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    std::fs::write(
        dir.join("descriptor.envelope"),
        encode_envelope(&Envelope::Descriptor(d)).1,
    )
    .map_err(|e| e.to_string())?;
    let ledger = Ledger::open(&dir.join("ledger.jsonl")).map_err(|e| e.to_string())?;
    Ok(Station::new(keys.clone(), anchors, p, tokens, ledger))
}

/// An EIP-1559 transaction on chain 1 for the station to sign: `value` wei and `input`
/// to `to`, under `gas_limit`.
pub fn evm_tx(nonce: u64, to: Address, value: U256, input: &[u8], gas_limit: u64) -> Vec<u8> {
    let tx = TxEip1559 {
        chain_id: 1,
        nonce,
        gas_limit,
        max_fee_per_gas: 30_000_000_000,
        max_priority_fee_per_gas: 1_000_000_000,
        to: TxKind::Call(to),
        value,
        access_list: Default::default(),
        input: input.to_vec().into(),
    };
    let mut out = Vec::new();
    tx.encode_for_signing(&mut out);
    out
}

fn sol_message(
    payer: [u8; 32],
    nonce: [u8; 32],
    to: [u8; 32],
    lamports: u64,
) -> Result<Vec<u8>, String> {
    let sysvar: [u8; 32] = bs58::decode("SysvarRecentB1ockHashes11111111111111111111")
        .into_vec()
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "sysvar id")?;
    // Keys: writable signer, writable non-signers, read-only non-signers.
    let mut m = vec![1, 0, 2, 5];
    for k in [payer, nonce, to, sysvar, [0; 32]] {
        m.extend_from_slice(&k);
    }
    m.extend_from_slice(&[9; 32]); // the nonce account's stored value
    m.push(2);
    m.extend_from_slice(&[4, 3, 1, 3, 0, 4, 4, 0, 0, 0]); // advance nonce: nonce, sysvar, authority
    m.extend_from_slice(&[4, 2, 0, 2, 12, 2, 0, 0, 0]); // transfer payer → to
    m.extend_from_slice(&lamports.to_le_bytes());
    Ok(m)
}

/// The demo request, written as QR frames into `dir`.
pub fn request_frames(keys: &StationKeys, dir: &Path, now: u64) -> Result<SignRequest, String> {
    let r = request(keys, now)?;
    write_frames(&r, dir)?;
    Ok(r)
}

/// Writes a request as QR frames (version 15) into `dir`.
pub fn write_frames(r: &SignRequest, dir: &Path) -> Result<(), String> {
    let (ur_type, message) = encode_envelope(&Envelope::Request(r.clone()));
    let frag = qr::max_fragment_len_for_version(ur_type, 15, message.len()).ok_or("fragment")?;
    let mut enc =
        airgap_protocol::ur::UrEncoder::new(ur_type, &message, frag).map_err(|e| e.to_string())?;
    let renderer = FrameRenderer::new(15).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    for i in 0..enc.fragment_count() * 2 + 2 {
        let png = renderer
            .to_png(&enc.next_part(), 4)
            .map_err(|e| e.to_string())?;
        std::fs::write(dir.join(format!("{:04}.png", i + 1)), png).map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Re-signs a request as the rehearsal coordinator and approvers would (after a test or a
/// drill changed it).
pub fn resign(r: &mut SignRequest) {
    r.approvals.clear();
    r.approve_with(&seed_key("ana-approver"));
    r.approve_with(&seed_key("ben-approver"));
    r.sign_with(&seed_key("rehearsal coordinator"));
}

/// The demo request for the rehearsal station: one payment per chain, approved twice and
/// signed by the rehearsal coordinator.
pub fn request(keys: &StationKeys, now: u64) -> Result<SignRequest, String> {
    use bitcoin::*;
    let btc_key = keys
        .bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
        .ok_or("no regtest key")?;
    let pk = CompressedPublicKey::from_slice(&btc_key.public_key).map_err(|e| e.to_string())?;
    let ours = bitcoin::Address::p2wpkh(&pk, Network::Regtest);
    let dest = btc_dest().map_err(|e| e.to_string())?.script_pubkey();
    let psbt = crate::fixtures::coin_and_spend(
        &ours.script_pubkey(),
        100_000,
        0,
        &[(dest, 60_000), (ours.script_pubkey(), 39_000)],
    );
    let evm_from = crate::station::evm::address_of(&keys.evm.public_key).ok_or("evm key")?;
    let sol: [u8; 32] = keys
        .solana(airgap_protocol::network::SolanaCluster::Devnet)
        .ok_or("no solana:devnet key")?
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| "solana key")?;
    let to: alloy_primitives::Address = EVM_TO.parse().map_err(|_| "evm address")?;
    let payloads = vec![
        crate::fixtures::psbt_payload("regtest", "vault", &psbt),
        Payload {
            network: "evm:1".into(),
            signer: evm_from.to_checksum(None),
            body: PayloadBody::EvmTx {
                chain_id: 1,
                signer: evm_from.0 .0,
                tx: evm_tx(0, to, U256::from(500_000_000_000_000_000u128), &[], 21_000),
            },
            hints: DisplayHints::default(),
        },
        Payload {
            network: "solana:devnet".into(),
            signer: bs58::encode(sol).into_string(),
            body: PayloadBody::SolanaMessage {
                message: sol_message(sol, [5; 32], [2; 32], 1_500_000_000)?,
                signers: vec![sol],
                nonce_account: Some([5; 32]),
            },
            hints: DisplayHints::default(),
        },
    ];
    let mut r = SignRequest {
        request_id: Sha256::digest(format!("rehearsal {now}"))[..16]
            .try_into()
            .map_err(|_| "id")?,
        created: now,
        requester: "treasury:rehearsal".into(),
        memo: "rehearsal: one payment per chain".into(),
        ..crate::fixtures::request(payloads, now)
    };
    resign(&mut r);
    Ok(r)
}

/// Writes `r` as a USB bundle into `dir`, sealed to a new station bundle identity and
/// signed by the rehearsal coordinator; returns the source to read it with.
pub fn request_bundle(r: &SignRequest, dir: &Path, now: u64) -> Result<super::UsbSource, String> {
    let identity = age::x25519::Identity::generate();
    let coordinator = seed_key("rehearsal coordinator");
    let (_, message) = encode_envelope(&Envelope::Request(r.clone()));
    let bundle = usb_transfer::seal_bundle(
        usb_transfer::BundleKind::Request,
        &message,
        &identity.to_public(),
        &coordinator,
        now,
    )
    .map_err(|e| e.to_string())?;
    std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
    usb_transfer::write_bundle(dir, usb_transfer::BundleKind::Request, "rehearsal", &bundle)
        .map_err(|e| e.to_string())?;
    Ok(super::UsbSource {
        dir: dir.to_path_buf(),
        identity,
        trusted: vec![coordinator.verifying_key()],
    })
}
