//! Solana: legacy and v0 messages, decoded by a strict parser of the wire format (no
//! panics, every length checked), with system, SPL token, associated token account and
//! compute budget instructions.

use super::{Amount, Asset, Recipient, Source, Summary, SummaryError, SummaryOptions, Warning};
use crate::envelope::Chain;

/// Program ids.
pub mod program {
    /// System program.
    pub const SYSTEM: &str = "11111111111111111111111111111111";
    /// SPL Token.
    pub const TOKEN: &str = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
    /// SPL Token-2022.
    pub const TOKEN_2022: &str = "TokenzQdBNbLqP5VEhdkAS6EPFLC1PHnBqCXEpPxuEb";
    /// Associated token account program.
    pub const ATA: &str = "ATokenGPvbdGVxr1b2hvZbsiqW5xWH25efTNsLJA8knL";
    /// Compute budget program.
    pub const COMPUTE_BUDGET: &str = "ComputeBudget111111111111111111111111111111";
    /// Memo program.
    pub const MEMO: &str = "MemoSq4gqABAXKb96qnH8TysNcWxMyWCqXgDLGmfcHr";
}

/// Lamports per signature (the base fee).
pub const LAMPORTS_PER_SIGNATURE: u64 = 5_000;
/// Compute units the runtime allots an instruction of a builtin program (system,
/// compute budget) when the transaction sets no limit (SIMD-0170).
pub const BUILTIN_INSTRUCTION_CU: u64 = 3_000;
/// Compute units the runtime allots any other instruction when no limit is set.
pub const DEFAULT_INSTRUCTION_CU: u64 = 200_000;
/// The most compute units a transaction may use.
pub const MAX_CU: u64 = 1_400_000;
/// Rent-exempt minimum of an SPL Token account (165 bytes): (128 + 165) x 3,480 x 2,
/// what its funder pays when it is created.
pub const TOKEN_ACCOUNT_RENT: u64 = 2_039_280;
const ED25519_PRECOMPILE: &str = "Ed25519SigVerify111111111111111111111111111";
const SECP256K1_PRECOMPILE: &str = "KeccakSecp256k11111111111111111111111111111";
const SECP256R1_PRECOMPILE: &str = "Secp256r1SigVerify1111111111111111111111111";
/// The signature-verifying precompiles: each signature they check is paid as one more.
pub const PRECOMPILES: [&str; 3] = [
    ED25519_PRECOMPILE,
    SECP256K1_PRECOMPILE,
    SECP256R1_PRECOMPILE,
];

/// A message's fee, as the runtime charges it: the station decides on it and the
/// custodians' summaries show it, from this one computation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fee {
    /// Signatures paid: the message's, and those its precompile instructions verify.
    pub signatures: u64,
    /// Compute units: the limit set, or the runtime's default for these instructions.
    pub limit: u64,
    /// Whether the message sets the limit.
    pub limit_set: bool,
    /// Micro-lamports a compute unit (the first price the message sets; 0 without).
    pub price: u64,
    /// Priority fee, lamports: limit x price, rounded up.
    pub priority: u128,
    /// Base fee and priority fee, lamports.
    pub total: u128,
}

/// The fee `m` pays. A repeated compute-budget instruction counts once (the first); the
/// runtime refuses such a message, and so does the station.
pub fn fee(m: &Message) -> Fee {
    let (mut limit, mut price) = (None, None);
    let (mut default_cu, mut precompile_signatures) = (0u64, 0u64);
    for ix in &m.instructions {
        let prog = m.keys.get(ix.program).map(b58).unwrap_or_default();
        match prog.as_str() {
            program::SYSTEM => default_cu += BUILTIN_INSTRUCTION_CU,
            program::COMPUTE_BUDGET => {
                default_cu += BUILTIN_INSTRUCTION_CU;
                match (ix.data.first(), ix.data.len()) {
                    (Some(2), 5) if limit.is_none() => limit = le_u32(&ix.data[1..]).map(u64::from),
                    (Some(3), 9) if price.is_none() => price = le_u64(&ix.data[1..]),
                    _ => {}
                }
            }
            p => {
                default_cu += DEFAULT_INSTRUCTION_CU;
                if PRECOMPILES.contains(&p) {
                    precompile_signatures += u64::from(ix.data.first().copied().unwrap_or(0));
                }
            }
        }
    }
    let limit_set = limit.is_some();
    let limit = limit.unwrap_or(default_cu).min(MAX_CU);
    let price = price.unwrap_or(0);
    let priority = (u128::from(limit) * u128::from(price)).div_ceil(1_000_000);
    let signatures = u64::from(m.num_required_signatures) + precompile_signatures;
    Fee {
        signatures,
        limit,
        limit_set,
        price,
        priority,
        total: u128::from(signatures) * u128::from(LAMPORTS_PER_SIGNATURE) + priority,
    }
}

