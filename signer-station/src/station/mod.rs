//! The station's decision and signing flow, safe even when the coordinator is
//! compromised: verify the envelope against pinned keys, decode every payload itself,
//! check replay and policy before the HSM is touched, sign, record the signing in the
//! ledger (fsynced), and only then release the signatures.

pub mod bitcoin;
pub mod evm;
pub mod policy;
pub mod refusal;
pub mod registration;
pub mod solana;
pub mod standard;

use std::collections::HashMap;

use airgap_protocol::envelope::{
    format_uuid, verify_request, Approver, KeyId, Outcome, PayloadBody, PayloadSignature, Purpose,
    SignRequest, SignResponse, TrustAnchors,
};
use airgap_protocol::summary::{summarize, Asset, Summary, SummaryOptions, TokenList, Warning};
use sha2::{Digest, Sha256};

use crate::ceremony::StationKeys;
use crate::hsm::SigningBackend;
use crate::ledger::{Entry, Ledger, Record, SignedPayload};
use crate::sign::sign_ed25519;

pub use policy::Policy;
pub use refusal::Refusal;

/// What custodians review for one payload.
#[derive(Debug, Clone)]
pub struct PayloadReview {
    /// The station's own decoding.
    pub summary: Summary,
    /// Bitcoin outputs verified as change to the station's wallet.
    pub change_outputs: Vec<usize>,
    /// Policy checks that passed, in words.
    pub passed: Vec<String>,
    /// Things custodians should look at that policy does not refuse.
    pub warnings: Vec<String>,
    /// `None` for a payload the station refuses: shown, never signed.
    prepared: Option<Prepared>,
    digest: String,
    spends: Vec<String>,
    amounts: Vec<(String, u128)>,
}

#[derive(Debug, Clone)]
enum Prepared {
    Bitcoin(bitcoin::BtcPrepared),
    Evm(evm::EvmPrepared),
    Solana(solana::SolPrepared),
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
}

/// A station: keys (public halves), trust anchors, policy, tokens, ledger. The HSM
/// session is passed to `sign` and `refuse` only: reviewing touches no key, and the
/// session exists only once custodians have unlocked it.
#[derive(Debug)]
pub struct Station {
    keys: StationKeys,
    anchors: TrustAnchors,
    policy: Policy,
    tokens: TokenList,
    ledger: Ledger,
}

fn purpose_name(p: Purpose) -> &'static str {
    match p {
        Purpose::Withdrawal => "withdrawal",
        Purpose::Refill => "refill",
        Purpose::Sweep => "sweep",
        Purpose::Consolidation => "consolidation",
        Purpose::KeyRegistration => "key-registration",
    }
}

/// Whether spend key `a` conflicts with `b`. Keys are `resource` or `resource#content`:
/// the same resource with other content (or none) conflicts; identical keys do not
/// (the same content again, e.g. an EVM fee bump of the same call at the same nonce).
fn spend_conflict(a: &str, b: &str) -> bool {
    let resource = |k: &str| k.split_once('#').map_or(k, |(r, _)| r).to_string();
    a != b && resource(a) == resource(b)
}

/// Strips the summary's annotation (` (token account …)`) from an address.
fn bare(address: &str) -> &str {
    address.split(" (").next().unwrap_or(address)
}

