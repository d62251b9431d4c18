//! A signed PSBT coming back from a station or a hardware wallet (version 0 or 2):
//! parsing, conversion and the combiner's signature checks never panic.
#![no_main]
use coordinator::bitcoin::{combine, fee_of, v2};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = v2::deserialize_any(data) {
        let _ = fee_of(&p);
        let _ = combine(&p, std::slice::from_ref(&p));
        if let Ok(bytes) = v2::serialize_v2(&p) {
            let _ = v2::deserialize_any(&bytes);
        }
    }
});
