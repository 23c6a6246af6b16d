//! `Counters`: a counter past its expiry counts as zero and restarts with the new expiry.

use async_trait::async_trait;

use super::MemoryStore;
use crate::ports::{CountError, Counters, StoreError};
use crate::time::Timestamp;

#[async_trait]
impl Counters for MemoryStore {
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError> {
        let mut s = self.enter("increment")?;
        let (count, expiry) = s.counters.get(key).copied().filter(|(_, exp)| *exp > now).unwrap_or((0, expires_at));
        if let Some(limit) = limit
            && count >= limit
        {
            return Err(CountError::LimitReached { limit });
        }
        s.counters.insert(key.to_owned(), (count + 1, expiry));
        Ok(count + 1)
    }

    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        let s = self.enter("count")?;
        Ok(s.counters.get(key).filter(|(_, exp)| *exp > now).map_or(0, |(n, _)| *n))
    }

    async fn counts(&self, keys: &[String], now: Timestamp) -> Result<Vec<u32>, StoreError> {
        let s = self.enter("counts")?;
        Ok(keys.iter().map(|k| s.counters.get(k).filter(|(_, exp)| *exp > now).map_or(0, |(n, _)| *n)).collect())
    }
}
