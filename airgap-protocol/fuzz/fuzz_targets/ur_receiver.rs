//! Any sequence of scanned strings into one UR receiver: never panics, never completes
//! with a message that fails its checksum.
#![no_main]

use airgap_protocol::ur::{Received, ReceiverLimits, UrReceiver};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let limits = ReceiverLimits {
        max_seq_len: 256,
        max_message_len: 1 << 16,
    };
    let mut rx = UrReceiver::with_limits(limits);
    for line in String::from_utf8_lossy(data).split('\n') {
        if let Ok(Received::Complete { message, .. }) = rx.receive(line) {
            assert!(message.len() <= 1 << 16);
        }
    }
});
