//! One module per subcommand.

pub mod bundle;
pub mod ceremony;
pub mod ledger;
pub mod tui;

pub const USAGE: &str = "usage: signer-station <command>

commands:
  keys generate|show ...           rehearsal bundle keys (passphrase-encrypted)
  bundle export|import|list ...    USB bundles: import requests, export responses
  ceremony init|keys|register|backup|restore|rehearse ...
                                   station ceremonies (`ceremony help`)
  tui --hsm mock --rehearse DIR    the custodians' screen on a rehearsal station
  tui --hsm usb --station DIR      the custodians' screen on the station
  ledger verify|repair --ledger FILE
                                   check the hash chain (says where it breaks), or cut
                                   off an incomplete last entry left by a crash";
