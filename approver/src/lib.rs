//! The approver's side of a transfer request. The coordinator may be compromised, so
//! nothing it says is shown as fact: the tool decodes the request the station will
//! receive, computes the digest it signs itself, and describes every payload from its
//! bytes with the same decoders the station uses (`airgap-protocol`). The coordinator's
//! own digest and request id are only checked against it.

use airgap_protocol::envelope::{format_utc, format_uuid, Chain, Purpose, SignRequest};
use airgap_protocol::summary::{summarize, SummaryOptions};
use anyhow::{bail, Context, Result};
use ed25519_dalek::Signer;
use serde_json::Value;

pub mod cli;
pub mod key;

/// A request as the approver read it: decoded here, its digest computed here.
#[derive(Debug, Clone)]
pub struct Reviewed {
    /// The request the station will receive.
    pub request: SignRequest,
    /// What the approval signs.
    pub digest: [u8; 32],
}

impl Reviewed {
    /// Reads `GET /v1/requests/{id}/envelope`'s answer for request `id`. Refuses a request
    /// with another id, or a digest the coordinator states differently from the one
    /// computed here.
    pub fn of_view(view: &Value, id: &str) -> Result<Self> {
        let hex_cbor = view["request"]
            .as_str()
            .context("the coordinator's answer carries no request")?;
        let r = Self::of_cbor(&hex::decode(hex_cbor.trim()).context("request: not hex")?)?;
        let wanted = hex::decode(id.replace('-', "")).unwrap_or_default();
        if wanted != r.request.request_id {
            bail!(
                "the coordinator answered with request {}, not {id}",
                format_uuid(&r.request.request_id)
            );
        }
        if view["digest"].as_str() != Some(hex::encode(r.digest).as_str()) {
            bail!("the coordinator's digest is not the request's: refusing to sign");
        }
        Ok(r)
    }

    /// Reads a request from its CBOR (a file or QR text carried to the approver).
    pub fn of_cbor(cbor: &[u8]) -> Result<Self> {
        let request = SignRequest::from_cbor(cbor).context("request does not decode")?;
        let digest = request.digest();
        Ok(Self { request, digest })
    }

    /// The request in full, as the approver reads it before deciding: every payload
    /// described from its bytes (destinations in full, amounts in units with base
    /// units, fees, warnings). `now` is Unix seconds.
    pub fn render(&self, opts: &SummaryOptions, now: u64) -> Result<String> {
        let r = &self.request;
        if r.created > now + MAX_CLOCK_SKEW {
            bail!(
                "the request is dated {} in the future: refusing a post-dated request",
                format_utc(r.created)
            );
        }
        let mut out = vec![
            format!("Request {}", format_uuid(&r.request_id)),
            format!("  purpose:   {}", purpose_text(r.purpose)),
            format!("  requester: {}", one_line(&r.requester)),
            format!("  created:   {}", format_utc(r.created)),
        ];
        if !r.memo.is_empty() {
            let memo = one_line(&r.memo);
            out.push(format!("  memo:      {memo} (written by the requester)"));
        }
        out.push(match r.expires.checked_sub(now) {
            Some(left) if left > 0 => format!("  expires:   in {} min", left.div_ceil(60)),
            _ => bail!("the request expired {} s ago", now - r.expires),
        });
        for (n, p) in r.payloads.iter().enumerate() {
            if airgap_protocol::network::Network::parse(&p.network).is_err() {
                bail!(
                    "payload {}: the network label {} names no network",
                    n + 1,
                    visible(&format!("{:?}", p.network))
                );
            }
            let s = summarize(p, opts)
                .map_err(|e| anyhow::anyhow!("payload {}: {}", n + 1, visible(&e.to_string())))?;
            let label = match s.chain {
                Chain::Solana => " (the coordinator's label: a Solana message names no network)",
                _ => "",
            };
            let network = one_line(&s.network);
            out.push(format!(
                "Payload {} of {} on {network}{label}",
                n + 1,
                r.payloads.len()
            ));
            out.push(format!("  to be signed by: {}", one_line(&p.signer)));
            out.extend(signing_facts(p));
            for src in &s.sources {
                let amount = src
                    .amount
                    .as_ref()
                    .map_or("amount unknown".into(), |a| a.display());
                let from = match &src.address {
                    Some(a) => format!("{} ({a})", src.reference),
                    None => src.reference.clone(),
                };
                out.push(format!("  from {}: {amount}", one_line(&from)));
            }
            for to in &s.recipients {
                out.push(format!("  PAYS {} to {}", to.amount.display(), to.address));
            }
            if let Some(fee) = &s.fee {
                out.push(format!(
                    "  fee at most {} ({})",
                    fee.display(),
                    s.fee_detail
                ));
            }
            for (k, v) in &s.details {
                out.push(format!("  {}: {}", one_line(k), one_line(v)));
            }
            for w in &s.warnings {
                out.push(format!("  WARNING: {}", one_line(&w.to_string())));
            }
        }
        out.push(format!("Digest {}", hex::encode(self.digest)));
        // Text from the request (memo, requester, decoded fields) cannot add lines,
        // move the cursor or reorder what is shown.
        Ok(out
            .iter()
            .map(|l| visible(l))
            .collect::<Vec<_>>()
            .join("\n"))
    }

