//! Routes of the signing pipeline: envelopes, approvals, export (UR frames as JSON or
//! PNG, BBQr, USB bundle), import (frames, bundle, camera images), chain status.

use airgap_protocol::envelope::{
    decode_envelope, encode_envelope, Envelope, SignRequest, RESPONSE_UR_TYPE,
};
use airgap_protocol::qr::{max_fragment_len_for_version, FrameRenderer};
use airgap_protocol::scanner::{Payload, ScanEvent, Scanner};
use airgap_protocol::ur::{ReceiverLimits, UrEncoder};
use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::answers::{
    BbqrParts, ChainStatus, CodeFormat, ErrorBody, Frames, RequestAnswer, Scanned, ScannedCode,
};
use super::{answer, bad, errors, request_row, Api, ApiError, AppState, Args, Body, Id, READERS};
use crate::pipeline::EnvelopeView;
use crate::pipeline::PipelineError;

/// QR version the exported frames use (the station's camera reads it at arm's length).
pub const FRAME_VERSION: u8 = 15;
/// Largest upload to the import route (frames or a bundle).
pub const MAX_IMPORT: usize = 4 * 1024 * 1024;

impl From<PipelineError> for ApiError {
    fn from(e: PipelineError) -> Self {
        match e {
            PipelineError::Store(s) => s.into(),
            PipelineError::Refused(m) => ApiError(StatusCode::UNPROCESSABLE_ENTITY, m),
            PipelineError::WrongState(m) | PipelineError::Tampered(m) => {
                ApiError(StatusCode::CONFLICT, m)
            }
            PipelineError::Busy => ApiError(
                StatusCode::CONFLICT,
                "another coordinator is running this step; retry".into(),
            ),
            PipelineError::Chain(m) => ApiError(StatusCode::BAD_GATEWAY, m),
            PipelineError::Unconfigured(m) => ApiError(StatusCode::SERVICE_UNAVAILABLE, m),
            PipelineError::Corrupt(detail) => {
                // The detail stays in the server's log, never in the answer.
                tracing::error!(error = %detail, "stored data unreadable");
                ApiError(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "stored data unreadable; see the audit verification".into(),
                )
            }
        }
    }
}

/// Frames of one UR stream, with the payload decoded.
pub(super) fn assemble(frames: &[String]) -> Result<(String, Vec<u8>), ApiError> {
    match scan_frames(frames)?.0 {
        Payload::Ur { ur_type, message } => Ok((ur_type, message)),
        _ => Err(bad("frames: not a UR stream")),
    }
}

/// Frames of one UR or BBQr stream, assembled, and what was made of them: a stray
/// part (another stream's) or a damaged one is skipped and counted, as a camera skips
/// it, and the rest still completes the stream.
fn scan_frames(frames: &[String]) -> Result<(Payload, FramesUsed), ApiError> {
    if frames.is_empty() || frames.len() > 10_000 {
        return Err(bad("frames: 1 to 10,000 scanned texts"));
    }
    let mut s = Scanner::new(
        airgap_protocol::qr::DecoderKind::default(),
        ReceiverLimits::default(),
    );
    let mut used = FramesUsed::default();
    for f in frames {
        used.read += 1;
        match s.push_text(f) {
            ScanEvent::Complete(p @ (Payload::Ur { .. } | Payload::Bbqr { .. })) => {
                return Ok((p, used))
            }
            ScanEvent::Complete(_) => return Err(bad("frames: not a UR or BBQr stream")),
            ScanEvent::Rejected(e) => {
                used.skipped += 1;
                let why = e.to_string();
                if used.why.len() < 5 && !used.why.contains(&why) {
                    used.why.push(why);
                }
            }
            ScanEvent::Nothing | ScanEvent::Progress(_) => {}
        }
    }
    let p = s.progress();
    let skipped = match used.why.first() {
        Some(first) => format!("; {} skipped ({first})", used.skipped),
        None => String::new(),
    };
    Err(bad(format!(
        "frames: incomplete ({} of {} fragments{skipped}); scan more",
        p.useful, p.total
    )))
}

