//! Strongroom's online coordinator: chain adapters that build what the station signs,
//! finish and broadcast what it returns.

pub mod api;
pub mod audit;
pub mod bitcoin;
pub mod chain;
pub mod evm;
mod installation;
pub mod lifecycle;
pub mod pipeline;
pub mod requests;
pub mod risk;
pub mod rpc;
pub mod server;
pub mod service;
pub mod solana;
pub mod store;
pub mod tokens;
pub mod treasury;
pub mod webhook;
mod worker;

/// 32 bytes from the operating system's randomness (wiped when dropped).
pub(crate) fn random32() -> std::io::Result<zeroize::Zeroizing<[u8; 32]>> {
    let mut raw = zeroize::Zeroizing::new([0u8; 32]);
    std::io::Read::read_exact(&mut std::fs::File::open("/dev/urandom")?, raw.as_mut())?;
    Ok(raw)
}
