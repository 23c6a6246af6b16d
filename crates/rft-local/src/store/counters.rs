//! `Counters`: expiring counters.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};

use rft_core::Timestamp;
use rft_core::ports::{CountError, Counters, StoreError};

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
