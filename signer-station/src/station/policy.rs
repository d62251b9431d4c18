//! Station policy: what the station signs, whatever the coordinator asks. The policy
//! file is signed by the station identity key, which only a custodian quorum can use.

use airgap_protocol::network::Network;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A limit for one asset on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssetLimit {
    /// Network (`regtest`, `evm:1`, `solana:devnet` ...).
    pub network: String,
    /// `native`, or the token contract / mint as the chain writes it.
    pub asset: String,
    /// Most per transaction, base units (decimal string: wei do not fit 64 bits).
    pub per_transaction: String,
    /// Most per rolling 24 hours, base units.
    pub per_24h: String,
}

/// An allow-listed destination.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Destination {
    /// Network.
    pub network: String,
    /// Address as the chain writes it (EVM compared case-insensitively).
    pub address: String,
}

/// A fee limit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeeLimit {
    /// Network.
    pub network: String,
    /// Most fee in base units (EVM: the maximum fee).
    pub max: String,
    /// Most fee as a fraction of the native amount sent, per mille (ignored when nothing
    /// native is sent).
    pub max_per_mille: u64,
}

impl FeeLimit {
    /// A fee limit on `network`: at most `max` base units, and at most `max_per_mille`
    /// of the native amount sent.
    pub fn new(network: &str, max: impl ToString, max_per_mille: u64) -> Self {
        Self {
            network: network.into(),
            max: max.to_string(),
            max_per_mille,
        }
    }
}

impl AssetLimit {
    /// At most `per_transaction` and `per_24h` base units of `asset` on `network`.
    pub fn new(
        network: &str,
        asset: impl ToString,
        per_transaction: impl ToString,
        per_24h: impl ToString,
    ) -> Self {
        Self {
            network: network.into(),
            asset: asset.to_string(),
            per_transaction: per_transaction.to_string(),
            per_24h: per_24h.to_string(),
        }
    }
}

impl Destination {
    /// `address` on `network`.
    pub fn new(network: &str, address: impl ToString) -> Self {
        Self {
            network: network.into(),
            address: address.to_string(),
        }
    }
}

/// A Bitcoin vault registered with the station: a descriptor whose inputs it signs and
/// whose change it recognises (custodians compare it, and its first address, with the
/// coordinator's before signing the policy).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RegisteredVault {
    /// Name shown to custodians.
    pub name: String,
    /// Bitcoin network.
    pub network: String,
    /// Output descriptor (`wpkh(…)` or `wsh(…)`; ranged vaults as `…/<0;1>/*`).
    pub descriptor: String,
    /// A deposit account of this station (`wpkh(account-xpub/<0;1>/*)` from its HSM's
    /// deposit seed): its coins are signed only as sweeps into the station's vaults.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub deposit: bool,
}

fn default_sweep_fee_per_mille() -> u64 {
    50
}

fn is_default_sweep_fee_per_mille(n: &u64) -> bool {
    *n == default_sweep_fee_per_mille()
}

fn default_change_index_limit() -> u32 {
    1_000
}

fn is_default_change_index_limit(n: &u32) -> bool {
    *n == default_change_index_limit()
}

