//! Treasury flows of many coins and many recipients, through the service, on a
//! single-key vault of one station: a batched payout of 200 outputs in one transaction,
//! then a consolidation of every coin left into one. Both are reviewed by the station
//! from the PSBT, signed, finalised (Bitcoin Core's interpreter checks each input) and
//! confirmed; every recipient is paid exactly its amount.

use anyhow::{bail, Result};
use bitcoin::{Amount, Network, TxOut};
use serde_json::{json, Value};
use strongroom_e2e::btcserver::BtcServer;
use strongroom_e2e::console::Session;
use strongroom_e2e::service::{coordinator_files, scratch, station_signs, Desks, Service};

use super::btc_common::{self, recipient};
use super::exe;

const RECIPIENTS: u32 = 200;

/// Approved by both approvers, exported, signed by the station, imported: confirmed.
pub(super) fn through(
    svc: &Service,
    desk: &Desks,
    st: &mut btc_common::Registered,
    server: &BtcServer,
    id: &str,
) -> Result<bitcoin::Txid> {
    svc.approve(id, &[("ana", &desk.ana), ("ben", &desk.ben)])?;
    let req = svc.export(id, &desk.treasury)?;
    let resp = station_signs(&mut st.station, &st.hsm, &req)?;
    let a = svc.import(id, &desk.treasury, resp)?;
    if a.status != 200 {
        bail!("importing {id}: {} {}", a.status, a.json);
    }
    svc.wait_state(id, &desk.ana, "confirmed", || server.mine_empty())?;
    Ok(svc.read(id, "chain", &desk.ana)?.json["hash"]
        .as_str()
        .unwrap_or_default()
        .parse()?)
}

