//! The worker's steps: broadcast, track, and one round moving every request as far as it
//! goes without a person.

use super::Pipeline;
use crate::chain::{Body, PipelineError};
use crate::lifecycle::State;
use crate::store::Kind;
use crate::store::RequestRow;

impl Pipeline {
    // ----- broadcast, confirm -----

    /// Sends the final transaction (under a lease). A node that already has it, or has
    /// mined it, counts as sent: the same bytes can only land once.
    pub fn broadcast(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let row = self.ctx.row(id)?;
        if row.state != State::Finalised {
            return Ok(row);
        }
        self.ctx.lease(id, "broadcast", now, 60)?;
        self.adapter(&Body::of(&row)?.network)?
            .broadcast(&self.ctx, id, now)
    }

    /// Follows a broadcast transaction to its confirmations.
    pub fn track(&self, id: &str, now: u64) -> Result<RequestRow, PipelineError> {
        let row = self.ctx.row(id)?;
        if row.state != State::Broadcast {
            return Ok(row);
        }
        let adapter = self.adapter(&Body::of(&row)?.network)?;
        adapter.track(&self.ctx, row, now)
    }

    /// Moves every request as far as it goes without a person: builds envelopes for
    /// requests awaiting approvals, finalises, broadcasts, tracks. Returns what failed
    /// (request id, reason); the next round retries.
    pub fn advance_all(&self, now: u64) -> Vec<(String, String)> {
        let mut errors = Vec::new();
        // Manual review waits for the risk role.
        for state in State::LIVE
            .into_iter()
            .filter(|s| *s != State::ManualReview)
        {
            let rows = match self.ctx.store.in_state(state, None) {
                Ok(r) => r,
                Err(e) => {
                    errors.push((String::new(), e.to_string()));
                    continue;
                }
            };
            for row in rows {
                // Each request's step is written whole (artifacts, then state and audit
                // row); between two of them is where a shutdown stops.
                if self.stopping.load(std::sync::atomic::Ordering::SeqCst) {
                    return errors;
                }
                // Requests of networks the pipeline does not build wait for an operator
                // (said once by `prepare` when asked), not retried every round. An
                // unreadable body goes on to `prepare`, which says so.
                let wired = Body::of(&row).map_or(true, |b| self.serves(&b.network));
                if state == State::AwaitingApprovals && !wired {
                    continue;
                }
                let r = match state {
                    State::AwaitingApprovals => {
                        let r = self.prepare(&row.id, now).map(|_| ());
                        let mut errs = self.build_errors.lock().unwrap_or_else(|p| p.into_inner());
                        match &r {
                            Err(PipelineError::Busy) => {}
                            Err(e) => {
                                errs.insert(row.id.clone(), e.to_string());
                            }
                            Ok(()) => {
                                errs.remove(&row.id);
                            }
                        }
                        r
                    }
                    State::Approved => {
                        match self.ctx.store.artifact(&row.id, Kind::Export, "request") {
                            Ok(Some(_)) => self.export(&row.id, "coordinator", now).map(|_| ()),
                            Ok(None) => Ok(()),
                            Err(e) => Err(e.into()),
                        }
                    }
                    // Only what a response came back for (after a crash between
                    // storing it and finalising); the rest waits for the vault room.
                    State::Exported | State::PartiallySigned | State::Signed => {
                        match self.ctx.store.artifacts(&row.id, Kind::Response) {
                            Ok(r) if r.is_empty() => Ok(()),
                            Ok(_) => self.finalise_if_free(&row.id, now).map(|_| ()),
                            Err(e) => Err(e.into()),
                        }
                    }
                    State::Finalised => self.broadcast(&row.id, now).map(|_| ()),
                    _ => self.track(&row.id, now).map(|r| {
                        if r.state == State::Confirmed {
                            self.watch_confirmed(&r.id);
                        }
                    }),
                };
                if let Err(e) = r {
                    errors.push((row.id, e.to_string()));
                }
            }
        }
        errors
    }
}
