//! Signing and refusing a reviewed request: the ledger checked against the HSM's anchor,
//! the reviewed facts checked again against the ledger as it stands, signatures made in
//! the HSM, recorded in the ledger (fsynced) and anchored, and only then released; a
//! refusal recorded and answered with the station's signature.

use airgap_protocol::envelope::{format_uuid, Outcome, PayloadSignature, SignResponse};

use super::{anchor, bitcoin, evm, solana, verdict, Facts, Prepared, Refusal, Review, Station};
use crate::hsm::{log, SigningBackend};
use crate::keys::StationKeys;
use crate::ledger::{Entry, Record, SignedPayload};
use crate::sign::sign_ed25519;

/// Ledger entries one response carries at most (the envelope allows 1,024).
pub const MAX_CARRIED: usize = 1_000;

impl Station {
    /// Checks the ledger against the anchor the HSM holds.
    pub fn check_anchor<B: SigningBackend + ?Sized>(&self, backend: &B) -> Result<(), Refusal> {
        match anchor::read(backend).map_err(Refusal::Hsm)? {
            None => Ok(()),
            Some(a) => self.ledger.check_anchor(&a).map_err(Refusal::LedgerAnchor),
        }
    }

    /// Custodians accept the ledger as it is (after investigating an anchor mismatch):
    /// records that they did and anchors its head.
    pub fn reanchor<B: SigningBackend + ?Sized>(
        &mut self,
        backend: &B,
        now: u64,
        why: &str,
    ) -> Result<(), Refusal> {
        anchor::reanchor(&mut self.ledger, backend, now, why).map_err(Refusal::LedgerAnchor)
    }

    /// Reads the HSM's own audit log into the ledger and consumes it on the device (see
    /// [`log::drain`]). A log that cannot be read, recorded or consumed, or whose chain
    /// breaks, stops signing.
    pub fn drain_hsm_log<B: SigningBackend + ?Sized>(
        &mut self,
        backend: &B,
        now: u64,
    ) -> Result<usize, Refusal> {
        let ids = self.chain_key_ids();
        let expect = self.expect(&ids);
        log::drain(&mut self.ledger, backend, now, &expect).map_err(Refusal::HsmLog)
    }

    fn chain_key_ids(&self) -> Vec<u16> {
        self.keys
            .chain_keys()
            .into_iter()
            .map(|(_, _, k)| k.id)
            .collect()
    }

