//! Any bytes as an envelope (both UR types, compressed or not): never panics; whatever
//! decodes re-encodes to the same bytes.
#![no_main]

use airgap_protocol::envelope::{decode_envelope, encode_envelope, SignRequest, SignResponse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = SignRequest::from_cbor(data) {
        assert_eq!(r.to_cbor(), data);
        let _ = r.digest();
    }
    if let Ok(r) = SignResponse::from_cbor(data) {
        assert_eq!(r.to_cbor(), data);
    }
    for t in ["strongroom-request", "strongroom-response"] {
        if let Ok(env) = decode_envelope(t, data) {
            let (_, again) = encode_envelope(&env);
            assert_eq!(decode_envelope(t, &again).ok(), Some(env));
        }
    }
});
