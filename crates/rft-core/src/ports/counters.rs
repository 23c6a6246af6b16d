//! Expiring counters: quotas and velocity buckets.

use async_trait::async_trait;

use super::StoreError;
use crate::ledger::CounterStep;
use crate::rollup::RollupRow;
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

/// Named counters that expire (daily quotas, velocity buckets), and the rollups
/// ([`crate::rollup`]): series of rows of fields, moved by steps and read by slot range.
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
    /// Applies rollup steps, each one write of one row (its fields added, created if absent).
    /// Not conditional and not idempotent: a step applied twice counts twice, so callers apply
    /// a step once, after the write it counts (or inside it, as the payout does).
    async fn add(&self, steps: &[CounterStep]) -> Result<(), StoreError>;
    /// The rows of a rollup series with slots in `from..=to`, in slot order; rows never moved
    /// are absent. Every step applied before the call is seen, except clicks, which the click
    /// log's follower counts in batches (immediately in the embedded store, within seconds in
    /// AWS: see docs/architecture.md).
    async fn rows(&self, series: &str, from: i64, to: i64) -> Result<Vec<RollupRow>, StoreError>;
}
