//! What happened to a request, with the reasons people and machines gave, and the
//! stream of changes the console and the warm tier follow (server-sent events read
//! from the audit chain, so every change is seen, whoever made it).

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use super::answers::ErrorBody;
use super::{errors, request_row, Api, AppState, Args, Id, READERS};
use crate::audit::AuditRecord;

/// One step in a request's life.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Step {
    /// The audit row's sequence number.
    seq: u64,
    /// When, Unix seconds.
    time: u64,
    /// Who: a principal, a station, `risk-engine` or `coordinator`.
    actor: String,
    /// What happened, in words.
    what: String,
    /// The state after it, when it changed the state.
    state: Option<String>,
    /// Why, as the actor gave it: a reviewer's or canceller's reason, the risk engine's
    /// findings, a station's refusal, the chain's failure.
    why: Option<String>,
}

/// A request's history, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct History {
    /// The steps.
    steps: Vec<Step>,
}

/// What happened to a request, with reasons
#[utoipa::path(get, path = "/v1/requests/{id}/history", tag = "requests", params(Id),
    responses((status = 200, description = "its steps, oldest first", body = History), errors::NoSuchRequest))]
pub(super) async fn history(api: Api, Id(id): Id) -> Response {
    api.run(READERS, move |st, _| {
        request_row(st, &id)?;
        let steps = st.store.audit_of(&id)?.iter().filter_map(step).collect();
        Ok(Json(History { steps }).into_response())
    })
    .await
}

fn step(r: &AuditRecord) -> Option<Step> {
    let inner = &r.detail["detail"];
    let (what, state, why) = match r.action.as_str() {
        "request.create" => ("created".to_string(), Some("draft".to_string()), None),
        "request.state" => {
            let to = r.detail["to"].as_str().unwrap_or("?").to_string();
            let from = r.detail["from"].as_str().unwrap_or("?");
            (format!("{from} → {to}"), Some(to), why(inner))
        }
        "artifact.unsigned" => ("transaction built".into(), None, None),
        "artifact.envelope" => ("request for approvers built".into(), None, None),
        "artifact.approval" => ("approval recorded".into(), None, None),
        "artifact.export" => ("exported for the station".into(), None, None),
        "artifact.response" => ("station's answer stored".into(), None, None),
        "artifact.cosigner" => ("cosigner's PSBT stored".into(), None, None),
        "artifact.final" => ("final transaction stored".into(), None, None),
        _ => return None,
    };
    Some(Step {
        seq: r.seq,
        time: r.time,
        actor: r.actor.clone(),
        what,
        state,
        why,
    })
}

/// The reason a state change carries, in words.
fn why(d: &Value) -> Option<String> {
    let text = |k: &str| d[k].as_str().map(str::to_string);
    if let Some(code) = d.get("station_refused") {
        let reason = text("reason").unwrap_or_default();
        return Some(format!("the station refused (code {code}): {reason}"));
    }
    if let Some(r) = text("reason") {
        return Some(r);
    }
    if d.get("reorg").is_some() {
        return Some("a reorg took the block it was confirmed in away: tracking it again".into());
    }
    if let Some(found) = d["reasons"].as_array().filter(|r| !r.is_empty()) {
        let found: Vec<&str> = found.iter().filter_map(Value::as_str).collect();
        return Some(format!("risk engine: {}", found.join("; ")));
    }
    if let Some(e) = text("runtime_error") {
        return Some(format!("the runtime failed it: {e}"));
    }
    if d["reverted"] == true {
        return Some(format!("reverted in block {}", d["block"]));
    }
    text("dropped")
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct EventsQuery {
    /// Changes after this audit sequence number (an event's `id`); default: from now on.
    after: Option<u64>,
}

/// One change to a request, as an event's data.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct Change {
    /// The audit row's sequence number (also the event's `id`).
    seq: u64,
    /// When, Unix seconds.
    time: u64,
    /// The request.
    request: String,
    /// What happened, in words.
    what: String,
    /// The state after it, when it changed the state.
    state: Option<String>,
}

/// How long one stream stays open; the client reconnects with `after` (the last id).
const STREAM_LIFE: Duration = Duration::from_secs(300);
const POLL: Duration = Duration::from_millis(400);

/// Request changes as server-sent events
///
/// Each event is named `request`, its `id` is the audit sequence number and its data a
/// `Change` in JSON. The stream closes after five minutes or when the service stops;
/// reconnect with `after` set to the last `id` seen and nothing is missed.
#[utoipa::path(get, path = "/v1/events", tag = "requests", params(EventsQuery),
    responses((status = 200, description = "server-sent events", content_type = "text/event-stream", body = Change),
        (status = 400, description = "invalid query", body = ErrorBody)))]
