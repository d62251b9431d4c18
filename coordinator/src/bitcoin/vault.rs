//! A watch-only vault wallet.

use bdk_wallet::bitcoin::hashes::Hash as _;
use bdk_wallet::bitcoin::{
    absolute, Address, Amount, Block, FeeRate, Network, OutPoint, Psbt, PublicKey, ScriptBuf,
    Transaction, TxOut,
};
use bdk_wallet::chain::BlockId;
use bdk_wallet::{KeychainKind, SignOptions, Wallet};

/// Why a vault or a PSBT was not made.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// Bad descriptor or keys.
    #[error("vault descriptor: {0}")]
    Descriptor(String),
    /// An address for another network.
    #[error("address {address} is not for {network}")]
    WrongNetwork {
        /// The address.
        address: String,
        /// The vault's network.
        network: Network,
    },
    /// Coin selection or PSBT creation failed (insufficient funds, dust, …).
    #[error("{0}")]
    Create(String),
    /// A block that does not connect to the wallet's chain.
    #[error("block at height {height} does not connect: {reason}")]
    Connect {
        /// Height.
        height: u32,
        /// Why.
        reason: String,
    },
    /// Finalising failed (not enough signatures, …).
    #[error("finalise: {0}")]
    Finalize(String),
}

/// `[fingerprint]key`: a key that is not derived from an HD seed (a station's HSM key)
/// with its own origin, the first four bytes of its HASH160, so PSBTs carry a key-origin
/// record for it and wallets that want one for every key find it.
pub fn with_origin(key: &PublicKey) -> String {
    let h = bdk_wallet::bitcoin::hashes::hash160::Hash::hash(&key.to_bytes());
    format!("[{}]{key}", hex::encode(&h.as_byte_array()[..4]))
}

/// A watch-only vault.
#[derive(Debug)]
pub struct Vault {
    /// Name.
    pub name: String,
    /// The descriptor (public keys only).
    pub descriptor: String,
    /// Network.
    pub network: Network,
    wallet: Wallet,
}

impl Vault {
    /// A vault from a descriptor string.
    pub fn from_descriptor(
        name: &str,
        descriptor: &str,
        network: Network,
    ) -> Result<Self, BuildError> {
        let wallet = Wallet::create_single(descriptor.to_string())
            .network(network)
            .create_wallet_no_persist()
            .map_err(|e| BuildError::Descriptor(e.to_string()))?;
        Ok(Self {
            name: name.into(),
            descriptor: descriptor.into(),
            network,
            wallet,
        })
    }

    /// A single-key vault: `wpkh(K)`.
    pub fn single(name: &str, key: &PublicKey, network: Network) -> Result<Self, BuildError> {
        if !key.compressed {
            return Err(BuildError::Descriptor(
                "segwit needs a compressed key".into(),
            ));
        }
        Self::from_descriptor(name, &format!("wpkh({key})"), network)
    }

    /// An m-of-n vault over keys from several stations (and hardware wallets):
    /// `wsh(sortedmulti(m, K1, …, Kn))`.
    pub fn multisig(
        name: &str,
        threshold: usize,
        keys: &[PublicKey],
        network: Network,
    ) -> Result<Self, BuildError> {
        if threshold == 0 || threshold > keys.len() || keys.len() > 20 {
            return Err(BuildError::Descriptor(format!(
                "{threshold} of {} keys",
                keys.len()
            )));
        }
        let list: Vec<String> = keys.iter().map(with_origin).collect();
        Self::from_descriptor(
            name,
            &format!("wsh(sortedmulti({threshold},{}))", list.join(",")),
            network,
        )
    }

    /// The vault as wallets register it: its descriptor with every key's origin and its
    /// checksum, and a BSMS (BIP-129) record — `BSMS 1.0`, the descriptor, `No path
    /// restrictions`, the first address.
    pub fn export(&self) -> Result<(String, String), BuildError> {
        let d: bdk_wallet::miniscript::Descriptor<bdk_wallet::miniscript::DescriptorPublicKey> =
            self.descriptor
                .parse()
                .map_err(|e: bdk_wallet::miniscript::Error| {
                    BuildError::Descriptor(e.to_string())
                })?;
        let text = d.to_string();
        let first = self.wallet.peek_address(KeychainKind::External, 0).address;
        let restrictions = if d.has_wildcard() {
            "/0/*,/1/*"
        } else {
            "No path restrictions"
        };
        Ok((
            text.clone(),
            format!("BSMS 1.0\n{text}\n{restrictions}\n{first}\n"),
        ))
    }

    /// Tracks the receiving addresses of a wildcard descriptor up to `index` (deposit
    /// pools: every address handed out must be watched).
    pub fn reveal_to(&mut self, index: u32) {
        let _ = self
            .wallet
            .reveal_addresses_to(KeychainKind::External, index)
            .count();
    }

    /// The vault's address.
    pub fn address(&self) -> Address {
        self.wallet.peek_address(KeychainKind::External, 0).address
    }

    /// Applies a block at `height` on top of the wallet's tip.
    pub fn apply_block(&mut self, block: &Block, height: u32) -> Result<(), BuildError> {
        let tip = self.wallet.latest_checkpoint();
        let connected_to = if tip.height() + 1 == height {
            tip.block_id()
        } else {
            BlockId {
                height: height.saturating_sub(1),
                hash: block.header.prev_blockhash,
            }
        };
        self.wallet
            .apply_block_connected_to(block, height, connected_to)
            .map_err(|e| BuildError::Connect {
                height,
                reason: e.to_string(),
            })
    }

