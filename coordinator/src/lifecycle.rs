//! The request lifecycle, one state machine for every chain:
//!
//! draft → risk-checked (approved / manual-review / rejected) → awaiting approvals →
//! approved → exported → signed (partially, for multisig) → finalised → broadcast →
//! confirmed | failed | expired | cancelled.
//!
//! Transitions are pure and idempotent: an event that already happened (the state is
//! the one it leads to) is accepted and changes nothing, so a retry after a crash is
//! harmless; anything else out of order is refused.

use serde::{Deserialize, Serialize};

/// A request's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Created, not yet assessed.
    Draft,
    /// Held for the risk role.
    ManualReview,
    /// Refused by risk (final).
    Rejected,
    /// Passed risk; collecting approvals.
    AwaitingApprovals,
    /// Enough approvals.
    Approved,
    /// Handed to the vault (QR or USB).
    Exported,
    /// Some signatures back (multisig), not enough yet.
    PartiallySigned,
    /// Every signature needed is back.
    Signed,
    /// The transaction is complete and verified.
    Finalised,
    /// Sent to the network.
    Broadcast,
    /// Confirmed as configured (final).
    Confirmed,
    /// Will not happen: refused by a station, invalid, or its nonce was used (final).
    Failed,
    /// Its validity ran out before it was signed (final).
    Expired,
    /// Cancelled by an operator (final).
    Cancelled,
}

impl State {
    /// The states a request waits in until it ends.
    pub const LIVE: [State; 8] = [
        State::ManualReview,
        State::AwaitingApprovals,
        State::Approved,
        State::Exported,
        State::PartiallySigned,
        State::Signed,
        State::Finalised,
        State::Broadcast,
    ];
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Event {
    /// Risk engine: approve.
    RiskApproved,
    /// Risk engine: manual review.
    RiskReview,
    /// Risk engine or reviewer: reject.
    RiskRejected,
    /// Reviewer cleared a manual review.
    ReviewCleared,
    /// Approvals reached the threshold.
    ApprovalsComplete,
    /// Exported to a station.
    Exported,
    /// A response with some signatures.
    PartiallySigned,
    /// A response completing the signatures.
    FullySigned,
    /// Finalised and verified.
    Finalised,
    /// Broadcast.
    Broadcast,
    /// Confirmed.
    Confirmed,
    /// A reorg took the confirmation away.
    Reorged,
    /// Failed (station refusal, invalid, nonce used elsewhere).
    Failed,
    /// Validity ran out.
    Expired,
    /// Operator cancel.
    Cancel,
}

/// A transition that is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a request in state {from:?} cannot take {event:?}")]
pub struct TransitionError {
    /// Current state.
    pub from: State,
    /// Event refused.
    pub event: Event,
}

impl State {
    /// Final states take no further events (except their own, idempotently).
    pub fn is_final(self) -> bool {
        matches!(
            self,
            State::Rejected | State::Confirmed | State::Failed | State::Expired | State::Cancelled
        )
    }

    /// Whether the request can still be cancelled: nothing has left for the network.
    pub fn cancellable(self) -> bool {
        matches!(
            self,
            State::Draft
                | State::ManualReview
                | State::AwaitingApprovals
                | State::Approved
                | State::Exported
                | State::PartiallySigned
                | State::Signed
        )
    }

