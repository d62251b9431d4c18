//! Solana: the facts of a message, decoded by the station itself. The cluster is the one
//! whose station key the message needs; a durable nonce must be one the station controls;
//! no lookup table may hide an account; every instruction is decoded into a typed transfer
//! or refused (an unknown program passes only when policy allows it, as a call to its
//! program id); the fee is computed as the runtime computes it.

use airgap_protocol::network::{Network, SolanaCluster};
use airgap_protocol::summary::solana::{
    b58, fee, parse, program, Fee, Instruction, Message, LAMPORTS_PER_SIGNATURE, PRECOMPILES,
    TOKEN_ACCOUNT_RENT,
};

use super::facts::{check_label, AssetId, Class, Facts, Feature, Transfer, TransferKind};
use super::refusal::Refusal;
use super::Context;
use crate::hsm::{KeyInfo, SigningBackend};
use crate::sign::sign_ed25519;

/// A message ready to sign.
#[derive(Debug, Clone)]
pub struct SolPrepared {
    message: Vec<u8>,
    cluster: SolanaCluster,
    /// The durable nonce account, when used.
    pub nonce_account: Option<String>,
}

impl SolPrepared {
    /// The cluster whose key signs.
    pub fn cluster(&self) -> SolanaCluster {
        self.cluster
    }
}

fn le_u64(d: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(..8)?.try_into().ok()?))
}

fn le_u32(d: &[u8]) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(..4)?.try_into().ok()?))
}

/// The cluster whose station key `m` needs as a signer. A message needing keys of two
/// clusters, or none, is refused.
pub fn cluster_of(index: usize, m: &Message, ctx: &Context<'_>) -> Result<SolanaCluster, Refusal> {
    let signers = m
        .keys
        .get(..usize::from(m.num_required_signatures))
        .unwrap_or(&[]);
    let ours: Vec<SolanaCluster> = ctx
        .keys
        .solana
        .iter()
        .filter(|(_, k)| {
            signers
                .iter()
                .any(|s| s.as_slice() == k.public_key.as_slice())
        })
        .map(|(c, _)| *c)
        .collect();
    match ours.as_slice() {
        [one] => Ok(*one),
        [] => Err(Refusal::NotOurs {
            index,
            why: "the message needs no signature of a station Solana key".into(),
        }),
        [a, b, ..] => Err(Refusal::NetworkMismatch {
            index,
            label: "one cluster".into(),
            derived: format!(
                "solana:{} and solana:{} at once (it needs station keys of both)",
                a.name(),
                b.name()
            ),
        }),
    }
}

fn disallowed(index: usize, what: String) -> Refusal {
    Refusal::Disallowed { index, what }
}

