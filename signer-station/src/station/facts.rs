//! Facts: what a payload does, derived by the station from the transaction bytes and its
//! own registered keys and vaults — never from a label, a purpose or a display string the
//! coordinator supplied. Policy ([`super::policy::evaluate`]) is a pure function of these
//! facts, the signed policy and the ledger; the custodians' screen shows them.

use airgap_protocol::envelope::{Chain, Payload, PayloadBody};
use airgap_protocol::network::Network;

use super::refusal::Refusal;
use super::{bitcoin, evm, solana, Context};

/// What moves.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AssetId {
    /// The chain's native coin.
    Native,
    /// A token by its contract (EIP-55) or mint (base58).
    Token(String),
}

impl AssetId {
    /// The name policy limits use: `native`, or the contract / mint.
    pub fn policy_name(&self) -> &str {
        match self {
            Self::Native => "native",
            Self::Token(t) => t,
        }
    }
}

/// Who a transfer goes to, as the station proves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Class {
    /// Back to the station: Bitcoin change proven against a registered vault descriptor,
    /// or the station's own EVM / Solana account. `proof` says how.
    Own {
        /// How ownership was proven.
        proof: String,
    },
    /// A destination the signed policy registers as internal (a warm wallet, another vault).
    Internal,
    /// Anything else.
    External,
}

impl Class {
    /// The strictness rank (higher needs more approvals).
    pub fn rank(&self) -> u8 {
        match self {
            Self::Own { .. } => 0,
            Self::Internal => 1,
            Self::External => 2,
        }
    }
}

/// What kind of movement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransferKind {
    /// A payment (Bitcoin output, native transfer, token transfer).
    Payment,
    /// Funding a new account (Solana create account).
    AccountFunding,
    /// Rent paid into a token account an owner can close and collect (Solana ATA create).
    Rent,
    /// A token allowance: the spender may take up to the amount.
    Approval,
    /// A call of a contract or program the station does not decode, with the native value
    /// it carries; the target is the destination.
    Call,
}

/// One movement of value out of the station's control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transfer {
    /// Output or instruction index.
    pub index: usize,
    /// Kind.
    pub kind: TransferKind,
    /// Asset.
    pub asset: AssetId,
    /// Amount in base units.
    pub amount: u128,
    /// Destination in the chain's own format (bech32, EIP-55, base58; `script <hex>` for a
    /// Bitcoin output without an address form).
    pub to: String,
    /// Class.
    pub class: Class,
    /// For display only: decimals of the unit, when the station knows them.
    pub decimals: Option<u8>,
    /// For display only: the unit's symbol.
    pub symbol: String,
}

/// Something in a payload that policy may refuse whatever the amounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feature {
    /// EVM call data the station does not decode.
    UnknownCall {
        /// Contract called.
        contract: String,
        /// 4-byte selector, hex.
        selector: String,
    },
    /// A Solana instruction of a program the station does not decode.
    UnknownProgram {
        /// Program id.
        program: String,
    },
    /// An ERC-20 approval of an unlimited allowance.
    UnlimitedApproval {
        /// Spender.
        spender: String,
    },
    /// An EVM contract creation.
    ContractCreation,
}

/// A Bitcoin input, proven to be a vault's coin.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Input {
    /// Outpoint.
    pub outpoint: String,
    /// Value in satoshi, from the previous transaction.
    pub value: u64,
    /// How ownership was proven.
    pub proof: String,
    /// A coin of one of the station's deposit accounts: the payload is a sweep, whatever
    /// the request calls itself.
    pub deposit: bool,
}

