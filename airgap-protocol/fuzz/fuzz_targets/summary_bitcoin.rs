//! Any bytes as a bitcoin payload: the summary decoder never panics.
#![no_main]

use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody};
use airgap_protocol::summary::{summarize, SummaryOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Payload {
        network: "regtest".into(),
        signer: String::new(),
        body: PayloadBody::Psbt { version: 0, bytes: data.to_vec() },
        hints: DisplayHints::default(),
    };
    let _ = summarize(&p, &SummaryOptions::default());
});
