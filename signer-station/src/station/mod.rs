//! The station's decision and signing flow, safe even when the coordinator is
//! compromised: verify the envelope against pinned keys, derive every payload's facts
//! itself (network, ownership of inputs and change, amounts, classes of transfer, fee),
//! decide by a pure function of those facts, the signed policy and the ledger, check
//! again against the ledger when signing, sign, record the signing in the ledger
//! (fsynced) and anchor it in the HSM, and only then release the signatures. Every
//! refusal is recorded.

pub mod anchor;
pub mod bitcoin;
pub mod deposits;
pub mod evm;
pub mod facts;
pub mod policy;
pub mod refusal;
pub mod registration;
mod signing;
pub mod solana;
pub mod standard;
pub mod vaults;
pub mod verdict;

use airgap_protocol::envelope::{
    format_uuid, verify_request, Approver, KeyId, Purpose, SignRequest, TrustAnchors,
};
use airgap_protocol::network::Network;
use airgap_protocol::summary::{summarize, Summary, SummaryOptions, TokenList};

use crate::keys::StationKeys;
use crate::ledger::{Entry, Ledger, Record};

pub use facts::{Class, Facts, Prepared};
pub use policy::Policy;
pub use refusal::Refusal;
pub use vaults::{VaultError, Vaults};

/// What the facts derivation may consult: the station's own keys, vaults, signed policy
/// and token list — nothing the coordinator supplied.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// The station's keys (public halves).
    pub keys: &'a StationKeys,
    /// Its Bitcoin vaults.
    pub vaults: &'a Vaults,
    /// Its signed policy.
    pub policy: &'a Policy,
    /// Its token list (display only).
    pub tokens: &'a TokenList,
}

impl Context<'_> {
    /// The class of a transfer to someone other than the station itself.
    pub fn class_of(&self, network: Network, address: &str) -> Class {
        if self.policy.is_internal(network, address) {
            Class::Internal
        } else {
            Class::External
        }
    }
}

/// What custodians review for one payload.
#[derive(Debug, Clone)]
pub struct PayloadReview {
    /// The shared decoder's summary (details and warnings), when the payload decodes.
    pub summary: Option<Summary>,
    /// The facts the station derived and decided on; `None` when it could not.
    pub facts: Option<Facts>,
    /// Policy checks that passed, in words.
    pub passed: Vec<String>,
    /// Things custodians should look at (and, for a refused payload, why).
    pub warnings: Vec<String>,
    /// `None` for a payload the station refuses: shown, never signed.
    prepared: Option<Prepared>,
}

impl PayloadReview {
    /// Bitcoin outputs proven to be change.
    pub fn change_outputs(&self) -> Vec<usize> {
        self.facts
            .as_ref()
            .map(Facts::change_outputs)
            .unwrap_or_default()
    }
}

/// The station's review of a request.
#[derive(Debug, Clone)]
pub struct Review {
    /// The request.
    pub request: SignRequest,
    /// Its digest.
    pub digest: [u8; 32],
    /// Approvers, verified.
    pub approvers: Vec<Approver>,
    /// Per payload.
    pub payloads: Vec<PayloadReview>,
    /// `Err` when the station refuses; custodians see why.
    pub verdict: Result<(), Refusal>,
    /// A standard wallet request (no coordinator, no approvals).
    pub(crate) standard: bool,
}

/// A station: keys (public halves), trust anchors, policy, vaults, tokens, ledger. The
/// HSM session is passed to `sign` and `refuse` only: reviewing touches no key, and the
/// session exists only once custodians have unlocked it.
#[derive(Debug)]
pub struct Station {
    keys: StationKeys,
    anchors: TrustAnchors,
    policy: Policy,
    vaults: Vaults,
    vault_error: Option<VaultError>,
    tokens: TokenList,
    ledger: Ledger,
}