pub(super) async fn events(api: Api, q: Args<EventsQuery>) -> Response {
    let shared = api.st.clone();
    let start = Arc::new(std::sync::Mutex::new(None));
    let found = start.clone();
    let checked = api
        .run(READERS, move |st, _| {
            let from = match q.get()?.after {
                Some(after) => after,
                None => st.store.audit_tip()?,
            };
            *found.lock().unwrap_or_else(|p| p.into_inner()) = Some(from);
            Ok(().into_response())
        })
        .await;
    let from = *start.lock().unwrap_or_else(|p| p.into_inner());
    let Some(after) = from.filter(|_| checked.status().is_success()) else {
        return checked;
    };
    Sse::new(tail(shared, after))
        .keep_alive(KeepAlive::default())
        .into_response()
}

struct Tail {
    st: Arc<AppState>,
    next: u64,
    until: Instant,
    closing: tokio::sync::watch::Receiver<bool>,
    ready: VecDeque<SseEvent>,
}

fn tail(
    st: Arc<AppState>,
    after: u64,
) -> impl futures_util::Stream<Item = Result<SseEvent, std::convert::Infallible>> {
    let closing = st.closing.subscribe();
    let t = Tail {
        st,
        next: after + 1,
        until: Instant::now() + STREAM_LIFE,
        closing,
        ready: VecDeque::new(),
    };
    futures_util::stream::unfold(t, |mut t| async move {
        loop {
            if let Some(e) = t.ready.pop_front() {
                return Some((Ok(e), t));
            }
            if *t.closing.borrow() || Instant::now() > t.until {
                return None;
            }
            let (st, from) = (t.st.clone(), t.next);
            let rows = tokio::task::spawn_blocking(move || st.store.audit_rows(from, 500)).await;
            let Ok(Ok(rows)) = rows else {
                return None;
            };
            for r in &rows {
                t.next = r.seq + 1;
                if let Some(e) = change(r) {
                    t.ready.push_back(e);
                }
            }
            if t.ready.is_empty() {
                tokio::select! {
                    () = tokio::time::sleep(POLL) => {}
                    _ = t.closing.changed() => {}
                }
            }
        }
    })
}

fn change(r: &AuditRecord) -> Option<SseEvent> {
    if r.subject.is_empty() {
        return None;
    }
    let s = step(r)?;
    let c = Change {
        seq: s.seq,
        time: s.time,
        request: r.subject.clone(),
        what: s.what,
        state: s.state,
    };
    SseEvent::default()
        .event("request")
        .id(c.seq.to_string())
        .json_data(&c)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reasons_read_as_given() {
        let cases = [
            (json!({"reason": "known customer"}), Some("known customer")),
            (
                json!({"station_refused": 40, "reason": "over the daily limit"}),
                Some("the station refused (code 40): over the daily limit"),
            ),
            (
                json!({"outcome": "reject", "reasons": ["blacklisted destination"]}),
                Some("risk engine: blacklisted destination"),
            ),
            (
                json!({"runtime_error": "InsufficientFunds"}),
                Some("the runtime failed it: InsufficientFunds"),
            ),
            (
                json!({"block": 9, "reverted": true}),
                Some("reverted in block 9"),
            ),
            (json!({"outcome": "approve"}), None),
            (json!({}), None),
        ];
        for (detail, want) in cases {
            assert_eq!(why(&detail).as_deref(), want, "{detail}");
        }
    }
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(super) struct ExportQuery {
    /// From this time (Unix seconds, inclusive; default: the start).
    from: Option<u64>,
    /// Until this time (Unix seconds, inclusive; default: now).
    to: Option<u64>,
    /// Only rows this principal (or station, or service) wrote.
    actor: Option<String>,
    /// Only rows about requests on this network.
    network: Option<String>,
    /// `json` (default) or `csv`.
    format: Option<String>,
}

/// A period of the audit chain for compliance, as JSON or CSV (role: auditor)
#[utoipa::path(get, path = "/v1/audit/export", tag = "audit", params(ExportQuery),
    responses((status = 200, description = "the rows, oldest first (JSON rows, or CSV with a header line)", body = super::answers::AuditRows),
        errors::BadQuery))]
pub(super) async fn audit_export(api: Api, q: Args<ExportQuery>) -> Response {
    api.run(&["auditor"], move |st, _| {
        let q = q.get()?;
        let csv = match q.format.as_deref() {
            None | Some("json") => false,
            Some("csv") => true,
            Some(other) => return Err(super::bad(format!("format {other:?}: json or csv"))),
        };
        let all = st.store.audit_rows(1, usize::MAX)?;
        let selection = crate::audit::export::Selection {
            period: (q.from.unwrap_or(0), q.to),
            actor: q.actor,
            network: q.network,
        };
        let rows = crate::audit::export::select(&all, &selection);
        if csv {
            let body = crate::audit::export::csv(&rows);
            return Ok((
                [(axum::http::header::CONTENT_TYPE, "text/csv; charset=utf-8")],
                body,
            )
                .into_response());
        }
        let rows: Vec<AuditRecord> = rows.into_iter().cloned().collect();
        Ok(Json(super::answers::AuditRows { rows }).into_response())
    })
    .await
}
