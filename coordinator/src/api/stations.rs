//! Installation and treasury routes: stations (registered from their descriptor frames),
//! approver keys, vaults with their balances, deposit addresses and the sweep planner.

use airgap_protocol::envelope::{decode_envelope, Envelope, DESCRIPTOR_UR_TYPE};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::answers::{
    ApproverRegistered, Balance, DepositAddress, DepositEntry, DepositList, ErrorBody, StationKey,
    StationList, StationRegistered, StationView, SweepPlan, VaultAnswer, VaultList,
};
use super::signing::assemble;
use super::{bad, errors, Api, Args, Body, READERS};

/// A station's descriptor, as scanned from its screen.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
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

/// Register a station from its descriptor (role: admin)
///
/// Either `frames` or `cbor_hex`; with `usb_keys`, bundles can be sealed to it.
#[utoipa::path(post, path = "/v1/stations", tag = "installation", request_body = RegisterStation,
    responses((status = 201, description = "registered", body = StationRegistered),
        (status = 400, description = "unreadable descriptor", body = ErrorBody),
        (status = 409, description = "the name is registered with other keys", body = ErrorBody),
        (status = 422, description = "a descriptor the coordinator refuses", body = ErrorBody)))]
pub(super) async fn register_station(api: Api, body: Body<RegisterStation>) -> Response {
    api.run(&[], move |st, caller| {
        let b = body.get()?;
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
        let registered = StationRegistered {
            station: d.name,
            identity: hex::encode(d.identity),
            mock_hsm: d.mock_hsm,
        };
        Ok((StatusCode::CREATED, Json(registered)).into_response())
    })
    .await
}

/// Registered stations and their keys
#[utoipa::path(get, path = "/v1/stations", tag = "installation",
    responses((status = 200, description = "stations", body = StationList)))]
pub(super) async fn list_stations(api: Api) -> Response {
    api.run(READERS, move |st, _| {
        let list: Vec<_> = st
            .pipeline
            .stations()?
            .into_iter()
            .map(|(name, s)| StationView {
                name,
                identity: hex::encode(s.descriptor.identity),
                mock_hsm: s.descriptor.mock_hsm,
                usb: s.usb_keys.is_some(),
                keys: s
                    .descriptor
                    .keys
                    .iter()
                    .map(|k| StationKey {
                        chain: format!("{:?}", k.chain).to_lowercase(),
                        public_key: hex::encode(&k.public_key),
                        address: match k.chain {
                            airgap_protocol::envelope::Chain::Evm => {
                                crate::evm::vault_address(&k.public_key)
                                    .map(|a| a.to_checksum(None))
                            }
                            _ => None,
                        },
                    })
                    .collect(),
            })
            .collect();
        Ok(Json(StationList { stations: list }).into_response())
    })
    .await
}

/// An approver's key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RegisterApprover {
    /// The approver's principal (holds the approver role).
    principal: String,
    /// Ed25519 public key, hex.
    public_key: String,
}

/// Register an approver's Ed25519 public key (role: admin)
#[utoipa::path(post, path = "/v1/approvers", tag = "installation", request_body = RegisterApprover,
    responses((status = 201, description = "registered", body = ApproverRegistered),
        (status = 409, description = "registered with another key", body = ErrorBody),
        (status = 422, description = "not a key, or not an approver", body = ErrorBody)))]
pub(super) async fn register_approver(api: Api, body: Body<RegisterApprover>) -> Response {
    api.run(&[], move |st, caller| {
        let b = body.get()?;
        st.pipeline.register_approver(
            &b.principal,
            &b.public_key,
            &caller.principal,
            (st.clock)(),
        )?;
        Ok((
            StatusCode::CREATED,
            Json(ApproverRegistered {
                approver: b.principal,
            }),
        )
            .into_response())
    })
    .await
}

/// Configured vaults, with address and balance read from the chain now
#[utoipa::path(get, path = "/v1/vaults", tag = "treasury",
    responses((status = 200, description = "vaults", body = VaultList)))]
pub(super) async fn vaults(api: Api) -> Response {
    api.run(READERS, move |st, _| {
        let vaults = st
            .pipeline
            .vaults()
            .into_iter()
            .map(|v| VaultAnswer {
                network: v.network,
                name: v.name,
                unit: v.unit.to_string(),
                address: v.address.ok(),
                balance: match v.balance {
                    Ok(b) => Balance::Amount(b.to_string()),
                    Err(e) => Balance::Unknown(ErrorBody {
                        error: e.to_string(),
                    }),
                },
                detail: match v.detail {
                    serde_json::Value::Object(m) => m,
                    _ => Default::default(),
                },
            })
            .collect();
        Ok(Json(VaultList { vaults }).into_response())
    })
    .await
}

/// A network.
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct NetworkBody {
    /// Network (`regtest`, `bitcoin` …).
    network: String,
}

/// Hand out the next deposit address (roles: warm-tier, treasury)
#[utoipa::path(post, path = "/v1/deposits", tag = "treasury", request_body = NetworkBody,
    responses(
        (status = 201, description = "the address", body = DepositAddress),
        (status = 400, description = "no deposits on that network", body = ErrorBody),
        errors::NoDeposits,
    ))]
pub(super) async fn hand_out_deposit(api: Api, body: Body<NetworkBody>) -> Response {
    api.run(&["warm-tier", "treasury"], move |st, caller| {
        let b = body.get()?;
        let (index, address) =
            st.pipeline
                .deposit_hand_out(&b.network, &caller.principal, (st.clock)())?;
        Ok((
            StatusCode::CREATED,
            Json(DepositAddress {
                network: b.network,
                index,
                address,
            }),
        )
            .into_response())
    })
    .await
}

/// Deposit addresses handed out on a network
#[utoipa::path(get, path = "/v1/deposits", tag = "treasury", params(NetworkBody),
    responses((status = 200, description = "addresses", body = DepositList), errors::BadQuery, errors::NoDeposits))]
pub(super) async fn list_deposits(api: Api, q: Args<NetworkBody>) -> Response {
    api.run(READERS, move |st, _| {
        let q = q.get()?;
        let list: Vec<_> = st
            .pipeline
            .deposit_list(&q.network)?
            .into_iter()
            .map(|(index, address)| DepositEntry { index, address })
            .collect();
        let list = DepositList {
            network: q.network,
            addresses: list,
        };
        Ok(Json(list).into_response())
    })
    .await
}

/// Sweep plan for the deposit addresses of a network
///
/// Batches over the configured threshold whose fee is under the configured fraction.
#[utoipa::path(get, path = "/v1/sweeps/plan", tag = "treasury", params(NetworkBody),
    responses((status = 200, description = "the plan", body = SweepPlan), errors::BadQuery,
        (status = 502, description = "the chain did not answer", body = ErrorBody), errors::NoDeposits))]
pub(super) async fn sweep_plan(api: Api, q: Args<NetworkBody>) -> Response {
    api.run(READERS, move |st, _| {
        let q = q.get()?;
        let plan = st.pipeline.sweep_plan(&q.network)?;
        let plan = SweepPlan {
            network: q.network,
            plan,
        };
        Ok(Json(plan).into_response())
    })
    .await
}
