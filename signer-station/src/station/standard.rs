//! Standard wallet requests: ERC-4527 `eth-sign-request` (legacy and typed transactions)
//! and Keystone's `sol-sign-request` (transactions), answered with `eth-signature` and
//! `sol-signature`.
//!
//! They carry no coordinator signature and no approvals, so the station answers them only
//! when its signed policy says so (`standard_requests`); they then go through every
//! per-payload check an envelope payload does (decoding, network, limits, velocity,
//! allow-list with no off-list exception, fees, replay), the custodians' review being
//! their only approval. EIP-712 typed data and personal messages are not signed.

use airgap_protocol::envelope::{
    DisplayHints, KeyId, Payload, PayloadBody, PayloadSignature, Purpose, SignRequest,
};
use airgap_protocol::registry::{
    EthDataType, EthSignRequest, EthSignature, SolSignRequest, SolSignature,
};
use airgap_protocol::summary::evm::decode_unsigned;
use sha2::{Digest, Sha256};

use airgap_protocol::envelope::Outcome;

use super::{evm, Refusal, Review, Station};
use crate::hsm::SigningBackend;
use crate::ledger::Record;

/// A standard request as captured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandardRequest {
    /// `eth-sign-request`.
    Eth(EthSignRequest),
    /// `sol-sign-request`.
    Sol(SolSignRequest),
}

/// The answer, ready for a UR (`eth-signature` or `sol-signature`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StandardAnswer {
    /// `eth-signature`.
    Eth(EthSignature),
    /// `sol-signature`.
    Sol(SolSignature),
}

impl StandardRequest {
    /// Decodes a captured UR, `None` when it is not a standard request type.
    pub fn decode(ur_type: &str, cbor: &[u8]) -> Option<Result<Self, String>> {
        match ur_type {
            "eth-sign-request" => Some(
                EthSignRequest::from_cbor(cbor)
                    .map(Self::Eth)
                    .map_err(|e| e.to_string()),
            ),
            "sol-sign-request" => Some(
                SolSignRequest::from_cbor(cbor)
                    .map(Self::Sol)
                    .map_err(|e| e.to_string()),
            ),
            _ => None,
        }
    }

    fn cbor(&self) -> Vec<u8> {
        match self {
            Self::Eth(r) => r.to_cbor(),
            Self::Sol(r) => r.to_cbor(),
        }
    }

    fn request_id(&self) -> Option<[u8; 16]> {
        match self {
            Self::Eth(r) => r.request_id,
            Self::Sol(r) => r.request_id,
        }
    }

    fn origin(&self) -> Option<&str> {
        match self {
            Self::Eth(r) => r.origin.as_deref(),
            Self::Sol(r) => r.origin.as_deref(),
        }
    }
}

impl StandardAnswer {
    /// UR type and CBOR.
    pub fn to_ur(&self) -> (&'static str, Vec<u8>) {
        match self {
            Self::Eth(s) => ("eth-signature", s.to_cbor()),
            Self::Sol(s) => ("sol-signature", s.to_cbor()),
        }
    }
}

fn disallowed(what: impl Into<String>) -> Refusal {
    Refusal::Disallowed {
        index: 0,
        what: what.into(),
    }
}

impl Station {
    fn standard_payload(&self, req: &StandardRequest) -> Result<Payload, Refusal> {
        if !self.policy.standard_requests {
            return Err(disallowed(
                "a standard wallet request (no coordinator signature, no approvals): \
                 this station's policy does not answer them",
            ));
        }
        match req {
            StandardRequest::Eth(r) => {
                match r.data_type {
                    EthDataType::LegacyTransaction | EthDataType::TypedTransaction => {}
                    EthDataType::TypedData | EthDataType::PersonalMessage => {
                        return Err(disallowed(
                            "EIP-712 typed data or a personal message (only transactions are signed)",
                        ))
                    }
                }
                let ours = evm::address_of(&self.keys.evm.public_key).ok_or(Refusal::NotOurs {
                    index: 0,
                    why: "station EVM key unreadable".into(),
                })?;
                if r.address.is_some_and(|a| a != ours.0 .0) {
                    return Err(Refusal::NotOurs {
                        index: 0,
                        why: "the request names another address".into(),
                    });
                }
                let tx = decode_unsigned(&r.sign_data).map_err(|e| Refusal::Undecodable {
                    index: 0,
                    reason: e.to_string(),
                })?;
                let legacy = matches!(r.data_type, EthDataType::LegacyTransaction);
                if legacy != (tx.kind == "legacy") {
                    return Err(Refusal::Undecodable {
                        index: 0,
                        reason: format!(
                            "data type says one kind of transaction, the bytes are {}",
                            tx.kind
                        ),
                    });
                }
                let chain_id = match (r.chain_id, tx.chain_id) {
                    (Some(c), _) => u64::try_from(c).map_err(|_| Refusal::Undecodable {
                        index: 0,
                        reason: format!("chain id {c}"),
                    })?,
                    (None, Some(c)) => c,
                    (None, None) => {
                        return Err(disallowed(
                            "a pre-EIP-155 transaction (replayable on every chain)",
                        ))
                    }
                };
                Ok(Payload {
                    network: format!("evm:{chain_id}"),
                    signer: ours.to_checksum(None),
                    body: PayloadBody::EvmTx {
                        chain_id,
                        signer: ours.0 .0,
                        tx: r.sign_data.clone(),
                    },
                    hints: DisplayHints::default(),
                })
            }
            StandardRequest::Sol(r) => {
                if r.sign_type.is_some_and(|t| t != 1) {
                    return Err(disallowed(
                        "an off-chain message (only transactions are signed)",
                    ));
                }
                // The message does not name its cluster: the station key it needs does.
                let m = airgap_protocol::summary::solana::parse(&r.sign_data).map_err(|e| {
                    Refusal::Undecodable {
                        index: 0,
                        reason: e.to_string(),
                    }
                })?;
                let cluster = super::solana::cluster_of(0, &m, &self.context())?;
                let ours: [u8; 32] = self
                    .keys
                    .solana(cluster)
                    .and_then(|k| k.public_key.as_slice().try_into().ok())
                    .ok_or(Refusal::NotOurs {
                        index: 0,
                        why: "station Solana key unreadable".into(),
                    })?;
                if r.address.as_deref().is_some_and(|a| a != ours) {
                    return Err(Refusal::NotOurs {
                        index: 0,
                        why: "the request names another address".into(),
                    });
                }
                // A durable nonce, when the message advances one, is found by the decoder.
                let nonce_account = m.instructions.first().and_then(|ix| {
                    let is_advance =
                        m.keys.get(ix.program) == Some(&[0; 32]) && ix.data == 4u32.to_le_bytes();
                    is_advance
                        .then(|| ix.accounts.first().and_then(|&a| m.keys.get(a)).copied())
                        .flatten()
                });
                Ok(Payload {
                    network: airgap_protocol::network::Network::Solana(cluster).to_string(),
                    signer: airgap_protocol::summary::solana::b58(&ours),
                    body: PayloadBody::SolanaMessage {
                        message: r.sign_data.clone(),
                        signers: vec![ours],
                        nonce_account,
                    },
                    hints: DisplayHints::default(),
                })
            }
        }
    }

