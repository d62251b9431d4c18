//! The custodian quorum: the HSM's operating credential is random, split k-of-n with
//! Shamir's scheme, and each share is encrypted (age, scrypt) to its custodian's
//! passphrase. Opening a signing session needs k custodians to type their passphrases;
//! the credential exists only in memory, zeroised when dropped, and is never written.

use std::io::{Read, Write};
use std::iter;

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

/// The HSM operating credential (a 32-byte authentication key).
pub struct Credential(Zeroizing<[u8; 32]>);

impl Credential {
    /// The key bytes, to open a session.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credential(<redacted>)")
    }
}

/// One custodian's encrypted share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustodianShare {
    /// Name shown at unlock.
    pub name: String,
    /// age (scrypt) ciphertext of the Shamir share, hex.
    pub encrypted_share: String,
}

/// The quorum as stored on the station (or split across custodians' media).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuorumFile {
    /// Format version.
    pub version: u8,
    /// Shares needed.
    pub threshold: u8,
    /// The HSM authentication key id this credential opens.
    pub auth_key_id: u16,
    /// Custodians, in order.
    pub custodians: Vec<CustodianShare>,
}

/// Quorum errors; each names the custodian where that can be known.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QuorumError {
    /// Bad k or n.
    #[error("a quorum needs 1 <= k <= n <= 255 custodians with distinct names (k={k}, n={n})")]
    BadShape {
        /// Threshold.
        k: usize,
        /// Custodians.
        n: usize,
    },
    /// No custodian of that name.
    #[error("no custodian named `{0}` in this quorum")]
    UnknownCustodian(String),
    /// The same custodian twice.
    #[error("{0} has already entered a passphrase")]
    AlreadyEntered(String),
    /// The passphrase does not decrypt the custodian's share.
    #[error("wrong passphrase for {0}")]
    WrongPassphrase(String),
    /// The custodian's stored share is damaged.
    #[error("the stored share of {0} is damaged")]
    DamagedShare(String),
    /// Not enough custodians yet.
    #[error("{have} of {need} custodians have entered their passphrase")]
    TooFew {
        /// Entered.
        have: usize,
        /// Needed.
        need: usize,
    },
    /// The shares do not combine: they belong to different quorums, or one was altered.
    #[error("the shares do not combine{}", .suspect.as_ref().map(|s| format!("; the share of {s} does not match the others")).unwrap_or_default())]
    Inconsistent {
        /// The custodian whose share is the odd one out, when enough shares tell.
        suspect: Option<String>,
    },
    /// Encryption or randomness failed.
    #[error("quorum creation failed: {0}")]
    Create(String),
}

const DATA_SIZE: usize = shamirsecretsharing::DATA_SIZE;

impl QuorumFile {
    /// Creates a credential and its quorum. `work_factor` sets scrypt's log2(N) for the
    /// share encryption (age's default when `None`).
    pub fn create(
        auth_key_id: u16,
        threshold: usize,
        custodians: &[(String, SecretString)],
        work_factor: Option<u8>,
    ) -> Result<(Self, Credential), QuorumError> {
        let n = custodians.len();
        let mut names: Vec<&str> = custodians.iter().map(|(c, _)| c.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        if threshold == 0
            || threshold > n
            || n > 255
            || names.len() != n
            || names.iter().any(|s| s.is_empty())
        {
            return Err(QuorumError::BadShape { k: threshold, n });
        }
        let mut data = Zeroizing::new([0u8; DATA_SIZE]);
        getrandom(&mut data[..]).map_err(|e| QuorumError::Create(e.to_string()))?;
        let mut credential = Zeroizing::new([0u8; 32]);
        credential.copy_from_slice(&data[..32]);
        let shares = shamirsecretsharing::create_shares(&data[..], n as u8, threshold as u8)
            .map_err(|e| QuorumError::Create(e.to_string()))?;
        let mut out = Vec::with_capacity(n);
        for ((name, pass), mut share) in custodians.iter().zip(shares) {
            let mut r = age::scrypt::Recipient::new(pass.clone());
            if let Some(wf) = work_factor {
                r.set_work_factor(wf);
            }
            let enc = age::Encryptor::with_recipients(iter::once(&r as &dyn age::Recipient))
                .map_err(|e| QuorumError::Create(e.to_string()))?;
            let mut ct = Vec::new();
            let mut w = enc
                .wrap_output(&mut ct)
                .map_err(|e| QuorumError::Create(e.to_string()))?;
            w.write_all(&share)
                .map_err(|e| QuorumError::Create(e.to_string()))?;
            w.finish().map_err(|e| QuorumError::Create(e.to_string()))?;
            share.zeroize();
            out.push(CustodianShare {
                name: name.clone(),
                encrypted_share: hex::encode(&ct),
            });
        }
        Ok((
            Self {
                version: 1,
                threshold: threshold as u8,
                auth_key_id,
                custodians: out,
            },
            Credential(credential),
        ))
    }

    /// Starts an unlock.
    pub fn unlock(&self) -> Unlock<'_> {
        Unlock {
            file: self,
            entered: Vec::new(),
        }
    }
}

