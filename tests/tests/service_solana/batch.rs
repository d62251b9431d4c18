//! Batched payouts on Solana through the service: nineteen SOL recipients in one
//! transaction (the most a Solana packet holds), then eight recipients of a token, each
//! token account created as it is paid. The station reviews every transfer from the
//! message, signs once, and the runtime (LiteSVM) pays each recipient exactly its amount.

use airgap_protocol::envelope::Chain;
use airgap_protocol::summary::{TokenInfo, TokenList};
use anyhow::Result;
use coordinator::solana::{associated_token_address, SolRpc};
use serde_json::{json, Value};
use signer_station::station::policy::{AssetLimit, Destination, FeeLimit};
use signer_station::tui::rehearsal::{self, seed_key};
use solana_address::Address;
use strongroom_e2e::litesvm::LiteSvm;
use strongroom_e2e::requests::now;
use strongroom_e2e::service::{
    coordinator_files, scratch, serve_args, station_signs, Desks, Service,
};

use super::{addr, exe, provision_nonce, NET, SOL};

/// One unit of the test token (6 decimals).
const USDC: u64 = 1_000_000;

/// Approved, exported, signed by the station, imported: confirmed.
fn through(
    svc: &Service,
    desk: &Desks,
    station: &mut signer_station::station::Station,
    r: &rehearsal::Rehearsal,
    id: &str,
) -> Result<()> {
    svc.approve(id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(id, &desk.treasury)?;
    let resp = station_signs(station, &r.hsm, &req)?;
    let a = svc.import(id, &desk.treasury, resp)?;
    anyhow::ensure!(a.status == 200, "importing {id}: {} {}", a.status, a.json);
    svc.wait_state(id, &desk.ana, "confirmed", || {})
        .map(|_| ())
}

/// A batched request: the first recipient in the body, the rest in `batch`.
fn batch_body(asset: &str, to: &[(Address, u64)]) -> Value {
    let rest: Vec<Value> = to[1..]
        .iter()
        .map(|(a, n)| json!({"destination": a.to_string(), "amount": n.to_string()}))
        .collect();
    json!({"network": NET, "asset": asset, "destination": to[0].0.to_string(),
        "amount": to[0].1.to_string(), "purpose": "withdrawal", "memo": "payouts", "batch": rest})
}

#[test]
fn nineteen_sol_recipients_then_eight_of_a_token_in_one_transaction_each() -> Result<()> {
    let svm = LiteSvm::start()?;
    let node = SolRpc::new(svm.rpc());
    let dir = scratch("service-sol-batch")?;
    let r = rehearsal::station(&dir.join("rehearsal"), now()).map_err(anyhow::Error::msg)?;
    let vault = Address::new_from_array(strongroom_e2e::requests::devnet_vault(&r.keys));
    let nonce_key = seed_key("batch nonce account");
    let mint = addr(&seed_key("batch test usdc mint"));
    let payees: Vec<Address> = (0..20)
        .map(|n| addr(&seed_key(&format!("payee {n}"))))
        .collect();
    let mut p = rehearsal::policy()?;
    p.networks = vec![NET.into()];
    p.limits = vec![
        AssetLimit::new(NET, "native", 5 * SOL, 20 * SOL),
        AssetLimit::new(NET, mint.to_string(), 100 * USDC, 1_000 * USDC),
    ];
    // Each payee, and its token account (what a token transfer pays).
    p.allow_list = payees
        .iter()
        .flat_map(|a| [*a, associated_token_address(a, &mint)])
        .chain([addr(&nonce_key)])
        .map(|a| Destination::new(NET, a))
        .collect();
    p.fees = vec![FeeLimit::new(NET, "1000000", 1000)];
    let tokens = TokenList(vec![TokenInfo {
        chain: Chain::Solana,
        contract: mint.to_string(),
        symbol: "USDC".into(),
        decimals: 6,
    }]);
    let mut station = strongroom_e2e::requests::station_of(&r, &dir, p.clone(), tokens)?;
    let control = svm.rpc();
    control.call_raw("test_airdrop", json!([vault.to_string(), 10 * SOL]))?;
    let authority = addr(&seed_key("batch mint authority"));
    control.call_raw(
        "test_setMint",
        json!([mint.to_string(), authority.to_string(), 1_000_000 * USDC, 6]),
    )?;
    let source = associated_token_address(&vault, &mint);
    control.call_raw(
        "test_setTokenAccount",
        json!([
            source.to_string(),
            mint.to_string(),
            vault.to_string(),
            500 * USDC
        ]),
    )?;
    provision_nonce(&node, &mut station, &r, &vault, &nonce_key)?;

    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[solana]]\nname = \"devnet\"\nnetwork = \"{NET}\"\nendpoints = [\"{}\"]\n\
             nonce_accounts = [\"{}\"]\ncompute_unit_limit = 40000\ncompute_unit_price = 50000\n\
             tokens = [{{ mint = \"{mint}\", decimals = 6 }}]\n",
            svm.url,
            addr(&nonce_key)
        ),
    )?;
    // The risk engine's limits name the token as well as SOL.
    let risk = dir.join("risk.toml");
    let limit = |asset: &str, per_tx: u64, per_day: u64| {
        format!(
            "[[limits]]\nnetwork = \"{NET}\"\nasset = \"{asset}\"\n\
             per_transaction = \"{per_tx}\"\nper_day = \"{per_day}\"\n\n"
        )
    };
    std::fs::write(
        &risk,
        limit("native", 5 * SOL, 20 * SOL) + &limit(&mint.to_string(), 100 * USDC, 1_000 * USDC),
    )?;
    let db = dir.join("coordinator.db");
    let desk = Desks::add(&exe(), &db)?;
    let extra = ["--risk", risk.to_str().unwrap_or_default()];
    let svc = Service::start(&exe(), &db, &serve_args(&chains, &key_path, &extra))?;
    let descriptor = station
        .export_descriptor(&r.hsm, "vault-a", &p, now())
        .map_err(anyhow::Error::msg)?;
    svc.register_station(&desk.admin, &descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    // Twenty recipients do not fit one transaction: refused whole, with the reason.
    let twenty: Vec<(Address, u64)> = payees.iter().map(|a| (*a, SOL / 10)).collect();
    let a = svc.post_keyed(
        "/v1/requests",
        &desk.treasury,
        &batch_body("native", &twenty),
        "twenty",
    )?;
    assert_eq!(a.status, 400, "{}", a.json);
    let why = a.json["error"].as_str().unwrap_or_default();
    assert!(why.contains("at most 19 recipients"), "{why}");

    // Nineteen: 0.1 SOL and n lamports each, one transaction.
    let sol: Vec<(Address, u64)> = payees[..19]
        .iter()
        .zip(0u64..)
        .map(|(a, n)| (*a, SOL / 10 + n))
        .collect();
    let id = svc.create(
        &desk.treasury,
        &desk.risk,
        "sol-batch",
        &batch_body("native", &sol),
        "payouts",
    )?;
    let env = svc.wait_envelope(&id, &desk.ana)?;
    let shown = env["decoded"][0]["recipients"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        shown.len(),
        19,
        "every recipient as the decoder reads it: {env}"
    );
    through(&svc, &desk, &mut station, &r, &id)?;
    for (a, n) in &sol {
        assert_eq!(node.balance(a)?, *n, "{a}");
    }

    // Eight of a token, each recipient's token account created as it is paid.
    let usdc: Vec<(Address, u64)> = payees[..8]
        .iter()
        .zip(1u64..)
        .map(|(a, n)| (*a, n * USDC))
        .collect();
    let mut nine = usdc.clone();
    nine.push((payees[8], USDC));
    let a = svc.post_keyed(
        "/v1/requests",
        &desk.treasury,
        &batch_body(&mint.to_string(), &nine),
        "nine",
    )?;
    assert_eq!(a.status, 400, "{}", a.json);
    let id = svc.create(
        &desk.treasury,
        &desk.risk,
        "usdc-batch",
        &batch_body(&mint.to_string(), &usdc),
        "payouts",
    )?;
    through(&svc, &desk, &mut station, &r, &id)?;
    for (a, n) in &usdc {
        let account = associated_token_address(a, &mint);
        assert_eq!(node.token_balance(&account)?, Some(*n), "{a}");
    }
    assert_eq!(node.token_balance(&source)?, Some((500 - 36) * USDC));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
