//! `Counters`: expiring counters (redb `counters`), and the rollups (redb `rollups`, with the
//! click log's counts not yet folded added on read).

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use rft_core::Timestamp;
use rft_core::ledger::CounterStep;
use rft_core::ports::{CountError, Counters, StoreError};
use rft_core::rollup::RollupRow;

use super::{COUNTERS, LocalStore};

/// Adds one to a counter inside a write transaction (restarting it if it expired), unless it is
/// at `limit`; the payout's transaction uses it too.
pub(super) fn step_counter(
    txn: &WriteTransaction,
    key: &str,
    limit: Option<u32>,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<Result<u32, CountError>, redb::Error> {
    let mut counters = txn.open_table(COUNTERS)?;
    let live = counters.get(key)?.map(|v| v.value()).filter(|(_, exp)| *exp > now.as_millis());
    if let (Some((n, _)), Some(limit)) = (live, limit)
        && n >= limit
    {
        return Ok(Err(CountError::LimitReached { limit }));
    }
    let (next, expiry) = match live {
        Some((n, exp)) => (n + 1, exp),
        None => (1, expires_at.as_millis()),
    };
    counters.insert(key, (next, expiry))?;
    Ok(Ok(next))
}

/// Applies counter steps inside a write transaction: a plain counter's step moves the expiring
/// counter, a rollup's adds to its row.
pub(super) fn apply_steps(txn: &WriteTransaction, steps: &[CounterStep], now: Timestamp) -> Result<(), redb::Error> {
    let (plain, rollups): (Vec<&CounterStep>, Vec<&CounterStep>) = steps.iter().partition(|s| s.is_plain_count());
    for step in plain {
        let _ = step_counter(txn, &step.key, None, step.expires_at, now)?;
    }
    let rollups: Vec<CounterStep> = rollups.into_iter().cloned().collect();
    crate::clicklog::add_steps(txn, &rollups)
}

#[async_trait]
impl Counters for LocalStore {
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError> {
        let key = key.to_owned();
        self.write("increment a counter", move |txn| step_counter(txn, &key, limit, expires_at, now)).await?
    }

    async fn counts(&self, keys: &[String], now: Timestamp) -> Result<Vec<u32>, StoreError> {
        let keys = keys.to_vec();
        self.read("read counters", move |txn| {
            let counters = txn.open_table(COUNTERS)?;
            let mut out = Vec::with_capacity(keys.len());
            for key in &keys {
                let live = counters.get(key.as_str())?.map(|v| v.value()).filter(|(_, exp)| *exp > now.as_millis());
                out.push(live.map(|(n, _)| n).unwrap_or(0));
            }
            Ok(out)
        })
        .await
    }

    async fn add(&self, steps: &[CounterStep]) -> Result<(), StoreError> {
        let steps = steps.to_vec();
        self.write_ok("add to rollups", move |txn| apply_steps(txn, &steps, Timestamp::EPOCH)).await
    }

    async fn rows(&self, series: &str, from: i64, to: i64) -> Result<Vec<RollupRow>, StoreError> {
        let (log, series) = (self.clicks.clone(), series.to_owned());
        tokio::task::spawn_blocking(move || log.rows(&series, from, to))
            .await
            .map_err(|e| StoreError::unavailable("read rollups", e))?
            .map_err(|e| StoreError::unavailable("read rollups", e))
    }

    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        let key = key.to_owned();
        self.read("read a counter", move |txn| {
            let counters = txn.open_table(COUNTERS)?;
            let n = counters
                .get(key.as_str())?
                .map(|v| v.value())
                .filter(|(_, exp)| *exp > now.as_millis())
                .map(|(n, _)| n);
            Ok(n.unwrap_or(0))
        })
        .await
    }
}
