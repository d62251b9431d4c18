//! Installation and treasury routes: stations (registered from their descriptor frames),
//! approver keys, vaults with their balances, deposit addresses and the sweep planner.

use std::sync::Arc;

use airgap_protocol::envelope::{decode_envelope, Envelope, DESCRIPTOR_UR_TYPE};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Query, State as AxState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::signing::assemble;
use super::{authenticate, bad, handle, json_body, AppState, READERS};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterStation {
    /// The descriptor's UR frames as scanned from the station's screen.
    #[serde(default)]
    frames: Vec<String>,
    /// Or its CBOR in hex.
    #[serde(default)]
    cbor_hex: Option<String>,
    /// The station's USB `keys.pub` text.
    #[serde(default)]
    usb_keys: Option<String>,
}

pub(super) async fn register_station(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<RegisterStation>, JsonRejection>,
) -> Response {
    handle(st, move |st| {
        let caller = authenticate(st, &headers, &[])?;
        let b = json_body(body)?;
        let cbor = match (b.frames.is_empty(), b.cbor_hex) {
            (false, None) => {
                let (ur_type, message) = assemble(&b.frames)?;
                if ur_type != DESCRIPTOR_UR_TYPE {
                    return Err(bad(format!(
                        "frames carry {ur_type}, not a station descriptor"
                    )));
                }
                match decode_envelope(&ur_type, &message) {
                    Ok(Envelope::Descriptor(d)) => d.to_cbor(),
                    Ok(_) => return Err(bad("frames carry another envelope")),
                    Err(e) => return Err(bad(format!("descriptor: {e}"))),
                }
            }
            (true, Some(h)) => hex::decode(h.trim()).map_err(|_| bad("cbor_hex is not hex"))?,
            _ => return Err(bad("give either frames or cbor_hex")),
        };
        let d = st.pipeline.register_station(
            &cbor,
            b.usb_keys.as_deref(),
            &caller.principal,
            (st.clock)(),
        )?;
        Ok((
            StatusCode::CREATED,
            Json(json!({"station": d.name, "identity": hex::encode(d.identity), "mock_hsm": d.mock_hsm})),
        )
            .into_response())
    })
    .await
}

pub(super) async fn list_stations(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, READERS)?;
        let list: Vec<_> = st
            .pipeline
            .stations()?
            .into_iter()
            .map(|(name, s)| {
                json!({
                    "name": name,
                    "identity": hex::encode(s.descriptor.identity),
                    "mock_hsm": s.descriptor.mock_hsm,
                    "usb": s.usb_keys.is_some(),
                    "keys": s.descriptor.keys.iter().map(|k| json!({
                        "chain": format!("{:?}", k.chain).to_lowercase(),
                        "public_key": hex::encode(&k.public_key),
                        "address": match k.chain {
                            airgap_protocol::envelope::Chain::Evm => crate::evm::vault_address(&k.public_key).map(|a| a.to_checksum(None)),
                            _ => None,
                        },
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(Json(json!({"stations": list})).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterApprover {
    principal: String,
    public_key: String,
}

pub(super) async fn register_approver(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<RegisterApprover>, JsonRejection>,
) -> Response {
    handle(st, move |st| {
        let caller = authenticate(st, &headers, &[])?;
        let b = json_body(body)?;
        st.pipeline.register_approver(
            &b.principal,
            &b.public_key,
            &caller.principal,
            (st.clock)(),
        )?;
        Ok((StatusCode::CREATED, Json(json!({"approver": b.principal}))).into_response())
    })
    .await
}

pub(super) async fn vaults(AxState(st): AxState<Arc<AppState>>, headers: HeaderMap) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, READERS)?;
        let mut out = Vec::new();
        for v in st.pipeline.vaults() {
            let mut view = json!({
                "network": v.network, "name": v.name, "unit": v.unit,
                "address": v.address.ok(),
                "balance": match v.balance {
                    Ok(b) => json!(b.to_string()),
                    Err(e) => json!({"error": e.to_string()}),
                },
            });
            if let (Some(o), Some(d)) = (view.as_object_mut(), v.detail.as_object()) {
                o.extend(d.clone());
            }
            out.push(view);
        }
        Ok(Json(json!({"vaults": out})).into_response())
    })
    .await
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct NetworkBody {
    network: String,
}

pub(super) async fn hand_out_deposit(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Json<NetworkBody>, JsonRejection>,
) -> Response {
    handle(st, move |st| {
        let caller = authenticate(st, &headers, &["warm-tier", "treasury"])?;
        let b = json_body(body)?;
        let (index, address) =
            st.pipeline
                .deposit_hand_out(&b.network, &caller.principal, (st.clock)())?;
        Ok((
            StatusCode::CREATED,
            Json(json!({"network": b.network, "index": index, "address": address})),
        )
            .into_response())
    })
    .await
}

pub(super) async fn list_deposits(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<NetworkBody>, axum::extract::rejection::QueryRejection>,
) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, READERS)?;
        let Query(q) = q.map_err(|e| bad(format!("query: {}", e.body_text())))?;
        let list: Vec<_> = st
            .pipeline
            .deposit_list(&q.network)?
            .into_iter()
            .map(|(i, a)| json!({"index": i, "address": a}))
            .collect();
        Ok(Json(json!({"network": q.network, "addresses": list})).into_response())
    })
    .await
}

pub(super) async fn sweep_plan(
    AxState(st): AxState<Arc<AppState>>,
    headers: HeaderMap,
    q: Result<Query<NetworkBody>, axum::extract::rejection::QueryRejection>,
) -> Response {
    handle(st, move |st| {
        authenticate(st, &headers, READERS)?;
        let Query(q) = q.map_err(|e| bad(format!("query: {}", e.body_text())))?;
        let plan = st.pipeline.sweep_plan(&q.network)?;
        Ok(Json(json!({"network": q.network, "plan": plan})).into_response())
    })
    .await
}
