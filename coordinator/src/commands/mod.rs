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
  bundle export|import|list ...    USB bundles: export requests, import responses
  serve [--db FILE] [--listen HOST:PORT] [--risk FILE.toml] [--networks a,b,c]
        [--chains FILE.toml] [--key FILE] [--usb-keys DIR] [--approvals N]
        [--poll-ms MS] [--replica NAME] [--allow-mock-hsm]
        run the API and the signing pipeline on SQLite (default coordinator.db,
        127.0.0.1:8420), or on PostgreSQL with --db 'postgres:host=H port=P user=U
        dbname=D' (also for token and audit); see docs/API.md
  token add --principal NAME --roles ROLE[,ROLE] [--db FILE]
        create an API token (printed once; stored hashed). Roles: admin, treasury,
        approver, risk, auditor, warm-tier
  audit verify|export [--from UNIX] [--to UNIX] [--format json|csv] [--db FILE]
        check the hash-chained audit table, or export a period for compliance";
