//! Transfer requests: create (idempotent, risk-assessed inside the storage transaction),
//! list, read, cancel, and the risk role's review.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;

use super::answers::{Created, ErrorBody, RequestAnswer, RequestList};
use super::*;
use crate::requests::{self, CreateRequest};

/// Create a transfer request (roles: treasury, warm-tier)
///
/// Validated, then assessed by the risk engine in the transaction that stores it. The
/// warm tier may ask for refills and withdrawals only.
#[utoipa::path(post, path = "/v1/requests", tag = "requests",
    params(("Idempotency-Key" = String, Header, description = "1 to 200 characters; the same key answers with the first request")),
    request_body = CreateRequest,
    responses(
        (status = 201, description = "created, with the risk outcome", body = Created),
        (status = 200, description = "a replay of the same key: nothing new stored", body = Created),
        (status = 400, description = "invalid input", body = ErrorBody),
        (status = 413, description = "body too large", body = ErrorBody),
        (status = 415, description = "not JSON", body = ErrorBody),
        (status = 422, description = "unknown or missing field, or the key reused for another request", body = ErrorBody),
    ))]
pub(super) async fn create_request(api: Api, body: Body<CreateRequest>) -> Response {
    let key = api.header(axum::http::HeaderName::from_static("idempotency-key"));
    api.run(&["treasury", "warm-tier"], move |st, caller| {
        create(st, caller, &key, body)
    })
    .await
}

fn create(
    st: &AppState,
    caller: Caller,
    key: &str,
    body: Body<CreateRequest>,
) -> Result<Response, ApiError> {
    let req = body.get()?;
    let key = idempotency_key(key)?;
    let amount =
        requests::check(&st.config.networks, &caller.roles, &req).map_err(|r| match r {
            requests::Refusal::Invalid(m) => bad(m),
            requests::Refusal::Forbidden(m) => ApiError(StatusCode::FORBIDDEN, m),
        })?;
    stored(st, caller, key, &req, amount)
}

pub(super) fn idempotency_key(key: &str) -> Result<&str, ApiError> {
    Some(key.trim())
        .filter(|k| !k.is_empty() && k.len() <= 200)
        .ok_or_else(|| bad("an Idempotency-Key header (1 to 200 characters) is required"))
}

/// Assesses and stores a checked request: 201 with the risk outcome, or 200 for a
/// replay of the idempotency key.
pub(super) fn stored(
    st: &AppState,
    caller: Caller,
    key: &str,
    req: &CreateRequest,
    amount: u128,
) -> Result<Response, ApiError> {
    let (row, created, outcome) = requests::submit(
        st.store.as_ref(),
        &st.config.risk,
        &caller.principal,
        req,
        key,
        amount,
        (st.clock)(),
    )?;
    if !created {
        st.metrics.replayed.inc();
        let replay = Created {
            request: row,
            risk: None,
            replayed: Some(true),
        };
        return Ok((StatusCode::OK, Json(replay)).into_response());
    }
    st.metrics.created.inc();
    let created = Created {
        request: row,
        risk: outcome,
        replayed: None,
    };
    Ok((StatusCode::CREATED, Json(created)).into_response())
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ListQuery {
    /// Only requests in this state.
    state: Option<State>,
    /// Only requests by this principal.
    principal: Option<String>,
    /// Only requests on this network.
    network: Option<String>,
    /// The next page: the `next` of the previous answer.
    after: Option<String>,
    /// At most this many (1 to 1000, default 100).
    limit: Option<usize>,
}

/// List requests, newest first
#[utoipa::path(get, path = "/v1/requests", tag = "requests", params(ListQuery),
    responses((status = 200, description = "requests", body = RequestList), errors::BadQuery))]
pub(super) async fn list_requests(api: Api, q: Args<ListQuery>) -> Response {
    api.run(READERS, move |st, _| {
        let q = q.get()?;
        let limit = q.limit.unwrap_or(100);
        if limit == 0 || limit > 1000 {
            return Err(bad("limit must be 1 to 1000"));
        }
        let after = match q.after.as_deref() {
            None => None,
            Some(c) => Some(
                c.split_once('-')
                    .and_then(|(t, id)| Some((t.parse::<u64>().ok()?, id)))
                    .ok_or_else(|| bad("after: not a page cursor (use an answer's next)"))?,
            ),
        };
        let f = crate::store::Filter {
            state: q.state,
            principal: q.principal.as_deref(),
            network: q.network.as_deref(),
            after,
            limit,
        };
        let rows = st.store.page(&f)?;
        let next = (rows.len() == limit)
            .then(|| rows.last().map(|r| format!("{}-{}", r.created, r.id)))
            .flatten();
        Ok(Json(RequestList {
            requests: rows,
            next,
        })
        .into_response())
    })
    .await
}

/// One request
#[utoipa::path(get, path = "/v1/requests/{id}", tag = "requests", params(Id),
    responses((status = 200, description = "the request", body = RequestAnswer), errors::NoSuchRequest))]
pub(super) async fn get_request(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| answer(request_row(st, &id)?))
        .await
}

/// How a sent transaction is replaced.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Replace {
    /// `speed-up` (the same call, higher fees) or `cancel` (nothing, to the vault
    /// itself, at the same nonce).
    kind: requests::ReplaceKind,
}

