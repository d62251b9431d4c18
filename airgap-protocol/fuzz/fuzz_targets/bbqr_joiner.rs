//! Any sequence of scanned strings into the BBQr joiner: never panics, bounded output.
#![no_main]

use airgap_protocol::bbqr::{BbqrJoiner, BbqrReceived, MAX_INFLATED};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut j = BbqrJoiner::default();
    for line in String::from_utf8_lossy(data).split('\n') {
        if let Ok(BbqrReceived::Complete(joined)) = j.receive(line) {
            assert!(joined.data.len() <= MAX_INFLATED);
        }
    }
});
