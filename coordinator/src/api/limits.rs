//! Per-token rate limits: a token bucket per API token, in this process's memory (each
//! replica limits what it serves). A caller over its rate gets 429 with `Retry-After`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// The buckets, by token hash.
#[derive(Debug)]
pub struct RateLimits {
    per_minute: u32,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimits {
    /// `per_minute` requests a minute per token, in bursts of as many (0: no limit).
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute,
            buckets: Mutex::default(),
        }
    }

    /// Takes one request from `token`'s bucket: `Err(seconds)` to wait when it is empty.
    pub fn take(&self, token: &str) -> Result<(), u64> {
        if self.per_minute == 0 {
            return Ok(());
        }
        let rate = f64::from(self.per_minute) / 60.0;
        let full = f64::from(self.per_minute);
        let now = Instant::now();
        let mut b = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        // Forget long-idle buckets (full again anyway) so the map stays small.
        if b.len() > 10_000 {
            b.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() * rate < full);
        }
        let (level, at) = b.entry(token.to_string()).or_insert((full, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * rate).min(full);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *level) / rate).ceil() as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_refused_then_refilled() {
        let l = RateLimits::new(120);
        for _ in 0..120 {
            assert_eq!(l.take("a"), Ok(()));
        }
        let wait = l.take("a").unwrap_err();
        assert!((1..=1).contains(&wait), "{wait}");
        assert_eq!(l.take("b"), Ok(()), "buckets are per token");
        std::thread::sleep(std::time::Duration::from_millis(600));
        assert_eq!(l.take("a"), Ok(()), "two a second come back");
        assert_eq!(RateLimits::new(0).take("a"), Ok(()));
    }
}