/// The facts of one payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    /// Payload index in the request.
    pub index: usize,
    /// The network, derived from the transaction (EVM chain id) or the station key that
    /// signs it (Bitcoin, Solana).
    pub network: Network,
    /// Inputs (Bitcoin).
    pub inputs: Vec<Input>,
    /// Everything the transaction moves, change included (class [`Class::Own`]).
    pub transfers: Vec<Transfer>,
    /// Fee in native base units as the chain computes it (EVM: the most it can be).
    pub fee: u128,
    /// How the fee was computed.
    pub fee_detail: String,
    /// Features policy may refuse.
    pub features: Vec<Feature>,
    /// Replay keys: what the transaction consumes (outpoint, nonce, durable nonce); a key
    /// `resource#content` conflicts with the same resource of other content.
    pub spends: Vec<String>,
    /// The payload digest (txid, signing hash, message hash).
    pub digest: String,
}

impl Facts {
    /// The chain.
    pub fn chain(&self) -> Chain {
        self.network.chain()
    }

    /// Indexes of outputs proven to be change (Bitcoin).
    pub fn change_outputs(&self) -> Vec<usize> {
        self.transfers
            .iter()
            .filter(|t| matches!(t.class, Class::Own { .. }))
            .map(|t| t.index)
            .collect()
    }

    /// Amount leaving the station's control per asset: every transfer but those back to
    /// the station, and the fee (native).
    pub fn outflow(&self) -> Vec<(AssetId, u128)> {
        let mut out: Vec<(AssetId, u128)> = vec![(AssetId::Native, self.fee)];
        for t in self
            .transfers
            .iter()
            .filter(|t| !matches!(t.class, Class::Own { .. }))
        {
            match out.iter_mut().find(|(a, _)| *a == t.asset) {
                Some((_, v)) => *v = v.saturating_add(t.amount),
                None => out.push((t.asset.clone(), t.amount)),
            }
        }
        out.retain(|(a, v)| *v > 0 || *a != AssetId::Native);
        out.sort();
        out
    }

    /// Native value paid to others (not back to the station), the fee excluded.
    pub fn native_paid(&self) -> u128 {
        self.transfers
            .iter()
            .filter(|t| t.asset == AssetId::Native && !matches!(t.class, Class::Own { .. }))
            .fold(0u128, |a, t| a.saturating_add(t.amount))
    }

    /// The strictest class present (`None`: nothing moves).
    pub fn strictest(&self) -> Option<&Class> {
        self.transfers
            .iter()
            .map(|t| &t.class)
            .max_by_key(|c| c.rank())
    }
}

/// What the station signs with, once facts are derived.
#[derive(Debug, Clone)]
pub enum Prepared {
    /// A PSBT's vault inputs.
    Bitcoin(bitcoin::BtcPrepared),
    /// An EVM signing hash.
    Evm(evm::EvmPrepared),
    /// A Solana message.
    Solana(solana::SolPrepared),
}

/// Checks a label against the derived network: a label that names another network, or
/// none, is refused.
pub(super) fn check_label(index: usize, label: &str, derived: Network) -> Result<(), Refusal> {
    match Network::parse(label) {
        Ok(n) if n == derived => Ok(()),
        _ => Err(Refusal::NetworkMismatch {
            index,
            label: label.chars().take(64).collect(),
            derived: derived.to_string(),
        }),
    }
}

/// Derives the facts of one payload and what to sign for it.
pub fn derive(index: usize, p: &Payload, ctx: &Context<'_>) -> Result<(Facts, Prepared), Refusal> {
    match &p.body {
        PayloadBody::Psbt { version, bytes } => {
            let (f, b) = bitcoin::derive(index, *version, bytes, &p.network, ctx)?;
            Ok((f, Prepared::Bitcoin(b)))
        }
        PayloadBody::EvmTx {
            chain_id,
            signer,
            tx,
        } => {
            let (f, e) = evm::derive(index, *chain_id, signer, tx, &p.network, ctx)?;
            Ok((f, Prepared::Evm(e)))
        }
        PayloadBody::SolanaMessage {
            message,
            nonce_account,
            ..
        } => {
            let (f, s) = solana::derive(index, message, nonce_account.as_ref(), &p.network, ctx)?;
            Ok((f, Prepared::Solana(s)))
        }
    }
}
