//! Building unsigned Solana messages.

use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody};
use solana_address::Address;
use solana_hash::Hash;
use solana_instruction::{AccountMeta, Instruction};

use super::{program, AccountInfo, SolRpc, NONCE_ACCOUNT_SIZE};
use crate::rpc::RpcError;

/// Instructions, built by hand from each program's documented layout.
pub mod ix {
    use super::*;

    fn system(tag: u32, rest: &[u8], accounts: Vec<AccountMeta>) -> Instruction {
        let mut data = tag.to_le_bytes().to_vec();
        data.extend_from_slice(rest);
        Instruction {
            program_id: program::SYSTEM,
            accounts,
            data,
        }
    }

    /// System transfer.
    pub fn transfer(from: &Address, to: &Address, lamports: u64) -> Instruction {
        system(
            2,
            &lamports.to_le_bytes(),
            vec![AccountMeta::new(*from, true), AccountMeta::new(*to, false)],
        )
    }

    /// System create account.
    pub fn create_account(
        from: &Address,
        new: &Address,
        lamports: u64,
        space: u64,
        owner: &Address,
    ) -> Instruction {
        let mut rest = lamports.to_le_bytes().to_vec();
        rest.extend_from_slice(&space.to_le_bytes());
        rest.extend_from_slice(owner.as_ref());
        system(
            0,
            &rest,
            vec![AccountMeta::new(*from, true), AccountMeta::new(*new, true)],
        )
    }

    /// System initialize nonce account.
    pub fn initialize_nonce(nonce: &Address, authority: &Address) -> Instruction {
        system(
            6,
            authority.as_ref(),
            vec![
                AccountMeta::new(*nonce, false),
                AccountMeta::new_readonly(program::id(program::RECENT_BLOCKHASHES), false),
                AccountMeta::new_readonly(program::id(program::RENT), false),
            ],
        )
    }

    /// System advance nonce account (must be a durable-nonce transaction's first).
    pub fn advance_nonce(nonce: &Address, authority: &Address) -> Instruction {
        system(
            4,
            &[],
            vec![
                AccountMeta::new(*nonce, false),
                AccountMeta::new_readonly(program::id(program::RECENT_BLOCKHASHES), false),
                AccountMeta::new_readonly(*authority, true),
            ],
        )
    }

    /// Associated token account, created only if missing.
    pub fn create_ata_idempotent(payer: &Address, owner: &Address, mint: &Address) -> Instruction {
        Instruction {
            program_id: program::id(program::ATA),
            accounts: vec![
                AccountMeta::new(*payer, true),
                AccountMeta::new(super::associated_token_address(owner, mint), false),
                AccountMeta::new_readonly(*owner, false),
                AccountMeta::new_readonly(*mint, false),
                AccountMeta::new_readonly(program::SYSTEM, false),
                AccountMeta::new_readonly(program::id(program::TOKEN), false),
            ],
            data: vec![1],
        }
    }

    /// SPL token `transfer_checked`.
    pub fn transfer_checked(
        source: &Address,
        mint: &Address,
        destination: &Address,
        owner: &Address,
        amount: u64,
        decimals: u8,
    ) -> Instruction {
        let mut data = vec![12];
        data.extend_from_slice(&amount.to_le_bytes());
        data.push(decimals);
        Instruction {
            program_id: program::id(program::TOKEN),
            accounts: vec![
                AccountMeta::new(*source, false),
                AccountMeta::new_readonly(*mint, false),
                AccountMeta::new(*destination, false),
                AccountMeta::new_readonly(*owner, true),
            ],
            data,
        }
    }

    /// Compute budget: unit limit.
    pub fn compute_unit_limit(units: u32) -> Instruction {
        compute_budget(2, &units.to_le_bytes())
    }

    /// Compute budget: price per unit, micro-lamports (the priority fee).
    pub fn compute_unit_price(micro_lamports: u64) -> Instruction {
        compute_budget(3, &micro_lamports.to_le_bytes())
    }
}

