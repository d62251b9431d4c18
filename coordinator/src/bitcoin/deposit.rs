//! Deposit addresses for the warm tier: BIP-84 style, watch-only, from an account xpub
//! (`wpkh(xpub/0/*)` for receiving, `wpkh(xpub/1/*)` for change).

use std::str::FromStr;

use bdk_wallet::bitcoin::bip32::{ChildNumber, Xpub};
use bdk_wallet::bitcoin::secp256k1::{Secp256k1, VerifyOnly};
use bdk_wallet::bitcoin::{Address, CompressedPublicKey, Network};
use bdk_wallet::{KeychainKind, Wallet};

use super::BuildError;

/// A pool of deposit addresses.
#[derive(Debug)]
pub struct DepositPool {
    wallet: Wallet,
    /// The receiving branch's key (`account/0`), derived once: each address is then one
    /// unhardened step (an HMAC and a fixed-base scalar multiplication).
    branch: Xpub,
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
        Ok(Self {
            wallet,
            branch,
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
        match ChildNumber::from_normal_idx(index).and_then(|c| self.branch.ckd_pub(&self.secp, c)) {
            Ok(child) => Address::p2wpkh(&CompressedPublicKey(child.public_key), self.network),
            // An index of 2^31 or more has no unhardened child: the wallet says so.
            Err(_) => {
                self.wallet
                    .peek_address(KeychainKind::External, index)
                    .address
            }
        }
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
