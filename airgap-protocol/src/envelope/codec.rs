//! Deterministic CBOR for envelopes: positional arrays, definite lengths, minimal integers.
//!
//! Decoding checks every cap before allocating and finally requires that the value
//! re-encodes to the exact input, which rejects every non-canonical encoding at once.

use minicbor::data::Type;
use minicbor::{Decoder, Encoder};

use super::limits::*;
use super::*;

type Enc = Encoder<Vec<u8>>;

// Writing to a Vec<u8> cannot fail; the helpers below swallow the Infallible error.
fn enc() -> Enc {
    Encoder::new(Vec::new())
}

fn put_bytes(e: &mut Enc, b: &[u8]) {
    let _ = e.bytes(b);
}
fn put_str(e: &mut Enc, s: &str) {
    let _ = e.str(s);
}
fn put_u64(e: &mut Enc, v: u64) {
    let _ = e.u64(v);
}
fn put_array(e: &mut Enc, n: usize) {
    let _ = e.array(n as u64);
}
fn put_null(e: &mut Enc) {
    let _ = e.null();
}

fn put_payload(e: &mut Enc, p: &Payload) {
    put_array(e, 5);
    put_str(e, &p.network);
    put_str(e, &p.signer);
    match &p.body {
        PayloadBody::Psbt { version, bytes } => {
            put_u64(e, 0);
            put_array(e, 2);
            put_u64(e, u64::from(*version));
            put_bytes(e, bytes);
        }
        PayloadBody::EvmTx {
            chain_id,
            signer,
            tx,
        } => {
            put_u64(e, 1);
            put_array(e, 3);
            put_u64(e, *chain_id);
            put_bytes(e, signer);
            put_bytes(e, tx);
        }
        PayloadBody::SolanaMessage {
            message,
            signers,
            nonce_account,
        } => {
            put_u64(e, 2);
            put_array(e, 3);
            put_bytes(e, message);
            put_array(e, signers.len());
            for s in signers {
                put_bytes(e, s);
            }
            match nonce_account {
                Some(n) => put_bytes(e, n),
                None => put_null(e),
            }
        }
    }
    put_array(e, 3);
    match &p.hints.token_symbol {
        Some(s) => put_str(e, s),
        None => put_null(e),
    }
    match p.hints.decimals {
        Some(d) => put_u64(e, u64::from(d)),
        None => put_null(e),
    }
    match &p.hints.contract {
        Some(s) => put_str(e, s),
        None => put_null(e),
    }
}

fn put_core(e: &mut Enc, r: &SignRequest) {
    put_u64(e, u64::from(FORMAT_VERSION));
    put_bytes(e, &r.request_id);
    put_u64(e, r.created);
    put_u64(e, r.expires);
    put_u64(e, u64::from(r.purpose.code()));
    put_str(e, &r.requester);
    put_str(e, &r.memo);
    put_array(e, r.payloads.len());
    for p in &r.payloads {
        put_payload(e, p);
    }
}

/// The coordinator key id and the approvals: outside the digest, because approvers
/// approve the content, whichever pinned coordinator key later signs the envelope.
fn put_approvals(e: &mut Enc, r: &SignRequest) {
    put_bytes(e, &r.coordinator_key.0);
    put_array(e, r.approvals.len());
    for a in &r.approvals {
        put_array(e, 2);
        put_bytes(e, &a.approver.0);
        put_bytes(e, a.signature.as_bytes());
    }
}

/// `[core fields...]`: what the request digest covers.
pub(super) fn encode_request_core(r: &SignRequest) -> Vec<u8> {
    let mut e = enc();
    put_array(&mut e, 8);
    put_core(&mut e, r);
    e.into_writer()
}

/// `[core..., coordinator key, approvals]`: what the coordinator signs.
pub(super) fn encode_request_unsigned(r: &SignRequest) -> Vec<u8> {
    let mut e = enc();
    put_array(&mut e, 10);
    put_core(&mut e, r);
    put_approvals(&mut e, r);
    e.into_writer()
}