/// The associated token account of `owner` for `mint` (SPL Token).
pub fn associated_token_address(owner: &Address, mint: &Address) -> Address {
    let token = program::id(program::TOKEN);
    Address::find_program_address(
        &[owner.as_ref(), token.as_ref(), mint.as_ref()],
        &program::id(program::ATA),
    )
    .0
}

/// Why a message was not built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The node could not be asked.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// The nonce account is missing or not an initialised nonce account.
    #[error("nonce account {address}: {why}")]
    Nonce {
        /// Account.
        address: String,
        /// What is wrong.
        why: String,
    },
    /// The mint is not what the caller said.
    #[error("mint {mint}: {why}")]
    Mint {
        /// Mint.
        mint: String,
        /// What is wrong.
        why: String,
    },
    /// Not enough funds.
    #[error("{0}")]
    Funds(String),
    /// The message could not be compiled.
    #[error("message: {0}")]
    Compile(String),
}

/// A durable nonce account's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceInfo {
    /// The account.
    pub address: Address,
    /// Who may advance it.
    pub authority: Address,
    /// The stored nonce (used as the message's blockhash).
    pub nonce: Hash,
}

impl NonceInfo {
    /// Reads a nonce account (`Versions::Current(State::Initialized(..))`, 80 bytes).
    pub fn parse(address: Address, a: &AccountInfo) -> Result<Self, BuildError> {
        let err = |why: &str| BuildError::Nonce {
            address: address.to_string(),
            why: why.into(),
        };
        if a.owner != program::SYSTEM {
            return Err(err("not owned by the system program"));
        }
        if a.data.len() != NONCE_ACCOUNT_SIZE as usize {
            return Err(err("not a nonce account (size)"));
        }
        let word =
            |i: usize| u32::from_le_bytes([a.data[i], a.data[i + 1], a.data[i + 2], a.data[i + 3]]);
        if word(0) != 1 || word(4) != 1 {
            return Err(err("not an initialised nonce account"));
        }
        let key = |r: std::ops::Range<usize>| -> [u8; 32] {
            let mut k = [0; 32];
            k.copy_from_slice(&a.data[r]);
            k
        };
        Ok(Self {
            address,
            authority: Address::new_from_array(key(8..40)),
            nonce: Hash::new_from_array(key(40..72)),
        })
    }
}

/// What the message's blockhash is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Blockhash {
    /// A durable nonce: the message stays valid until the nonce is advanced.
    Nonce(NonceInfo),
    /// A recent blockhash: valid until `last_valid_block_height` (a minute or so). Only
    /// when the operator asks; the expiry travels with the request.
    Recent {
        /// Hash.
        hash: Hash,
        /// Last valid block height.
        last_valid_block_height: u64,
    },
}

/// Message format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageVersion {
    /// Legacy.
    #[default]
    Legacy,
    /// Version 0, without address lookup tables.
    V0,
}

/// Per-transaction options.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TxOptions {
    /// Compute unit limit.
    pub compute_unit_limit: Option<u32>,
    /// Priority fee, micro-lamports per compute unit.
    pub compute_unit_price: Option<u64>,
    /// Message format.
    pub version: MessageVersion,
}

/// An unsigned transaction as exported to the station.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsignedSolTx {
    /// Serialized message (what is signed).
    pub message: Vec<u8>,
    /// Required signers, in the message's order.
    pub signers: Vec<Address>,
    /// The durable nonce account, when one is used.
    pub nonce_account: Option<Address>,
    /// The message's blockhash (the nonce value for durable transactions).
    pub blockhash: Hash,
    /// For a recent blockhash, the last block height it is valid at.
    pub last_valid_block_height: Option<u64>,
}

