//! Deposit accounts: the warm tier's deposit addresses, swept into the vault by this
//! station.
//!
//! The HSM signs with keys it holds but cannot derive BIP-32 children, and the exchange
//! hands out a fresh address per deposit. So a deposit account is a BIP-32 seed the
//! ceremony makes and keeps in the HSM as an opaque object ([`SEED_OBJECT`]). Its
//! account key (`m/84'/coin'/0'`) is registered in the signed policy as a deposit vault
//! (`wpkh([fp/84'/coin'/0']xpub/<0;1>/*)`), so the station proves a coin is a deposit by
//! deriving the registered key at the path the PSBT names, like any vault. To sign, the
//! station reads the seed in the custodians' unlocked session, checks it still gives the
//! registered account key, derives the coin's key in memory, signs, and wipes it.
//!
//! The trade-off (docs/THREAT-MODEL.md): deposit keys exist in the station's memory while
//! a sweep is signed, where vault keys never leave the HSM. What they hold is bounded by
//! deposits not yet swept, and the station signs a spend of deposit coins only as a sweep:
//! every output to one of its own vaults, the fee at most a set share of the amount.

use airgap_protocol::network::BitcoinNetwork;
use bitcoin::bip32::{ChildNumber, DerivationPath, Xpriv, Xpub};
use bitcoin::secp256k1::{Message, Secp256k1};
use zeroize::Zeroizing;

use crate::hsm::{HsmError, SigningBackend};

/// The opaque object holding the deposit seed.
pub const SEED_OBJECT: u16 = 0x0710;
/// Its label on the device.
pub const LABEL: &str = "strongroom-deposit-seed";

/// `m/84'/coin'/0'`: coin 0 on mainnet, 1 on the test networks (BIP-84).
pub fn account_path(n: BitcoinNetwork) -> DerivationPath {
    let coin = u32::from(n != BitcoinNetwork::Mainnet);
    DerivationPath::from(vec![
        ChildNumber::Hardened { index: 84 },
        ChildNumber::Hardened { index: coin },
        ChildNumber::Hardened { index: 0 },
    ])
}

/// Makes the deposit seed in the HSM (from the operating system's randomness) unless
/// one is there: a repeated ceremony never replaces it.
pub fn create_seed<B: SigningBackend + ?Sized>(hsm: &B) -> Result<(), HsmError> {
    if hsm.read_opaque(SEED_OBJECT)?.is_some() {
        return Ok(());
    }
    let mut seed = Zeroizing::new([0u8; 32]);
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, seed.as_mut());
    hsm.write_opaque(SEED_OBJECT, LABEL, seed.as_ref())
}

fn master(seed: &[u8], n: BitcoinNetwork) -> Result<Xpriv, HsmError> {
    Xpriv::new_master(n.to_bitcoin(), seed).map_err(|e| HsmError::Device(e.to_string()))
}

fn read_seed<B: SigningBackend + ?Sized>(hsm: &B) -> Result<Zeroizing<Vec<u8>>, HsmError> {
    hsm.read_opaque(SEED_OBJECT)?
        .map(Zeroizing::new)
        .ok_or_else(|| HsmError::Device("this HSM holds no deposit seed".into()))
}

/// `m/84'/coin'/0'` of `seed` on network `n`, with its master key's fingerprint. The
/// master key is wiped before returning; the caller wipes the account key.
fn derive_account<C: bitcoin::secp256k1::Signing>(
    secp: &Secp256k1<C>,
    seed: &[u8],
    n: BitcoinNetwork,
) -> Result<(Xpriv, bitcoin::bip32::Fingerprint), HsmError> {
    let mut m = master(seed, n)?;
    let fingerprint = m.fingerprint(secp);
    let account = m.derive_priv(secp, &account_path(n));
    m.private_key.non_secure_erase();
    Ok((
        account.map_err(|e| HsmError::Device(e.to_string()))?,
        fingerprint,
    ))
}

/// The deposit account of network `n` as a descriptor key: `[fingerprint/84'/coin'/0']xpub`
/// (to register in the policy and to give the coordinator's `[[deposits]]`).
pub fn account_key<B: SigningBackend + ?Sized>(
    hsm: &B,
    n: BitcoinNetwork,
) -> Result<String, HsmError> {
    let seed = read_seed(hsm)?;
    let secp = Secp256k1::signing_only();
    let (mut account, fingerprint) = derive_account(&secp, &seed, n)?;
    let xpub = Xpub::from_priv(&secp, &account);
    account.private_key.non_secure_erase();
    let origin = account_path(n).to_string();
    Ok(format!(
        "[{fingerprint}/{}]{xpub}",
        origin.trim_start_matches("m/")
    ))
}

/// The deposit vault descriptor of network `n` (receive and change branches).
pub fn descriptor<B: SigningBackend + ?Sized>(
    hsm: &B,
    n: BitcoinNetwork,
) -> Result<String, HsmError> {
    Ok(format!("wpkh({}/<0;1>/*)", account_key(hsm, n)?))
}

/// A deposit account opened for one signing: read from the HSM's seed once, checked
/// against the registered account key, wiped when dropped.
pub struct Account {
    key: Xpriv,
    secp: Secp256k1<bitcoin::secp256k1::All>,
}

impl Account {
    /// Network `n`'s account of the HSM's seed, which must give `registered` (the
    /// account key in the policy).
    pub fn open<B: SigningBackend + ?Sized>(
        hsm: &B,
        n: BitcoinNetwork,
        registered: &Xpub,
    ) -> Result<Self, HsmError> {
        let seed = read_seed(hsm)?;
        let secp = Secp256k1::new();
        let (key, _) = derive_account(&secp, &seed, n)?;
        let account = Self { key, secp };
        if Xpub::from_priv(&account.secp, &account.key) != *registered {
            return Err(HsmError::Device(
                "the HSM's deposit seed does not give the registered deposit account".into(),
            ));
        }
        Ok(account)
    }

    /// Signs `sighash` with the key at `(branch, index)` of the account. Low-S; the key
    /// lives only for this call.
    pub fn sign(
        &self,
        (branch, index): (u32, u32),
        sighash: &[u8; 32],
    ) -> Result<(bitcoin::PublicKey, bitcoin::secp256k1::ecdsa::Signature), HsmError> {
        let bad = |e: bitcoin::bip32::Error| HsmError::Device(e.to_string());
        let path = [
            ChildNumber::from_normal_idx(branch).map_err(bad)?,
            ChildNumber::from_normal_idx(index).map_err(bad)?,
        ];
        let mut child = self.key.derive_priv(&self.secp, &path).map_err(bad)?;
        let mut sig = self
            .secp
            .sign_ecdsa(&Message::from_digest(*sighash), &child.private_key);
        sig.normalize_s();
        let pk = bitcoin::PublicKey::new(child.private_key.public_key(&self.secp));
        child.private_key.non_secure_erase();
        Ok((pk, sig))
    }
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account").finish_non_exhaustive()
    }
}

impl Drop for Account {
    fn drop(&mut self) {
        self.key.private_key.non_secure_erase();
    }
}