pub(super) fn encode_request(r: &SignRequest) -> Vec<u8> {
    let mut e = enc();
    put_array(&mut e, 11);
    put_core(&mut e, r);
    put_approvals(&mut e, r);
    put_bytes(&mut e, &r.coordinator_signature);
    e.into_writer()
}

fn put_response_body(e: &mut Enc, r: &SignResponse) {
    put_u64(e, u64::from(FORMAT_VERSION));
    put_bytes(e, &r.request_digest);
    put_bytes(e, &r.request_id);
    put_bytes(e, &r.station.0);
    put_u64(e, r.created);
    match &r.outcome {
        Outcome::Signed(sigs) => {
            put_array(e, 2);
            put_u64(e, 0);
            put_array(e, sigs.len());
            for s in sigs {
                match s {
                    PayloadSignature::Psbt(b) => {
                        put_array(e, 2);
                        put_u64(e, 0);
                        put_bytes(e, b);
                    }
                    PayloadSignature::Evm(sig) => {
                        put_array(e, 2);
                        put_u64(e, 1);
                        put_bytes(e, sig);
                    }
                    PayloadSignature::Solana(list) => {
                        put_array(e, 2);
                        put_u64(e, 2);
                        put_array(e, list.len());
                        for (k, s) in list {
                            put_array(e, 2);
                            put_bytes(e, k);
                            put_bytes(e, s);
                        }
                    }
                }
            }
        }
        Outcome::Refused { code, reason } => {
            put_array(e, 3);
            put_u64(e, 1);
            put_u64(e, u64::from(*code));
            put_str(e, reason);
        }
    }
    put_array(e, r.ledger_entries.len());
    for l in &r.ledger_entries {
        put_bytes(e, l);
    }
}

pub(super) fn encode_response_unsigned(r: &SignResponse) -> Vec<u8> {
    let mut e = enc();
    put_array(&mut e, 7);
    put_response_body(&mut e, r);
    e.into_writer()
}

pub(super) fn encode_response(r: &SignResponse) -> Vec<u8> {
    let mut e = enc();
    put_array(&mut e, 8);
    put_response_body(&mut e, r);
    put_bytes(&mut e, &r.station_signature);
    e.into_writer()
}

// ---- decoding ----

struct D<'b>(Decoder<'b>);

fn bad(e: impl std::fmt::Display) -> EnvelopeError {
    EnvelopeError::Malformed(e.to_string())
}

impl<'b> D<'b> {
    fn array(&mut self, want: u64, what: &'static str) -> Result<(), EnvelopeError> {
        match self.0.array().map_err(bad)? {
            Some(n) if n == want => Ok(()),
            _ => Err(EnvelopeError::Malformed(format!(
                "{what}: expected an array of {want}"
            ))),
        }
    }
    fn array_len(&mut self, max: usize, what: &'static str) -> Result<usize, EnvelopeError> {
        let n = self
            .0
            .array()
            .map_err(bad)?
            .ok_or_else(|| bad("indefinite array"))?;
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        if n > max {
            return Err(EnvelopeError::TooLarge {
                what,
                found: n,
                limit: max,
            });
        }
        Ok(n)
    }
    fn u64(&mut self) -> Result<u64, EnvelopeError> {
        self.0.u64().map_err(bad)
    }
    fn u8(&mut self, what: &'static str) -> Result<u8, EnvelopeError> {
        let v = self.u64()?;
        u8::try_from(v).map_err(|_| EnvelopeError::UnknownCode { what, code: v })
    }
    fn bytes(&mut self, max: usize, what: &'static str) -> Result<Vec<u8>, EnvelopeError> {
        let b = self.0.bytes().map_err(bad)?;
        if b.len() > max {
            return Err(EnvelopeError::TooLarge {
                what,
                found: b.len(),
                limit: max,
            });
        }
        Ok(b.to_vec())
    }
    fn fixed<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], EnvelopeError> {
        let b = self.0.bytes().map_err(bad)?;
        b.try_into().map_err(|_| {
            EnvelopeError::Malformed(format!("{what}: expected {N} bytes, found {}", b.len()))
        })
    }
    fn str(&mut self, max: usize, what: &'static str) -> Result<String, EnvelopeError> {
        let s = self.0.str().map_err(bad)?;
        if s.chars().count() > max {
            return Err(EnvelopeError::TooLarge {
                what,
                found: s.chars().count(),
                limit: max,
            });
        }
        Ok(s.to_string())
    }
    fn is_null(&mut self) -> Result<bool, EnvelopeError> {
        if self.0.datatype().map_err(bad)? == Type::Null {
            self.0.null().map_err(bad)?;
            return Ok(true);
        }
        Ok(false)
    }
    fn opt_str(&mut self, what: &'static str) -> Result<Option<String>, EnvelopeError> {
        if self.is_null()? {
            return Ok(None);
        }
        self.str(MAX_SHORT, what).map(Some)
    }
    fn version(&mut self) -> Result<(), EnvelopeError> {
        let v = self.u8("version")?;
        if v != FORMAT_VERSION {
            return Err(EnvelopeError::Version {
                expected: FORMAT_VERSION,
                found: v,
            });
        }
        Ok(())
    }
}

