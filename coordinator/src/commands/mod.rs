//! One module per subcommand.

pub mod bundle;
pub mod demo;

pub const USAGE: &str = "usage: coordinator <command>

commands:
  demo [--out DIR] [--version N] [--loss PERCENT] [--seed N]
        encode a payload as an animated UR QR stream and a BBQr stream, write the
        frames as PNG files, then read them back through degraded frames with frame
        loss and check the payload arrives intact
  keys generate|show ...           the coordinator's bundle keys (passphrase-encrypted)
  bundle export|import|list ...    USB bundles: export requests, import responses";
