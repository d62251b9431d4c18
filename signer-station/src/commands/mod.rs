//! One module per subcommand.

pub mod bundle;
pub mod ceremony;
pub mod ledger;
pub mod tui;