/// What an import made of the frames it was given.
#[derive(Debug, Default, Serialize, utoipa::ToSchema)]
pub(super) struct FramesUsed {
    /// Frames read until the stream was complete (the rest were not needed).
    read: usize,
    /// Of those, skipped: another stream's parts, damaged or unreadable texts.
    skipped: usize,
    /// Why, for the first few kinds skipped.
    why: Vec<String>,
}

/// An imported answer: the request now, and what was made of the frames.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct Imported {
    /// The request as stored now.
    request: crate::store::RequestRow,
    /// For frames: how many were read and skipped.
    frames: Option<FramesUsed>,
}

/// The built transaction and the digest approvers sign
///
/// Approvers sign Ed25519 over `strongroom/approval/v1` followed by the digest.
#[utoipa::path(get, path = "/v1/requests/{id}/envelope", tag = "signing", params(Id),
    responses((status = 200, description = "the envelope", body = EnvelopeView), errors::NoSuchRequest,
        (status = 422, description = "not prepared yet, with why", body = ErrorBody)))]
pub(super) async fn envelope(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        request_row(st, &id)?;
        Ok(Json(st.pipeline.envelope(&id)?).into_response())
    })
    .await
}

/// An approver's signature.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ApprovalBody {
    /// Hex: Ed25519 over `strongroom/approval/v1` || digest (the approver's tool), or
    /// the 65-byte EIP-712 signature of the typed approval (the approver's wallet).
    signature: Option<String>,
    /// Or the wallet's answer as `eth-signature` UR frames.
    frames: Option<Vec<String>>,
}

/// Approve a request (role: approver; never the requester)
#[utoipa::path(post, path = "/v1/requests/{id}/approvals", tag = "signing", params(Id), request_body = ApprovalBody,
    responses((status = 200, description = "recorded", body = RequestAnswer), errors::NoSuchRequest,
        (status = 409, description = "not awaiting approvals", body = ErrorBody),
        (status = 422, description = "a bad signature, an unknown approver or the requester", body = ErrorBody)))]
pub(super) async fn approve(api: Api, Id(id): Id, body: Body<ApprovalBody>) -> Response {
    api.run(&["approver"], move |st, caller| {
        let b = body.get()?;
        let signature = match (b.signature, b.frames) {
            (Some(s), None) => s,
            (None, Some(frames)) => {
                let req = st.pipeline.prepare(&id, (st.clock)())?;
                super::wallet::signature_of_frames(&frames, &req.request_id)?
            }
            _ => return Err(bad("send a signature or a wallet's frames")),
        };
        answer(
            st.pipeline
                .approve(&id, &caller.principal, &signature, (st.clock)())?,
        )
    })
    .await
}

fn frames_of(env: &Envelope) -> Result<(String, usize, Vec<String>), ApiError> {
    let (ur_type, message) = encode_envelope(env);
    let (n, frames) = ur_frames(ur_type, &message)?;
    Ok((ur_type.to_string(), n, frames))
}

/// `message` as UR frames at [`FRAME_VERSION`]: its fragment count, and the frames to
/// show in a loop — the pure fragments, then as many mixed ones, so a scanner that misses
/// frames completes on the next loop or on the mixed parts.
pub(super) fn ur_frames(ur_type: &str, message: &[u8]) -> Result<(usize, Vec<String>), ApiError> {
    let frag = max_fragment_len_for_version(ur_type, FRAME_VERSION, message.len())
        .ok_or_else(|| bad("too large for QR frames; use a USB bundle"))?;
    let mut enc = UrEncoder::new(ur_type, message, frag).map_err(|e| bad(e.to_string()))?;
    let n = enc.fragment_count();
    let shown = if enc.is_single_part() { 1 } else { 2 * n + 2 };
    Ok((n, (0..shown).map(|_| enc.next_part()).collect()))
}

