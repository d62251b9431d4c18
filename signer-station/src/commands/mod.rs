//! One module per subcommand.

pub mod bundle;
pub mod ceremony;
pub mod ledger;

pub const USAGE: &str = "usage: signer-station <command>

commands:
  keys generate|show ...           rehearsal bundle keys (passphrase-encrypted)
  bundle export|import|list ...    USB bundles: import requests, export responses
  ceremony init|keys|register|backup|restore|rehearse ...
                                   station ceremonies (`ceremony help`)
  ledger verify|repair --ledger FILE
                                   check the hash chain (says where it breaks), or cut
                                   off an incomplete last entry left by a crash";
