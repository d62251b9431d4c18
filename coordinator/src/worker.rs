//! The service's background worker: it moves every request as far as it goes without a
//! person, reconciles the stations' HSM logs and ledgers when a response came in, and
//! checkpoints the audit head.

use std::sync::Arc;

use crate::api::AppState;
use crate::audit;
use crate::service::now;

/// The worker: moves every request as far as it goes without a person, and after a
/// restart picks up whatever a crash left half done. A round is never abandoned halfway:
/// on shutdown the pipeline stops at the next step boundary and the round returns.
pub(crate) async fn run(
    state: Arc<AppState>,
    poll: std::time::Duration,
    vault_balances: bool,
    mut stopped: tokio::sync::watch::Receiver<bool>,
    mut checkpoints: Option<audit::checkpoints::Checkpointer>,
) {
    // What was last said about each request: a condition that persists (a lease another
    // replica holds, a vault short of funds) is logged once, not every round, and again
    // when it changes.
    let mut said: std::collections::HashMap<String, String> = Default::default();
    // Vault balances for /metrics (when asked for): read after a round's work, every
    // 30 s once all are known, every 10 s while one is not; never in the way of a step.
    let mut vaults_due = 0u64;
    // Reconciliation alerts already in the audit chain: each is raised once.
    let st = state.clone();
    let mut raised: std::collections::HashSet<String> =
        tokio::task::spawn_blocking(move || raised_alerts(st.store.as_ref()))
            .await
            .unwrap_or_default();
    while !*stopped.borrow() {
        let w = state.clone();
        let read_vaults = vault_balances && now() >= vaults_due;
        let (errors, alerts, known) = tokio::task::spawn_blocking(move || {
            let t = now();
            let mut errors = w.pipeline.advance_all(t);
            let (reorg_errors, reorgs) = w.pipeline.recheck_confirmed(t);
            errors.extend(reorg_errors);
            w.metrics.reorgs.inc_by(reorgs.len() as u64);
            let alerts =
                crate::treasury::refill::watch(w.store.as_ref(), &w.pipeline, &w.config.risk, t);
            let known = read_vaults.then(|| w.metrics.vault_balances(&w.pipeline.vaults()));
            (errors, alerts, known)
        })
        .await
        .unwrap_or_default();
        match known {
            Some(true) => vaults_due = now() + 30,
            Some(false) => vaults_due = now() + 10,
            None => {}
        }
        state.metrics.worker_round(now());
        let mut now_said = std::collections::HashMap::new();
        for (id, e) in errors {
            if said.get(&id) != Some(&e) {
                tracing::warn!(request = %id, error = %e, "pipeline");
            }
            now_said.insert(id, e);
        }
        said = now_said;
        state.metrics.refills.inc_by(alerts.drafted);
        for a in alerts.said {
            tracing::warn!(alert = %a, "treasury");
        }
        reconcile(&state, &mut raised).await;
        checkpoint(&state, &mut checkpoints).await;
        tokio::select! {
            () = tokio::time::sleep(poll) => {}
            _ = stopped.changed() => {}
        }
    }
    // The last round's rows, and whatever the HTTP side wrote before it drained.
    checkpoint(&state, &mut checkpoints).await;
}

/// Reconciles the stations' HSM logs, ledgers and the requests when a response came
/// in; a new alert is logged and recorded in the audit chain (`alert.reconcile`).
async fn reconcile(state: &Arc<AppState>, raised: &mut std::collections::HashSet<String>) {
    use std::sync::atomic::Ordering;
    if !state.pipeline.reconcile_due.swap(false, Ordering::SeqCst) {
        return;
    }
    let st = state.clone();
    let report = tokio::task::spawn_blocking(move || {
        let stations = st.pipeline.stations().map_err(|e| e.to_string())?;
        audit::reconcile::reconcile(st.store.as_ref(), &stations).map_err(|e| e.to_string())
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()));
    let report = match report {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(error = %e, "reconciliation");
            state.pipeline.reconcile_due.store(true, Ordering::SeqCst);
            return;
        }
    };
    for alert in report.alerts {
        let text = alert.to_string();
        let key = serde_json::to_value(&alert).unwrap_or_default().to_string();
        if raised.contains(&key) {
            continue;
        }
        tracing::warn!(alert = %text, "reconciliation");
        let detail = serde_json::to_value(&alert).unwrap_or_default();
        raised.insert(detail.to_string());
        if let Err(e) = state
            .store
            .audit("system", "alert.reconcile", "", detail, now())
        {
            tracing::error!(error = %e, "recording a reconciliation alert");
        }
    }
}

/// The reconciliation alerts the audit chain already holds (their details, as text).
fn raised_alerts(store: &dyn crate::store::Store) -> std::collections::HashSet<String> {
    let mut out = std::collections::HashSet::new();
    let mut from = 1;
    loop {
        let rows = match store.audit_rows(from, 10_000) {
            Ok(rows) => rows,
            Err(e) => {
                // Alerts already recorded may be recorded again: said, not hidden.
                tracing::error!(error = %e, "reading the reconciliation alerts already raised");
                break;
            }
        };
        let Some(last) = rows.last().map(|r| r.seq) else {
            break;
        };
        for r in rows.iter().filter(|r| r.action == "alert.reconcile") {
            out.insert(r.detail.to_string());
        }
        from = last + 1;
    }
    out
}

/// Checkpoints the audit head if it moved (a failure is logged, and retried next round).
async fn checkpoint(
    state: &Arc<AppState>,
    checkpoints: &mut Option<audit::checkpoints::Checkpointer>,
) {
    let Some(mut c) = checkpoints.take() else {
        return;
    };
    let store = state.store.clone();
    let (c, r) = tokio::task::spawn_blocking(move || {
        let r = store
            .audit_rows(c.from_seq(), usize::MAX)
            .map_err(|e| e.to_string())
            .and_then(|rows| c.update(&rows, now()));
        (c, r)
    })
    .await
    .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
    if let Err(e) = r {
        tracing::error!(error = %e, "audit checkpoint");
    }
    *checkpoints = Some(c);
}
