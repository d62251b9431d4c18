//! Nonce management: a nonce is held by at most one live request per account; a
//! replacement takes over its predecessor's nonce on purpose; a cancelled request's
//! nonce is handed to the next request so no gap stalls the account.

use std::collections::BTreeMap;

use alloy_primitives::Address;
use serde::{Deserialize, Serialize};

/// One request's hold on a nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reservation {
    /// The request.
    pub request: String,
    /// The nonce.
    pub nonce: u64,
    /// Still able to land (not cancelled, failed or replaced).
    pub live: bool,
    /// The request that replaced this one, if any.
    pub replaced_by: Option<String>,
}

/// Why a nonce was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    /// The request to replace holds no live nonce on this account.
    #[error("request {0} holds no live nonce on this account")]
    NotLive(String),
    /// The new request already holds a nonce.
    #[error("request {0} already holds nonce {1}")]
    AlreadyHolds(String, u64),
}

/// Every account's reservations.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NonceBook {
    accounts: BTreeMap<String, Vec<Reservation>>,
}

fn account(chain_id: u64, from: Address) -> String {
    format!("{chain_id}:{from:#x}")
}

impl NonceBook {
    /// The reservations of an account.
    pub fn reservations(&self, chain_id: u64, from: Address) -> &[Reservation] {
        self.accounts
            .get(&account(chain_id, from))
            .map_or(&[], Vec::as_slice)
    }

    /// The nonce for `request`: the one it already holds, else the lowest nonce at or
    /// above `chain_next` (the node's pending count) that no live request holds.
    pub fn reserve(&mut self, chain_id: u64, from: Address, request: &str, chain_next: u64) -> u64 {
        let list = self.accounts.entry(account(chain_id, from)).or_default();
        if let Some(r) = list.iter().find(|r| r.live && r.request == request) {
            return r.nonce;
        }
        let mut n = chain_next;
        while list.iter().any(|r| r.live && r.nonce == n) {
            n += 1;
        }
        list.push(Reservation {
            request: request.into(),
            nonce: n,
            live: true,
            replaced_by: None,
        });
        n
    }

    /// `new_request` takes over `old_request`'s nonce (a replacement with higher fees);
    /// the old one stops being live.
    pub fn replace(
        &mut self,
        chain_id: u64,
        from: Address,
        old_request: &str,
        new_request: &str,
    ) -> Result<u64, NonceError> {
        let list = self.accounts.entry(account(chain_id, from)).or_default();
        if let Some(r) = list.iter().find(|r| r.live && r.request == new_request) {
            return Err(NonceError::AlreadyHolds(new_request.into(), r.nonce));
        }
        let old = list
            .iter_mut()
            .find(|r| r.live && r.request == old_request)
            .ok_or_else(|| NonceError::NotLive(old_request.into()))?;
        old.live = false;
        old.replaced_by = Some(new_request.into());
        let nonce = old.nonce;
        list.push(Reservation {
            request: new_request.into(),
            nonce,
            live: true,
            replaced_by: None,
        });
        Ok(nonce)
    }

    /// `request` will not be broadcast (cancelled, expired, refused): its nonce is free.
    pub fn release(&mut self, chain_id: u64, from: Address, request: &str) {
        if let Some(list) = self.accounts.get_mut(&account(chain_id, from)) {
            for r in list.iter_mut().filter(|r| r.request == request) {
                r.live = false;
            }
        }
    }

    /// Forgets reservations below the account's confirmed nonce: those nonces are used.
    pub fn settle(&mut self, chain_id: u64, from: Address, confirmed_next: u64) {
        if let Some(list) = self.accounts.get_mut(&account(chain_id, from)) {
            list.retain(|r| r.nonce >= confirmed_next);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Address = Address::repeat_byte(0xaa);

    #[test]
    fn two_live_requests_never_share_a_nonce() {
        let mut b = NonceBook::default();
        assert_eq!(b.reserve(1, A, "r1", 5), 5);
        assert_eq!(b.reserve(1, A, "r2", 5), 6);
        // The node's pending count may lag or lead; still no sharing.
        assert_eq!(b.reserve(1, A, "r3", 4), 4);
        assert_eq!(b.reserve(1, A, "r4", 4), 7);
        // Asking again is idempotent.
        assert_eq!(b.reserve(1, A, "r2", 9), 6);
        // Other chains and accounts are separate.
        assert_eq!(b.reserve(56, A, "x", 5), 5);
        let live: Vec<u64> = b
            .reservations(1, A)
            .iter()
            .filter(|r| r.live)
            .map(|r| r.nonce)
            .collect();
        let mut dedup = live.clone();
        dedup.sort();
        dedup.dedup();
        assert_eq!(live.len(), dedup.len());
    }

    #[test]
    fn cancelled_nonce_is_reused_and_replacement_is_deliberate() {
        let mut b = NonceBook::default();
        b.reserve(1, A, "r1", 0);
        b.reserve(1, A, "r2", 0);
        b.release(1, A, "r1");
        assert_eq!(b.reserve(1, A, "r3", 0), 0, "the gap is filled");
        assert_eq!(b.replace(1, A, "r2", "r2-bump"), Ok(1));
        assert_eq!(
            b.replace(1, A, "r2", "again"),
            Err(NonceError::NotLive("r2".into()))
        );
        assert_eq!(
            b.replace(1, A, "r3", "r2-bump"),
            Err(NonceError::AlreadyHolds("r2-bump".into(), 1))
        );
        assert_eq!(b.reserve(1, A, "r4", 0), 2);
        b.settle(1, A, 2);
        assert_eq!(b.reservations(1, A).len(), 1);
    }
}
