//! Any bytes as a solana payload: the summary decoder never panics.
#![no_main]

use airgap_protocol::envelope::{DisplayHints, Payload, PayloadBody};
use airgap_protocol::summary::{summarize, SummaryOptions};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let p = Payload {
        network: "solana:devnet".into(),
        signer: String::new(),
        body: PayloadBody::SolanaMessage { message: data.to_vec(), signers: vec![], nonce_account: None },
        hints: DisplayHints::default(),
    };
    let _ = summarize(&p, &SummaryOptions::default());
});