/// Export an approved request as UR frames for the station (role: treasury)
#[utoipa::path(post, path = "/v1/requests/{id}/export", tag = "signing", params(Id),
    responses(
        (status = 200, description = "the frames", body = Frames),
        (status = 404, description = "no such request", body = ErrorBody),
        (status = 409, description = "not approved, or the transaction changed since approval", body = ErrorBody),
        (status = 503, description = "no station registered for the network", body = ErrorBody),
    ))]
pub(super) async fn export(api: Api, Id(id): Id) -> Response {
    api.run(&["treasury"], move |st, caller| {
        let req = st.pipeline.export(&id, &caller.principal, (st.clock)())?;
        let (ur_type, fragments, frames) = frames_of(&Envelope::Request(req))?;
        Ok(Json(frames_answer(ur_type, fragments, frames)).into_response())
    })
    .await
}

fn frames_answer(ur_type: String, fragments: usize, frames: Vec<String>) -> Frames {
    Frames {
        ur_type,
        fragments,
        frames,
        version: FRAME_VERSION,
    }
}

/// The request as exported, or 404 / 409.
pub(super) fn exported(st: &AppState, id: &str) -> Result<SignRequest, ApiError> {
    request_row(st, id)?;
    st.pipeline
        .exported(id)?
        .ok_or_else(|| ApiError(StatusCode::CONFLICT, "not exported yet".into()))
}

fn exported_frames(st: &AppState, id: &str) -> Result<(String, usize, Vec<String>), ApiError> {
    frames_of(&Envelope::Request(exported(st, id)?))
}

/// The coordinator's USB keys, or 503.
fn usb_keys(st: &AppState) -> Result<&usb_transfer::keyfile::KeyPair, ApiError> {
    st.pipeline.usb.as_ref().ok_or_else(|| {
        ApiError(
            StatusCode::SERVICE_UNAVAILABLE,
            "no USB keys configured (--usb-keys)".into(),
        )
    })
}

/// The exported request's UR frames again
#[utoipa::path(get, path = "/v1/requests/{id}/export/frames", tag = "signing", params(Id),
    responses((status = 200, description = "the frames", body = Frames), errors::NoSuchRequest, errors::NotExported))]
pub(super) async fn export_frames(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        let (ur_type, fragments, frames) = exported_frames(st, &id)?;
        Ok(Json(frames_answer(ur_type, fragments, frames)).into_response())
    })
    .await
}

/// Frame `n` of `frames` as a PNG QR code at `version`, or 404.
pub(super) fn frame_png(frames: &[String], n: usize, version: u8) -> Result<Response, ApiError> {
    let text = frames.get(n).ok_or_else(|| {
        ApiError(
            StatusCode::NOT_FOUND,
            format!("frames are 0 to {}", frames.len().saturating_sub(1)),
        )
    })?;
    let png = FrameRenderer::new(version)
        .and_then(|r| r.to_png(text, 4))
        .map_err(|e| bad(e.to_string()))?;
    Ok(([(header::CONTENT_TYPE, "image/png")], png).into_response())
}

/// Frame `n` of the exported request as a PNG QR code
#[utoipa::path(get, path = "/v1/requests/{id}/export/frames/{n}", tag = "signing",
    params(("id" = String, Path, description = "request id"), ("n" = usize, Path, description = "frame number, from 0")),
    responses(
        (status = 200, description = "the QR code", content_type = "image/png", body = Vec<u8>),
        (status = 404, description = "no such request or frame", body = ErrorBody),
        errors::NotExported,
    ))]
pub(super) async fn export_frame_png(api: Api, Path((id, n)): Path<(String, usize)>) -> Response {
    api.run(READERS, move |st, _| {
        let (_, _, frames) = exported_frames(st, &id)?;
        frame_png(&frames, n, FRAME_VERSION)
    })
    .await
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct BundleQuery {
    /// The registered station the bundle is sealed to.
    station: String,
}

/// The exported request as a USB bundle sealed to a station (role: treasury)
#[utoipa::path(get, path = "/v1/requests/{id}/export/bundle", tag = "signing", params(Id, BundleQuery),
    responses(
        (status = 200, description = "the sealed bundle", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 400, description = "unknown station, or it has no USB keys", body = ErrorBody),
        errors::NoSuchRequest, errors::NotExported,
        (status = 503, description = "no USB keys configured", body = ErrorBody),
    ))]
