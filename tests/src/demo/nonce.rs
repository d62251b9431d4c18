//! Provisioning the Solana vault's durable nonce account (a ceremony step).

use super::*;

/// Creates the vault's durable nonce account: built by the coordinator library, approved,
/// signed by the station and by the throwaway nonce key, sent, and waited for.
pub(super) fn provision_nonce(
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
    // The approvers read it with their own tool, offline, and approve it.
    let exe = std::env::current_exe()?;
    for who in ["ana", "ben"] {
        let approval = strongroom_e2e::desks::approve_offline(&exe, who, &req)?;
        req.approvals.push(approval);
    }
    req.sign_with(coordinator);
    let resp = strongroom_e2e::service::station_signs(&mut s.station, &s.session, &req)?;
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
