//! Sign-in requests, rate-limited per Lambda instance (or per `rft-local` process): each client
//! IP and each address typed may ask a few times per window. In memory, not in the store: the
//! limit exists to stop one client from filling a team member's inbox or using the form to
//! probe, and an instance sees every request a client sends in a burst. With N warm
//! instances a determined client gets at most N times the limit; docs/operations.md says so.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use rft_core::Timestamp;

/// The window the limits count in.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Sign-in requests one IP may make per window.
pub const PER_IP: u32 = 20;
/// Sign-in requests for one address per window.
pub const PER_ADDRESS: u32 = 5;
/// Entries kept before stale ones are swept.
const SWEEP_AT: usize = 10_000;

/// Counts of recent requests by key.
#[derive(Default)]
pub struct Limiter {
    hits: Mutex<HashMap<String, (Timestamp, u32)>>,
}

impl Limiter {
    /// Counts a request under every key and says whether all are still within their limits.
    pub fn allow(&self, keys: &[(String, u32)], now: Timestamp) -> bool {
        let Ok(mut hits) = self.hits.lock() else { return false };
        if hits.len() > SWEEP_AT {
            hits.retain(|_, (start, _)| now.since(*start) < WINDOW);
        }
        let mut allowed = true;
        for (key, limit) in keys {
            let entry = hits.entry(key.clone()).or_insert((now, 0));
            if now.since(entry.0) >= WINDOW {
                *entry = (now, 0);
            }
            entry.1 = entry.1.saturating_add(1);
            allowed &= entry.1 <= *limit;
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_key_has_its_own_limit_and_window() {
        let limiter = Limiter::default();
        let t0 = Timestamp::from_secs(1_000);
        let keys = |who: &str| vec![(format!("ip:{who}"), 3), ("address:a@b.co".to_owned(), 5)];
        assert!((0..3).all(|_| limiter.allow(&keys("1"), t0)));
        assert!(!limiter.allow(&keys("1"), t0), "the fourth from one IP is refused");
        assert!(limiter.allow(&keys("2"), t0), "another IP, fifth for the address");
        assert!(!limiter.allow(&keys("3"), t0), "sixth for the address");
        assert!(limiter.allow(&keys("1"), t0.plus(WINDOW)), "a new window");
    }
}