pub(super) async fn export_bundle(api: Api, Id(id): Id, q: Args<BundleQuery>) -> Response {
    api.run(&["treasury"], move |st, _| {
        let q = q.get()?;
        let usb = usb_keys(st)?;
        let station = st
            .pipeline
            .stations()?
            .into_iter()
            .find(|(n, _)| *n == q.station)
            .ok_or_else(|| bad(format!("no registered station {:?}", q.station)))?;
        let keys = station
            .1
            .usb_keys
            .as_deref()
            .ok_or_else(|| bad("that station has no USB keys registered"))
            .and_then(|t| {
                usb_transfer::keyfile::PublicKeys::parse(t, "usb_keys")
                    .map_err(|e| bad(e.to_string()))
            })?;
        let (_, message) = encode_envelope(&Envelope::Request(exported(st, &id)?));
        let sealed = usb_transfer::seal_bundle(
            usb_transfer::BundleKind::Request,
            &message,
            &keys.x25519,
            &usb.signing,
            (st.clock)(),
        )
        .map_err(|e| bad(e.to_string()))?;
        Ok((
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{id}.{}\"", usb_transfer::BUNDLE_EXT),
                ),
            ],
            sealed,
        )
            .into_response())
    })
    .await
}

/// What came back through the air gap, as JSON.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ImportFrames {
    /// The station's response frames, or a hardware-wallet cosigner's signed PSBT as
    /// `crypto-psbt` UR or BBQr frames.
    #[serde(default)]
    frames: Vec<String>,
    /// Or the cosigner's signed PSBT in base64.
    #[serde(default)]
    psbt: Option<String>,
}

/// What came back through the air gap for a request.
enum Answer {
    /// A station's response envelope.
    Station(Envelope),
    /// A hardware-wallet cosigner's signed PSBT.
    Cosigner(Vec<u8>),
}

/// The answer in an import body: JSON (station frames, a cosigner's `crypto-psbt` or
/// BBQr frames, or `{"psbt": base64}`) or a USB bundle (octet-stream).
fn answer_of(
    st: &AppState,
    ctype: &str,
    body: &[u8],
) -> Result<(Answer, Option<FramesUsed>), ApiError> {
    if ctype.starts_with("application/octet-stream") {
        let usb = usb_keys(st)?;
        let trusted: Vec<_> = st
            .pipeline
            .stations()?
            .into_iter()
            .filter_map(|(_, s)| s.usb_keys)
            .filter_map(|t| usb_transfer::keyfile::PublicKeys::parse(&t, "usb_keys").ok())
            .map(|k| k.ed25519)
            .collect();
        let b = usb_transfer::open_bundle(body, &usb.identity, &trusted)
            .map_err(|e| bad(format!("bundle: {e}")))?;
        return decode_envelope(RESPONSE_UR_TYPE, &b.envelope)
            .map(|e| (Answer::Station(e), None))
            .map_err(|e| bad(format!("bundle content: {e}")));
    }
    if !ctype.starts_with("application/json") {
        return Err(ApiError(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send frames as application/json or a bundle as application/octet-stream".into(),
        ));
    }
    let f: ImportFrames =
        serde_json::from_slice(body).map_err(|e| bad(format!("invalid request body: {e}")))?;
    match (f.psbt, f.frames.is_empty()) {
        (Some(_), false) => Err(bad("send frames or a psbt, not both")),
        (Some(b64), true) => {
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64.trim())
                .map(|p| (Answer::Cosigner(p), None))
                .map_err(|_| bad("psbt: not base64"))
        }
        (None, _) => {
            let (payload, used) = scan_frames(&f.frames)?;
            answer_in(payload).map(|a| (a, Some(used)))
        }
    }
}