    /// The wallet's tip: height and hash.
    pub fn tip(&self) -> (u32, bdk_wallet::bitcoin::BlockHash) {
        let t = self.wallet.latest_checkpoint();
        (t.height(), t.hash())
    }

    /// The hash the wallet holds for `height`, if it holds one.
    pub fn block_at(&self, height: u32) -> Option<bdk_wallet::bitcoin::BlockHash> {
        self.wallet
            .latest_checkpoint()
            .get(height)
            .map(|c| c.hash())
    }

    /// Spendable balance (confirmed and our own unconfirmed change).
    pub fn balance(&self) -> Amount {
        self.wallet.balance().trusted_spendable()
    }

    /// Whether `script` is one of the wallet's (revealed or within the lookahead).
    pub fn owns(&self, script: &bdk_wallet::bitcoin::Script) -> bool {
        self.wallet.is_mine(script.to_owned())
    }

    /// Unspent outputs.
    pub fn utxos(&self) -> Vec<(OutPoint, TxOut)> {
        self.wallet
            .list_unspent()
            .map(|u| (u.outpoint, u.txout))
            .collect()
    }

    fn checked(
        &self,
        a: &Address<bdk_wallet::bitcoin::address::NetworkUnchecked>,
    ) -> Result<Address, BuildError> {
        a.clone()
            .require_network(self.network)
            .map_err(|_| BuildError::WrongNetwork {
                address: a.clone().assume_checked().to_string(),
                network: self.network,
            })
    }

    /// A payment to one or many recipients; change back to the vault; RBF signalled.
    pub fn payment(
        &mut self,
        recipients: &[(
            Address<bdk_wallet::bitcoin::address::NetworkUnchecked>,
            Amount,
        )],
        fee_rate: FeeRate,
    ) -> Result<Psbt, BuildError> {
        self.payment_excluding(recipients, fee_rate, &[])
    }

    /// As [`Vault::payment`], never spending `exclude` (coins other live requests
    /// already spend).
    pub fn payment_excluding(
        &mut self,
        recipients: &[(
            Address<bdk_wallet::bitcoin::address::NetworkUnchecked>,
            Amount,
        )],
        fee_rate: FeeRate,
        exclude: &[OutPoint],
    ) -> Result<Psbt, BuildError> {
        let checked = recipients
            .iter()
            .map(|(a, v)| Ok((self.checked(a)?.script_pubkey(), *v)))
            .collect::<Result<Vec<_>, BuildError>>()?;
        let mut b = self.wallet.build_tx();
        b.set_recipients(checked)
            .unspendable(exclude.to_vec())
            .fee_rate(fee_rate)
            .nlocktime(absolute::LockTime::ZERO)
            .include_output_redeem_witness_script();
        b.finish().map_err(|e| BuildError::Create(e.to_string()))
    }

    /// Every coin of the vault into one output back to the vault.
    pub fn consolidate(&mut self, fee_rate: FeeRate) -> Result<Psbt, BuildError> {
        self.consolidate_excluding(fee_rate, &[])
    }

    /// As [`Vault::consolidate`], never spending `exclude` (coins other live requests
    /// already spend).
    pub fn consolidate_excluding(
        &mut self,
        fee_rate: FeeRate,
        exclude: &[OutPoint],
    ) -> Result<Psbt, BuildError> {
        let own = self.address().script_pubkey();
        let mut b = self.wallet.build_tx();
        b.drain_wallet()
            .unspendable(exclude.to_vec())
            .drain_to(own)
            .fee_rate(fee_rate)
            .nlocktime(absolute::LockTime::ZERO)
            .include_output_redeem_witness_script();
        b.finish().map_err(|e| BuildError::Create(e.to_string()))
    }

    /// Exactly `coins` (of this wallet) into one output to `to`, less the fee.
    pub fn sweep_coins(
        &mut self,
        coins: &[OutPoint],
        to: ScriptBuf,
        fee_rate: FeeRate,
    ) -> Result<Psbt, BuildError> {
        let mut b = self.wallet.build_tx();
        b.add_utxos(coins)
            .map_err(|e| BuildError::Create(e.to_string()))?
            .manually_selected_only()
            .drain_to(to)
            .fee_rate(fee_rate)
            .nlocktime(absolute::LockTime::ZERO);
        b.finish().map_err(|e| BuildError::Create(e.to_string()))
    }

    /// Every coin of the vault to `to`.
    pub fn sweep(
        &mut self,
        to: &Address<bdk_wallet::bitcoin::address::NetworkUnchecked>,
        fee_rate: FeeRate,
    ) -> Result<Psbt, BuildError> {
        let to = self.checked(to)?.script_pubkey();
        let mut b = self.wallet.build_tx();
        b.drain_wallet()
            .drain_to(to)
            .fee_rate(fee_rate)
            .nlocktime(absolute::LockTime::ZERO);
        b.finish().map_err(|e| BuildError::Create(e.to_string()))
    }

    /// Finalises a PSBT carrying enough signatures and extracts the transaction.
    pub fn finalize(&self, psbt: &mut Psbt) -> Result<Transaction, BuildError> {
        let done = self
            .wallet
            .finalize_psbt(
                psbt,
                SignOptions {
                    trust_witness_utxo: false,
                    ..SignOptions::default()
                },
            )
            .map_err(|e| BuildError::Finalize(e.to_string()))?;
        if !done {
            return Err(BuildError::Finalize(
                "not every input has enough valid signatures".into(),
            ));
        }
        psbt.clone()
            .extract_tx()
            .map_err(|e| BuildError::Finalize(e.to_string()))
    }
}