/// Speed up or cancel an EVM request's transaction (role: treasury)
///
/// Makes a new request at the original's nonce with fees raised by at least 10 %: a
/// speed-up of a broadcast transaction, or a cancel of a broadcast one or of one that
/// ended after export. It goes through risk, approvals and the station like any
/// request; the station signs a second transaction at a nonce only as such a
/// replacement. Whichever lands, the other fails as dropped.
#[utoipa::path(post, path = "/v1/requests/{id}/replace", tag = "requests", params(Id,
        ("Idempotency-Key" = String, Header, description = "1 to 200 characters; the same key answers with the first request")),
    request_body = Replace,
    responses(
        errors::Made,
        errors::NoSuchRequest,
        (status = 409, description = "the request's state allows no such replacement", body = ErrorBody),
        (status = 422, description = "not an EVM request, never exported, or an unknown field", body = ErrorBody),
    ))]
pub(super) async fn replace_request(api: Api, Id(id): Id, body: Body<Replace>) -> Response {
    let key = api.header(axum::http::HeaderName::from_static("idempotency-key"));
    api.run(&["treasury"], move |st, caller| {
        let kind = body.get()?.kind;
        let key = idempotency_key(&key)?;
        let original = request_row(st, &id)?;
        let body = CreateRequest::of(&original)?;
        // A request the stations only refused signed nothing: there is no nonce to fill.
        let exported = st
            .store
            .artifact(&id, crate::store::Kind::Export, "request")?
            .is_some()
            && !st.pipeline.ctx.refused_only(&id)?;
        let vault = match kind {
            requests::ReplaceKind::Cancel => st
                .pipeline
                .adapter(&body.network)?
                .vault_address(&st.pipeline.ctx)?,
            requests::ReplaceKind::SpeedUp => String::new(),
        };
        let req =
            requests::replacement(&original, &body, kind, exported, &vault).map_err(
                |e| match e {
                    requests::NotReplaceable::Invalid(m) => {
                        ApiError(StatusCode::UNPROCESSABLE_ENTITY, m)
                    }
                    requests::NotReplaceable::State(m) => ApiError(StatusCode::CONFLICT, m),
                },
            )?;
        // Only one of the two can land: the replacement adds nothing to the amounts the
        // risk engine limits.
        stored(st, caller, key, &req, 0)
    })
    .await
}

/// Why a request is cancelled.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Reason {
    /// 1 to 500 characters, kept in the audit log.
    reason: String,
}

/// Cancel a request (role: treasury)
#[utoipa::path(post, path = "/v1/requests/{id}/cancel", tag = "requests", params(Id), request_body = Reason,
    responses((status = 200, description = "cancelled", body = RequestAnswer), errors::NoReason, errors::NoSuchRequest,
        (status = 409, description = "the request can no longer be cancelled", body = ErrorBody), errors::BadField))]
pub(super) async fn cancel_request(api: Api, Id(id): Id, body: Body<Reason>) -> Response {
    api.run(&["treasury"], move |st, caller| {
        let reason = body.get()?.reason;
        if reason.trim().is_empty() || reason.chars().count() > 500 {
            return Err(bad("a reason (1 to 500 characters) is required"));
        }
        let row = st.store.transition(
            &id,
            Event::Cancel,
            &caller.principal,
            json!({"reason": reason}),
            (st.clock)(),
        )?;
        answer(row)
    })
    .await
}

/// The risk role's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(super) enum Decision {
    Clear,
    Reject,
}

/// A manual review's decision.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Review {
    /// Clear (on to approvals) or reject (final).
    decision: Decision,
    /// Why, kept in the audit log.
    reason: String,
}

/// Clear or reject a request held for manual review (role: risk)
#[utoipa::path(post, path = "/v1/requests/{id}/review", tag = "requests", params(Id), request_body = Review,
    responses((status = 200, description = "decided", body = RequestAnswer), errors::NoReason, errors::NoSuchRequest,
        (status = 409, description = "not in manual review", body = ErrorBody),
        (status = 422, description = "the requester's own request, or an unknown field", body = ErrorBody)))]
pub(super) async fn review_request(api: Api, Id(id): Id, body: Body<Review>) -> Response {
    api.run(&["risk"], move |st, caller| {
        let review = body.get()?;
        if review.reason.trim().is_empty() {
            return Err(bad("a reason is required"));
        }
        let current = request_row(st, &id)?;
        // Four eyes: whoever asked for it does not also clear or reject it.
        if current.principal == caller.principal {
            return Err(ApiError(
                StatusCode::UNPROCESSABLE_ENTITY,
                "the requester cannot review their own request".into(),
            ));
        }
        if current.state != State::ManualReview {
            return Err(ApiError(
                StatusCode::CONFLICT,
                format!("request is {:?}, not in manual review", current.state),
            ));
        }
        let event = match review.decision {
            Decision::Clear => Event::ReviewCleared,
            Decision::Reject => Event::RiskRejected,
        };
        let row = st.store.transition(
            &id,
            event,
            &caller.principal,
            json!({"reason": review.reason}),
            (st.clock)(),
        )?;
        answer(row)
    })
    .await
}

/// Who the caller is.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub(super) struct Me {
    /// The token's principal.
    principal: String,
    /// Its roles (what the console offers follows them; the API checks them anyway).
    roles: Vec<String>,
}

/// The caller's principal and roles (any role)
#[utoipa::path(get, path = "/v1/me", tag = "requests",
    responses((status = 200, description = "the caller", body = Me)))]
pub(super) async fn me(api: Api) -> Response {
    api.run(READERS, move |_, caller| {
        Ok(Json(Me {
            principal: caller.principal,
            roles: caller.roles,
        })
        .into_response())
    })
    .await
}
