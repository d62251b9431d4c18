//! Treasury automation's configuration and state: watched warm wallets (balance
//! watermarks that draft refills) and deposit address pools with their sweep planner.

mod deposits;
pub mod refill;
mod watch;

pub use deposits::{DepositConfig, Deposits};
pub use watch::Watch;