    /// The state `event` leads to.
    pub fn apply(self, event: Event) -> Result<State, TransitionError> {
        use Event as E;
        use State as S;
        let next = match (self, event) {
            (S::Draft, E::RiskApproved) => S::AwaitingApprovals,
            (S::Draft, E::RiskReview) => S::ManualReview,
            (S::Draft | S::ManualReview, E::RiskRejected) => S::Rejected,
            (S::ManualReview, E::ReviewCleared) => S::AwaitingApprovals,
            (S::AwaitingApprovals, E::ApprovalsComplete) => S::Approved,
            // Export again (another station, the USB copy) is allowed while signing.
            (S::Approved | S::Exported | S::PartiallySigned, E::Exported) => match self {
                S::Approved => S::Exported,
                other => other,
            },
            (S::Exported | S::PartiallySigned, E::PartiallySigned) => S::PartiallySigned,
            (S::Exported | S::PartiallySigned, E::FullySigned) => S::Signed,
            (S::Signed, E::Finalised) => S::Finalised,
            (S::Finalised, E::Broadcast) => S::Broadcast,
            (S::Broadcast, E::Confirmed) => S::Confirmed,
            (S::Confirmed, E::Reorged) => S::Broadcast,
            (S::Broadcast, E::Reorged) => S::Broadcast,
            (s, E::Failed) if !s.is_final() => S::Failed,
            (s, E::Expired) if s.cancellable() => S::Expired,
            (s, E::Cancel) if s.cancellable() => S::Cancelled,
            // Idempotent: the event already happened.
            (s, e) if s == target(e) => s,
            (from, event) => return Err(TransitionError { from, event }),
        };
        Ok(next)
    }
}

/// The state an event leads to, for the idempotence rule.
fn target(e: Event) -> State {
    match e {
        Event::RiskApproved | Event::ReviewCleared => State::AwaitingApprovals,
        Event::RiskReview => State::ManualReview,
        Event::RiskRejected => State::Rejected,
        Event::ApprovalsComplete => State::Approved,
        Event::Exported => State::Exported,
        Event::PartiallySigned => State::PartiallySigned,
        Event::FullySigned => State::Signed,
        Event::Finalised => State::Finalised,
        Event::Broadcast | Event::Reorged => State::Broadcast,
        Event::Confirmed => State::Confirmed,
        Event::Failed => State::Failed,
        Event::Expired => State::Expired,
        Event::Cancel => State::Cancelled,
    }
}

#[cfg(test)]
mod tests {
    use super::Event as E;
    use super::State as S;

    #[test]
    fn happy_paths() {
        let single = [
            E::RiskApproved,
            E::ApprovalsComplete,
            E::Exported,
            E::FullySigned,
            E::Finalised,
            E::Broadcast,
            E::Confirmed,
        ];
        assert_eq!(walk(&single), S::Confirmed);
        let multisig = [
            E::RiskReview,
            E::ReviewCleared,
            E::ApprovalsComplete,
            E::Exported,
            E::PartiallySigned,
            E::Exported,
            E::FullySigned,
            E::Finalised,
            E::Broadcast,
            E::Confirmed,
            E::Reorged,
            E::Confirmed,
        ];
        assert_eq!(walk(&multisig), S::Confirmed);
    }

    /// The state a draft reaches through `events`, each allowed.
    fn walk(events: &[E]) -> S {
        events.iter().fold(S::Draft, |s, e| {
            s.apply(*e).unwrap_or_else(|err| panic!("{err}"))
        })
    }

    #[test]
    fn idempotent_and_refused() {
        let table: &[(S, E, Option<S>)] = &[
            (S::Broadcast, E::Broadcast, Some(S::Broadcast)),
            (S::Signed, E::FullySigned, Some(S::Signed)),
            (S::Cancelled, E::Cancel, Some(S::Cancelled)),
            (S::Confirmed, E::Confirmed, Some(S::Confirmed)),
            (S::Rejected, E::RiskRejected, Some(S::Rejected)),
            // Out of order.
            (S::Draft, E::Broadcast, None),
            (S::AwaitingApprovals, E::Exported, None),
            (S::Approved, E::FullySigned, None),
            (S::Exported, E::Finalised, None),
            (S::Signed, E::Broadcast, None),
            // Nothing leaves a final state.
            (S::Rejected, E::ReviewCleared, None),
            (S::Cancelled, E::Exported, None),
            (S::Confirmed, E::Failed, None),
            (S::Expired, E::Cancel, None),
            // Once broadcast, cancel and expiry no longer apply; failure does.
            (S::Broadcast, E::Cancel, None),
            (S::Finalised, E::Expired, None),
            (S::Broadcast, E::Failed, Some(S::Failed)),
            (S::Exported, E::Cancel, Some(S::Cancelled)),
            (S::PartiallySigned, E::Expired, Some(S::Expired)),
        ];
        for (from, event, want) in table {
            let got = from.apply(*event).ok();
            assert_eq!(got, *want, "{from:?} + {event:?}");
        }
    }
}
