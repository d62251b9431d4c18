//! Any sequence of texts into the scanner (format detection and routing): never panics.
#![no_main]

use airgap_protocol::scanner::Scanner;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut s = Scanner::default();
    for line in String::from_utf8_lossy(data).split('\n') {
        let _ = s.push_text(line);
    }
    let _ = s.progress();
});
