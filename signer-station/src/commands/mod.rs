//! One module per subcommand.

pub mod bundle;

pub const USAGE: &str = "usage: signer-station <command>

commands:
  keys generate|show ...           rehearsal bundle keys (passphrase-encrypted)
  bundle export|import|list ...    USB bundles: import requests, export responses";
