//! The operator console through a Solana request's whole life, in browsers that stay
//! open while the approvers' tool and the station act: what each page shows arrives by
//! its live updates.

use airgap_protocol::envelope::Envelope;
use strongroom_e2e::console::{starts, Session};
use strongroom_e2e::service::{station_refuses_to_sign, ur_texts, Service};

use super::*;

/// The station and its test HSM.
pub(super) struct Signer<'a> {
    pub station: &'a mut signer_station::station::Station,
    pub hsm: &'a signer_station::hsm::YubiHsm,
}

/// A request made with the console's form.
fn create(
    t: &mut Session,
    risk: &mut Session,
    amount: &str,
    to: &Address,
    memo: &str,
) -> Result<String> {
    t.create(
        risk,
        json!({"network": NET, "amount": amount, "destination": to.to_string(), "memo": memo}),
    )
}

/// Treasury exports it and plays the frames; the station reads them.
fn export(
    t: &mut Session,
    svc: &Service,
    id: &str,
    token: &str,
    name: &str,
) -> Result<airgap_protocol::envelope::SignRequest> {
    t.export_and_play(name)?;
    svc.export(id, token)
}

pub(super) fn walk(svc: &Service, desk: &Desks, s: Signer<'_>, recipient: &Address) -> Result<()> {
    let mut t = Session::open(&svc.url, &desk.treasury, "treasury")?;
    let mut risk = Session::open(&svc.url, &desk.risk, "risk")?;
    let ana = [("ana", desk.ana.as_str()), ("ben", desk.ben.as_str())];

    // Paid and confirmed: the form takes SOL, the approvers' tool approves, the
    // station's frames are pasted back.
    let id = create(&mut t, &mut risk, "0.25", recipient, "console payout")?;
    svc.approve(&id, &ana)?;
    t.wait("approved")?;
    let req = export(&mut t, svc, &id, &desk.treasury, "solana-player")?;
    // For standard signers: a sol-sign-request, read by the Keystone registry.
    let read = strongroom_e2e::wallets::check_standard(svc, &id, &desk.ana, &req)?;
    assert_eq!(read, ["sol-sign-request"]);
    let resp = station_signs(s.station, s.hsm, &req)?;
    let frames = ur_texts(&Envelope::Response(resp));
    let imported = t.run(json!({"do": "paste", "frames": frames}))?;
    starts(&imported, "result", "imported; state ")?;
    svc.wait_state(&id, &desk.ana, "confirmed", || {})?;
    let seen = t.confirmed_after(&strongroom_e2e::console::PAID)?;
    assert!(
        seen["payloads"][0]
            .as_str()
            .unwrap_or_default()
            .contains("0.25 SOL to"),
        "{seen}"
    );
    assert_eq!(seen["why"], Value::Null, "{seen}");
    t.shot("solana-confirmed")?;

    // The station refuses a destination its policy does not allow: the request fails
    // with the station's words on the page.
    let stranger = addr(&seed_key("not on the station's allow-list"));
    let id2 = create(&mut t, &mut risk, "0.1", &stranger, "new counterparty")?;
    svc.approve(&id2, &ana)?;
    t.wait("approved")?;
    let req = export(&mut t, svc, &id2, &desk.treasury, "solana-player-2")?;
    let (refusal, words) = station_refuses_to_sign(s.station, s.hsm, &req)?;
    t.run(json!({"do": "paste", "frames": ur_texts(&Envelope::Response(refusal))}))?;
    t.wait("failed")?;
    let seen = t.look()?;
    let why = seen["why"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("the station refused (") && why.ends_with(&words),
        "{seen}"
    );
    t.shot("solana-refused")?;

    // Rejected by risk with a reason (a first transfer to an address is held for
    // review), seen by treasury as it happens.
    let another = addr(&seed_key("a second new counterparty"));
    let made = t.run(json!({"do": "create", "network": NET, "amount": "0.2",
        "destination": another.to_string(), "purpose": "withdrawal"}))?;
    assert_eq!(made["unit"], "(in SOL)", "the form asks for SOL: {made}");
    assert_eq!(made["state"], "manual-review", "{made}");
    let id3 = made["id"].as_str().unwrap_or_default().to_string();
    risk.open_request(&id3)?;
    let seen = risk.look()?;
    assert_eq!(seen["offered"], json!(["clear", "reject"]), "{seen}");
    risk.run(json!({"do": "decide", "action": "reject", "reason": "new address, no ticket"}))?;
    t.open_request(&id3)?;
    t.wait("rejected")?;
    let seen = t.look()?;
    assert_eq!(seen["why"], "new address, no ticket", "{seen}");
    assert_eq!(
        seen["offered"],
        json!([]),
        "nothing to decide once it ended: {seen}"
    );
    t.shot("solana-rejected")?;

    // Cancelled by treasury with a reason.
    let id4 = create(&mut t, &mut risk, "0.1", recipient, "to be withdrawn")?;
    let cancelled = t.run(
        json!({"do": "decide", "action": "cancel", "reason": "customer withdrew the request"}),
    )?;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled}");
    t.wait("cancelled")?;
    assert_eq!(t.look()?["why"], "customer withdrew the request");

    // The queue: by state, by network, and in pages.
    let rows = t.run(json!({"do": "queue", "state": "failed"}))?;
    assert_eq!(rows["ids"], json!([id2]), "{rows}");
    let rows = t.run(json!({"do": "queue", "state": "confirmed", "network": NET}))?;
    assert!(
        rows["ids"]
            .as_array()
            .is_some_and(|r| r.contains(&json!(id))),
        "{rows}"
    );
    let rows = t.run(json!({"do": "queue", "network": "evm:1"}))?;
    assert_eq!(rows["ids"], json!([]), "{rows}");
    // A slow answer to an earlier filter does not cover the later one's rows.
    let rows = t.run(json!({"do": "overtaken",
        "slow": {"state": "confirmed", "network": NET}, "fast": {"network": "evm:1"}}))?;
    assert_eq!(
        rows["ids"],
        json!([]),
        "the later filter's rows stay: {rows}"
    );
    let mut paged =
        strongroom_e2e::console::Session::open_paged(&svc.url, &desk.auditor, "auditor", Some(2))?;
    let first = paged.run(json!({"do": "queue"}))?;
    assert_eq!(first["ids"].as_array().map(Vec::len), Some(2), "{first}");
    assert_eq!(first["older"], true, "{first}");
    let second = paged.run(json!({"do": "older"}))?;
    assert_eq!(second["page"], "page 2", "{second}");
    let (a, b) = (
        first["ids"].as_array().unwrap(),
        second["ids"].as_array().unwrap(),
    );
    assert!(
        !b.is_empty() && b.iter().all(|x| !a.contains(x)),
        "{first} {second}"
    );
    // The pages follow the API's order.
    let listed = svc.call("GET", "/v1/requests?limit=4", Some(&desk.auditor), None)?;
    let order: Vec<&Value> = listed.json["requests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| &r["id"])
        .collect();
    let shown: Vec<&Value> = a.iter().chain(b).collect();
    assert_eq!(shown, order[..shown.len()], "{}", listed.json);
    assert!(
        shown.contains(&&json!(id4)),
        "the newest is on the first pages: {first}"
    );
    paged.shot("solana-queue-page-2")?;
    Ok(())
}