fn get_payload(d: &mut D<'_>) -> Result<Payload, EnvelopeError> {
    d.array(5, "payload")?;
    let network = d.str(MAX_SHORT, "network")?;
    let signer = d.str(MAX_SHORT, "signer")?;
    let kind = d.u64()?;
    let body = match kind {
        0 => {
            d.array(2, "psbt")?;
            let version = d.u8("psbt version")?;
            if version != 0 && version != 2 {
                return Err(EnvelopeError::UnknownCode {
                    what: "psbt version",
                    code: version.into(),
                });
            }
            PayloadBody::Psbt {
                version,
                bytes: d.bytes(MAX_PAYLOAD_BYTES, "psbt bytes")?,
            }
        }
        1 => {
            d.array(3, "evm tx")?;
            PayloadBody::EvmTx {
                chain_id: d.u64()?,
                signer: d.fixed("evm signer")?,
                tx: d.bytes(MAX_PAYLOAD_BYTES, "evm tx bytes")?,
            }
        }
        2 => {
            d.array(3, "solana message")?;
            let message = d.bytes(MAX_PAYLOAD_BYTES, "solana message bytes")?;
            let n = d.array_len(MAX_SIGNERS, "solana signers")?;
            let signers = (0..n)
                .map(|_| d.fixed("solana signer"))
                .collect::<Result<_, _>>()?;
            let nonce_account = if d.is_null()? {
                None
            } else {
                Some(d.fixed("nonce account")?)
            };
            PayloadBody::SolanaMessage {
                message,
                signers,
                nonce_account,
            }
        }
        code => {
            return Err(EnvelopeError::UnknownCode {
                what: "payload kind",
                code,
            })
        }
    };
    d.array(3, "hints")?;
    let token_symbol = d.opt_str("token symbol")?;
    let decimals = if d.is_null()? {
        None
    } else {
        Some(d.u8("decimals")?)
    };
    let contract = d.opt_str("contract")?;
    Ok(Payload {
        network,
        signer,
        body,
        hints: DisplayHints {
            token_symbol,
            decimals,
            contract,
        },
    })
}

fn canonical<T>(input: &[u8], value: T, encode: fn(&T) -> Vec<u8>) -> Result<T, EnvelopeError> {
    if encode(&value) != input {
        return Err(EnvelopeError::NonCanonical);
    }
    Ok(value)
}

fn size_check(bytes: &[u8]) -> Result<(), EnvelopeError> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(EnvelopeError::TooLarge {
            what: "envelope",
            found: bytes.len(),
            limit: MAX_ENVELOPE_BYTES,
        });
    }
    Ok(())
}