/// The answer a complete stream carries.
fn answer_in(payload: Payload) -> Result<Answer, ApiError> {
    match payload {
        Payload::Ur { ur_type, message } if ur_type == RESPONSE_UR_TYPE => {
            decode_envelope(&ur_type, &message)
                .map(Answer::Station)
                .map_err(|e| bad(format!("response: {e}")))
        }
        Payload::Ur { ur_type, message } if ur_type == "crypto-psbt" || ur_type == "psbt" => {
            airgap_protocol::registry::decode_psbt(&message)
                .map(Answer::Cosigner)
                .map_err(|e| bad(format!("{ur_type}: {e}")))
        }
        Payload::Ur { ur_type, .. } => Err(bad(format!(
            "frames carry {ur_type}, not a station response or a PSBT"
        ))),
        Payload::Bbqr {
            file_type: airgap_protocol::bbqr::FileType::Psbt,
            data,
        } => Ok(Answer::Cosigner(data)),
        _ => Err(bad("frames: a BBQr file that is not a PSBT")),
    }
}

/// Import the station's response, or a cosigner's signed PSBT (role: treasury)
///
/// JSON (`frames` scanned from the station or a cosigner, or a base64 `psbt`), or a
/// USB bundle as `application/octet-stream`.
#[utoipa::path(post, path = "/v1/requests/{id}/import", tag = "signing", params(Id),
    request_body(content(
        (ImportFrames = "application/json"),
        (Vec<u8> = "application/octet-stream"),
    )),
    responses(
        (status = 200, description = "imported, with what was made of the frames", body = Imported),
        (status = 400, description = "unreadable frames, PSBT or bundle", body = ErrorBody),
        errors::NoSuchRequest,
        (status = 409, description = "not exported, or tampered", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "neither JSON nor a bundle", body = ErrorBody),
        (status = 422, description = "the response does not match the request", body = ErrorBody),
    ))]
pub(super) async fn import(api: Api, Id(id): Id, body: Bytes) -> Response {
    let ctype = api.header(header::CONTENT_TYPE);
    api.run(&["treasury"], move |st, caller| {
        let now = (st.clock)();
        let (answer, frames) = answer_of(st, &ctype, &body)?;
        let row = match answer {
            Answer::Station(Envelope::Response(resp)) => {
                st.pipeline
                    .import(&id, &resp.to_cbor(), &caller.principal, now)?
            }
            Answer::Station(_) => return Err(bad("that is not a station response")),
            Answer::Cosigner(psbt) => {
                st.pipeline
                    .import_cosigner(&id, &psbt, &caller.principal, now)?
            }
        };
        Ok(Json(Imported {
            request: row,
            frames,
        })
        .into_response())
    })
    .await
}

/// The request's transaction on its chain: hash, nonce, signed bytes
#[utoipa::path(get, path = "/v1/requests/{id}/chain", tag = "signing", params(Id),
    responses((status = 200, description = "status", body = ChainStatus), errors::NoSuchRequest))]
pub(super) async fn chain_status(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        let row = request_row(st, &id)?;
        let sent = st.pipeline.sent(&id)?;
        let (chain, sent) = sent.map_or((None, None), |(c, s)| (Some(c.to_string()), Some(s)));
        Ok(Json(ChainStatus {
            state: row.state,
            chain,
            hash: sent.as_ref().map(|s| s.hash.clone()),
            nonce: sent.as_ref().and_then(|s| s.nonce),
            raw: sent.map(|s| s.raw),
        })
        .into_response())
    })
    .await
}

/// The largest QR version of a BBQr export: 97 modules a side, which phone and
/// hardware-wallet cameras read from a screen at arm's length.
pub const BBQR_MAX_VERSION: u8 = 20;