fn getrandom(buf: &mut [u8]) -> std::io::Result<()> {
    use rand_core::RngCore;
    rand_core::OsRng
        .try_fill_bytes(buf)
        .map_err(std::io::Error::other)
}

/// An unlock in progress: custodians enter passphrases in turn.
pub struct Unlock<'a> {
    file: &'a QuorumFile,
    entered: Vec<(String, Zeroizing<Vec<u8>>)>,
}

impl std::fmt::Debug for Unlock<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Unlock")
            .field("entered", &self.entered_names())
            .finish_non_exhaustive()
    }
}

impl Unlock<'_> {
    /// A custodian enters a passphrase; on success returns how many have entered.
    pub fn enter(&mut self, name: &str, passphrase: SecretString) -> Result<usize, QuorumError> {
        let c = self
            .file
            .custodians
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| QuorumError::UnknownCustodian(name.to_string()))?;
        if self.entered.iter().any(|(n, _)| n == name) {
            return Err(QuorumError::AlreadyEntered(name.to_string()));
        }
        let ct = hex::decode(&c.encrypted_share)
            .ok()
            .ok_or_else(|| QuorumError::DamagedShare(name.to_string()))?;
        let mut id = age::scrypt::Identity::new(passphrase);
        id.set_max_work_factor(22);
        let dec = age::Decryptor::new(&ct[..])
            .map_err(|_| QuorumError::DamagedShare(name.to_string()))?;
        let mut r = dec
            .decrypt(iter::once(&id as &dyn age::Identity))
            .map_err(|_| QuorumError::WrongPassphrase(name.to_string()))?;
        let mut share = Zeroizing::new(Vec::new());
        r.read_to_end(&mut share)
            .map_err(|_| QuorumError::DamagedShare(name.to_string()))?;
        if share.len() != shamirsecretsharing::SHARE_SIZE {
            return Err(QuorumError::DamagedShare(name.to_string()));
        }
        self.entered.push((name.to_string(), share));
        Ok(self.entered.len())
    }

    /// Names of custodians who have entered, in order.
    pub fn entered_names(&self) -> Vec<&str> {
        self.entered.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// Shares still needed.
    pub fn remaining(&self) -> usize {
        usize::from(self.file.threshold).saturating_sub(self.entered.len())
    }

    /// Reconstructs the credential (in memory only).
    pub fn finish(self) -> Result<Credential, QuorumError> {
        let need = usize::from(self.file.threshold);
        if self.entered.len() < need {
            return Err(QuorumError::TooFew {
                have: self.entered.len(),
                need,
            });
        }
        let all: Vec<Vec<u8>> = self.entered.iter().map(|(_, s)| s.to_vec()).collect();
        let result = combine(&all);
        let mut all = all;
        match result {
            Some(c) => {
                all.iter_mut().for_each(|s| s.zeroize());
                Ok(c)
            }
            None => {
                // With more than k shares, leaving each out in turn finds the odd one.
                let mut suspect = None;
                if all.len() > need {
                    for i in 0..all.len() {
                        let rest: Vec<Vec<u8>> = all
                            .iter()
                            .enumerate()
                            .filter(|(j, _)| *j != i)
                            .map(|(_, s)| s.clone())
                            .collect();
                        if combine(&rest).is_some() {
                            suspect = Some(self.entered[i].0.clone());
                            break;
                        }
                    }
                }
                all.iter_mut().for_each(|s| s.zeroize());
                Err(QuorumError::Inconsistent { suspect })
            }
        }
    }
}

fn combine(shares: &[Vec<u8>]) -> Option<Credential> {
    let data = Zeroizing::new(shamirsecretsharing::combine_shares(shares).ok()??);
    let mut c = Zeroizing::new([0u8; 32]);
    c.copy_from_slice(data.get(..32)?);
    Some(Credential(c))
}
