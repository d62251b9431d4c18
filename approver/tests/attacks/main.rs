//! Attacks on the approver's tool by a coordinator that is compromised: it writes the
//! request, the API answers and the bytes served. Each test is an attack the tool (or,
//! where said, the station) refuses; the ones still open are ignored with the reason.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use airgap_protocol::envelope::{
    format_utc, DisplayHints, KeyId, Payload, PayloadBody, Purpose, SignRequest,
};
use airgap_protocol::summary::solana::b58;
use airgap_protocol::summary::{summarize, SummaryOptions};
use alloy_consensus::{SignableTransaction, TxEip1559, TxLegacy};
use alloy_primitives::{Address, TxKind, U256};
use approver::{visible, Reviewed};
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use serde_json::json;

const NOW: u64 = 1_800_000_000;
const ID: &str = "00112233-4455-6677-8899-aabbccddeeff";
const TO: &str = "0x52908400098527886E0F7030069857D2E4169EE7";
/// A contract the station's EVM key owns (a treasury proxy, a Safe…).
const OWNED_CONTRACT: &str = "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48";
const ATTACKER: &str = "0x000000000000000000000000000000000000bEEF";

mod build;
mod coordinator;
mod digest;
mod keys;
mod text;

use build::*;
