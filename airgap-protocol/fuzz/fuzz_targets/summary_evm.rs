//! Any bytes as a evm payload: the summary decoder never panics.
#![no_main]

use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody};
use airgap_protocol::summary::{summarize, SummaryOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Payload {
        network: "evm:1".into(),
        signer: String::new(),
        body: PayloadBody::EvmTx { chain_id: 1, signer: [0; 20], tx: data.to_vec() },
        hints: DisplayHints::default(),
    };
    let _ = summarize(&p, &SummaryOptions::default());
});