impl Station {
    /// A station. Approval thresholds come from the policy, not from `anchors`.
    pub fn new(
        keys: StationKeys,
        mut anchors: TrustAnchors,
        policy: Policy,
        tokens: TokenList,
        ledger: Ledger,
    ) -> Self {
        for p in [
            Purpose::Withdrawal,
            Purpose::Refill,
            Purpose::Sweep,
            Purpose::Consolidation,
            Purpose::KeyRegistration,
        ] {
            anchors.set_threshold(p, policy.approvals_for(purpose_name(p)));
        }
        Self {
            keys,
            anchors,
            policy,
            tokens,
            ledger,
        }
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

    /// The station's key id (identity key).
    pub fn station_id(&self) -> KeyId {
        let pk: [u8; 32] = self
            .keys
            .identity
            .public_key
            .as_slice()
            .try_into()
            .unwrap_or([0; 32]);
        ed25519_dalek::VerifyingKey::from_bytes(&pk)
            .map(|k| KeyId::of(&k))
            .unwrap_or(KeyId([0; 8]))
    }

    /// Verifies, decodes and checks a request. Records that it was seen. Touches no key.
    pub fn review(&mut self, request: &SignRequest, now: u64) -> Result<Review, Refusal> {
        let verified = verify_request(request, &self.anchors, now).map_err(Refusal::Envelope)?;
        self.ledger
            .append(
                now,
                Record::RequestSeen {
                    request_id: format_uuid(&request.request_id),
                    digest: hex::encode(verified.digest),
                },
            )
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        let mut payloads = Vec::new();
        let mut verdict = self.check_validity(request);
        if let Some(previous) = self
            .ledger
            .index()
            .requests
            .get(&hex::encode(verified.digest))
        {
            verdict = verdict.and(Err(Refusal::RequestReplayed(previous.clone())));
        }
        for (i, p) in request.payloads.iter().enumerate() {
            match self.review_payload(i, p, verified.approvers.len(), now, &payloads) {
                Ok(r) => payloads.push(r),
                Err(e) => {
                    // Custodians still see what the refused payload would have done.
                    let opts = SummaryOptions {
                        tokens: self.tokens.clone(),
                        ..Default::default()
                    };
                    if let Ok(summary) = summarize(p, &opts) {
                        payloads.push(PayloadReview {
                            summary,
                            change_outputs: Vec::new(),
                            passed: Vec::new(),
                            warnings: vec![format!("REFUSED: {e}")],
                            prepared: None,
                            digest: String::new(),
                            spends: Vec::new(),
                            amounts: Vec::new(),
                        });
                    }
                    verdict = verdict.and(Err(e));
                }
            }
        }
        Ok(Review {
            request: request.clone(),
            digest: verified.digest,
            approvers: verified.approvers,
            payloads,
            verdict,
        })
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

    fn review_payload(
        &self,
        index: usize,
        p: &airgap_protocol::envelope::Payload,
        approvals: usize,
        now: u64,
        earlier: &[PayloadReview],
    ) -> Result<PayloadReview, Refusal> {
        if !self.policy.networks.contains(&p.network) {
            return Err(Refusal::NetworkNotAllowed {
                index,
                network: p.network.clone(),
            });
        }
        let (prepared, digest, spends, change) = match &p.body {
            PayloadBody::Psbt { version, bytes } => {
                let b = bitcoin::prepare(index, *version, bytes, &p.network, &self.keys.bitcoin)?;
                let (d, s, c) = (b.txid.clone(), b.spends.clone(), b.change_outputs.clone());
                (Prepared::Bitcoin(b), d, s, c)
            }
            PayloadBody::EvmTx {
                chain_id,
                signer,
                tx,
            } => {
                let e = evm::prepare(index, *chain_id, signer, tx, &self.keys.evm)?;
                let (d, s) = (hex::encode(e.signing_hash), e.spends.clone());
                (Prepared::Evm(e), d, s, Vec::new())
            }
            PayloadBody::SolanaMessage {
                message,
                nonce_account,
                ..
            } => {
                let s = solana::prepare(
                    index,
                    &p.network,
                    message,
                    nonce_account.as_ref(),
                    &self.keys.solana,
                )?;
                let (d, sp) = (hex::encode(Sha256::digest(message)), s.spends.clone());
                (Prepared::Solana(s), d, sp, Vec::new())
            }
        };
        let opts = SummaryOptions {
            tokens: self.tokens.clone(),
            ..Default::default()
        };
        let summary = summarize(p, &opts).map_err(|e| Refusal::Undecodable {
            index,
            reason: e.to_string(),
        })?;
        let mut passed = vec![format!("network {} allowed", p.network)];
        let mut warnings = Vec::new();
        if change.len() > 1 {
            warnings.push(format!(
                "{} change outputs back to the vault (usually one)",
                change.len()
            ));
        }

        // Replay: this payload, or anything it spends, signed before (or earlier in this request).
        let idx = self.ledger.index();
        if let Some(previous) = idx.payloads.get(&digest) {
            return Err(Refusal::PayloadReplayed {
                index,
                previous: previous.clone(),
            });
        }
        for s in &spends {
            let with_content = s.contains('#');
            let here = earlier.iter().any(|e| {
                e.digest != digest
                    && e.spends.iter().any(|k| {
                        if with_content {
                            spend_conflict(k, s)
                        } else {
                            k == s
                        }
                    })
            });
            let before = if with_content {
                // Any other content for this resource conflicts.
                idx.spends.keys().any(|k| spend_conflict(k, s))
            } else {
                idx.spends.get(s).is_some_and(|d| *d != digest)
            };
            if before || here {
                return Err(Refusal::DoubleSpend {
                    index,
                    what: s.clone(),
                });
            }
        }
        passed.push("not signed before; spends nothing already spent".into());

        for w in &summary.warnings {
            let what = match w {
                Warning::UnknownCallData { selector } if !self.policy.allow_unknown_calldata => {
                    Some(format!("unknown contract call (selector {selector})"))
                }
                Warning::UnlimitedApproval { spender } => {
                    Some(format!("an unlimited token approval to {spender}"))
                }
                Warning::ContractCreation => Some("a contract creation".into()),
                Warning::UnknownProgram { program } if !self.policy.allow_unknown_programs => {
                    Some(format!("an instruction of unknown program {program}"))
                }
                _ => None,
            };
            if let Some(what) = what {
                return Err(Refusal::Disallowed { index, what });
            }
        }

        // Amounts per asset, destinations, limits, velocity.
        let mut amounts: HashMap<String, u128> = HashMap::new();
        for r in summary
            .recipients
            .iter()
            .filter(|r| !change.contains(&r.index) || !matches!(p.body, PayloadBody::Psbt { .. }))
        {
            let asset = match &r.asset {
                Asset::Native => "native".to_string(),
                Asset::Token { contract, .. } => contract.clone(),
            };
            let address = bare(&r.address);
            if address.starts_with("approve spender ") {
                let spender = address.trim_start_matches("approve spender ");
                if !self.policy.allows(&p.network, spender) {
                    return Err(Refusal::NotAllowListed {
                        index,
                        address: spender.to_string(),
                    });
                }
            } else if !self.policy.allows(&p.network, address) {
                match self.policy.off_list_approvals {
                    Some(n) if approvals >= n => passed.push(format!(
                        "{address} off the allow-list, approved by {approvals}"
                    )),
                    _ => {
                        return Err(Refusal::NotAllowListed {
                            index,
                            address: address.to_string(),
                        })
                    }
                }
            }
            *amounts.entry(asset).or_default() += r.amount.base_units;
        }
        for (asset, amount) in &amounts {
            let (per_tx, per_day) =
                self.policy
                    .limit(&p.network, asset)
                    .ok_or_else(|| Refusal::UnlistedAsset {
                        index,
                        network: p.network.clone(),
                        asset: asset.clone(),
                    })?;
            if *amount > per_tx {
                return Err(Refusal::OverTransactionLimit {
                    index,
                    asset: asset.clone(),
                    amount: *amount,
                    limit: per_tx,
                });
            }
            let window = now.saturating_sub(86_400);
            let past: u128 = idx
                .history
                .iter()
                .filter(|(t, s)| *t > window && s.network == p.network)
                .flat_map(|(_, s)| s.amounts.iter())
                .filter(|(a, _)| a == asset)
                .filter_map(|(_, v)| v.parse::<u128>().ok())
                .sum();
            let this_request: u128 = earlier
                .iter()
                .filter(|e| e.summary.network == summary.network)
                .flat_map(|e| e.amounts.iter())
                .filter(|(a, _)| a == asset)
                .map(|(_, v)| *v)
                .sum();
            let total = past + this_request + amount;
            if total > per_day {
                return Err(Refusal::OverDailyLimit {
                    index,
                    asset: asset.clone(),
                    amount: *amount,
                    total,
                    limit: per_day,
                });
            }
            passed.push(format!("{asset}: {amount} within {per_tx} per transaction and {per_day} per 24 h ({total} with this)"));
        }

        if let Some(fee) = &summary.fee {
            if let Some((max, per_mille)) = self.policy.fee_limit(&p.network) {
                if fee.base_units > max {
                    return Err(Refusal::FeeTooHigh {
                        index,
                        fee: fee.base_units,
                        limit: format!("at most {max}"),
                    });
                }
                let native = amounts.get("native").copied().unwrap_or(0);
                if native > 0
                    && fee.base_units.saturating_mul(1000) / native > u128::from(per_mille)
                {
                    return Err(Refusal::FeeTooHigh {
                        index,
                        fee: fee.base_units,
                        limit: format!("at most {per_mille}‰ of the amount"),
                    });
                }
                passed.push(format!("fee {} within policy", fee.base_units));
            }
        }
        Ok(PayloadReview {
            summary,
            change_outputs: change,
            passed,
            warnings,
            prepared: Some(prepared),
            digest,
            spends,
            amounts: amounts.into_iter().collect(),
        })
    }

    /// Signs a request the custodians approved after review. Signatures are made in the
    /// HSM, recorded in the ledger (fsynced), and only then returned.
    pub fn sign<B: SigningBackend + ?Sized>(
        &mut self,
        review: &Review,
        backend: &B,
        now: u64,
    ) -> Result<SignResponse, Refusal> {
        review.verdict.clone()?;
        let mut sigs = Vec::new();
        for p in &review.payloads {
            let prepared = p
                .prepared
                .as_ref()
                .ok_or_else(|| Refusal::Custodians("a refused payload cannot be signed".into()))?;
            sigs.push(match prepared {
                Prepared::Bitcoin(b) => {
                    PayloadSignature::Psbt(bitcoin::sign(b, backend, &self.keys.bitcoin)?)
                }
                Prepared::Evm(e) => PayloadSignature::Evm(evm::sign(e, backend, &self.keys.evm)?),
                Prepared::Solana(s) => {
                    PayloadSignature::Solana(vec![solana::sign(s, backend, &self.keys.solana)?])
                }
            });
        }
        let record = Record::Signed {
            request_id: format_uuid(&review.request.request_id),
            digest: hex::encode(review.digest),
            payloads: review
                .payloads
                .iter()
                .map(|p| SignedPayload {
                    digest: p.digest.clone(),
                    network: p.summary.network.clone(),
                    amounts: p
                        .amounts
                        .iter()
                        .map(|(a, v)| (a.clone(), v.to_string()))
                        .collect(),
                    spends: p.spends.clone(),
                })
                .collect(),
        };
        // Guard state before effect: if this fails, no signature leaves.
        let entry = self
            .ledger
            .append(now, record)
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        self.respond(review, Outcome::Signed(sigs), entry, backend, now)
    }

    /// Refuses a request (policy failure or custodians' decision) with a signed answer.
    pub fn refuse<B: SigningBackend + ?Sized>(
        &mut self,
        review: &Review,
        refusal: &Refusal,
        backend: &B,
        now: u64,
    ) -> Result<SignResponse, Refusal> {
        let record = Record::Refused {
            request_id: format_uuid(&review.request.request_id),
            digest: hex::encode(review.digest),
            code: refusal.code(),
            reason: refusal.to_string(),
        };
        let entry = self
            .ledger
            .append(now, record)
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        self.respond(
            review,
            Outcome::Refused {
                code: refusal.code(),
                reason: refusal.to_string(),
            },
            entry,
            backend,
            now,
        )
    }

    fn respond<B: SigningBackend + ?Sized>(
        &self,
        review: &Review,
        outcome: Outcome,
        entry: Entry,
        backend: &B,
        now: u64,
    ) -> Result<SignResponse, Refusal> {
        let mut r = SignResponse {
            request_digest: review.digest,
            request_id: review.request.request_id,
            station: self.station_id(),
            created: now,
            outcome,
            ledger_entries: vec![
                serde_json::to_vec(&entry).map_err(|e| Refusal::Ledger(e.to_string()))?
            ],
            station_signature: [0; 64],
        };
        r.station_signature = sign_ed25519(backend, &self.keys.identity, &r.station_message())
            .map_err(Refusal::Hsm)?;
        Ok(r)
    }
}