    /// The approval of this request with `key`: its signature, hex (the body of `POST
    /// /v1/requests/{id}/approvals`).
    pub fn approve(&self, key: &ed25519_dalek::SigningKey) -> String {
        hex::encode(
            key.sign(&SignRequest::approval_message(&self.digest))
                .to_bytes(),
        )
    }
}

/// What else the digest covers about a payload: who must sign, the durable nonce
/// account, and the coordinator's display hints (shown as such: nothing decided here
/// rests on them).
fn signing_facts(p: &airgap_protocol::envelope::Payload) -> Vec<String> {
    use airgap_protocol::envelope::PayloadBody;
    let b58 = |k: &[u8; 32]| bs58::encode(k).into_string();
    let mut out = Vec::new();
    match &p.body {
        PayloadBody::EvmTx { signer, .. } => {
            out.push(format!("  signing address: 0x{}", hex::encode(signer)));
        }
        PayloadBody::SolanaMessage {
            signers,
            nonce_account,
            ..
        } => {
            let all: Vec<String> = signers.iter().map(b58).collect();
            out.push(format!("  signers: {}", all.join(", ")));
            if let Some(n) = nonce_account {
                out.push(format!("  durable nonce account: {}", b58(n)));
            }
        }
        PayloadBody::Psbt { .. } => {}
    }
    let h = &p.hints;
    if h.token_symbol.is_some() || h.decimals.is_some() || h.contract.is_some() {
        out.push(format!(
            "  the coordinator's display hints (not used): symbol {:?}, decimals {:?}, contract {:?}",
            h.token_symbol, h.decimals, h.contract
        ));
    }
    out
}

/// How far ahead of this machine's clock a request may be dated (seconds).
const MAX_CLOCK_SKEW: u64 = 300;

/// Text from the request on one line: runs of whitespace become one space, so padding
/// cannot wrap into a line of its own on a narrow terminal.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `line` with every control, bidirectional, invisible and separator character shown as
/// an escape (`\u{202e}`), so that what is shown is what the bytes say.
pub fn visible(line: &str) -> String {
    line.chars()
        .map(|c| {
            let hidden = c.is_control()
                || matches!(
                    c,
                    '\u{ad}'
                        | '\u{61c}'
                        | '\u{180e}'
                        | '\u{200b}'..='\u{200f}'
                        | '\u{2028}'..='\u{202e}'
                        | '\u{2060}'..='\u{206f}'
                        | '\u{feff}'
                        | '\u{fff9}'..='\u{fffb}'
                        | '\u{e0000}'..='\u{e007f}'
                );
            if hidden {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn purpose_text(p: Purpose) -> &'static str {
    match p {
        Purpose::Withdrawal => "withdrawal",
        Purpose::Refill => "refill of the warm tier",
        Purpose::Sweep => "sweep of deposit addresses",
        Purpose::Consolidation => "consolidation",
        Purpose::KeyRegistration => "key registration",
    }
}