    /// Reviews a standard request: the same per-payload checks as an envelope's, after
    /// the policy's consent to standard requests. Records that it was seen.
    pub fn review_standard(&mut self, req: &StandardRequest, now: u64) -> Result<Review, Refusal> {
        let cbor = req.cbor();
        let digest: [u8; 32] = Sha256::digest(&cbor).into();
        let request_id = req
            .request_id()
            .unwrap_or_else(|| digest[..16].try_into().unwrap_or([0; 16]));
        self.ledger
            .append(
                now,
                Record::RequestSeen {
                    request_id: airgap_protocol::envelope::format_uuid(&request_id),
                    digest: hex::encode(digest),
                },
            )
            .map_err(|e| Refusal::Ledger(e.to_string()))?;
        let payload = match self.standard_payload(req) {
            Ok(p) => p,
            Err(e) => {
                self.record_refusal(&request_id, &digest, &e, now)?;
                return Err(e);
            }
        };
        let request = SignRequest {
            request_id,
            created: now,
            expires: now,
            coordinator_key: KeyId([0; 8]),
            purpose: Purpose::Withdrawal,
            requester: format!(
                "standard request from {}",
                req.origin().unwrap_or("an unnamed wallet")
            ),
            memo: String::new(),
            payloads: vec![payload],
            approvals: vec![],
            coordinator_signature: [0; 64],
        };
        let mut verdict = Ok(());
        if let Some(previous) = self.ledger.index().requests.get(&hex::encode(digest)) {
            verdict = Err(Refusal::RequestReplayed(previous.clone()));
        }
        let (payloads, checked) = self.review_payloads(&request, 0, now, true);
        let review = Review {
            request,
            digest,
            approvers: vec![],
            payloads,
            verdict: verdict.and(checked),
            standard: true,
        };
        if let Err(e) = &review.verdict {
            self.record_refusal(&request_id, &digest, e, now)?;
        }
        Ok(review)
    }

    /// Signs a reviewed standard request; the answer is recorded like any other.
    pub fn sign_standard<B: SigningBackend + ?Sized>(
        &mut self,
        req: &StandardRequest,
        review: &Review,
        backend: &B,
        now: u64,
    ) -> Result<StandardAnswer, Refusal> {
        let resp = self.sign(review, backend, now)?;
        let Outcome::Signed(sigs) = resp.outcome else {
            return Err(Refusal::Custodians("not signed".into()));
        };
        match (req, sigs.as_slice()) {
            (StandardRequest::Eth(r), [PayloadSignature::Evm(sig)]) => {
                let mut signature = sig[..64].to_vec();
                if matches!(r.data_type, EthDataType::LegacyTransaction) {
                    // EIP-155: v = chain_id * 2 + 35 + parity, big-endian, minimal.
                    let chain = match &review.request.payloads[0].body {
                        PayloadBody::EvmTx { chain_id, .. } => *chain_id,
                        _ => 0,
                    };
                    let v = u128::from(chain) * 2 + 35 + u128::from(sig[64]);
                    let bytes = v.to_be_bytes();
                    let first = bytes.iter().position(|b| *b != 0).unwrap_or(15);
                    signature.extend_from_slice(&bytes[first..]);
                } else {
                    signature.push(sig[64]);
                }
                Ok(StandardAnswer::Eth(EthSignature {
                    request_id: r.request_id,
                    signature,
                    origin: Some("Strongroom signer station".into()),
                }))
            }
            (StandardRequest::Sol(r), [PayloadSignature::Solana(s)]) => {
                let (_, sig) = s
                    .first()
                    .ok_or(Refusal::Custodians("no signature".into()))?;
                Ok(StandardAnswer::Sol(SolSignature {
                    request_id: r.request_id,
                    signature: *sig,
                }))
            }
            _ => Err(Refusal::Custodians("unexpected signature kind".into())),
        }
    }
}