/// Derives the facts of a Solana payload.
pub fn derive(
    index: usize,
    message: &[u8],
    claimed_nonce_account: Option<&[u8; 32]>,
    label: &str,
    ctx: &Context<'_>,
) -> Result<(Facts, SolPrepared), Refusal> {
    let m = parse(message).map_err(|e| Refusal::Undecodable {
        index,
        reason: e.to_string(),
    })?;
    if m.lookup_tables > 0 {
        return Err(disallowed(
            index,
            "address lookup tables whose contents are not supplied".into(),
        ));
    }
    let cluster = cluster_of(index, &m, ctx)?;
    let network = Network::Solana(cluster);
    check_label(index, label, network)?;
    let ours: [u8; 32] = ctx
        .keys
        .solana(cluster)
        .and_then(|k| k.public_key.as_slice().try_into().ok())
        .ok_or_else(|| Refusal::NotOurs {
            index,
            why: "station Solana key unreadable".into(),
        })?;
    let key = |i: usize| m.keys.get(i).copied();
    let acct = |ix: &Instruction, n: usize| ix.accounts.get(n).and_then(|&a| key(a));
    let missing = |what: &str| Refusal::Undecodable {
        index,
        reason: format!("{what}: account missing"),
    };

    // Durable nonce: the first instruction advances a nonce account whose authority is
    // the station key of this cluster.
    let is_advance = |ix: &Instruction| {
        key(ix.program).map(|k| b58(&k)).as_deref() == Some(program::SYSTEM)
            && ix.data == 4u32.to_le_bytes()
    };
    let nonce_account = match m.instructions.first().filter(|ix| is_advance(ix)) {
        Some(ix) => {
            let account = acct(ix, 0).ok_or_else(|| missing("advance nonce"))?;
            let authority = acct(ix, 2).ok_or_else(|| missing("advance nonce authority"))?;
            if authority != ours {
                return Err(Refusal::ForeignNonce {
                    index,
                    what: format!("authority {}", b58(&authority)),
                });
            }
            if claimed_nonce_account.is_some_and(|c| *c != account) {
                return Err(Refusal::ForeignNonce {
                    index,
                    what: format!("account {} (request names another)", b58(&account)),
                });
            }
            Some(account)
        }
        None => {
            if claimed_nonce_account.is_some() {
                return Err(Refusal::ForeignNonce {
                    index,
                    what: "account named in the request but not advanced by the message".into(),
                });
            }
            None
        }
    };

    let class = |a: &[u8; 32]| {
        if *a == ours {
            Class::Own {
                proof: "the station's own account".into(),
            }
        } else {
            ctx.class_of(network, &b58(a))
        }
    };
    let sol = |i: usize, kind, amount: u64, to: [u8; 32]| Transfer {
        index: i,
        kind,
        asset: AssetId::Native,
        amount: u128::from(amount),
        to: b58(&to),
        class: class(&to),
        decimals: Some(9),
        symbol: "SOL".into(),
    };
    let mut transfers = Vec::new();
    let mut features = Vec::new();
    let (mut price_set, mut limit_set) = (false, false);
    for (i, ix) in m.instructions.iter().enumerate() {
        let prog = key(ix.program).map(|k| b58(&k)).unwrap_or_default();
        let tag4 = le_u32(&ix.data);
        match prog.as_str() {
            program::SYSTEM => match (tag4, ix.data.len()) {
                (Some(2), 12) => {
                    let lamports = le_u64(&ix.data[4..]).unwrap_or(0);
                    let to = acct(ix, 1).ok_or_else(|| missing("transfer"))?;
                    transfers.push(sol(i, TransferKind::Payment, lamports, to));
                }
                (Some(0), 52) => {
                    let lamports = le_u64(&ix.data[4..]).unwrap_or(0);
                    let to = acct(ix, 1).ok_or_else(|| missing("create account"))?;
                    transfers.push(sol(i, TransferKind::AccountFunding, lamports, to));
                }
                (Some(4), 4) if i == 0 => {}
                (Some(6), 36) => {}
                _ => {
                    return Err(disallowed(
                        index,
                        format!(
                            "system instruction {} (instruction {i})",
                            tag4.map_or("?".into(), |t| t.to_string())
                        ),
                    ))
                }
            },
            // The settings themselves are read by `fee`; here each may appear once.
            program::COMPUTE_BUDGET => {
                let dup = || {
                    disallowed(
                        index,
                        format!("a repeated compute budget instruction at {i}"),
                    )
                };
                match (ix.data.first(), ix.data.len()) {
                    (Some(2), 5) => {
                        if limit_set {
                            return Err(dup());
                        }
                        limit_set = true;
                    }
                    (Some(3), 9) => {
                        if price_set {
                            return Err(dup());
                        }
                        price_set = true;
                    }
                    _ => {
                        return Err(disallowed(
                            index,
                            format!(
                                "compute budget instruction {} (instruction {i})",
                                ix.data.first().map_or("?".into(), |t| t.to_string())
                            ),
                        ))
                    }
                }
            }
            program::TOKEN | program::TOKEN_2022 => {
                match (ix.data.first(), ix.data.len()) {
                    (Some(12), 10) => {
                        let amount = le_u64(&ix.data[1..]).unwrap_or(0);
                        let decimals = ix.data[9];
                        let mint = b58(&acct(ix, 1).ok_or_else(|| missing("transfer checked"))?);
                        let dest = acct(ix, 2).ok_or_else(|| missing("transfer checked"))?;
                        let token = ctx.tokens.find(airgap_protocol::envelope::Chain::Solana, &mint);
                        transfers.push(Transfer {
                            index: i,
                            kind: TransferKind::Payment,
                            asset: AssetId::Token(mint.clone()),
                            amount: u128::from(amount),
                            to: b58(&dest),
                            // A token account is only ever matched against the policy's
                            // registered destinations: the station cannot see its owner.
                            class: ctx.class_of(network, &b58(&dest)),
                            // Checked on chain against the mint: fit for display.
                            decimals: Some(decimals),
                            symbol: token.map_or(mint, |t| t.symbol.clone()),
                        });
                    }
                    (Some(3), 9) => {
                        return Err(disallowed(
                            index,
                            format!("an unchecked token transfer (instruction {i}; it does not name its mint)"),
                        ))
                    }
                    (tag, _) => {
                        return Err(disallowed(
                            index,
                            format!("token instruction {} (instruction {i})", tag.map_or("?".into(), |t| t.to_string())),
                        ))
                    }
                }
            }
            program::ATA => {
                if !matches!(ix.data.first(), None | Some(0) | Some(1)) {
                    return Err(disallowed(
                        index,
                        format!(
                            "associated token account instruction {} (instruction {i})",
                            ix.data.first().map_or("?".into(), |t| t.to_string())
                        ),
                    ));
                }
                let owner = acct(ix, 2).ok_or_else(|| missing("create token account"))?;
                let token_program = acct(ix, 5).map(|k| b58(&k));
                if token_program.as_deref() != Some(program::TOKEN) {
                    return Err(disallowed(
                        index,
                        format!(
                            "a token account created for a token program other than SPL Token \
                             (instruction {i}; its rent depends on the mint's extensions)"
                        ),
                    ));
                }
                // The funder pays the account's rent; whoever owns the account can close
                // it and collect it: a transfer to the owner.
                transfers.push(sol(i, TransferKind::Rent, TOKEN_ACCOUNT_RENT, owner));
            }
            program::MEMO => {}
            p if PRECOMPILES.contains(&p) => {
                features.push(Feature::UnknownProgram { program: p.into() });
                transfers.push(Transfer {
                    index: i,
                    kind: TransferKind::Call,
                    asset: AssetId::Native,
                    amount: 0,
                    to: p.into(),
                    class: ctx.class_of(network, p),
                    decimals: Some(9),
                    symbol: "SOL".into(),
                });
            }
            other => {
                features.push(Feature::UnknownProgram {
                    program: other.to_string(),
                });
                // The program is the destination of the call.
                transfers.push(Transfer {
                    index: i,
                    kind: TransferKind::Call,
                    asset: AssetId::Native,
                    amount: 0,
                    to: other.to_string(),
                    class: ctx.class_of(network, other),
                    decimals: Some(9),
                    symbol: "SOL".into(),
                });
            }
        }
    }
    let Fee {
        signatures,
        limit,
        limit_set,
        price,
        priority,
        total,
    } = fee(&m);
    let spends = vec![match nonce_account {
        Some(a) => format!(
            "sol:{network}:nonce:{}:{}",
            b58(&a),
            b58(&m.recent_blockhash)
        ),
        None => format!(
            "sol:{network}:blockhash:{}:{}",
            b58(&ours),
            b58(&m.recent_blockhash)
        ),
    }];
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(message))
    };
    let facts = Facts {
        index,
        network,
        inputs: Vec::new(),
        transfers,
        fee: total,
        fee_detail: format!(
            "{signatures} signature(s) x {LAMPORTS_PER_SIGNATURE} lamports + priority {priority} lamports \
             ({limit} compute units{} x {price} micro-lamports)",
            if limit_set { "" } else { " by default" },
        ),
        features,
        spends,
        digest,
    };
    Ok((
        facts,
        SolPrepared {
            message: message.to_vec(),
            cluster,
            nonce_account: nonce_account.map(|a| b58(&a)),
        },
    ))
}

/// Signs the message with the cluster's key.
pub fn sign<B: SigningBackend + ?Sized>(
    p: &SolPrepared,
    backend: &B,
    key: &KeyInfo,
) -> Result<([u8; 32], [u8; 64]), Refusal> {
    let sig = sign_ed25519(backend, key, &p.message).map_err(Refusal::Hsm)?;
    let pk: [u8; 32] = key
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| Refusal::NotOurs {
            index: 0,
            why: "key".into(),
        })?;
    Ok((pk, sig))
}
