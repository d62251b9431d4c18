//! Any bytes as each UR registry type: never panics; decoded values re-encode and
//! decode to the same value.
#![no_main]

use airgap_protocol::registry::*;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = decode_psbt(data);
    if let Ok(k) = KeyPath::from_cbor(data) {
        assert_eq!(KeyPath::from_cbor(&k.to_cbor()).ok(), Some(k));
    }
    if let Ok(k) = HdKey::from_cbor(data) {
        assert_eq!(HdKey::from_cbor(&k.to_cbor()).ok(), Some(k));
    }
    if let Ok(r) = EthSignRequest::from_cbor(data) {
        assert_eq!(EthSignRequest::from_cbor(&r.to_cbor()).ok(), Some(r));
    }
    if let Ok(r) = EthSignature::from_cbor(data) {
        assert_eq!(EthSignature::from_cbor(&r.to_cbor()).ok(), Some(r));
    }
    if let Ok(r) = SolSignRequest::from_cbor(data) {
        assert_eq!(SolSignRequest::from_cbor(&r.to_cbor()).ok(), Some(r));
    }
    if let Ok(r) = SolSignature::from_cbor(data) {
        assert_eq!(SolSignature::from_cbor(&r.to_cbor()).ok(), Some(r));
    }
});