pub(super) fn decode_request(bytes: &[u8]) -> Result<SignRequest, EnvelopeError> {
    size_check(bytes)?;
    let mut d = D(Decoder::new(bytes));
    d.array(11, "request")?;
    d.version()?;
    let request_id = d.fixed("request id")?;
    let created = d.u64()?;
    let expires = d.u64()?;
    let code = d.u8("purpose")?;
    let purpose = Purpose::from_code(code).ok_or(EnvelopeError::UnknownCode {
        what: "purpose",
        code: code.into(),
    })?;
    let requester = d.str(MAX_REQUESTER, "requester")?;
    let memo = d.str(MAX_MEMO, "memo")?;
    let n = d.array_len(MAX_PAYLOADS, "payloads")?;
    if n == 0 {
        return Err(EnvelopeError::NoPayload);
    }
    let payloads = (0..n)
        .map(|_| get_payload(&mut d))
        .collect::<Result<_, _>>()?;
    let coordinator_key = KeyId(d.fixed("coordinator key id")?);
    let n = d.array_len(MAX_APPROVALS, "approvals")?;
    let approvals = (0..n)
        .map(|_| {
            d.array(2, "approval")?;
            let approver = KeyId(d.fixed("approver key id")?);
            let signature = d.bytes(65, "approval signature")?;
            Ok(Approval {
                approver,
                signature: crate::approval::ApprovalSignature::from_bytes(&signature)
                    .map_err(|e| EnvelopeError::Malformed(e.to_string()))?,
            })
        })
        .collect::<Result<_, EnvelopeError>>()?;
    let coordinator_signature = d.fixed("coordinator signature")?;
    if d.0.position() != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    let r = SignRequest {
        request_id,
        created,
        expires,
        coordinator_key,
        purpose,
        requester,
        memo,
        payloads,
        approvals,
        coordinator_signature,
    };
    canonical(bytes, r, encode_request)
}

pub(super) fn decode_response(bytes: &[u8]) -> Result<SignResponse, EnvelopeError> {
    size_check(bytes)?;
    let mut d = D(Decoder::new(bytes));
    d.array(8, "response")?;
    d.version()?;
    let request_digest = d.fixed("request digest")?;
    let request_id = d.fixed("request id")?;
    let station = KeyId(d.fixed("station key id")?);
    let created = d.u64()?;
    let n = d.array_len(3, "outcome")?;
    let outcome = match (n, d.u64()?) {
        (2, 0) => {
            let count = d.array_len(MAX_PAYLOADS, "signatures")?;
            let mut sigs = Vec::with_capacity(count);
            for _ in 0..count {
                d.array(2, "payload signature")?;
                sigs.push(match d.u64()? {
                    0 => PayloadSignature::Psbt(d.bytes(MAX_PAYLOAD_BYTES, "signed psbt")?),
                    1 => PayloadSignature::Evm(d.fixed("evm signature")?),
                    2 => {
                        let k = d.array_len(MAX_SIGNERS, "solana signatures")?;
                        let list = (0..k)
                            .map(|_| {
                                d.array(2, "solana signature")?;
                                Ok((d.fixed("solana signer")?, d.fixed("ed25519 signature")?))
                            })
                            .collect::<Result<_, EnvelopeError>>()?;
                        PayloadSignature::Solana(list)
                    }
                    code => {
                        return Err(EnvelopeError::UnknownCode {
                            what: "signature kind",
                            code,
                        })
                    }
                });
            }
            Outcome::Signed(sigs)
        }
        (3, 1) => {
            let code = d.u64()?;
            let code = u16::try_from(code).map_err(|_| EnvelopeError::UnknownCode {
                what: "refusal",
                code,
            })?;
            Outcome::Refused {
                code,
                reason: d.str(MAX_MEMO, "refusal reason")?,
            }
        }
        (_, code) => {
            return Err(EnvelopeError::UnknownCode {
                what: "outcome",
                code,
            })
        }
    };
    let n = d.array_len(MAX_LEDGER_ENTRIES, "ledger entries")?;
    let ledger_entries = (0..n)
        .map(|_| d.bytes(64 * 1024, "ledger entry"))
        .collect::<Result<_, _>>()?;
    let station_signature = d.fixed("station signature")?;
    if d.0.position() != bytes.len() {
        return Err(bad("trailing bytes"));
    }
    let r = SignResponse {
        request_digest,
        request_id,
        station,
        created,
        outcome,
        ledger_entries,
        station_signature,
    };
    canonical(bytes, r, encode_response)
}
