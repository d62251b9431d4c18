//! A token treasury: the warm wallet's USD token (an ERC-20 on anvil) falls under its low
//! watermark; the watch drafts one refill of the token, which the station reviews as a
//! token transfer (its own token list and limits), signs, and which lands; the vault's
//! token balance is shown beside its ether.

use airgap_protocol::envelope::Chain;
use airgap_protocol::summary::{TokenInfo, TokenList};
use alloy_primitives::{Address, U256};
use anyhow::Result;
use signer_station::station::policy::AssetLimit;
use strongroom_e2e::anvil::{Anvil, FUNDER};
use strongroom_e2e::evm_vault::{self, EvmVault, ETHER};
use strongroom_e2e::service::{scratch, serve_args, station_signs, Desks, Service};

use super::{drafted, exe, first_refill, WARM};

/// One token unit (6 decimals).
const TUSD: u128 = 1_000_000;

#[test]
fn low_token_balance_drafts_an_erc20_refill_that_lands() -> Result<()> {
    let anvil = Anvil::start(1)?;
    let dir = scratch("treasury-token")?;
    let token = anvil.deploy_token(U256::from(1_000_000 * TUSD))?;
    let contract = token.to_checksum(None);
    let mut policy = evm_vault::policy(WARM, 5 * ETHER)?;
    policy.limits.push(AssetLimit::new(
        "evm:1",
        contract.clone(),
        10_000 * TUSD,
        50_000 * TUSD,
    ));
    let tokens = TokenList(vec![TokenInfo {
        chain: Chain::Evm,
        contract: contract.clone(),
        symbol: "TUSD".into(),
        decimals: 6,
    }]);
    let mut v = EvmVault::with_policy(&anvil, &dir, (policy, tokens), &[])?;
    let data = coordinator::evm::erc20_transfer_data(v.vault, U256::from(20_000 * TUSD));
    anvil.send_from(FUNDER, Some(token), U256::ZERO, &data)?;
    let balance_of = |who: Address| -> Result<U256> { Ok(v.node.token_balance(token, who)?) };
    assert_eq!(balance_of(WARM)?, U256::ZERO);

    // The token on the vault's chain, and the watch of the warm wallet's token balance.
    let mut file = std::fs::OpenOptions::new().append(true).open(&v.chains)?;
    std::io::Write::write_all(
        &mut file,
        format!(
            "tokens = [{{ symbol = \"TUSD\", contract = \"{contract}\", decimals = 6 }}]\n\n\
             [[watch]]\nnetwork = \"evm:1\"\naddress = \"{}\"\nasset = \"{contract}\"\nlow = \"{}\"\nhigh = \"{}\"\nevery_secs = 1\n",
            WARM.to_checksum(None),
            1_000 * TUSD,
            5_000 * TUSD
        )
        .as_bytes(),
    )?;
    let risk = super::warm_risk(&dir, &contract, (10_000 * TUSD, 50_000 * TUSD))?;
    let db = dir.join("coordinator.db");
    let desk = Desks::add(&exe(), &db)?;
    let args = serve_args(
        &v.chains,
        &v.key,
        &["--risk", risk.to_str().unwrap_or_default()],
    );
    let log = dir.join("coordinator.log");
    let svc = Service::start_logged(&exe(), &db, &args, &[], Some(&log))?;
    svc.register_station(&desk.admin, &v.descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    // The vault's token balance beside its ether.
    let r = svc.call("GET", "/v1/vaults", Some(&desk.ana), None)?;
    let t = &r.json["vaults"][0]["tokens"][0];
    assert_eq!(t["symbol"], "TUSD", "{}", r.json);
    assert_eq!(t["balance"], (20_000 * TUSD).to_string(), "{}", r.json);

    // One refill of 5,000 TUSD (0 → high) in the token, through risk, the approvers and
    // the station.
    let refill = first_refill(&svc, &desk.ana, &log)?;
    assert_eq!(refill["body"]["asset"], contract.as_str());
    assert_eq!(refill["body"]["amount"], (5_000 * TUSD).to_string());
    assert_eq!(refill["state"], "awaiting-approvals", "{refill}");
    let id = refill["id"].as_str().unwrap_or_default().to_string();
    svc.approve(&id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(&id, &desk.treasury)?;
    let review = v.station.review(&req, strongroom_e2e::requests::now())?;
    let shown = format!("{:?}", review.payloads[0]);
    assert!(
        shown.contains("TUSD"),
        "the station names the token from its own list: {shown}"
    );
    let resp = station_signs(&mut v.station, &v.rehearsal.hsm, &req)?;
    let a = svc.import(&id, &desk.treasury, resp)?;
    assert_eq!(a.status, 200, "{}", a.json);
    svc.wait_state(&id, &desk.ana, "confirmed", || {
        let _ = anvil.mine(1);
    })?;
    assert_eq!(balance_of(WARM)?, U256::from(5_000 * TUSD));
    assert_eq!(balance_of(v.vault)?, U256::from(15_000 * TUSD));
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(
        drafted(&svc, &desk.ana)?.len(),
        1,
        "above the low watermark: no second refill"
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