/// The station policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Networks the station signs for.
    pub networks: Vec<String>,
    /// Limits; an asset without one is refused.
    pub limits: Vec<AssetLimit>,
    /// Allow-listed destinations.
    pub allow_list: Vec<Destination>,
    /// Approvals that permit a send off the allow-list; `None` refuses every such send.
    pub off_list_approvals: Option<usize>,
    /// Approvals required, for every purpose without its own entry.
    pub approvals: usize,
    /// Approvals per purpose (`withdrawal`, `refill`, `sweep`, `consolidation`, `key-registration`).
    pub approvals_per_purpose: Vec<(String, usize)>,
    /// Fee limits.
    pub fees: Vec<FeeLimit>,
    /// Longest validity (expires − created) accepted, seconds.
    pub max_validity_secs: u64,
    /// Sign EVM call data other than ERC-20 transfer (never unlimited approvals).
    pub allow_unknown_calldata: bool,
    /// Sign Solana instructions of programs the decoder does not know.
    pub allow_unknown_programs: bool,
    /// Answer standard wallet requests (`eth-sign-request`, `sol-sign-request`): they
    /// carry no coordinator signature and no approvals, so the custodians' review at the
    /// station is their only approval, and only allow-listed destinations pass. Off
    /// unless set (and then absent from the signed bytes, so older policies verify).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub standard_requests: bool,
    /// Bitcoin vaults beyond the station's own single-key ones (multisig across stations
    /// and hardware wallets). An input is signed only when it is provably a coin of one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vaults: Vec<RegisteredVault>,
    /// Destinations registered as internal (a warm wallet, another vault): allow-listed,
    /// and a transfer to one needs the approvals of a refill rather than a withdrawal.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub internal: Vec<Destination>,
    /// Highest change index accepted on a ranged vault's change branch.
    #[serde(
        default = "default_change_index_limit",
        skip_serializing_if = "is_default_change_index_limit"
    )]
    pub change_index_limit: u32,
    /// The collection cost rule of a sweep of deposit coins: its fee at most this many
    /// thousandths of what it collects (default 50: 5 %).
    #[serde(
        default = "default_sweep_fee_per_mille",
        skip_serializing_if = "is_default_sweep_fee_per_mille"
    )]
    pub sweep_max_fee_per_mille: u64,
}

/// The strictest policy, to build one from: no network, no limit (every asset refused),
/// nothing allow-listed, two approvals, a day's validity, nothing unknown signed.
impl Default for Policy {
    fn default() -> Self {
        Self {
            networks: vec![],
            limits: vec![],
            allow_list: vec![],
            off_list_approvals: None,
            approvals: 2,
            approvals_per_purpose: vec![],
            fees: vec![],
            max_validity_secs: 86_400,
            allow_unknown_calldata: false,
            allow_unknown_programs: false,
            standard_requests: false,
            vaults: vec![],
            internal: vec![],
            change_index_limit: default_change_index_limit(),
            sweep_max_fee_per_mille: default_sweep_fee_per_mille(),
        }
    }
}

/// A policy with the station identity signature over it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedPolicy {
    /// The policy.
    pub policy: Policy,
    /// Ed25519 signature by the station identity key, hex.
    pub signature: String,
}

/// What the identity key signs for a policy.
pub fn policy_message(p: &Policy) -> Vec<u8> {
    let json = serde_json::to_vec(p).unwrap_or_default();
    [b"strongroom/policy/v1".as_slice(), &Sha256::digest(json)].concat()
}

/// Policy errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// Not JSON of a policy.
    #[error("policy file does not parse: {0}")]
    Parse(String),
    /// The signature does not verify: the file was edited after custodians signed it.
    #[error("policy signature invalid: the policy was changed after the custodians signed it")]
    BadSignature,
    /// An amount that is not a decimal number.
    #[error("policy amount `{0}` is not a whole number of base units")]
    BadAmount(String),
}

/// Loads a signed policy, verifying it against the station identity key.
pub fn load(json: &str, identity: &ed25519_dalek::VerifyingKey) -> Result<Policy, PolicyError> {
    let sp: SignedPolicy =
        serde_json::from_str(json).map_err(|e| PolicyError::Parse(e.to_string()))?;
    let sig = hex::decode(&sp.signature).map_err(|_| PolicyError::BadSignature)?;
    let sig: [u8; 64] = sig.try_into().map_err(|_| PolicyError::BadSignature)?;
    identity
        .verify_strict(
            &policy_message(&sp.policy),
            &ed25519_dalek::Signature::from_bytes(&sig),
        )
        .map_err(|_| PolicyError::BadSignature)?;
    let names = sp
        .policy
        .networks
        .iter()
        .chain(sp.policy.limits.iter().map(|l| &l.network))
        .chain(sp.policy.allow_list.iter().map(|d| &d.network))
        .chain(sp.policy.internal.iter().map(|d| &d.network))
        .chain(sp.policy.fees.iter().map(|f| &f.network))
        .chain(sp.policy.vaults.iter().map(|v| &v.network));
    for n in names {
        Network::parse(n).map_err(|e| PolicyError::Parse(e.to_string()))?;
    }
    for l in &sp.policy.limits {
        parse_amount(&l.per_transaction)?;
        parse_amount(&l.per_24h)?;
    }
    for f in &sp.policy.fees {
        parse_amount(&f.max)?;
    }
    Ok(sp.policy)
}

