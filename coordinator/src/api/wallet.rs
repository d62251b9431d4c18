//! Approvals from an approver's own Ethereum wallet: the typed approval (EIP-712) of a
//! request, as JSON for `eth_signTypedData_v4` and as a standard `eth-sign-request` UR
//! for hardware wallets; and the wallet's answer (`eth-signature` frames), read back.

use airgap_protocol::approval::TypedApproval;
use airgap_protocol::registry::{EthDataType, EthSignRequest, EthSignature, KeyPath};
use airgap_protocol::ur::{Received, UrReceiver};
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::answers::ErrorBody;
use super::{bad, errors, Api, ApiError, Args, Id, READERS};
use crate::api::signing::FRAME_VERSION;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct TypedQuery {
    /// The wallet key's derivation path (`m/44'/60'/0'/0/0`): with it, the answer
    /// carries the `eth-sign-request` frames a hardware wallet reads.
    path: Option<String>,
    /// The wallet's master key fingerprint, 8 hex digits (with `path`).
    fingerprint: Option<String>,
}

/// A request's typed approval.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct TypedAnswer {
    /// The EIP-712 typed data (`eth_signTypedData_v4`).
    typed_data: serde_json::Value,
    /// The EIP-712 hash the wallet signs, hex.
    hash: String,
    /// `eth-sign-request`, when a path was given.
    ur_type: Option<String>,
    /// The request's UR frames, when a path was given.
    frames: Vec<String>,
}

/// The typed approval for a wallet (role: any)
///
/// Derived from the request's own bytes, as the station derives it: a wallet signature
/// over anything else does not count.
#[utoipa::path(get, path = "/v1/requests/{id}/approval/typed", tag = "signing", params(Id, TypedQuery),
    responses((status = 200, description = "the typed approval", body = TypedAnswer),
        errors::NoSuchRequest, errors::BadQuery,
        (status = 409, description = "not built yet", body = ErrorBody),
        (status = 422, description = "the request has something a wallet's screen cannot show", body = ErrorBody)))]
pub(super) async fn typed(api: Api, Id(id): Id, q: Args<TypedQuery>) -> Response {
    api.run(READERS, move |st, _| {
        let (typed, json, frames) = typed_frames(st, &id, &q.get()?)?;
        Ok(Json(TypedAnswer {
            typed_data: serde_json::from_str(&json).map_err(|e| bad(e.to_string()))?,
            hash: hex::encode(typed.hash()),
            ur_type: (!frames.is_empty()).then(|| "eth-sign-request".to_string()),
            frames,
        })
        .into_response())
    })
    .await
}

/// Frame `n` of a request's `eth-sign-request` as a PNG QR code
#[utoipa::path(get, path = "/v1/requests/{id}/approval/typed/{n}", tag = "signing",
    params(("id" = String, Path, description = "request id"), ("n" = usize, Path, description = "frame number, from 0"), TypedQuery),
    responses(
        (status = 200, description = "the QR code", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "no path given, or a bad one", body = ErrorBody),
        (status = 404, description = "no such request or frame", body = ErrorBody),
        (status = 409, description = "not built yet", body = ErrorBody),
        (status = 422, description = "the request has something a wallet's screen cannot show", body = ErrorBody)))]
pub(super) async fn typed_png(
    api: Api,
    Path((id, n)): Path<(String, usize)>,
    q: Args<TypedQuery>,
) -> Response {
    api.run(READERS, move |st, _| {
        let (_, _, frames) = typed_frames(st, &id, &q.get()?)?;
        super::signing::frame_png(&frames, n, FRAME_VERSION)
    })
    .await
}

/// The typed approval of request `id`, its JSON, and, when `q` names the wallet key's
/// path, the `eth-sign-request` frames.
fn typed_frames(
    st: &super::AppState,
    id: &str,
    q: &TypedQuery,
) -> Result<(TypedApproval, String, Vec<String>), ApiError> {
    let req = st.pipeline.prepare(id, (st.clock)())?;
    let typed = TypedApproval::of(&req)
        .map_err(|e| ApiError(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?;
    let json = typed.to_json();
    let Some(path) = &q.path else {
        if q.fingerprint.is_some() {
            return Err(bad("fingerprint goes with path"));
        }
        return Ok((typed, json, Vec::new()));
    };
    let fp = q
        .fingerprint
        .as_deref()
        .map(|f| u32::from_str_radix(f, 16))
        .transpose()
        .map_err(|_| bad("fingerprint: 8 hex digits"))?;
    let derivation_path = KeyPath::parse(path, fp)
        .ok_or_else(|| bad("path: a BIP-32 path such as m/44'/60'/0'/0/0"))?;
    let ask = EthSignRequest {
        request_id: Some(req.request_id),
        sign_data: json.as_bytes().to_vec(),
        data_type: EthDataType::TypedData,
        chain_id: None,
        derivation_path,
        address: None,
        origin: Some("Strongroom".into()),
    };
    let (_, frames) = super::signing::ur_frames("eth-sign-request", &ask.to_cbor())?;
    Ok((typed, json, frames))
}

/// The signature a wallet's `eth-signature` frames carry, hex, once they name request
/// `request_id`.
pub(super) fn signature_of_frames(
    frames: &[String],
    request_id: &[u8; 16],
) -> Result<String, ApiError> {
    let mut rx = UrReceiver::default();
    for f in frames {
        if let Ok(Received::Complete { ur_type, message }) = rx.receive(f.trim()) {
            if ur_type != "eth-signature" {
                return Err(bad(format!("frames: a {ur_type}, not an eth-signature")));
            }
            let sig = EthSignature::from_cbor(&message)
                .map_err(|e| bad(format!("eth-signature: {e}")))?;
            if sig.request_id.as_ref() != Some(request_id) {
                return Err(ApiError(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "the wallet's answer is for another request".into(),
                ));
            }
            return Ok(hex::encode(sig.signature));
        }
    }
    Err(bad("frames: no complete eth-signature among them"))
}
