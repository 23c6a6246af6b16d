//! Expiring counters: quotas and velocity buckets.

use async_trait::async_trait;

use super::StoreError;
use crate::time::Timestamp;

/// Why a counter was not incremented.
#[derive(Debug, thiserror::Error)]
pub enum CountError {
    /// The counter is at its limit.
    #[error("the limit of {limit} is reached")]
    LimitReached {
        /// The limit.
        limit: u32,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Named counters that expire: daily quotas and velocity buckets.
#[async_trait]
pub trait Counters: Send + Sync {
    /// Adds one to `key` unless it already reached `limit`, and returns the new count. A counter
    /// past `expires_at` counts as zero (and restarts with this expiry).
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError>;
    /// The counter's value at `now` (zero if absent or expired).
    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError>;
    /// Several counters' values at `now`, in the order asked, read together (one round trip).
    async fn counts(&self, keys: &[String], now: Timestamp) -> Result<Vec<u32>, StoreError>;
}