/// One compiled instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Instruction {
    /// Index of the program id in the account keys.
    pub program: usize,
    /// Account indexes.
    pub accounts: Vec<usize>,
    /// Instruction data.
    pub data: Vec<u8>,
}

/// The largest transaction a Solana cluster accepts, in bytes (signatures included).
pub const PACKET_DATA_SIZE: usize = 1232;

/// A parsed message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// `None` for legacy, `Some(0)` for v0.
    pub version: Option<u8>,
    /// Signers (the first keys).
    pub num_required_signatures: u8,
    /// Read-only signers.
    pub num_readonly_signed: u8,
    /// Read-only non-signers.
    pub num_readonly_unsigned: u8,
    /// Static account keys.
    pub keys: Vec<[u8; 32]>,
    /// Recent blockhash, or the durable nonce value.
    pub recent_blockhash: [u8; 32],
    /// Instructions.
    pub instructions: Vec<Instruction>,
    /// Address lookup tables referenced (v0).
    pub lookup_tables: usize,
    /// Accounts loaded from lookup tables.
    pub lookup_accounts: usize,
}

struct Reader<'a>(&'a [u8]);

fn malformed(reason: impl ToString) -> SummaryError {
    SummaryError::Malformed {
        chain: "solana",
        reason: reason.to_string(),
    }
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SummaryError> {
        if self.0.len() < n {
            return Err(malformed("message ends early"));
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, SummaryError> {
        Ok(self.take(1)?[0])
    }
    fn key(&mut self) -> Result<[u8; 32], SummaryError> {
        let mut k = [0u8; 32];
        k.copy_from_slice(self.take(32)?);
        Ok(k)
    }
    /// compact-u16 (shortvec): up to 3 bytes, canonical.
    fn short(&mut self) -> Result<usize, SummaryError> {
        let mut v = 0usize;
        for i in 0..3 {
            let b = self.u8()?;
            v |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err(malformed("non-canonical compact-u16"));
                }
                if v > usize::from(u16::MAX) {
                    return Err(malformed("compact-u16 overflow"));
                }
                return Ok(v);
            }
        }
        Err(malformed("compact-u16 too long"))
    }
}

/// Parses a serialized message (legacy or v0), checking every length and index.
pub fn parse(bytes: &[u8]) -> Result<Message, SummaryError> {
    let mut r = Reader(bytes);
    let first = *bytes.first().ok_or_else(|| malformed("empty message"))?;
    let version = if first & 0x80 != 0 {
        r.u8()?;
        let v = first & 0x7f;
        if v != 0 {
            return Err(SummaryError::Unsupported(
                "Solana message versions other than legacy and v0",
            ));
        }
        Some(v)
    } else {
        None
    };
    let (num_required_signatures, num_readonly_signed, num_readonly_unsigned) =
        (r.u8()?, r.u8()?, r.u8()?);
    // A transaction no cluster takes is not worth a custodian's review, and a message
    // that long can bury what it pays under thousands of lines.
    let wire = bytes.len() + 1 + 64 * usize::from(num_required_signatures);
    if wire > PACKET_DATA_SIZE {
        return Err(malformed(format!(
            "the transaction would be {wire} bytes; a Solana transaction is at most {PACKET_DATA_SIZE}"
        )));
    }
    let n = r.short()?;
    // Every key is 32 bytes: a count larger than the rest of the message is a lie.
    if n * 32 > r.0.len() {
        return Err(malformed("account key count exceeds message"));
    }
    let keys = (0..n).map(|_| r.key()).collect::<Result<Vec<_>, _>>()?;
    if usize::from(num_required_signatures) > keys.len() || num_required_signatures == 0 {
        return Err(malformed("header names more signers than keys"));
    }
    let recent_blockhash = r.key()?;
    let n = r.short()?;
    if n > r.0.len() {
        return Err(malformed("instruction count exceeds message"));
    }
    let mut instructions = Vec::with_capacity(n);
    for _ in 0..n {
        let program = usize::from(r.u8()?);
        let na = r.short()?;
        let accounts = r.take(na)?.iter().map(|&a| usize::from(a)).collect();
        let nd = r.short()?;
        let data = r.take(nd)?.to_vec();
        instructions.push(Instruction {
            program,
            accounts,
            data,
        });
    }
    let (mut lookup_tables, mut lookup_accounts) = (0, 0);
    if version.is_some() {
        lookup_tables = r.short()?;
        for _ in 0..lookup_tables {
            r.key()?;
            let w = r.short()?;
            r.take(w)?;
            let ro = r.short()?;
            r.take(ro)?;
            lookup_accounts += w + ro;
        }
    }
    if !r.0.is_empty() {
        return Err(malformed("trailing bytes"));
    }
    let total = keys.len() + lookup_accounts;
    for ix in &instructions {
        if ix.program >= keys.len() || ix.accounts.iter().any(|&a| a >= total) {
            return Err(malformed("instruction names an account index out of range"));
        }
    }
    Ok(Message {
        version,
        num_required_signatures,
        num_readonly_signed,
        num_readonly_unsigned,
        keys,
        recent_blockhash,
        instructions,
        lookup_tables,
        lookup_accounts,
    })
}