#[test]
fn a_200_output_batch_then_a_consolidation() -> Result<()> {
    let server = BtcServer::start()?;
    let dir = scratch("service-btc-batch")?;
    let mut a = btc_common::registered_with(&dir, "vault-a", RECIPIENTS as usize)?;
    let vault = coordinator::bitcoin::Vault::single("cold", &a.key, Network::Regtest)?;
    let spk = vault.address().script_pubkey();
    server.fund(
        (0..12)
            .map(|_| TxOut {
                value: Amount::from_sat(500_000),
                script_pubkey: spk.clone(),
            })
            .collect(),
    );
    let (key_path, chains) = coordinator_files(
        &dir,
        &format!(
            "[[bitcoin]]\nname = \"cold\"\nnetwork = \"regtest\"\nesplora = [\"{}\"]\nthreshold = 1\n\
             stations = [\"vault-a\"]\nconfirmations = 1\nmax_fee_rate = 50\n",
            server.esplora()
        ),
    )?;
    let (desk, svc) = Desks::serve(&exe(), &dir.join("coordinator.db"), &chains, &key_path)?;
    svc.register_station(&desk.admin, &a.descriptor)?;
    svc.register_approvers(&desk.admin, &["ana", "ben"])?;

    // 200 recipients, 10,000 + n sat each: one request, one transaction.
    let sat = |n: u32| 10_000 + u64::from(n);
    let batch: Vec<Value> = (1..RECIPIENTS)
        .map(|n| json!({"destination": recipient(n).to_string(), "amount": sat(n).to_string()}))
        .collect();
    let body = json!({"network": "regtest", "asset": "native", "destination": recipient(0).to_string(),
        "amount": sat(0).to_string(), "purpose": "withdrawal", "memo": "daily payouts", "batch": batch});
    // A batch with an address of another network is refused whole, with its place named.
    let mut bad = body.clone();
    bad["batch"][7]["destination"] = json!("bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4");
    let r = svc.post_keyed("/v1/requests", &desk.treasury, &bad, "bad")?;
    assert_eq!(r.status, 400, "{}", r.json);
    assert!(
        r.json["error"]
            .as_str()
            .unwrap_or_default()
            .starts_with("batch[7]:"),
        "{}",
        r.json
    );
    let id = svc.create(
        &desk.treasury,
        &desk.risk,
        "payouts-1",
        &body,
        "known customers",
    )?;
    let view = svc.wait_envelope(&id, &desk.ana)?;
    let outputs = view["transaction"]["outputs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        outputs.len(),
        RECIPIENTS as usize + 1,
        "200 payments and the change"
    );
    let txid = through(&svc, &desk, &mut a, &server, &id)?;
    for n in 0..RECIPIENTS {
        assert_eq!(
            server.paid(txid, &recipient(n).script_pubkey()),
            Amount::from_sat(sat(n)),
            "recipient {n}"
        );
    }

    // The console's form makes a batch too, and its page lists every recipient; this one
    // is cancelled before export, which frees its coins.
    let mut t = Session::open(&svc.url, &desk.treasury, "treasury")?;
    let mut risk = Session::open(&svc.url, &desk.risk, "risk")?;
    let lines: Vec<String> = [(1, "0.00012"), (2, "0.00013")]
        .iter()
        .map(|(n, btc)| format!("{} {btc}", recipient(*n)))
        .collect();
    let made = t.create(
        &mut risk,
        json!({"network": "regtest", "amount": "0.0001", "destination": recipient(0).to_string(),
            "batch": lines, "memo": "console batch"}),
    )?;
    // The transaction is built after the request reaches approvals: once it is, the
    // page (opened again) shows it.
    svc.wait_envelope(&made, &desk.ana)?;
    t.open_request(&made)?;
    let seen = t.look()?;
    assert_eq!(
        seen["batch"],
        json!([
            format!("0.00012 BTC to {}", recipient(1)),
            format!("0.00013 BTC to {}", recipient(2))
        ]),
        "{seen}"
    );
    let payload = seen["payloads"][0].as_str().unwrap_or_default();
    for (n, btc) in [(0, "0.0001"), (1, "0.00012"), (2, "0.00013")] {
        let pays = format!("{btc} BTC to {}", recipient(n));
        assert!(payload.contains(&pays), "{pays} in {payload}");
    }
    let cancelled =
        t.run(json!({"do": "decide", "action": "cancel", "reason": "made to see the form"}))?;
    assert_eq!(cancelled["state"], "cancelled", "{cancelled} ({made})");
    // A bad line is named, and nothing is made.
    let bad = t.run(
        json!({"do": "create", "network": "regtest", "amount": "0.0001",
        "destination": recipient(0).to_string(), "batch": [recipient(1).to_string()]}),
    )?;
    assert_eq!(
        bad["result"], "more recipients, line 1: write an address and an amount",
        "{bad}"
    );

    // Consolidation, from the Vaults page: every coin left (the unspent funding coins and
    // the change) into one output back to the vault. No deposit pool here to sweep.
    let swept = t.run(json!({"do": "into_vault", "action": "sweep", "network": "regtest"}))?;
    assert_eq!(
        swept["result"], "sweep: regtest: no deposit pool and Bitcoin vault here",
        "{swept}"
    );
    let made = t.run(json!({"do": "into_vault", "action": "consolidate", "network": "regtest"}))?;
    let id = made["id"].as_str().unwrap_or_default().to_string();
    assert!(
        made["result"]
            .as_str()
            .unwrap_or_default()
            .starts_with("consolidation made; state "),
        "{made}"
    );
    let tx = into_the_vault(&svc, &desk.ana, &id, &spk)?;
    assert!(tx["inputs"].as_array().map_or(0, Vec::len) >= 2, "{tx}");
    through(&svc, &desk, &mut a, &server, &id)?;
    let out = tx["outputs"][0]["sat"].as_u64().unwrap_or_default();
    assert_eq!(
        svc.vault_balance(&desk.ana)?,
        u128::from(out),
        "one coin holds the vault's balance"
    );
    // A consolidation of a network without a Bitcoin vault: refused.
    let evm = json!({"network": "evm:1"});
    let r = svc.post_keyed("/v1/vaults/consolidate", &desk.treasury, &evm, "tidy-2")?;
    assert_eq!(r.status, 422, "{}", r.json);
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// The transaction request `id` was built as, which must be one output to the vault
/// (`spk`).
pub(super) fn into_the_vault(
    svc: &Service,
    token: &str,
    id: &str,
    spk: &bitcoin::ScriptBuf,
) -> Result<Value> {
    let view = svc.wait_envelope(id, token)?;
    let tx = view["transaction"].clone();
    if tx["outputs"].as_array().map(Vec::len) != Some(1)
        || tx["outputs"][0]["script_pubkey"] != spk.to_hex_string()
    {
        bail!("not one output to the vault: {tx}");
    }
    Ok(tx)
}
