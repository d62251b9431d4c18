//! `crypto-psbt` / `psbt` (BCR-2020-006).

use minicbor::{Decoder, Encoder};

use super::*;

// ---------------------------------------------------------------- crypto-psbt

/// `crypto-psbt` / `psbt`: a byte string holding the PSBT.
pub fn encode_psbt(psbt: &[u8]) -> Vec<u8> {
    let mut e = Encoder::new(Vec::new());
    let _ = e.bytes(psbt);
    e.into_writer()
}

/// Decodes `crypto-psbt` or `psbt`.
pub fn decode_psbt(cbor: &[u8]) -> Result<Vec<u8>, RegistryError> {
    let mut d = Decoder::new(cbor);
    let b = d.bytes().map_err(bad("crypto-psbt"))?.to_vec();
    done(&d, cbor, "crypto-psbt")?;
    Ok(b)
}
