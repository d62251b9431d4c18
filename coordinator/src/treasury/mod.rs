//! Treasury automation's configuration and state: watched warm wallets (balance
//! watermarks that draft refills) and deposit address pools with their sweep planner.

mod deposits;
pub mod refill;
mod watch;

pub use deposits::{DepositConfig, Deposits};
pub use watch::Watch;

use crate::chain::PipelineError;

impl crate::pipeline::Pipeline {
    /// Whether `w` is due for a check at `now` (and marks it checked).
    pub fn watch_due(&self, w: &Watch, now: u64) -> bool {
        let mut last = self.last_watch.lock().unwrap_or_else(|p| p.into_inner());
        let key = format!("{}:{}", w.network, w.address);
        match last.get(&key) {
            Some(t) if now < t.saturating_add(w.every_secs) => false,
            _ => {
                last.insert(key, now);
                true
            }
        }
    }

    /// The balance a watch sees, base units.
    pub fn watched_balance(&self, w: &Watch) -> Result<u128, PipelineError> {
        self.adapter(&w.network)?.watched_balance(&self.ctx, w)
    }

    fn deposit_pool(&self, network: &str) -> Result<&Deposits, PipelineError> {
        self.deposits
            .iter()
            .find(|d| d.config.network == network)
            .map(|d| d.as_ref())
            .ok_or_else(|| {
                PipelineError::Unconfigured(format!("no deposit pool configured for {network}"))
            })
    }

    /// Hands out the next deposit address of `network`'s pool.
    pub fn deposit_hand_out(
        &self,
        network: &str,
        actor: &str,
        now: u64,
    ) -> Result<(u32, String), PipelineError> {
        self.deposit_pool(network)?.hand_out(&self.ctx, actor, now)
    }

    /// The deposit addresses handed out on `network`, in order.
    pub fn deposit_list(&self, network: &str) -> Result<Vec<(u32, String)>, PipelineError> {
        self.deposit_pool(network)?.list(&self.ctx)
    }

    /// The sweep plan for `network`'s deposit addresses, from the chain now.
    pub fn sweep_plan(&self, network: &str) -> Result<crate::bitcoin::sweep::Plan, PipelineError> {
        let pool = self.deposit_pool(network)?;
        let chain = self.adapter(network)?.as_bitcoin().ok_or_else(|| {
            PipelineError::Unconfigured(format!("no Bitcoin vault for {network}"))
        })?;
        pool.sweep_plan(&self.ctx, chain)
    }
}
