//! The stations of the demo: policy, ceremony on MockHsm, and vault registration.

use super::*;

/// The station policy of the demo: the three networks, their recipients and limits.
pub(super) fn station_policy() -> Result<Policy> {
    let mut p = signer_station::tui::rehearsal::policy()?;
    p.networks = vec!["regtest".into(), "evm:1".into(), "solana:devnet".into()];
    let limit = |network: &str, per_tx: String, per_day: String| {
        AssetLimit::new(network, "native", per_tx, per_day)
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
        FeeLimit::new("regtest", "200000", 100),
        FeeLimit::new("evm:1", ETHER / 100, 1000),
        FeeLimit::new("solana:devnet", "1000000", 1000),
    ];
    Ok(p)
}

/// One station after its ceremony, unlocked by two of its three custodians.
pub(super) struct DemoStation {
    pub(super) name: String,
    pub(super) station: Station,
    pub(super) session: YubiHsm,
    pub(super) keys: StationKeys,
    pub(super) descriptor: StationDescriptor,
    pub(super) usb: KeyPair,
    pub(super) usb_pub: PublicKeys,
    pub(super) dir: PathBuf,
}

pub(super) fn ceremony(
    run: &Path,
    name: &str,
    coordinator: &SigningKey,
    now: u64,
) -> Result<DemoStation> {
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
    let identity = keys.identity.ed25519()?;
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
    let usb_pub = usb_keys(&usb_dir)?;
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

pub(super) fn regtest_key(keys: &StationKeys) -> Result<&signer_station::hsm::KeyInfo> {
    keys.bitcoin(airgap_protocol::network::BitcoinNetwork::Regtest)
        .context("no regtest key")
}

/// Custodians register a Bitcoin vault: the policy, with the vault, signed again under
/// their quorum and written beside the old one; recorded in the ledger.
pub(super) fn register_vault(
    s: &mut DemoStation,
    name: &str,
    descriptor: &str,
    now: u64,
) -> Result<()> {
    let mut p = s.station.policy().clone();
    p.vaults
        .push(signer_station::station::policy::RegisteredVault {
            name: name.into(),
            network: "regtest".into(),
            descriptor: descriptor.into(),
            deposit: false,
        });
    let signed = policy::sign(&s.session, &s.keys.identity, p)?;
    // The newly signed policy replaces the old one (as `ceremony register` does).
    std::fs::remove_file(s.dir.join("policy.json"))?;
    usb_transfer::write_atomically(
        &s.dir,
        "policy.json",
        serde_json::to_string_pretty(&signed)?.as_bytes(),
    )?;
    let identity = s.keys.identity.ed25519()?;
    let loaded = policy::load(&serde_json::to_string(&signed)?, &identity)?;
    s.station.set_policy(loaded, now)?;
    if let Some(e) = s.station.vault_error() {
        bail!("{}: {e}", s.name);
    }
    step(&s.name, format!("vault {name} registered: {descriptor}"));
    Ok(())
}