/// Base58 of a 32-byte key inside instruction data (the caller checked the length).
fn key32(bytes: &[u8]) -> String {
    <[u8; 32]>::try_from(bytes).map_or_else(|_| "?".into(), |k| b58(&k))
}

/// Base58 of a 32-byte key.
pub fn b58(k: &[u8; 32]) -> String {
    bs58::encode(k).into_string()
}

fn le_u64(d: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(..8)?.try_into().ok()?))
}

fn le_u32(d: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(..4)?.try_into().ok()?))
}

pub(super) fn summarize(
    bytes: &[u8],
    label: &str,
    opts: &SummaryOptions,
) -> Result<Summary, SummaryError> {
    let m = parse(bytes)?;
    let key = |i: usize| {
        m.keys
            .get(i)
            .map_or_else(|| format!("lookup-table account #{i}"), b58)
    };
    let sol = |v: u64| Amount {
        base_units: u128::from(v),
        decimals: Some(9),
        symbol: "SOL".into(),
    };
    let mut warnings = Vec::new();
    let mut recipients = Vec::new();
    let mut sources = Vec::new();
    let mut details = vec![
        (
            "message".to_string(),
            m.version.map_or("legacy".into(), |v| format!("v{v}")),
        ),
        ("fee payer".to_string(), key(0)),
        (
            "recent blockhash or nonce".to_string(),
            b58(&m.recent_blockhash),
        ),
    ];
    if m.lookup_tables > 0 {
        warnings.push(Warning::UnresolvedLookupTables {
            tables: m.lookup_tables,
        });
    }
    for (i, ix) in m.instructions.iter().enumerate() {
        let prog = key(ix.program);
        let acct = |n: usize| {
            ix.accounts
                .get(n)
                .map_or_else(|| "?".to_string(), |&a| key(a))
        };
        let tag4 = le_u32(&ix.data);
        match prog.as_str() {
            program::SYSTEM => match (tag4, ix.data.len()) {
                (Some(2), 12) => {
                    let lamports = le_u64(&ix.data[4..]).unwrap_or(0);
                    sources.push(Source {
                        reference: format!("instruction {i}"),
                        address: Some(acct(0)),
                        amount: Some(sol(lamports)),
                    });
                    recipients.push(Recipient {
                        address: acct(1),
                        amount: sol(lamports),
                        asset: Asset::Native,
                        index: i,
                    });
                }
                (Some(4), 4) => {
                    details.push(("durable nonce account".into(), acct(0)));
                    details.push(("nonce authority".into(), acct(2)));
                }
                (Some(0), 52) => {
                    let lamports = le_u64(&ix.data[4..]).unwrap_or(0);
                    let owner = key32(&ix.data[20..52]);
                    details.push((
                        format!("instruction {i}"),
                        format!(
                            "create account {} funded by {}, owned by program {}",
                            acct(1),
                            acct(0),
                            owner
                        ),
                    ));
                    recipients.push(Recipient {
                        address: acct(1),
                        amount: sol(lamports),
                        asset: Asset::Native,
                        index: i,
                    });
                }
                (Some(6), 36) => details.push((
                    format!("instruction {i}"),
                    format!(
                        "initialize nonce account {} with authority {}",
                        acct(0),
                        key32(&ix.data[4..36])
                    ),
                )),
                _ => warnings.push(Warning::UnknownProgram {
                    program: format!("{prog} (system instruction {tag4:?})"),
                }),
            },
            program::TOKEN | program::TOKEN_2022 => {
                match (ix.data.first(), ix.data.len()) {
                    (Some(12), 10) => {
                        let amount = le_u64(&ix.data[1..]).unwrap_or(0);
                        let decimals = ix.data[9];
                        let mint = acct(1);
                        let token = opts.tokens.find(Chain::Solana, &mint);
                        if token.is_none() {
                            warnings.push(Warning::UnknownToken {
                                contract: mint.clone(),
                            });
                        }
                        // The instruction's own decimals are checked on chain against the mint,
                        // so they are trustworthy for display; the symbol only from the list.
                        recipients.push(Recipient {
                            address: format!("{} (token account of recipient)", acct(2)),
                            amount: Amount {
                                base_units: u128::from(amount),
                                decimals: Some(decimals),
                                symbol: token.map_or(mint.clone(), |t| t.symbol.clone()),
                            },
                            asset: Asset::Token {
                                contract: mint,
                                known: token.is_some(),
                            },
                            index: i,
                        });
                        sources.push(Source {
                            reference: format!("instruction {i}"),
                            address: Some(acct(3)),
                            amount: None,
                        });
                    }
                    (Some(3), 9) => {
                        let amount = le_u64(&ix.data[1..]).unwrap_or(0);
                        warnings.push(Warning::UnknownToken {
                            contract: "unchecked transfer: mint not named".into(),
                        });
                        recipients.push(Recipient {
                            address: format!("{} (token account)", acct(1)),
                            amount: Amount {
                                base_units: u128::from(amount),
                                decimals: None,
                                symbol: "unknown token".into(),
                            },
                            asset: Asset::Token {
                                contract: "unknown".into(),
                                known: false,
                            },
                            index: i,
                        });
                    }
                    _ => warnings.push(Warning::UnknownProgram {
                        program: format!("{prog} (token instruction {:?})", ix.data.first()),
                    }),
                }
            }
            program::ATA => {
                let kind = match ix.data.first() {
                    None | Some(0) => "create",
                    Some(1) => "create (idempotent)",
                    Some(t) => {
                        warnings.push(Warning::UnknownProgram {
                            program: format!("{prog} (associated token account instruction {t})"),
                        });
                        continue;
                    }
                };
                if acct(5) != program::TOKEN {
                    warnings.push(Warning::UnknownProgram {
                        program: format!(
                            "{prog} (a token account under {}: its rent depends on the \
                             mint's extensions, more than shown)",
                            acct(5)
                        ),
                    });
                }
                details.push((
                    format!("instruction {i}"),
                    format!(
                        "{kind} token account {} for owner {} (mint {}); its rent, {}, \
                         is paid to it (the owner may close it and keep the rent)",
                        acct(1),
                        acct(2),
                        acct(3),
                        sol(TOKEN_ACCOUNT_RENT).units()
                    ),
                ));
                // The funder pays the new account's rent, which its owner can collect:
                // the station counts it as paid to the owner, and so is it shown.
                recipients.push(Recipient {
                    address: acct(2),
                    amount: sol(TOKEN_ACCOUNT_RENT),
                    asset: Asset::Native,
                    index: i,
                });
            }
            program::COMPUTE_BUDGET => match (ix.data.first(), ix.data.len()) {
                (Some(2), 5) | (Some(3), 9) => {}
                _ => warnings.push(Warning::UnknownProgram {
                    program: format!("{prog} (compute budget {:?})", ix.data.first()),
                }),
            },
            program::MEMO => details.push((
                format!("memo {i}"),
                String::from_utf8_lossy(&ix.data).into_owned(),
            )),
            _ => warnings.push(Warning::UnknownProgram { program: prog }),
        }
    }
    let f = fee(&m);
    if f.price > 0 {
        details.push((
            "compute units".into(),
            format!(
                "limit {}{}, price {} micro-lamports",
                f.limit,
                if f.limit_set {
                    ""
                } else {
                    " (the runtime's default)"
                },
                f.price
            ),
        ));
    }
    Ok(Summary {
        chain: Chain::Solana,
        network: label.to_string(),
        sources,
        recipients,
        fee: Some(Amount {
            base_units: f.total,
            decimals: Some(9),
            symbol: "SOL".into(),
        }),
        fee_detail: format!(
            "{} signature(s) x {LAMPORTS_PER_SIGNATURE} lamports + priority fee {} lamports",
            f.signatures, f.priority
        ),
        details,
        warnings,
    })
}
