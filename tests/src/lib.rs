//! Shared harness code for the end-to-end tests: sample transactions built with each
//! chain's own library, and keys with fixed seeds.

pub mod anvil;
pub mod btcchain;
pub mod btcserver;
pub mod console;
pub mod desks;
pub mod evm_vault;
pub mod fixtures;
pub mod litesvm;
pub mod qr;
pub mod requests;
pub mod service;
pub mod wallets;
