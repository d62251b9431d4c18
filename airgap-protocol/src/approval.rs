//! Who may approve a request, and how an approval is checked. Two kinds:
//!
//! - an Ed25519 signature over `strongroom/approval/v1 ‖ digest`, made by the approver's
//!   tool after it decoded and showed every payload;
//! - an EIP-712 typed message signed by the approver's own Ethereum wallet (a hardware
//!   wallet shows its fields on its own screen): what the request pays — network,
//!   destination and amount of every transfer, every fee — and the request digest.
//!
//! The typed message is never taken from the coordinator: whoever checks an approval
//! (the coordinator, the station) derives it from the request's own bytes, so a
//! signature over a message that showed anything else does not verify.

use alloy_primitives::keccak256;
use ed25519_dalek::{Signature, VerifyingKey};
use sha2::{Digest, Sha256};

use crate::envelope::{format_uuid, KeyId, SignRequest};
use crate::summary::{summarize, SummaryOptions, Warning};

/// The EIP-712 domain's name.
pub const DOMAIN_NAME: &str = "Strongroom approval";
/// The EIP-712 domain's version.
pub const DOMAIN_VERSION: &str = "1";

const DOMAIN_TYPE: &str = "EIP712Domain(string name,string version)";
const APPROVAL_TYPE: &str = "Approval(string request,string purpose,string expires,Transfer[] transfers,string[] fees,bytes32 digest)Transfer(string network,string to,string amount)";
const TRANSFER_TYPE: &str = "Transfer(string network,string to,string amount)";

/// Why an approval, or an approver's key, is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApprovalError {
    /// Not a key or address in a form this accepts.
    #[error("approver key: {0}")]
    Key(String),
    /// A signature of the wrong length.
    #[error("an approval signature is 64 bytes (Ed25519) or 65 (EIP-712), not {0}")]
    SignatureLength(usize),
    /// The signature's kind is not the approver's.
    #[error("a {signature} signature from an approver registered with {key}")]
    WrongKind {
        /// The signature's kind.
        signature: &'static str,
        /// The key's kind.
        key: &'static str,
    },
    /// The request has something a wallet's screen cannot show.
    #[error("this request cannot be approved from a wallet: {0}")]
    NotShowable(String),
    /// The signature does not verify.
    #[error("the signature does not verify over this request")]
    Invalid,
}

/// An approver's public key: Ed25519 (the approver's tool) or an Ethereum address (the
/// approver's own wallet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApproverKey {
    /// Signs the request digest.
    Ed25519(VerifyingKey),
    /// Signs the typed approval (EIP-712) with the key of this address.
    Ethereum([u8; 20]),
}

impl From<VerifyingKey> for ApproverKey {
    fn from(k: VerifyingKey) -> Self {
        Self::Ed25519(k)
    }
}

impl ApproverKey {
    /// `64 hex digits` (an Ed25519 public key, weak keys refused) or `0x` and 40 hex
    /// digits (an Ethereum address; mixed case must be a valid EIP-55 checksum).
    pub fn parse(text: &str) -> Result<Self, ApprovalError> {
        let t = text.trim();
        if let Some(hex40) = t.strip_prefix("0x") {
            let bytes: [u8; 20] = hex::decode(hex40)
                .ok()
                .and_then(|b| b.try_into().ok())
                .ok_or_else(|| ApprovalError::Key("an address is 0x and 40 hex digits".into()))?;
            let mixed = hex40.chars().any(|c| c.is_ascii_lowercase())
                && hex40.chars().any(|c| c.is_ascii_uppercase());
            let address = alloy_primitives::Address::from(bytes);
            if mixed && address.to_checksum(None) != t {
                return Err(ApprovalError::Key(
                    "the address's EIP-55 checksum is wrong (a typo?)".into(),
                ));
            }
            if bytes == [0; 20] {
                return Err(ApprovalError::Key("the zero address".into()));
            }
            return Ok(Self::Ethereum(bytes));
        }
        let bytes: [u8; 32] = hex::decode(t)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| {
                ApprovalError::Key(
                    "an Ed25519 key is 32 bytes of hex; an Ethereum address starts with 0x".into(),
                )
            })?;
        let key = VerifyingKey::from_bytes(&bytes)
            .map_err(|_| ApprovalError::Key("not an Ed25519 public key".into()))?;
        if key.is_weak() {
            return Err(ApprovalError::Key("a weak (small-order) key".into()));
        }
        Ok(Self::Ed25519(key))
    }

    /// The key id approvals name.
    pub fn id(&self) -> KeyId {
        match self {
            Self::Ed25519(k) => KeyId::of(k),
            Self::Ethereum(a) => {
                let h = Sha256::new()
                    .chain_update(b"strongroom/approver/ethereum")
                    .chain_update(a)
                    .finalize();
                let mut id = [0u8; 8];
                id.copy_from_slice(&h[..8]);
                KeyId(id)
            }
        }
    }

    /// The key as [`ApproverKey::parse`] reads it (addresses in EIP-55).
    pub fn to_text(&self) -> String {
        match self {
            Self::Ed25519(k) => hex::encode(k.as_bytes()),
            Self::Ethereum(a) => alloy_primitives::Address::from(*a).to_checksum(None),
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "an Ed25519 key",
            Self::Ethereum(_) => "an Ethereum address",
        }
    }
}