    /// What the device's log may show of this station's own use of it.
    fn expect<'a>(&self, chain_keys: &'a [u16]) -> log::Expect<'a> {
        log::Expect::Station(log::StationUse {
            operating_key: crate::ceremony::OPERATING_KEY_ID,
            chain_keys,
            identity: self.keys.identity.id,
            chain_signatures: 0,
            anchor: &anchor::SLOTS,
        })
    }

    fn write_anchor<B: SigningBackend + ?Sized>(&self, backend: &B) -> Result<(), Refusal> {
        match self.ledger.anchor() {
            Some(a) => anchor::write(backend, a).map_err(Refusal::Hsm),
            None => Ok(()),
        }
    }

    /// Signs a request the custodians approved after review. The ledger is checked
    /// against the HSM's anchor and the reviewed facts against the ledger as it stands
    /// now; signatures are made in the HSM, recorded in the ledger (fsynced), anchored,
    /// and only then returned.
    pub fn sign<B: SigningBackend + ?Sized>(
        &mut self,
        review: &Review,
        backend: &B,
        now: u64,
    ) -> Result<SignResponse, Refusal> {
        review.verdict.clone()?;
        let id = review.request.request_id;
        // The ledger first (a cut or rewritten ledger is named as such), then the
        // device's log against it, then the facts against the ledger.
        let recheck = self
            .check_anchor(backend)
            .and_then(|()| self.drain_hsm_log(backend, now).map(drop))
            .and_then(|()| self.recheck(review, now));
        if let Err(e) = recheck {
            self.record_refusal(&id, &review.digest, &e, now)?;
            return Err(e);
        }
        let mut sigs = Vec::new();
        let mut counts = Vec::new();
        let signed = {
            // A request may need more signatures than the device's audit log holds (a
            // consolidation of hundreds of inputs): the log is drained into the ledger
            // whenever the device says it is full.
            let ids = self.chain_key_ids();
            let expect = self.expect(&ids);
            let draining = log::Draining::new(backend, &mut self.ledger, now, expect);
            let signed = review.payloads.iter().try_for_each(|p| {
                let prepared = p.prepared.as_ref().ok_or_else(|| {
                    Refusal::Custodians("a refused payload cannot be signed".into())
                })?;
                let before = draining.signatures();
                sigs.push(Self::sign_one(&self.keys, prepared, &draining)?);
                counts.push(draining.signatures() - before);
                Ok(())
            });
            // The device's log, with the signatures just made, goes into the ledger
            // before the signing's record (and leaves room for the anchor and the
            // answer). After a failure part-way, too: the signatures the HSM made stay
            // inside the station, and the ledger shows them against this request.
            let read = draining.drain_now().map_err(Refusal::HsmLog);
            signed.and(read)
        };
        if let Err(e) = signed {
            self.record_refusal(&id, &review.digest, &e, now)?;
            return Err(e);
        }
        let record = Record::Signed {
            request_id: format_uuid(&id),
            digest: hex::encode(review.digest),
            payloads: review
                .payloads
                .iter()
                .zip(&counts)
                .filter_map(|(p, n)| Some((p.facts.as_ref()?, *n)))
                .map(|(f, signatures)| SignedPayload {
                    digest: f.digest.clone(),
                    network: f.network.to_string(),
                    amounts: f
                        .outflow()
                        .into_iter()
                        .map(|(a, v)| (a.policy_name().to_string(), v.to_string()))
                        .collect(),
                    spends: f.spends.clone(),
                    signatures,
                })
                .collect(),
        };
        // Guard state before effect: if this fails, no signature leaves.
        let entry = self
            .ledger
            .append(now, record)
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        self.write_anchor(backend)?;
        self.respond(review, Outcome::Signed(sigs), entry, backend, now)
    }

    /// The review's facts checked again against the ledger as it stands now: another
    /// signing since the review may have spent the same nonce or used the day's budget.
    fn recheck(&self, review: &Review, now: u64) -> Result<(), Refusal> {
        if let Some(previous) = self
            .ledger
            .index()
            .requests
            .get(&hex::encode(review.digest))
        {
            return Err(Refusal::RequestReplayed(previous.clone()));
        }
        let facts = review
            .payloads
            .iter()
            .map(|p| p.facts.as_ref())
            .collect::<Option<Vec<&Facts>>>()
            .ok_or_else(|| Refusal::Custodians("a refused payload cannot be signed".into()))?;
        if facts.len() != review.request.payloads.len() {
            return Err(Refusal::Custodians(
                "the review does not cover every payload".into(),
            ));
        }
        if review.standard {
            // A standard wallet request: the custodians' review is its approval.
            let mut policy = self.policy.clone();
            policy.off_list_approvals = None;
            for (i, f) in facts.iter().enumerate() {
                verdict::check_payload(f, &policy, 0, self.ledger.index(), &facts[..i], now)?;
            }
            return Ok(());
        }
        verdict::check_request(
            &facts,
            review.request.purpose,
            &self.policy,
            review.approvers.len(),
            self.ledger.index(),
            now,
        )
        .map(|_| ())
    }

    fn sign_one<B: SigningBackend + ?Sized>(
        keys: &StationKeys,
        prepared: &Prepared,
        backend: &B,
    ) -> Result<PayloadSignature, Refusal> {
        let missing = |what: String| Refusal::NotOurs {
            index: 0,
            why: what,
        };
        Ok(match prepared {
            Prepared::Bitcoin(b) => {
                let key = keys
                    .bitcoin(b.network())
                    .ok_or_else(|| missing(format!("no {} key", b.network().name())))?;
                PayloadSignature::Psbt(bitcoin::sign(b, backend, key)?)
            }
            Prepared::Evm(e) => PayloadSignature::Evm(evm::sign(e, backend, &keys.evm)?),
            Prepared::Solana(s) => {
                let key = keys
                    .solana(s.cluster())
                    .ok_or_else(|| missing(format!("no solana:{} key", s.cluster().name())))?;
                PayloadSignature::Solana(vec![solana::sign(s, backend, key)?])
            }
        })
    }

    /// Refuses a request (policy failure or custodians' decision) with a signed answer.
    /// A refusal the review already recorded is not recorded twice.
    pub fn refuse<B: SigningBackend + ?Sized>(
        &mut self,
        review: &Review,
        refusal: &Refusal,
        backend: &B,
        now: u64,
    ) -> Result<SignResponse, Refusal> {
        // A refusal is signed by the HSM too: its log must have room. Read first, so
        // that signatures made for this request before it was refused (a signing that
        // failed part-way) come before its refusal in the ledger. A log the station
        // cannot take in does not stop a refusal (it releases nothing); the next signing
        // stops on it.
        let _ = self.drain_hsm_log(backend, now);
        let record = Record::Refused {
            request_id: format_uuid(&review.request.request_id),
            digest: hex::encode(review.digest),
            code: refusal.code(),
            reason: refusal.to_string(),
        };
        let unanswered = self
            .ledger
            .entries_after(self.ledger.index().answered_upto)
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        let entry = match unanswered.into_iter().rev().find(|e| e.record == record) {
            Some(recorded) => recorded,
            None => self
                .ledger
                .append(now, record)
                .map_err(|e| Refusal::Ledger(e.to_string()))?,
        };
        if self.check_anchor(backend).is_ok() {
            self.write_anchor(backend)?;
        }
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

    /// What a response carries of the ledger: every entry after what the last released
    /// response carried, up to `entry` (the device's audit log read in between, and
    /// signings or refusals never answered, included), so the coordinator can match
    /// each HSM signature to a request (`coordinator audit reconcile`). At most
    /// [`MAX_CARRIED`] entries: the oldest beyond that show at the coordinator as a gap.
    fn entries_for_response(&self, entry: &Entry) -> Result<Vec<Vec<u8>>, Refusal> {
        let since = self.ledger.index().answered_upto;
        let ledger = |e: &dyn std::fmt::Display| Refusal::Ledger(e.to_string());
        let carried: Vec<Entry> = self
            .ledger
            .entries_after(since)
            .map_err(|e| ledger(&e))?
            .into_iter()
            .take_while(|e| e.seq <= entry.seq)
            .collect();
        let skip = carried.len().saturating_sub(MAX_CARRIED);
        carried[skip..]
            .iter()
            .map(|e| serde_json::to_vec(e).map_err(|e| ledger(&e)))
            .collect()
    }

    /// Signs the answer with the identity key and records that it was released.
    fn respond<B: SigningBackend + ?Sized>(
        &mut self,
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
            ledger_entries: self.entries_for_response(&entry)?,
            station_signature: [0; 64],
        };
        // Recorded first: a crash between the identity signature and the answer's record
        // leaves a signature the next reading of the device's log accounts for.
        let answering = Record::Answering { upto: entry.seq };
        self.ledger
            .append(now, answering)
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        r.station_signature = sign_ed25519(backend, &self.keys.identity, &r.station_message())
            .map_err(Refusal::Hsm)?;
        let answered = Record::Answered { upto: entry.seq };
        self.ledger
            .append(now, answered)
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        Ok(r)
    }
}
