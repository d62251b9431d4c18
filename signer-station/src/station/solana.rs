//! Solana: the station parses the message itself, checks it signs with the station key,
//! that a durable nonce is one the station controls, and that no lookup table hides an
//! account.

use airgap_protocol::summary::solana::{b58, parse, program};

use super::refusal::Refusal;
use crate::hsm::{KeyInfo, SigningBackend};
use crate::sign::sign_ed25519;

/// A message ready to sign.
#[derive(Debug, Clone)]
pub struct SolPrepared {
    message: Vec<u8>,
    /// The durable nonce account, when used.
    pub nonce_account: Option<String>,
    /// Durable nonce (or blockhash) consumed, as a replay key.
    pub spends: Vec<String>,
}

/// Checks a Solana payload.
pub fn prepare(
    index: usize,
    network: &str,
    message: &[u8],
    claimed_nonce_account: Option<&[u8; 32]>,
    key: &KeyInfo,
) -> Result<SolPrepared, Refusal> {
    let m = parse(message).map_err(|e| Refusal::Undecodable {
        index,
        reason: e.to_string(),
    })?;
    if m.lookup_tables > 0 {
        return Err(Refusal::Disallowed {
            index,
            what: "address lookup tables whose contents are not supplied".into(),
        });
    }
    let ours: [u8; 32] = key
        .public_key
        .as_slice()
        .try_into()
        .map_err(|_| Refusal::NotOurs {
            index,
            why: "station Solana key unreadable".into(),
        })?;
    let signers = &m.keys[..usize::from(m.num_required_signatures)];
    if !signers.contains(&ours) {
        return Err(Refusal::NotOurs {
            index,
            why: format!(
                "the message does not need a signature from the station key {}",
                b58(&ours)
            ),
        });
    }
    let first = m.instructions.first();
    let is_advance = first.is_some_and(|ix| {
        m.keys.get(ix.program).map(b58).as_deref() == Some(program::SYSTEM)
            && ix.data == 4u32.to_le_bytes()
    });
    let (nonce_account, spends) = if let Some(ix) = first.filter(|_| is_advance) {
        let account =
            ix.accounts
                .first()
                .and_then(|&a| m.keys.get(a))
                .ok_or(Refusal::Undecodable {
                    index,
                    reason: "advance nonce without account".into(),
                })?;
        let authority =
            ix.accounts
                .get(2)
                .and_then(|&a| m.keys.get(a))
                .ok_or(Refusal::Undecodable {
                    index,
                    reason: "advance nonce without authority".into(),
                })?;
        if *authority != ours {
            return Err(Refusal::ForeignNonce {
                index,
                what: format!("authority {}", b58(authority)),
            });
        }
        if claimed_nonce_account.is_some_and(|c| c != account) {
            return Err(Refusal::ForeignNonce {
                index,
                what: format!("account {} (request names another)", b58(account)),
            });
        }
        let a = b58(account);
        (
            Some(a.clone()),
            vec![format!(
                "sol:{network}:nonce:{a}:{}",
                b58(&m.recent_blockhash)
            )],
        )
    } else {
        if claimed_nonce_account.is_some() {
            return Err(Refusal::ForeignNonce {
                index,
                what: "account named in the request but not advanced by the message".into(),
            });
        }
        (
            None,
            vec![format!(
                "sol:{network}:blockhash:{}:{}",
                b58(&ours),
                b58(&m.recent_blockhash)
            )],
        )
    };
    Ok(SolPrepared {
        message: message.to_vec(),
        nonce_account,
        spends,
    })
}

/// Signs the message.
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