/// Whether a policy's network name names `network`.
fn is(name: &str, network: Network) -> bool {
    Network::parse(name) == Ok(network)
}

/// Whether two addresses are the same: Bitcoin by the script they pay, EVM by the bytes
/// of the hex (its case is a checksum), Solana exactly (base58 is case-sensitive).
fn same_address(network: Network, a: &str, b: &str) -> bool {
    match network {
        Network::Solana(_) => a == b,
        Network::Evm(_) => a.eq_ignore_ascii_case(b),
        Network::Bitcoin(_) => {
            let script = |s: &str| {
                s.parse::<bitcoin::Address<bitcoin::address::NetworkUnchecked>>()
                    .ok()
                    .map(|a| a.assume_checked().script_pubkey())
            };
            match (script(a), script(b)) {
                (Some(x), Some(y)) => x == y,
                _ => a == b,
            }
        }
    }
}

/// Parses a base-unit amount.
pub fn parse_amount(s: &str) -> Result<u128, PolicyError> {
    s.parse().map_err(|_| PolicyError::BadAmount(s.to_string()))
}

impl Policy {
    /// Approvals required for a purpose name.
    pub fn approvals_for(&self, purpose: &str) -> usize {
        self.approvals_per_purpose
            .iter()
            .find(|(p, _)| p == purpose)
            .map_or(self.approvals, |(_, n)| *n)
    }

    /// Whether the policy signs for `network` (names compared after normalising).
    pub fn allows_network(&self, network: Network) -> bool {
        self.networks.iter().any(|n| is(n, network))
    }

    /// The limit for an asset on a network.
    pub fn limit(&self, network: Network, asset: &str) -> Option<(u128, u128)> {
        let l = self
            .limits
            .iter()
            .find(|l| is(&l.network, network) && same_address(network, &l.asset, asset))?;
        Some((
            parse_amount(&l.per_transaction).ok()?,
            parse_amount(&l.per_24h).ok()?,
        ))
    }

    /// Whether a destination is allow-listed (internal destinations are).
    pub fn allows(&self, network: Network, address: &str) -> bool {
        self.is_internal(network, address)
            || self
                .allow_list
                .iter()
                .any(|d| is(&d.network, network) && same_address(network, &d.address, address))
    }

    /// Whether a destination is registered as internal.
    pub fn is_internal(&self, network: Network, address: &str) -> bool {
        self.internal
            .iter()
            .any(|d| is(&d.network, network) && same_address(network, &d.address, address))
    }

    /// The fee limit for a network.
    pub fn fee_limit(&self, network: Network) -> Option<(u128, u64)> {
        let f = self.fees.iter().find(|f| is(&f.network, network))?;
        Some((parse_amount(&f.max).ok()?, f.max_per_mille))
    }
}

/// Signs a policy with the identity key (the HSM session is the custodians' quorum).
pub fn sign<B: crate::hsm::SigningBackend + ?Sized>(
    hsm: &B,
    identity: &crate::hsm::KeyInfo,
    policy: Policy,
) -> Result<SignedPolicy, crate::hsm::HsmError> {
    let sig = crate::sign::sign_ed25519(hsm, identity, &policy_message(&policy))?;
    Ok(SignedPolicy {
        policy,
        signature: sig.iter().map(|b| format!("{b:02x}")).collect(),
    })
}
