//! EVM chains: vault accounts from the station descriptor's secp256k1 key, transactions
//! built with alloy-consensus (EIP-1559 by default, EIP-155 legacy where a chain needs
//! it), native and ERC-20 transfers, nonce management, finishing with the station's
//! signature, broadcast, and receipt tracking with reorg and drop detection.

mod adapter;
mod build;
mod client;
mod config;
mod finish;
mod nonce;

pub use adapter::EvmChain;
pub use build::{
    erc20_transfer_data, Asset, BuildError, Builder, Fees, Transfer, TxKindChoice, UnsignedEvmTx,
};
pub use client::EvmRpc;
pub use config::{ChainConfig, Token};
pub use finish::{attach_signature, FinishError, SignedEvmTx, TrackState, Tracker};
pub use nonce::{NonceBook, NonceError, Reservation};

use alloy_primitives::{keccak256, Address};

/// The address of a secp256k1 public key (SEC1 compressed or uncompressed): the last 20
/// bytes of keccak-256 of the uncompressed point.
pub fn vault_address(public_key: &[u8]) -> Option<Address> {
    let pk = k256::PublicKey::from_sec1_bytes(public_key).ok()?;
    let point = k256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&pk, false);
    Some(Address::from_slice(
        &keccak256(&point.as_bytes()[1..])[12..],
    ))
}
