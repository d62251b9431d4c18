//! Any bytes as each UR registry type: never panics; decoded values re-encode and
//! decode to the same value.
#![no_main]

use airgap_protocol::registry::*;
use libfuzzer_sys::fuzz_target;

/// Each type that decodes `data` re-encodes to what decodes to the same value.
macro_rules! round_trips {
    ($data:expr, $($t:ty),*) => {
        $(if let Ok(v) = <$t>::from_cbor($data) {
            assert_eq!(<$t>::from_cbor(&v.to_cbor()).ok(), Some(v));
        })*
    };
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_psbt(data);
    round_trips!(data, KeyPath, HdKey, EthSignRequest, EthSignature, SolSignRequest, SolSignature);
});