impl UnsignedSolTx {
    /// The request payload carrying this message to the station; `vault` is the
    /// station's key among the signers.
    pub fn payload(&self, network: &str, vault: &Address) -> Payload {
        Payload {
            network: network.into(),
            signer: vault.to_string(),
            body: PayloadBody::SolanaMessage {
                message: self.message.clone(),
                signers: vec![vault.to_bytes()],
                nonce_account: self.nonce_account.map(|a| a.to_bytes()),
            },
            hints: DisplayHints::default(),
        }
    }
}

/// Builds Solana transactions.
#[derive(Debug)]
pub struct SolBuilder<'a> {
    /// Node.
    pub node: &'a SolRpc,
}

impl SolBuilder<'_> {
    /// Reads the nonce account at `address`.
    pub fn nonce(&self, address: &Address) -> Result<NonceInfo, BuildError> {
        let a = self.node.account(address)?.ok_or(BuildError::Nonce {
            address: address.to_string(),
            why: "no such account".into(),
        })?;
        NonceInfo::parse(*address, &a)
    }

    /// A recent blockhash, for when the operator asks for one.
    pub fn recent(&self) -> Result<Blockhash, BuildError> {
        let (hash, last_valid_block_height) = self.node.latest_blockhash()?;
        Ok(Blockhash::Recent {
            hash,
            last_valid_block_height,
        })
    }

    /// Compiles `ixs` paid by `payer`: advance-nonce first when durable, then the
    /// compute budget, then `ixs`.
    pub fn compile(
        &self,
        payer: &Address,
        ixs: Vec<Instruction>,
        blockhash: &Blockhash,
        opts: TxOptions,
    ) -> Result<UnsignedSolTx, BuildError> {
        let mut all = Vec::new();
        let (hash, nonce_account, last_valid) = match blockhash {
            Blockhash::Nonce(n) => {
                all.push(ix::advance_nonce(&n.address, &n.authority));
                (n.nonce.clone(), Some(n.address), None)
            }
            Blockhash::Recent {
                hash,
                last_valid_block_height,
            } => (hash.clone(), None, Some(*last_valid_block_height)),
        };
        if let Some(u) = opts.compute_unit_limit {
            all.push(ix::compute_unit_limit(u));
        }
        if let Some(p) = opts.compute_unit_price {
            all.push(ix::compute_unit_price(p));
        }
        all.extend(ixs);
        let (message, signers) = match opts.version {
            MessageVersion::Legacy => {
                let m =
                    solana_message::legacy::Message::new_with_blockhash(&all, Some(payer), &hash);
                let n = usize::from(m.header.num_required_signatures);
                (m.serialize(), m.account_keys[..n].to_vec())
            }
            MessageVersion::V0 => {
                let m = solana_message::v0::Message::try_compile(payer, &all, &[], hash.clone())
                    .map_err(|e| BuildError::Compile(e.to_string()))?;
                let n = usize::from(m.header.num_required_signatures);
                (m.serialize(), m.account_keys[..n].to_vec())
            }
        };
        // One signature each: a compact length (one byte up to 127), then 64 bytes each.
        let size = 1 + 64 * signers.len() + message.len();
        if size > MAX_TRANSACTION_BYTES {
            return Err(BuildError::Compile(format!(
                "the transaction would be {size} bytes, over Solana's {MAX_TRANSACTION_BYTES}: pay fewer recipients"
            )));
        }
        Ok(UnsignedSolTx {
            message,
            signers,
            nonce_account,
            blockhash: hash,
            last_valid_block_height: last_valid,
        })
    }

    /// Creates a nonce account at `nonce` (a fresh key the coordinator holds only until
    /// the account exists), funded by and under the authority of `vault`. Uses a recent
    /// blockhash: the station must sign it promptly.
    pub fn create_nonce_account(
        &self,
        vault: &Address,
        nonce: &Address,
        opts: TxOptions,
    ) -> Result<UnsignedSolTx, BuildError> {
        let lamports = self.node.rent_exempt(NONCE_ACCOUNT_SIZE)?;
        let ixs = vec![
            ix::create_account(vault, nonce, lamports, NONCE_ACCOUNT_SIZE, &program::SYSTEM),
            ix::initialize_nonce(nonce, vault),
        ];
        let bh = self.recent()?;
        self.compile(vault, ixs, &bh, opts)
    }

    /// A SOL transfer from the vault.
    pub fn sol_transfer(
        &self,
        vault: &Address,
        to: &Address,
        lamports: u64,
        blockhash: &Blockhash,
        opts: TxOptions,
    ) -> Result<UnsignedSolTx, BuildError> {
        self.sol_transfers(vault, &[(*to, lamports)], blockhash, opts)
    }

    /// SOL transfers from the vault to each of `to` (a batched payout), in one
    /// transaction: at most [`MAX_SOL_RECIPIENTS`].
    pub fn sol_transfers(
        &self,
        vault: &Address,
        to: &[(Address, u64)],
        blockhash: &Blockhash,
        opts: TxOptions,
    ) -> Result<UnsignedSolTx, BuildError> {
        let lamports = total(to)?;
        let have = self.node.balance(vault)?;
        if have < lamports {
            return Err(BuildError::Funds(format!(
                "vault holds {have} lamports, {lamports} asked"
            )));
        }
        let ixs = to.iter().map(|(a, n)| ix::transfer(vault, a, *n)).collect();
        self.compile(vault, ixs, blockhash, opts)
    }

    /// An SPL `transfer_checked` from the vault's associated token account to the
    /// recipient's, which is created first if missing.
    #[allow(clippy::too_many_arguments)]
    pub fn spl_transfer(
        &self,
        vault: &Address,
        mint: &Address,
        decimals: u8,
        recipient: &Address,
        amount: u64,
        blockhash: &Blockhash,
        opts: TxOptions,
    ) -> Result<UnsignedSolTx, BuildError> {
        let to = [(*recipient, amount)];
        self.spl_transfers(vault, (mint, decimals), &to, blockhash, opts)
    }

    /// SPL `transfer_checked`s of `mint` (with its decimals) from the vault to each
    /// recipient's associated token account, each created first if missing, in one
    /// transaction: at most [`MAX_TOKEN_RECIPIENTS`].
    pub fn spl_transfers(
        &self,
        vault: &Address,
        (mint, decimals): (&Address, u8),
        to: &[(Address, u64)],
        blockhash: &Blockhash,
        opts: TxOptions,
    ) -> Result<UnsignedSolTx, BuildError> {
        let amount = total(to)?;
        let m = self.node.account(mint)?.ok_or(BuildError::Mint {
            mint: mint.to_string(),
            why: "no such account".into(),
        })?;
        if m.owner != program::id(program::TOKEN) || m.data.len() != 82 {
            return Err(BuildError::Mint {
                mint: mint.to_string(),
                why: "not an SPL Token mint".into(),
            });
        }
        if m.data[44] != decimals {
            return Err(BuildError::Mint {
                mint: mint.to_string(),
                why: format!("has {} decimals, {decimals} configured", m.data[44]),
            });
        }
        let source = associated_token_address(vault, mint);
        let have = self.node.token_balance(&source)?.unwrap_or(0);
        if have < amount {
            return Err(BuildError::Funds(format!(
                "vault token account holds {have}, {amount} asked"
            )));
        }
        let mut ixs = Vec::with_capacity(2 * to.len());
        for (recipient, amount) in to {
            let dest = associated_token_address(recipient, mint);
            ixs.push(ix::create_ata_idempotent(vault, recipient, mint));
            ixs.push(ix::transfer_checked(
                &source, mint, &dest, vault, *amount, decimals,
            ));
        }
        self.compile(vault, ixs, blockhash, opts)
    }
}

