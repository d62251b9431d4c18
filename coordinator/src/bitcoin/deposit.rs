//! Deposit addresses for the warm tier: BIP-84 style, watch-only, from an account xpub
//! (`wpkh(xpub/0/*)` for receiving, `wpkh(xpub/1/*)` for change).

use std::str::FromStr;

use bdk_wallet::bitcoin::bip32::{ChildNumber, Xpub};
use bdk_wallet::bitcoin::hashes::hmac::{Hmac, HmacEngine};
use bdk_wallet::bitcoin::hashes::{sha512, Hash as _, HashEngine};
use bdk_wallet::bitcoin::secp256k1::{Scalar, Secp256k1, SecretKey, VerifyOnly};
use bdk_wallet::bitcoin::{Address, CompressedPublicKey, Network};
use bdk_wallet::{KeychainKind, Wallet};

use super::BuildError;

/// A pool of deposit addresses.
#[derive(derive_more::Debug)]
pub struct DepositPool {
    wallet: Wallet,
    /// The receiving branch's key (`account/0`), derived once: each address is then one
    /// unhardened step (an HMAC and a fixed-base scalar multiplication).
    branch: Xpub,
    /// BIP-32's HMAC for that step, keyed by the branch's chain code and fed its public
    /// key: each address only adds its index.
    #[debug(skip)]
    step: HmacEngine<sha512::Hash>,
    secp: Secp256k1<VerifyOnly>,
    network: Network,
}

impl DepositPool {
    /// From an account-level extended public key (with or without key origin, e.g.
    /// `[d34db33f/84'/1'/0']tpub…`).
    pub fn new(account_xpub: &str, network: Network) -> Result<Self, BuildError> {
        let wallet = Wallet::create(
            format!("wpkh({account_xpub}/0/*)"),
            format!("wpkh({account_xpub}/1/*)"),
        )
        .network(network)
        .create_wallet_no_persist()
        .map_err(|e| BuildError::Descriptor(e.to_string()))?;
        let bad = |e: String| BuildError::Descriptor(format!("deposit account key: {e}"));
        let key = account_xpub.rsplit(']').next().unwrap_or(account_xpub);
        let account = Xpub::from_str(key).map_err(|e| bad(e.to_string()))?;
        let secp = Secp256k1::verification_only();
        let branch = account
            .ckd_pub(&secp, ChildNumber::Normal { index: 0 })
            .map_err(|e| bad(e.to_string()))?;
        let mut step = HmacEngine::<sha512::Hash>::new(&branch.chain_code[..]);
        step.input(&branch.public_key.serialize());
        Ok(Self {
            wallet,
            branch,
            step,
            secp,
            network,
        })
    }

    /// Hands out the next unused receiving address and its index.
    pub fn hand_out(&mut self) -> (u32, Address) {
        let a = self.wallet.reveal_next_address(KeychainKind::External);
        (a.index, a.address)
    }

    /// The receiving address at `index` (without handing it out): `wpkh(account/0/index)`,
    /// from the cached branch key (the wallet's own derivation gives the same, slower).
    pub fn peek(&self, index: u32) -> Address {
        match self.child(index) {
            Some(child) => Address::p2wpkh(&CompressedPublicKey(child), self.network),
            // An index of 2^31 or more has no unhardened child: the wallet says so.
            None => {
                self.wallet
                    .peek_address(KeychainKind::External, index)
                    .address
            }
        }
    }

    /// BIP-32's unhardened child of the branch key at `index` (CKDpub), or `None` where
    /// there is none (an index of 2^31 or more, or a tweak outside the curve's order).
    fn child(&self, index: u32) -> Option<bdk_wallet::bitcoin::secp256k1::PublicKey> {
        if index >= 1 << 31 {
            return None;
        }
        let mut e = self.step.clone();
        e.input(&index.to_be_bytes());
        let h = Hmac::<sha512::Hash>::from_engine(e);
        let tweak = SecretKey::from_slice(&h[..32]).ok()?;
        self.branch
            .public_key
            .add_exp_tweak(&self.secp, &Scalar::from(tweak))
            .ok()
    }

    /// The index of a receiving address this pool has handed out (or looks ahead to).
    pub fn index_of(&self, address: &Address) -> Option<u32> {
        self.wallet
            .derivation_of_spk(address.script_pubkey())
            .and_then(|(k, i)| (k == KeychainKind::External).then_some(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bdk_wallet::bitcoin::base58;

    /// BIP-84's test vector: account 0 of "abandon … about", given as a zpub; the
    /// descriptor takes the same key with xpub version bytes.
    #[test]
    fn bip84_vector_addresses() {
        let zpub = "zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs";
        let mut raw = base58::decode_check(zpub).unwrap();
        raw[..4].copy_from_slice(&[0x04, 0x88, 0xb2, 0x1e]);
        let xpub = base58::encode_check(&raw);
        let mut pool = DepositPool::new(&xpub, Network::Bitcoin).unwrap();
        let (i0, a0) = pool.hand_out();
        let (i1, a1) = pool.hand_out();
        assert_eq!(
            (i0, a0.to_string()),
            (0, "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu".into())
        );
        assert_eq!(
            (i1, a1.to_string()),
            (1, "bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g".into())
        );
        assert_eq!(pool.index_of(&a1), Some(1));
        assert_eq!(pool.peek(0), a0);
        // The cached branch key gives the wallet's own addresses.
        for i in [0, 1, 2, 99, 4_096, 1_000_003] {
            let wallet = pool.wallet.peek_address(KeychainKind::External, i).address;
            assert_eq!(pool.peek(i), wallet, "index {i}");
        }
        // A testnet pool refuses a mainnet key.
        let e = DepositPool::new(&xpub, Network::Testnet).unwrap_err();
        assert!(e.to_string().contains("network"), "{e}");
    }
}