/// An approval's signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ApprovalSignature {
    /// Ed25519 over `strongroom/approval/v1 ‖ digest`.
    Ed25519([u8; 64]),
    /// `r ‖ s ‖ v` (v 0, 1, 27 or 28) over the EIP-712 hash of [`TypedApproval`].
    Eip712([u8; 65]),
}

impl ApprovalSignature {
    /// From its bytes: 64 are Ed25519, 65 EIP-712.
    pub fn from_bytes(b: &[u8]) -> Result<Self, ApprovalError> {
        if let Ok(s) = <[u8; 64]>::try_from(b) {
            return Ok(Self::Ed25519(s));
        }
        <[u8; 65]>::try_from(b)
            .map(Self::Eip712)
            .map_err(|_| ApprovalError::SignatureLength(b.len()))
    }

    /// Its bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Ed25519(s) => s,
            Self::Eip712(s) => s,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::Ed25519(_) => "Ed25519",
            Self::Eip712(_) => "EIP-712",
        }
    }
}

/// One transfer as the wallet shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// The network, as the payload's own bytes give it (a Solana message names none:
    /// its label, which the station checks against its policy).
    pub network: String,
    /// The destination, in the chain's own format.
    pub to: String,
    /// The amount in units with its symbol (`0.25 ETH`), or base units of a token
    /// contract.
    pub amount: String,
}

/// The typed approval of a request: what it pays and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypedApproval {
    /// The request id (UUID text).
    pub request: String,
    /// The request digest: it binds everything else the request holds.
    pub digest: [u8; 32],
    /// Why: `Withdrawal`, `Refill`, `Sweep`, `Consolidation` or `KeyRegistration`.
    /// It sets how many approvals the station needs, so the approver sees it.
    pub purpose: String,
    /// Until when the station may sign it (UTC): a request held back for later is
    /// seen to be valid for long.
    pub expires: String,
    /// Every transfer of its payload, change included, in order.
    pub transfers: Vec<Transfer>,
    /// The payload's fee (`0.00002 BTC on regtest`); a list, as the EIP-712 type has it.
    pub fees: Vec<String>,
}

impl TypedApproval {
    /// Derived from the request's own bytes (the summaries custodians see, without a
    /// token list, so every party derives the same text). Refused when a payload
    /// carries a warning the wallet's screen would not make plain (anything but a high
    /// fee, which is shown, or a token without a symbol, shown in base units of its
    /// contract) or pays nothing: what matters would not be on the device's screen.
    pub fn of(request: &SignRequest) -> Result<Self, ApprovalError> {
        // Payloads flattened into one list of transfers would hide which pays what.
        if request.payloads.len() != 1 {
            return Err(ApprovalError::NotShowable(format!(
                "{} payloads (a wallet approval covers a request of one)",
                request.payloads.len()
            )));
        }
        let mut transfers = Vec::new();
        let mut fees = Vec::new();
        for (n, p) in request.payloads.iter().enumerate() {
            let s = summarize(p, &SummaryOptions::default())
                .map_err(|e| ApprovalError::NotShowable(format!("payload {}: {e}", n + 1)))?;
            // What the wallet shows covers these: the fee is shown in full, and a
            // token without a symbol is shown in base units of its contract.
            let shown = |w: &&Warning| {
                matches!(
                    w,
                    Warning::UnknownToken { .. }
                        | Warning::HighFee { .. }
                        | Warning::FeeWithoutValue { .. }
                )
            };
            if let Some(w) = s.warnings.iter().find(|w| !shown(w)) {
                return Err(ApprovalError::NotShowable(format!(
                    "payload {}: {w}",
                    n + 1
                )));
            }
            if s.recipients.is_empty() {
                return Err(ApprovalError::NotShowable(format!(
                    "payload {} pays no one a wallet could show",
                    n + 1
                )));
            }
            for r in &s.recipients {
                transfers.push(Transfer {
                    network: s.network.clone(),
                    to: r.address.clone(),
                    amount: r.amount.units(),
                });
            }
            fees.push(match &s.fee {
                Some(f) => format!("{} on {}", f.units(), s.network),
                None => format!("none stated on {}", s.network),
            });
        }
        Ok(Self {
            request: format_uuid(&request.request_id),
            purpose: format!("{:?}", request.purpose),
            expires: crate::envelope::format_utc(request.expires),
            transfers,
            fees,
            digest: request.digest(),
        })
    }

