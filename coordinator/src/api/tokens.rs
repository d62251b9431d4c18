//! API tokens over the API (role: admin): list with last use, make, revoke, rotate. A
//! token is shown once, in the answer that makes it.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::answers::ErrorBody;
use super::*;
use crate::store::TokenRecord;
use crate::tokens::{self, TokenError};

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        match e {
            TokenError::Invalid(m) => bad(m),
            TokenError::NotFound(_) => ApiError(StatusCode::NOT_FOUND, e.to_string()),
            TokenError::Store(s) => s.into(),
        }
    }
}

/// Every token.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct TokenList {
    /// Oldest first, revoked and expired included.
    tokens: Vec<TokenRecord>,
}

/// A token made: its secret (shown once) and its record.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(super) struct NewToken {
    /// The bearer token: shown this once, stored only as its hash.
    token: String,
    /// Its record.
    record: TokenRecord,
}

/// A token to make.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct MakeToken {
    /// Who it is for.
    principal: String,
    /// Its roles.
    roles: Vec<String>,
    /// Valid for this many days (1 to 3,650; none: until revoked).
    #[serde(default)]
    expires_in_days: Option<u64>,
}

/// A rotation's expiry.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct Rotate {
    /// The new token is valid for this many days (none: until revoked).
    #[serde(default)]
    expires_in_days: Option<u64>,
}

/// A token id in a path.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub(super) struct TokenId {
    /// The token's id (16 hex digits).
    id: String,
}

/// API tokens with their last use (role: admin)
#[utoipa::path(get, path = "/v1/tokens", tag = "tokens",
    responses((status = 200, description = "every token", body = TokenList)))]
pub(super) async fn list(api: Api) -> Response {
    api.run(&["admin"], move |st, _| {
        Ok(Json(TokenList {
            tokens: st.store.tokens()?,
        })
        .into_response())
    })
    .await
}

/// Make an API token (role: admin)
#[utoipa::path(post, path = "/v1/tokens", tag = "tokens", request_body = MakeToken,
    responses((status = 201, description = "the token, shown once", body = NewToken),
        (status = 400, description = "unknown role, bad expiry", body = ErrorBody)))]
pub(super) async fn make(api: Api, body: Body<MakeToken>) -> Response {
    api.run(&["admin"], move |st, caller| {
        let b = body.get()?;
        let (token, record) = tokens::issue(
            st.store.as_ref(),
            (&b.principal, &b.roles),
            b.expires_in_days,
            &caller.principal,
            (st.clock)(),
        )?;
        Ok((StatusCode::CREATED, Json(NewToken { token, record })).into_response())
    })
    .await
}

/// Revoke an API token at once (role: admin)
#[utoipa::path(post, path = "/v1/tokens/{id}/revoke", tag = "tokens", params(TokenId),
    responses((status = 200, description = "revoked", body = TokenList),
        (status = 404, description = "no live token with that id", body = ErrorBody)))]
pub(super) async fn revoke(api: Api, Path(TokenId { id }): Path<TokenId>) -> Response {
    api.run(&["admin"], move |st, caller| {
        tokens::revoke(st.store.as_ref(), &id, &caller.principal, (st.clock)())?;
        let tokens = st
            .store
            .tokens()?
            .into_iter()
            .filter(|t| t.id == id)
            .collect();
        Ok(Json(TokenList { tokens }).into_response())
    })
    .await
}

/// Rotate an API token: a new one for the same principal and roles, the old revoked (role: admin)
#[utoipa::path(post, path = "/v1/tokens/{id}/rotate", tag = "tokens", params(TokenId), request_body = Rotate,
    responses((status = 201, description = "the new token, shown once", body = NewToken),
        (status = 404, description = "no live token with that id", body = ErrorBody)))]
pub(super) async fn rotate(
    api: Api,
    Path(TokenId { id }): Path<TokenId>,
    body: Body<Rotate>,
) -> Response {
    api.run(&["admin"], move |st, caller| {
        let days = body.get()?.expires_in_days;
        let (token, record) = tokens::rotate(
            st.store.as_ref(),
            &id,
            days,
            &caller.principal,
            (st.clock)(),
        )?;
        Ok((StatusCode::CREATED, Json(NewToken { token, record })).into_response())
    })
    .await
}
