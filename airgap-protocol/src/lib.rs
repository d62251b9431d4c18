//! What crosses the air gap between the Strongroom coordinator and signer station.
//!
//! This crate is sans-I/O: it opens no files, sockets or threads. Encoders hand out
//! parts; receivers are push decoders fed one scanned string or one camera frame at a
//! time and report progress or a finished payload.
//!
//! - [`ur`]: Uniform Resources (BCR-2020-005) with multipart fountain codes
//!   (BCR-2024-001), and a receiver that solves the fountain code by elimination.
//! - [`bbqr`]: Coinkite's BBQr split/join.
//! - [`qr`]: QR frames: fixed-version rendering to PNG, SVG and terminal text, and
//!   reading frames from grayscale images.
//! - [`registry`]: standard UR registry types (crypto-psbt, ERC-4527, Solana, keys).
//! - [`scanner`]: chains it all: frames in, payload out.
//! - [`envelope`]: signed requests and responses, approvals, verification.
//! - [`summary`]: what a payload does, decoded from its bytes, for review.
//! - [`network`]: networks as typed values with one canonical name each.
#![warn(missing_docs)]
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod approval;
pub mod bbqr;
pub mod envelope;
pub mod hsm_log;
pub mod network;
pub mod qr;
pub mod registry;
pub mod scanner;
pub mod summary;
pub mod ur;