impl Station {
    /// A station. Approval thresholds come from the policy, not from `anchors`. A
    /// registered vault this station cannot use stops every Bitcoin signing (shown as the
    /// refusal's reason) rather than being dropped.
    pub fn new(
        keys: StationKeys,
        anchors: TrustAnchors,
        policy: Policy,
        tokens: TokenList,
        ledger: Ledger,
    ) -> Self {
        let mut s = Self {
            vaults: Vaults::default(),
            vault_error: None,
            keys,
            anchors,
            policy: policy.clone(),
            tokens,
            ledger,
        };
        s.apply(policy);
        s
    }

    fn apply(&mut self, policy: Policy) {
        for p in [
            Purpose::Withdrawal,
            Purpose::Refill,
            Purpose::Sweep,
            Purpose::Consolidation,
            Purpose::KeyRegistration,
        ] {
            self.anchors
                .set_threshold(p, policy.approvals_for(verdict::purpose_name(p)));
        }
        let registered: Vec<(String, String, String, bool)> = policy
            .vaults
            .iter()
            .map(|v| {
                (
                    v.name.clone(),
                    v.network.clone(),
                    v.descriptor.clone(),
                    v.deposit,
                )
            })
            .collect();
        (self.vaults, self.vault_error) = match Vaults::new(&self.keys, &registered) {
            Ok(v) => (v, None),
            Err(e) => (Vaults::new(&self.keys, &[]).unwrap_or_default(), Some(e)),
        };
        self.policy = policy;
    }

    /// Puts a newly signed policy in force (custodians registered a vault, changed a
    /// limit, …) and records it in the ledger.
    pub fn set_policy(&mut self, policy: Policy, now: u64) -> Result<(), Refusal> {
        let digest = crate::ceremony::policy_digest(&policy);
        self.ledger
            .append(
                now,
                Record::Ceremony {
                    step: "policy".into(),
                    detail: format!("policy {} in force", hex::encode(digest)),
                },
            )
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        self.apply(policy);
        Ok(())
    }

    /// The ledger.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// The station's keys.
    pub fn keys(&self) -> &StationKeys {
        &self.keys
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The trust anchors.
    pub fn anchors(&self) -> &TrustAnchors {
        &self.anchors
    }

    /// A registered vault the station cannot use, if any.
    pub fn vault_error(&self) -> Option<&VaultError> {
        self.vault_error.as_ref()
    }

    fn context(&self) -> Context<'_> {
        Context {
            keys: &self.keys,
            vaults: &self.vaults,
            policy: &self.policy,
            tokens: &self.tokens,
        }
    }

    /// The station's key id (identity key).
    pub fn station_id(&self) -> KeyId {
        self.keys
            .identity
            .ed25519()
            .map(|k| KeyId::of(&k))
            .unwrap_or(KeyId([0; 8]))
    }

    /// Records a refusal in the ledger.
    fn record_refusal(
        &mut self,
        request_id: &[u8; 16],
        digest: &[u8; 32],
        refusal: &Refusal,
        now: u64,
    ) -> Result<Entry, Refusal> {
        self.ledger
            .append(
                now,
                Record::Refused {
                    request_id: format_uuid(request_id),
                    digest: hex::encode(digest),
                    code: refusal.code(),
                    reason: refusal.to_string(),
                },
            )
            .map_err(|e| Refusal::Ledger(e.to_string()))
    }

    /// Verifies, decodes and checks a request. Records that it was seen, and any refusal.
    /// Touches no key.
    pub fn review(&mut self, request: &SignRequest, now: u64) -> Result<Review, Refusal> {
        let verified = match verify_request(request, &self.anchors, now) {
            Ok(v) => v,
            Err(e) => {
                let refusal = Refusal::Envelope(e);
                self.record_refusal(&request.request_id, &request.digest(), &refusal, now)?;
                return Err(refusal);
            }
        };
        self.ledger
            .append(
                now,
                Record::RequestSeen {
                    request_id: format_uuid(&request.request_id),
                    digest: hex::encode(verified.digest),
                },
            )
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        let mut verdict = self.check_validity(request);
        if let Some(previous) = self
            .ledger
            .index()
            .requests
            .get(&hex::encode(verified.digest))
        {
            verdict = verdict.and(Err(Refusal::RequestReplayed(previous.clone())));
        }
        let (payloads, checked) =
            self.review_payloads(request, verified.approvers.len(), now, false);
        let review = Review {
            request: request.clone(),
            digest: verified.digest,
            approvers: verified.approvers,
            payloads,
            verdict: verdict.and(checked),
            standard: false,
        };
        if let Err(e) = &review.verdict {
            self.record_refusal(&request.request_id, &review.digest, e, now)?;
        }
        Ok(review)
    }

