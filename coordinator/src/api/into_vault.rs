//! Requests into a Bitcoin vault itself: a consolidation of its coins and a sweep of the
//! deposit addresses. Nothing leaves the vault, so nothing counts against the limits;
//! each goes through risk, approvals and the station like any request.

use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::answers::ErrorBody;
use super::requests::{idempotency_key, stored};
use super::*;
use crate::chain::ChainAdapter;
use crate::risk::Purpose;

/// Which vault.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct VaultNetwork {
    /// The vault's network (a Bitcoin network).
    network: String,
}

/// Consolidate a Bitcoin vault's coins (role: treasury)
///
/// Makes a request spending every coin of the vault that no other request holds into
/// one output back to the vault (purpose `consolidation`), built when fees are low.
#[utoipa::path(post, path = "/v1/vaults/consolidate", tag = "requests",
    params(("Idempotency-Key" = String, Header, description = "1 to 200 characters; the same key answers with the first request")),
    request_body = VaultNetwork,
    responses(
        errors::Made,
        (status = 422, description = "not a Bitcoin vault served here, or an unknown field", body = ErrorBody),
    ))]
pub(super) async fn consolidate(api: Api, body: Body<VaultNetwork>) -> Response {
    into_vault(api, body, Purpose::Consolidation).await
}

/// Sweep a network's deposit addresses into its vault (role: treasury)
///
/// Makes a request (purpose `sweep`) spending the coins of the sweep plan's first batch
/// into one output to the vault: built from the deposit pool, signed by the station
/// whose deposit account the pool is, under the collection cost rule there too.
#[utoipa::path(post, path = "/v1/sweeps", tag = "treasury",
    params(("Idempotency-Key" = String, Header, description = "1 to 200 characters; the same key answers with the first request")),
    request_body = VaultNetwork,
    responses(
        errors::Made,
        (status = 422, description = "no deposit pool or Bitcoin vault on the network, or an unknown field", body = ErrorBody),
    ))]
pub(super) async fn sweep(api: Api, body: Body<VaultNetwork>) -> Response {
    into_vault(api, body, Purpose::Sweep).await
}

/// A request of `purpose` (a consolidation, or a sweep, which needs a deposit pool) into
/// the network's Bitcoin vault.
async fn into_vault(api: Api, body: Body<VaultNetwork>, purpose: Purpose) -> Response {
    let deposits = purpose == Purpose::Sweep;
    let memo = if deposits {
        "sweep of the deposit addresses into the vault"
    } else {
        "consolidation: every free coin of the vault into one"
    };
    let key = api.header(axum::http::HeaderName::from_static("idempotency-key"));
    api.run(&["treasury"], move |st, caller| {
        let network = body.get()?.network;
        let key = idempotency_key(&key)?;
        let vault = st
            .pipeline
            .adapter(&network)
            .ok()
            .and_then(|a| a.as_bitcoin())
            .filter(|v| !deposits || v.deposits.get().is_some())
            .ok_or_else(|| {
                let missing = if deposits {
                    "no deposit pool and Bitcoin vault"
                } else {
                    "no Bitcoin vault"
                };
                ApiError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!("{network}: {missing} here"),
                )
            })?;
        let req = CreateRequest {
            network,
            asset: "native".into(),
            destination: vault.vault_address(&st.pipeline.ctx)?,
            amount: "0".into(),
            purpose,
            memo: memo.into(),
            batch: Vec::new(),
            replaces: None,
        };
        stored(st, caller, key, &req, 0)
    })
    .await
}