    /// The EIP-712 hash a wallet signs: `keccak256(0x1901 ‖ domain ‖ struct)`.
    pub fn hash(&self) -> [u8; 32] {
        let s = |t: &str| keccak256(t.as_bytes());
        let domain = keccak256(
            [
                s(DOMAIN_TYPE).as_slice(),
                s(DOMAIN_NAME).as_slice(),
                s(DOMAIN_VERSION).as_slice(),
            ]
            .concat(),
        );
        let transfers: Vec<u8> = self
            .transfers
            .iter()
            .flat_map(|t| {
                keccak256(
                    [
                        s(TRANSFER_TYPE).as_slice(),
                        s(&t.network).as_slice(),
                        s(&t.to).as_slice(),
                        s(&t.amount).as_slice(),
                    ]
                    .concat(),
                )
                .0
            })
            .collect();
        let fees: Vec<u8> = self.fees.iter().flat_map(|f| s(f).0).collect();
        let message = keccak256(
            [
                s(APPROVAL_TYPE).as_slice(),
                s(&self.request).as_slice(),
                s(&self.purpose).as_slice(),
                s(&self.expires).as_slice(),
                keccak256(&transfers).as_slice(),
                keccak256(&fees).as_slice(),
                &self.digest,
            ]
            .concat(),
        );
        keccak256([&[0x19, 0x01][..], domain.as_slice(), message.as_slice()].concat()).0
    }

    /// The typed data as `eth_signTypedData_v4` and hardware wallets take it (JSON).
    pub fn to_json(&self) -> String {
        let field = |name: &str, ty: &str| serde_json::json!({"name": name, "type": ty});
        serde_json::json!({
            "types": {
                "EIP712Domain": [field("name", "string"), field("version", "string")],
                "Approval": [field("request", "string"), field("purpose", "string"),
                    field("expires", "string"), field("transfers", "Transfer[]"),
                    field("fees", "string[]"), field("digest", "bytes32")],
                "Transfer": [field("network", "string"), field("to", "string"), field("amount", "string")],
            },
            "primaryType": "Approval",
            "domain": {"name": DOMAIN_NAME, "version": DOMAIN_VERSION},
            "message": {
                "request": self.request,
                "purpose": self.purpose,
                "expires": self.expires,
                "transfers": self.transfers.iter()
                    .map(|t| serde_json::json!({"network": t.network, "to": t.to, "amount": t.amount}))
                    .collect::<Vec<_>>(),
                "fees": self.fees,
                "digest": format!("0x{}", hex::encode(self.digest)),
            },
        })
        .to_string()
    }
}

/// The address whose key made `sig` over `hash`.
pub fn recover(hash: &[u8; 32], sig: &[u8; 65]) -> Result<[u8; 20], ApprovalError> {
    use k256::ecdsa::{RecoveryId, Signature as EcdsaSignature, VerifyingKey as EcdsaKey};
    let v = match sig[64] {
        0 | 27 => 0,
        1 | 28 => 1,
        _ => return Err(ApprovalError::Invalid),
    };
    let s = EcdsaSignature::from_slice(&sig[..64]).map_err(|_| ApprovalError::Invalid)?;
    let id = RecoveryId::from_byte(v).ok_or(ApprovalError::Invalid)?;
    let key = EcdsaKey::recover_from_prehash(hash, &s, id).map_err(|_| ApprovalError::Invalid)?;
    let point = key.to_encoded_point(false);
    let h = keccak256(&point.as_bytes()[1..]);
    let mut a = [0u8; 20];
    a.copy_from_slice(&h[12..]);
    Ok(a)
}

/// Checks one approval of `request` by the approver holding `key`.
pub fn check(
    key: &ApproverKey,
    request: &SignRequest,
    sig: &ApprovalSignature,
) -> Result<(), ApprovalError> {
    match (key, sig) {
        (ApproverKey::Ed25519(k), ApprovalSignature::Ed25519(s)) => k
            .verify_strict(
                &SignRequest::approval_message(&request.digest()),
                &Signature::from_bytes(s),
            )
            .map_err(|_| ApprovalError::Invalid),
        (ApproverKey::Ethereum(address), ApprovalSignature::Eip712(s)) => {
            let typed = TypedApproval::of(request)?;
            if recover(&typed.hash(), s)? == *address {
                Ok(())
            } else {
                Err(ApprovalError::Invalid)
            }
        }
        _ => Err(ApprovalError::WrongKind {
            signature: sig.kind(),
            key: key.kind(),
        }),
    }
}