    /// Derives every payload's facts and checks them (with the approvals their classes
    /// need unless `standard`, whose only approval is the custodians' review).
    fn review_payloads(
        &self,
        request: &SignRequest,
        approvals: usize,
        now: u64,
        standard: bool,
    ) -> (Vec<PayloadReview>, Result<(), Refusal>) {
        let ctx = self.context();
        let opts = SummaryOptions {
            tokens: self.tokens.clone(),
            ..Default::default()
        };
        let mut payloads = Vec::new();
        let mut first_error: Option<Refusal> = None;
        for (i, p) in request.payloads.iter().enumerate() {
            let summary = summarize(p, &opts).ok();
            let derived = match &self.vault_error {
                Some(e)
                    if matches!(p.body, airgap_protocol::envelope::PayloadBody::Psbt { .. }) =>
                {
                    Err(Refusal::NotOurs {
                        index: i,
                        why: format!(
                            "the signed policy registers a vault this station cannot use: {e}"
                        ),
                    })
                }
                _ => facts::derive(i, p, &ctx),
            };
            payloads.push(match derived {
                Ok((facts, prepared)) => PayloadReview {
                    summary,
                    facts: Some(facts),
                    passed: Vec::new(),
                    warnings: Vec::new(),
                    prepared: Some(prepared),
                },
                Err(e) => {
                    let review = PayloadReview {
                        summary,
                        facts: None,
                        passed: Vec::new(),
                        warnings: vec![format!("REFUSED: {e}")],
                        prepared: None,
                    };
                    first_error.get_or_insert(e);
                    review
                }
            });
        }
        if let Some(e) = first_error {
            return (payloads, Err(e));
        }
        let facts: Vec<&Facts> = payloads.iter().filter_map(|p| p.facts.as_ref()).collect();
        let checked = if standard {
            let mut policy = self.policy.clone();
            policy.off_list_approvals = None;
            facts
                .iter()
                .enumerate()
                .map(|(i, f)| {
                    verdict::check_payload(f, &policy, 0, self.ledger.index(), &facts[..i], now)
                })
                .collect::<Result<Vec<_>, _>>()
        } else {
            verdict::check_request(
                &facts,
                request.purpose,
                &self.policy,
                approvals,
                self.ledger.index(),
                now,
            )
        };
        match checked {
            Ok(passed) => {
                for (p, passed) in payloads.iter_mut().zip(passed) {
                    p.passed = passed;
                    if p.change_outputs().len() > 1 {
                        p.warnings.push(format!(
                            "{} change outputs back to the vault (usually one)",
                            p.change_outputs().len()
                        ));
                    }
                }
                (payloads, Ok(()))
            }
            Err(e) => {
                let at = match &e {
                    Refusal::InsufficientApprovals { .. } => None,
                    other => other.payload_index(),
                };
                for (i, p) in payloads.iter_mut().enumerate() {
                    if at.is_none_or(|a| a == i) {
                        p.warnings.push(format!("REFUSED: {e}"));
                    }
                }
                (payloads, Err(e))
            }
        }
    }

    fn check_validity(&self, r: &SignRequest) -> Result<(), Refusal> {
        let secs = r.expires.saturating_sub(r.created);
        if secs > self.policy.max_validity_secs {
            return Err(Refusal::ValidityTooLong {
                secs,
                max: self.policy.max_validity_secs,
            });
        }
        Ok(())
    }
}