/// Most recipients of SOL in one transaction. A legacy message on a durable nonce with
/// both compute-budget instructions takes 292 bytes signed, and each recipient 49 more
/// (its account key, and a 17-byte transfer): 292 + 49 x 19 = 1,223 of Solana's 1,232.
pub const MAX_SOL_RECIPIENTS: usize = 19;
/// Most recipients of one token in one transaction: 420 bytes with the mint, the
/// vault's token account and the two programs, and 91 for each recipient (its key, its
/// token account's key, the idempotent creation and the checked transfer): 1,148.
pub const MAX_TOKEN_RECIPIENTS: usize = 8;
/// The largest transaction Solana accepts, signatures included (`PACKET_DATA_SIZE`).
pub const MAX_TRANSACTION_BYTES: usize = 1_232;

/// The sum of a batch's amounts; an empty batch, or one whose total overflows, is refused.
fn total(to: &[(Address, u64)]) -> Result<u64, BuildError> {
    if to.is_empty() {
        return Err(BuildError::Compile("no recipient".into()));
    }
    to.iter()
        .try_fold(0u64, |t, (_, n)| t.checked_add(*n))
        .ok_or_else(|| BuildError::Funds("the batch's total is out of range".into()))
}

/// A compute-budget instruction: its tag, then its little-endian argument.
fn compute_budget(tag: u8, arg: &[u8]) -> Instruction {
    Instruction {
        program_id: program::id(program::COMPUTE_BUDGET),
        accounts: vec![],
        data: [&[tag][..], arg].concat(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::RpcClient;

    /// The most recipients fit Solana's packet as the coordinator builds them (durable
    /// nonce, both compute-budget instructions), and one more does not.
    #[test]
    fn the_recipient_limits_are_what_fits_a_packet() {
        let node = SolRpc::new(RpcClient::for_chain(&["http://127.0.0.1:9".into()]));
        let b = SolBuilder { node: &node };
        let key = |n: u32| {
            let mut k = [0u8; 32];
            k[..4].copy_from_slice(&n.to_le_bytes());
            k[31] = 1;
            Address::new_from_array(k)
        };
        let (vault, mint) = (key(0), key(1));
        let nonce = Blockhash::Nonce(NonceInfo {
            address: key(2),
            authority: vault,
            nonce: Hash::new_from_array([9; 32]),
        });
        let opts = TxOptions {
            compute_unit_limit: Some(1_400_000),
            compute_unit_price: Some(u64::MAX),
            version: MessageVersion::Legacy,
        };
        let sol = |n: u32| {
            let ixs = (0..n)
                .map(|i| ix::transfer(&vault, &key(100 + i), u64::MAX))
                .collect();
            b.compile(&vault, ixs, &nonce, opts)
        };
        let token = |n: u32| {
            let source = associated_token_address(&vault, &mint);
            let ixs = (0..n)
                .flat_map(|i| {
                    let to = key(100 + i);
                    let dest = associated_token_address(&to, &mint);
                    [
                        ix::create_ata_idempotent(&vault, &to, &mint),
                        ix::transfer_checked(&source, &mint, &dest, &vault, u64::MAX, 6),
                    ]
                })
                .collect();
            b.compile(&vault, ixs, &nonce, opts)
        };
        let most = |n: usize| u32::try_from(n).unwrap();
        let fits = sol(most(MAX_SOL_RECIPIENTS)).expect("19 SOL recipients fit");
        assert!(1 + 64 + fits.message.len() <= MAX_TRANSACTION_BYTES);
        let over = sol(most(MAX_SOL_RECIPIENTS) + 1).unwrap_err().to_string();
        assert!(over.contains("over Solana's 1232"), "{over}");
        token(most(MAX_TOKEN_RECIPIENTS)).expect("8 token recipients fit");
        let over = token(most(MAX_TOKEN_RECIPIENTS) + 1)
            .unwrap_err()
            .to_string();
        assert!(over.contains("pay fewer recipients"), "{over}");
    }
}
