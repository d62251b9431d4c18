//! EVM transactions that do not land as first sent, on anvil with blocks mined by hand:
//!
//! - a request the station refuses frees its nonce: the next request takes it;
//! - a stuck transaction is sped up (the same call, higher fees): the speed-up lands, the
//!   original fails as dropped, the recipient is paid once;
//! - another is cancelled (nothing, to the vault itself): the cancel lands, the original
//!   fails as dropped, the recipient is not paid;
//! - a transaction signed and then abandoned (its answer never imported, the request
//!   cancelled) keeps its nonce, so the next request is built above it; a cancel fills
//!   the gap, and both land.

use alloy_primitives::{Address, U256};
use anyhow::{bail, Result};
use serde_json::json;
use strongroom_e2e::anvil::Anvil;
use strongroom_e2e::evm_vault::{EvmVault, ETHER};
use strongroom_e2e::service::{
    scratch, serve_args, station_refuses_to_sign, station_signs, Desks, Service,
};

use super::{exe, RECIPIENT};

/// Not on the station's allow list.
const STRANGER: Address = Address::new([0x66; 20]);

pub(super) struct Desk<'a> {
    pub(super) svc: &'a Service,
    pub(super) t: &'a Desks,
    pub(super) vault: &'a mut EvmVault,
}

impl Desk<'_> {
    pub(super) fn pay(&self, key: &str, to: Address, wei: u128) -> Result<String> {
        let body = json!({"network": "evm:1", "asset": "native", "destination": to.to_checksum(None),
            "amount": wei.to_string(), "purpose": "withdrawal"});
        self.svc.create(
            &self.t.treasury,
            &self.t.risk,
            key,
            &body,
            "checked with the customer",
        )
    }

    /// Asks for a replacement of `id` (`speed-up` or `cancel`): the answer.
    fn try_replace(
        &self,
        id: &str,
        kind: &str,
        key: &str,
    ) -> Result<strongroom_e2e::service::Answer> {
        let path = format!("/v1/requests/{id}/replace");
        self.svc
            .post_keyed(&path, &self.t.treasury, &json!({"kind": kind}), key)
    }

    fn replace(&self, id: &str, kind: &str, key: &str) -> Result<String> {
        let a = self.try_replace(id, kind, key)?;
        if a.status != 201 {
            bail!("{kind} of {id}: {} {}", a.status, a.json);
        }
        let new = a.json["request"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        if a.json["request"]["state"] == "manual-review" {
            bail!("the replacement {new} was held for review: {}", a.json);
        }
        Ok(new)
    }

    /// The transaction the worker built: its nonce and its max fee per gas.
    fn built(&self, id: &str) -> Result<(u64, u128)> {
        let view = self.svc.wait_envelope(id, &self.t.ana)?;
        let tx = &view["transaction"];
        let nonce = tx["nonce"].as_u64().unwrap_or(u64::MAX);
        let fee = tx["fees"]["Eip1559"]["max_fee_per_gas"]
            .as_u64()
            .map(u128::from)
            .or_else(|| {
                tx["fees"]["Eip1559"]["max_fee_per_gas"]
                    .as_str()
                    .and_then(|s| s.parse().ok())
            })
            .unwrap_or_default();
        Ok((nonce, fee))
    }

    /// Approved by both approvers and exported: the request the station reads.
    pub(super) fn exported(&self, id: &str) -> Result<airgap_protocol::envelope::SignRequest> {
        self.svc
            .approve(id, &[("ana", &self.t.ana), ("ben", &self.t.ben)])?;
        self.svc.export(id, &self.t.treasury)
    }

    /// Through the station and back: the worker broadcasts it.
    pub(super) fn sent(&mut self, id: &str) -> Result<()> {
        let req = self.exported(id)?;
        let resp = station_signs(&mut self.vault.station, &self.vault.rehearsal.hsm, &req)?;
        let a = self.svc.import(id, &self.t.treasury, resp)?;
        if a.status != 200 {
            bail!("importing {id}: {} {}", a.status, a.json);
        }
        self.svc
            .wait_state(id, &self.t.auditor, "broadcast", || {})?;
        Ok(())
    }
}

fn automine(anvil: &Anvil, on: bool) -> Result<()> {
    anvil.rpc().call_raw("evm_setAutomine", json!([on]))?;
    Ok(())
}

