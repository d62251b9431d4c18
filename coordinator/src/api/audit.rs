//! The audit chain's routes (role: auditor): its rows, its verification, and the
//! reconciliation of the stations' HSM logs and ledgers with the requests.

use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::*;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct AuditQuery {
    /// First row (sequence number, default 1).
    from: Option<u64>,
    /// At most this many rows (1 to 10,000, default 1,000).
    limit: Option<usize>,
}

/// Audit rows, oldest first (role: auditor)
#[utoipa::path(get, path = "/v1/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, description = "rows", body = answers::AuditRows), errors::BadQuery))]
pub(super) async fn rows(api: Api, q: Args<AuditQuery>) -> Response {
    api.run(&["auditor"], move |st, _| {
        let q = q.get()?;
        let rows = st.store.audit_rows(
            q.from.unwrap_or(1).max(1),
            q.limit.unwrap_or(1000).clamp(1, 10_000),
        )?;
        Ok(Json(answers::AuditRows { rows }).into_response())
    })
    .await
}

/// Reconcile the stations' HSM logs, their ledgers and the requests (role: auditor)
#[utoipa::path(get, path = "/v1/audit/reconcile", tag = "audit",
    responses((status = 200, description = "per station what matched, and every alert", body = crate::audit::reconcile::Report)))]
pub(super) async fn reconcile(api: Api) -> Response {
    api.run(&["auditor"], move |st, _| {
        let stations = st.pipeline.stations()?;
        let report = crate::audit::reconcile::reconcile(st.store.as_ref(), &stations)?;
        Ok(Json(report).into_response())
    })
    .await
}

/// Verify the audit chain (role: auditor)
#[utoipa::path(get, path = "/v1/audit/verify", tag = "audit",
    responses((status = 200, description = "the verdict, with the first break", body = answers::AuditVerdict)))]
pub(super) async fn verify(api: Api) -> Response {
    api.run(&["auditor"], move |st, _| {
        let rows = st.store.audit_rows(1, usize::MAX)?;
        let result = crate::audit::verify(&rows, None);
        Ok(Json(answers::AuditVerdict {
            rows: rows.len(),
            ok: result.is_ok(),
            first_break: result.err().map(|e| e.to_string()),
        })
        .into_response())
    })
    .await
}