/// The exported PSBT of request `id`, split as BBQr at no more than [`BBQR_MAX_VERSION`].
fn bbqr_split(st: &AppState, id: &str) -> Result<airgap_protocol::bbqr::Split, ApiError> {
    let psbt = exported(st, id)?
        .payloads
        .iter()
        .find_map(|p| match &p.body {
            airgap_protocol::envelope::PayloadBody::Psbt { bytes, .. } => Some(bytes.clone()),
            _ => None,
        })
        .ok_or_else(|| bad("BBQr export is for Bitcoin requests (a PSBT)"))?;
    let options = airgap_protocol::bbqr::SplitOptions {
        max_version: BBQR_MAX_VERSION,
        ..Default::default()
    };
    airgap_protocol::bbqr::split(&psbt, airgap_protocol::bbqr::FileType::Psbt, options)
        .map_err(|e| bad(format!("BBQr: {e}")))
}

/// The PSBT of an exported Bitcoin request as BBQr parts, for a hardware-wallet cosigner
/// that reads BBQr (Coldcard and others). The station takes the UR envelope instead.
#[utoipa::path(get, path = "/v1/requests/{id}/export/bbqr", tag = "signing", params(Id),
    responses((status = 200, description = "the parts", body = BbqrParts),
        (status = 400, description = "not a Bitcoin request", body = ErrorBody), errors::NoSuchRequest, errors::NotExported))]
pub(super) async fn export_bbqr(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        let split = bbqr_split(st, &id)?;
        Ok(Json(BbqrParts {
            file_type: "P".into(),
            version: split.version,
            parts: split.parts,
        })
        .into_response())
    })
    .await
}

/// BBQr part `n` of an exported Bitcoin request as a PNG QR code
#[utoipa::path(get, path = "/v1/requests/{id}/export/bbqr/{n}", tag = "signing",
    params(("id" = String, Path, description = "request id"), ("n" = usize, Path, description = "part number, from 0")),
    responses(
        (status = 200, description = "the QR code", content_type = "image/png", body = Vec<u8>),
        (status = 400, description = "not a Bitcoin request", body = ErrorBody),
        (status = 404, description = "no such request or part", body = ErrorBody),
        errors::NotExported,
    ))]
pub(super) async fn export_bbqr_png(api: Api, Path((id, n)): Path<(String, usize)>) -> Response {
    api.run(READERS, move |st, _| {
        let split = bbqr_split(st, &id)?;
        frame_png(&split.parts, n, split.version)
    })
    .await
}

/// Largest camera frame the scan route takes.
pub const MAX_SCAN: usize = 2 * 1024 * 1024;

/// Reads the QR codes in one camera frame (PNG or JPEG) the console captured from the
/// station's screen, and says what they are. Changes nothing: the console collects the
/// texts and imports them through the import route once the stream is complete.
#[utoipa::path(post, path = "/v1/scan", tag = "signing",
    request_body(content = Vec<u8>, content_type = "image/png", description = "one camera frame, PNG or JPEG"),
    responses(
        (status = 200, description = "what was read; changes nothing", body = Scanned),
        (status = 400, description = "not an image", body = ErrorBody),
        (status = 413, description = "image too large", body = ErrorBody),
    ))]
pub(super) async fn scan(api: Api, body: Bytes) -> Response {
    api.run(&["treasury"], move |_, _| {
        let texts = airgap_protocol::qr::decode_image(&body, Default::default())
            .map_err(|e| bad(format!("frame: {e}")))?;
        let found: Vec<_> = texts
            .into_iter()
            .map(|text| {
                use airgap_protocol::scanner::{detect_format, Format};
                let (format, ur_type) = match detect_format(&text) {
                    Format::UrSingle | Format::UrMulti => (
                        CodeFormat::Ur,
                        text.trim()[3..]
                            .split('/')
                            .next()
                            .map(str::to_ascii_lowercase),
                    ),
                    Format::Bbqr => (CodeFormat::Bbqr, None),
                    Format::Plain => (CodeFormat::Plain, None),
                };
                ScannedCode {
                    text,
                    format,
                    ur_type,
                }
            })
            .collect();
        Ok(Json(Scanned { found }).into_response())
    })
    .await
}
