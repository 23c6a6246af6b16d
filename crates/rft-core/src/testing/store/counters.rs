//! `Counters`: a counter past its expiry counts as zero and restarts with the new expiry; rollup
//! rows are added to as the steps say (clicks are counted as they are recorded, as the embedded
//! store does).

use async_trait::async_trait;

use super::{MemoryStore, State};
use crate::ledger::CounterStep;
use crate::ports::{CountError, Counters, StoreError};
use crate::rollup::RollupRow;
use crate::time::Timestamp;

/// Applies steps to the state: a plain counter's moves the expiring counter, a rollup's adds to
/// its row.
pub(super) fn apply_steps(s: &mut State, steps: &[CounterStep], now: Timestamp) {
    for step in steps {
        if step.is_plain_count() {
            let (count, expiry) =
                s.counters.get(&step.key).copied().filter(|(_, exp)| *exp > now).unwrap_or((0, step.expires_at));
            s.counters.insert(step.key.clone(), (count + 1, expiry));
        } else {
            let row = s.rollups.entry((step.key.clone(), step.slot)).or_default();
            for (field, by) in &step.adds {
                *row.entry(field.clone()).or_default() += by;
            }
        }
    }
}

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

    async fn add(&self, steps: &[CounterStep]) -> Result<(), StoreError> {
        let mut s = self.enter("add")?;
        apply_steps(&mut s, steps, Timestamp::EPOCH);
        Ok(())
    }

    async fn rows(&self, series: &str, from: i64, to: i64) -> Result<Vec<RollupRow>, StoreError> {
        let s = self.enter("rows")?;
        let range = (series.to_owned(), from)..=(series.to_owned(), to);
        Ok(s.rollups
            .range(range)
            .map(|((_, slot), fields)| RollupRow { slot: *slot, fields: fields.clone() })
            .collect())
    }
}
