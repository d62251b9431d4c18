//! An exported request in the formats standard signers read, one per payload (and per
//! signer of a Solana message): `crypto-psbt` for a PSBT, ERC-4527 `eth-sign-request`
//! for an EVM transaction, Keystone's `sol-sign-request` for a Solana message; and the
//! PSBT as a `.psbt` file. The station reads the `strongroom-request` envelope instead:
//! these carry no approvals and no coordinator signature.

use airgap_protocol::envelope::PayloadBody;
use airgap_protocol::registry::{
    encode_psbt, EthDataType, EthSignRequest, KeyPath, SolSignRequest,
};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use super::answers::ErrorBody;
use super::signing::{exported, ur_frames};
use super::{bad, errors, Api, ApiError, Id, READERS};

/// One standard request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct StandardRequest {
    /// The payload it carries (from 1).
    payload: usize,
    /// `crypto-psbt`, `eth-sign-request` or `sol-sign-request`.
    ur_type: String,
    /// Who must sign: an EVM address or a Solana public key (none for a PSBT, which
    /// names its own keys).
    signer: Option<String>,
    /// Fragments.
    fragments: usize,
    /// The UR frames to show in turn.
    frames: Vec<String>,
}

/// The standard requests of an exported request.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct StandardRequests {
    /// One per payload (and per signer of a Solana message).
    requests: Vec<StandardRequest>,
}

/// The exported request for standard signers (role: any)
#[utoipa::path(get, path = "/v1/requests/{id}/export/standard", tag = "signing", params(Id),
    responses((status = 200, description = "one standard request per payload", body = StandardRequests),
        errors::NoSuchRequest, errors::NotExported))]
pub(super) async fn standard(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        let req = exported(st, &id)?;
        let mut requests = Vec::new();
        for (n, p) in req.payloads.iter().enumerate() {
            let mut push = |ur_type: &str, signer: Option<String>, cbor: Vec<u8>| {
                let (fragments, frames) = ur_frames(ur_type, &cbor)?;
                requests.push(StandardRequest {
                    payload: n + 1,
                    ur_type: ur_type.into(),
                    signer,
                    fragments,
                    frames,
                });
                Ok::<_, ApiError>(())
            };
            match &p.body {
                PayloadBody::Psbt { bytes, .. } => push("crypto-psbt", None, encode_psbt(bytes))?,
                PayloadBody::EvmTx {
                    chain_id,
                    signer,
                    tx,
                } => {
                    // A legacy transaction is an RLP list; a typed one starts with its type.
                    let data_type = if tx.first().is_some_and(|b| *b >= 0xc0) {
                        EthDataType::LegacyTransaction
                    } else {
                        EthDataType::TypedTransaction
                    };
                    let ask = EthSignRequest {
                        request_id: Some(req.request_id),
                        sign_data: tx.clone(),
                        data_type,
                        chain_id: i64::try_from(*chain_id).ok(),
                        derivation_path: KeyPath::none(),
                        address: Some(*signer),
                        origin: Some("Strongroom".into()),
                    };
                    let address = alloy_primitives::Address::from(*signer).to_checksum(None);
                    push("eth-sign-request", Some(address), ask.to_cbor())?;
                }
                PayloadBody::SolanaMessage {
                    message, signers, ..
                } => {
                    for s in signers {
                        let ask = SolSignRequest {
                            request_id: Some(req.request_id),
                            sign_data: message.clone(),
                            derivation_path: KeyPath::none(),
                            address: Some(s.to_vec()),
                            origin: Some("Strongroom".into()),
                            sign_type: Some(1),
                        };
                        let key = bs58::encode(s).into_string();
                        push("sol-sign-request", Some(key), ask.to_cbor())?;
                    }
                }
            }
        }
        Ok(Json(StandardRequests { requests }).into_response())
    })
    .await
}

/// The exported PSBT as a file (role: any)
#[utoipa::path(get, path = "/v1/requests/{id}/export/psbt", tag = "signing", params(Id),
    responses(
        (status = 200, description = "the PSBT (BIP-174, or BIP-370 for a v2 one)", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "not a Bitcoin request", body = ErrorBody),
        errors::NoSuchRequest, errors::NotExported))]
pub(super) async fn psbt(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        let req = exported(st, &id)?;
        let psbt = req
            .payloads
            .iter()
            .find_map(|p| match &p.body {
                PayloadBody::Psbt { bytes, .. } => Some(bytes.clone()),
                _ => None,
            })
            .ok_or_else(|| bad("a .psbt is for Bitcoin requests"))?;
        Ok((
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}.psbt\""),
                ),
            ],
            psbt,
        )
            .into_response())
    })
    .await
}
