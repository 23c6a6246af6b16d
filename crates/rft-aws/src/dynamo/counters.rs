//! `Counters` on `rft-clicks` (`counter#<key>` items, TTL): quotas, velocity buckets and
//! programme totals.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue, Update};

use rft_core::Timestamp;
use rft_core::ledger::CounterStep;
use rft_core::ports::{CountError, Counters, StoreError};

use super::requests::conditional;
use super::{DynamoStore, unavailable};
use crate::item::{Item, get_n, get_s, item, n, s};

/// Counters live in `rft-clicks` (a TTL'd table) under `counter#<key>`, sort key 0.
pub(super) fn counter_key(key: &str) -> Item {
    item([("attribution_id", s(format!("counter#{key}"))), ("click_ts", n(0))])
}

/// Starts an absent counter at one or adds one to a present one, keeping its expiry.
const STEP: &str = "SET #count = if_not_exists(#count, :zero) + :one, \
     expires_at = if_not_exists(expires_at, :ttl), expires_at_ms = if_not_exists(expires_at_ms, :exp)";

impl DynamoStore {
    /// The payout transaction's step of one counter (no condition: totals never expire, so an
    /// absent counter starts and a present one moves).
    pub(super) fn counter_step(&self, step: &CounterStep) -> Update {
        Update::builder()
            .table_name(&self.tables.clicks)
            .set_key(Some(counter_key(&step.key)))
            .update_expression(STEP)
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(step.expires_at.as_secs() + 1))
            .expression_attribute_values(":exp", n(step.expires_at.as_millis()))
            .build()
            .expect("table, key and expression are set")
    }
}

fn live_count(found: &Item, now: Timestamp) -> u32 {
    let live = get_n(found, "expires_at_ms").is_some_and(|exp| exp > now.as_millis());
    if live { get_n(found, "count").and_then(|c| u32::try_from(c).ok()).unwrap_or(0) } else { 0 }
}

#[async_trait]
impl Counters for DynamoStore {
    async fn increment(
        &self,
        key: &str,
        limit: Option<u32>,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<u32, CountError> {
        // One conditional update covers the usual cases, an absent counter and a live one under
        // its limit. Only an expired counter TTL has not removed yet, or the limit, fails it; a
        // second conditional update then restarts an expired one. A race between the two goes
        // round again. (Updates only: the roles that count need no PutItem on counters.)
        for _ in 0..4 {
            let mut step = self
                .client
                .update_item()
                .table_name(&self.tables.clicks)
                .set_key(Some(counter_key(key)))
                .update_expression(STEP)
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":zero", n(0))
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(expires_at.as_secs() + 1))
                .expression_attribute_values(":exp", n(expires_at.as_millis()))
                .expression_attribute_values(":now", n(now.as_millis()))
                .return_values(ReturnValue::UpdatedNew);
            step = match limit {
                Some(l) => step
                    .condition_expression("attribute_not_exists(#count) OR (expires_at_ms > :now AND #count < :limit)")
                    .expression_attribute_values(":limit", n(l)),
                None => step.condition_expression("attribute_not_exists(#count) OR expires_at_ms > :now"),
            };
            if let Some(out) = conditional("increment a counter", step.send()).await? {
                let count = out.attributes.as_ref().and_then(|a| get_n(a, "count")).unwrap_or(1);
                return Ok(u32::try_from(count).unwrap_or(u32::MAX));
            }
            let restart = self
                .client
                .update_item()
                .table_name(&self.tables.clicks)
                .set_key(Some(counter_key(key)))
                .update_expression("SET #count = :one, expires_at = :ttl, expires_at_ms = :exp")
                .condition_expression("attribute_not_exists(#count) OR expires_at_ms <= :now")
                .expression_attribute_names("#count", "count")
                .expression_attribute_values(":one", n(1))
                .expression_attribute_values(":ttl", n(expires_at.as_secs() + 1))
                .expression_attribute_values(":exp", n(expires_at.as_millis()))
                .expression_attribute_values(":now", n(now.as_millis()))
                .send();
            if conditional("start a counter", restart).await?.is_some() {
                return Ok(1);
            }
            // Live and present, so the update failed on the limit (unless it raced a restart).
            if let Some(l) = limit
                && Counters::count(self, key, now).await? >= l
            {
                return Err(CountError::LimitReached { limit: l });
            }
        }
        Err(StoreError::unavailable("increment a counter", "too much contention on one counter").into())
    }

    async fn count(&self, key: &str, now: Timestamp) -> Result<u32, StoreError> {
        let found = self.get_item("read a counter", &self.tables.clicks, counter_key(key)).await?;
        Ok(found.map(|it| live_count(&it, now)).unwrap_or(0))
    }

    async fn counts(&self, keys: &[String], now: Timestamp) -> Result<Vec<u32>, StoreError> {
        let mut values = std::collections::HashMap::new();
        // BatchGetItem takes at most 100 keys and may leave some unprocessed under load.
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder().consistent_read(true);
            for key in chunk {
                wanted = wanted.keys(counter_key(key));
            }
            let mut request = Some(wanted.build().map_err(unavailable("read counters"))?);
            while let Some(keys_and_attributes) = request.take() {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(&self.tables.clicks, keys_and_attributes)
                    .send()
                    .await
                    .map_err(unavailable("read counters"))?;
                for found in out.responses.unwrap_or_default().remove(&self.tables.clicks).unwrap_or_default() {
                    if let Some(key) = get_s(&found, "attribution_id") {
                        values.insert(key.trim_start_matches("counter#").to_owned(), live_count(&found, now));
                    }
                }
                request = out.unprocessed_keys.unwrap_or_default().remove(&self.tables.clicks);
            }
        }
        Ok(keys.iter().map(|k| values.get(k).copied().unwrap_or(0)).collect())
    }
}