#[test]
fn evm_nonces_are_freed_sped_up_cancelled_and_filled() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("service-evm-replace")?;
    let mut vault = EvmVault::new(&anvil, &dir, RECIPIENT, 5 * ETHER)?;
    let db = dir.join("coordinator.db");
    let t = Desks::add(&exe(), &db)?;
    let svc = Service::start(&exe(), &db, &serve_args(&vault.chains, &vault.key, &[]))?;
    svc.register_station(&t.admin, &vault.descriptor)?;
    svc.register_approvers(&t.admin, &["ana", "ben"])?;
    automine(&anvil, false)?;
    let node = coordinator::evm::EvmRpc::new(anvil.rpc());
    let us = vault.vault;
    let paid = |before: U256| -> Result<U256> { Ok(node.balance(RECIPIENT)? - before) };
    let start = node.balance(RECIPIENT)?;
    let mut d = Desk {
        svc: &svc,
        t: &t,
        vault: &mut vault,
    };

    // Refused, then the next: the refusal frees nonce 0.
    let refused = d.pay("to-a-stranger", STRANGER, ETHER / 10)?;
    assert_eq!(d.built(&refused)?.0, 0);
    let req = d.exported(&refused)?;
    let (answer, why) =
        station_refuses_to_sign(&mut d.vault.station, &d.vault.rehearsal.hsm, &req)?;
    assert!(why.contains("allow"), "{why}");
    let a = svc.import(&refused, &t.treasury, answer)?;
    assert_eq!(a.json["request"]["state"], "failed", "{}", a.json);
    // It signed nothing, so there is nothing to cancel at its nonce (the next request
    // takes that nonce).
    let a = d.try_replace(&refused, "cancel", "nothing-to-fill")?;
    assert_eq!(a.status, 409, "{}", a.json);
    let stuck = d.pay("stuck", RECIPIENT, ETHER / 10)?;
    assert_eq!(
        d.built(&stuck)?.0,
        0,
        "the refused request's nonce is taken again"
    );

    // Speed-up: refused before the original is broadcast, then the same call with
    // higher fees at nonce 0; it lands and the original is dropped.
    let a = d.try_replace(&stuck, "speed-up", "early")?;
    assert_eq!(a.status, 409, "{}", a.json);
    d.sent(&stuck)?;
    let first_fee = d.built(&stuck)?.1;
    // From the console: the broadcast request offers a speed-up and a cancel; the
    // speed-up opens the new request.
    let page = strongroom_e2e::console::decide(
        &svc.url,
        &t.treasury,
        &stuck,
        "speed-up",
        Some(("speed-up", "")),
    )?;
    assert_eq!(page["offered"], json!(["speed-up", "cancel-tx"]), "{page}");
    assert!(
        page["result"]
            .as_str()
            .unwrap_or_default()
            .contains(&format!("speed-up of {stuck} made")),
        "{page}"
    );
    let fast = page["shown"].as_str().unwrap_or_default().to_string();
    assert_ne!(fast, stuck);
    let (nonce, fee) = d.built(&fast)?;
    assert_eq!(nonce, 0);
    assert!(
        fee * 100 >= first_fee * 110,
        "fees raised 10 %: {first_fee} -> {fee}"
    );
    d.sent(&fast)?;
    let mine = || {
        let _ = anvil.mine(1);
    };
    svc.wait_state(&fast, &t.auditor, "confirmed", mine)?;
    svc.wait_state(&stuck, &t.auditor, "failed", mine)?;
    assert_eq!(paid(start)?, U256::from(ETHER / 10), "paid once");

    // Cancel: nothing, to the vault itself, at nonce 1; the payment never lands.
    let unwanted = d.pay("unwanted", RECIPIENT, ETHER / 5)?;
    assert_eq!(d.built(&unwanted)?.0, 1);
    d.sent(&unwanted)?;
    let cancel = d.replace(&unwanted, "cancel", "cancel-unwanted")?;
    let view = svc.wait_envelope(&cancel, &t.ana)?;
    assert_eq!(view["transaction"]["nonce"], 1, "{view}");
    assert_eq!(
        view["transaction"]["to"].as_str().map(str::to_lowercase),
        Some(format!("{us:#x}"))
    );
    assert_eq!(view["transaction"]["value"], "0x0", "{view}");
    d.sent(&cancel)?;
    svc.wait_state(&cancel, &t.auditor, "confirmed", mine)?;
    svc.wait_state(&unwanted, &t.auditor, "failed", mine)?;
    assert_eq!(
        paid(start)?,
        U256::from(ETHER / 10),
        "the cancelled payment never landed"
    );

    // Signed, then abandoned: the station signed nonce 2 but its answer never came back
    // and the request was cancelled. Its nonce stays held (a signed transaction may be
    // out there), so the next request is built at 3, and a cancel fills 2.
    let abandoned = d.pay("abandoned", RECIPIENT, ETHER / 4)?;
    assert_eq!(d.built(&abandoned)?.0, 2);
    let req = d.exported(&abandoned)?;
    station_signs(&mut d.vault.station, &d.vault.rehearsal.hsm, &req)?;
    let a = svc.call(
        "POST",
        &format!("/v1/requests/{abandoned}/cancel"),
        Some(&t.treasury),
        Some(&json!({"reason": "the station's answer was lost"})),
    )?;
    assert_eq!(a.json["request"]["state"], "cancelled", "{}", a.json);
    let next = d.pay("next", RECIPIENT, ETHER / 20)?;
    assert_eq!(d.built(&next)?.0, 3, "built above the abandoned nonce");
    let a = d.try_replace(&abandoned, "speed-up", "no")?;
    assert_eq!(a.status, 409, "an ended request is not sped up: {}", a.json);
    let fill = d.replace(&abandoned, "cancel", "fill-2")?;
    assert_eq!(d.built(&fill)?.0, 2);
    d.sent(&fill)?;
    d.sent(&next)?;
    svc.wait_state(&next, &t.auditor, "confirmed", mine)?;
    svc.wait_state(&fill, &t.auditor, "confirmed", mine)?;
    assert_eq!(node.nonce(us, "latest")?, 4, "no gap is left");
    assert_eq!(paid(start)?, U256::from(ETHER / 10 + ETHER / 20));

    // What is not replaced: a confirmed request, another chain's request, a body that
    // names a replacement itself.
    for (id, kind, want) in [
        (&fast, "cancel", 409),
        (&next, "speed-up", 409),
        (&"nope".to_string(), "cancel", 404),
    ] {
        let a = d.try_replace(id, kind, "late")?;
        assert_eq!(a.status, want, "{id}: {}", a.json);
    }
    let body = json!({"network": "evm:1", "asset": "native", "destination": RECIPIENT.to_checksum(None),
        "amount": "1", "purpose": "withdrawal", "replaces": {"request": fast, "kind": "speed-up"}});
    let a = svc.post_keyed("/v1/requests", &t.treasury, &body, "sly")?;
    assert_eq!(a.status, 400, "{}", a.json);
    assert!(
        a.json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("replace"),
        "{}",
        a.json
    );
    Ok(())
}
