//! Any bytes as an envelope (request, response and station descriptor, compressed or
//! not): never panics; requests and responses re-encode to the same bytes, descriptors
//! to bytes that decode to the same descriptor.
#![no_main]

use airgap_protocol::envelope::{
    decode_envelope, encode_envelope, SignRequest, SignResponse, StationDescriptor,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = SignRequest::from_cbor(data) {
        assert_eq!(r.to_cbor(), data);
        let _ = r.digest();
    }
    if let Ok(r) = SignResponse::from_cbor(data) {
        assert_eq!(r.to_cbor(), data);
    }
    // Descriptors are verified over their re-encoding, so what decodes must survive a
    // round trip unchanged (the input need not be canonical).
    if let Ok(d) = StationDescriptor::from_cbor(data) {
        assert_eq!(StationDescriptor::from_cbor(&d.to_cbor()).ok(), Some(d.clone()));
        let _ = d.verify();
    }
    for t in [
        "strongroom-request",
        "strongroom-response",
        "strongroom-descriptor",
    ] {
        if let Ok(env) = decode_envelope(t, data) {
            let (_, again) = encode_envelope(&env);
            assert_eq!(decode_envelope(t, &again).ok(), Some(env));
        }
    }
});
