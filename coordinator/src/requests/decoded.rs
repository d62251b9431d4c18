//! A request's payloads as the station's decoders read them, for people at the
//! coordinator (the console): every chain in one shape, amounts in units with their
//! base units, warnings included. The approver's tool and the station decode the same
//! bytes themselves; this is for display only.

use airgap_protocol::envelope::SignRequest;
use airgap_protocol::summary::{summarize, Amount, SummaryOptions};
use serde::Serialize;

/// One payload, decoded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecodedPayload {
    /// The network, from the bytes where they carry it.
    pub network: String,
    /// Where value goes.
    pub recipients: Vec<DecodedTransfer>,
    /// The fee (the most it can be, for EVM), when known.
    pub fee: Option<DecodedAmount>,
    /// How the fee was computed.
    pub fee_detail: String,
    /// Other facts (nonce, nonce account, compute budget …), as (name, value).
    pub details: Vec<(String, String)>,
    /// What a person must look at.
    pub warnings: Vec<String>,
    /// Why the payload could not be decoded, if so.
    pub error: Option<String>,
}

/// One transfer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecodedTransfer {
    /// The destination in the chain's own format (EIP-55 for EVM).
    pub address: String,
    /// The amount.
    pub amount: DecodedAmount,
}

/// An amount in units, with its base units.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DecodedAmount {
    /// `1.5 ETH`, or base units with the contract when the token is unknown.
    pub display: String,
    /// Base units, decimal.
    pub base_units: String,
}

impl From<&Amount> for DecodedAmount {
    fn from(a: &Amount) -> Self {
        Self {
            display: a.units(),
            base_units: a.base_units.to_string(),
        }
    }
}

/// Every payload of `req`, decoded.
pub fn decoded(req: &SignRequest) -> Vec<DecodedPayload> {
    req.payloads
        .iter()
        .map(|p| match summarize(p, &SummaryOptions::default()) {
            Ok(s) => DecodedPayload {
                network: s.network,
                recipients: s
                    .recipients
                    .iter()
                    .map(|r| DecodedTransfer {
                        address: r.address.clone(),
                        amount: (&r.amount).into(),
                    })
                    .collect(),
                fee: s.fee.as_ref().map(Into::into),
                fee_detail: s.fee_detail,
                details: s.details,
                warnings: s.warnings.iter().map(ToString::to_string).collect(),
                error: None,
            },
            Err(e) => DecodedPayload {
                network: p.network.clone(),
                recipients: vec![],
                fee: None,
                fee_detail: String::new(),
                details: vec![],
                warnings: vec![],
                error: Some(e.to_string()),
            },
        })
        .collect()
}
