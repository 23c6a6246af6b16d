//! `Counters` on `rft-clicks` (`counter#<key>` items, TTL): quotas, velocity buckets and
//! programme totals (sort key 0), and the rollups ([`rft_core::rollup`]): one item per row,
//! `counter#<series>` with the row's slot as sort key and each field an attribute, so a step is
//! one `UpdateItem` (`ADD` of every field it moves) and a range of rows is one `Query`.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{KeysAndAttributes, ReturnValue, Update};

use rft_core::Timestamp;
use rft_core::ledger::CounterStep;
use rft_core::ports::{CountError, Counters, StoreError};
use rft_core::rollup::RollupRow;

use super::requests::conditional;
use super::{DynamoStore, unavailable};
use crate::item::{Item, get_n, get_s, item, n, s};

/// Attributes of a counter item that are not fields.
const NOT_FIELDS: [&str; 4] = ["attribution_id", "click_ts", "expires_at", "expires_at_ms"];

/// A rollup row's key.
pub(super) fn row_key(series: &str, slot: i64) -> Item {
    item([("attribution_id", s(format!("counter#{series}"))), ("click_ts", n(slot))])
}

/// Counters live in `rft-clicks` (a TTL'd table) under `counter#<key>`, sort key 0.
pub(super) fn counter_key(key: &str) -> Item {
    item([("attribution_id", s(format!("counter#{key}"))), ("click_ts", n(0))])
}

/// Starts an absent counter at one or adds one to a present one, keeping its expiry.
const STEP: &str = "SET #count = if_not_exists(#count, :zero) + :one, \
     expires_at = if_not_exists(expires_at, :ttl), expires_at_ms = if_not_exists(expires_at_ms, :exp)";

impl DynamoStore {
    /// One step as an update, for a transaction: a plain counter's (no condition: totals never
    /// expire, so an absent counter starts and a present one moves) or a rollup row's.
    pub(super) fn counter_step(&self, step: &CounterStep) -> Update {
        if !step.is_plain_count() {
            let (expression, names, values) = rollup_expression(step);
            return Update::builder()
                .table_name(&self.tables.clicks)
                .set_key(Some(row_key(&step.key, step.slot)))
                .update_expression(expression)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .build()
                .expect("table, key and expression are set");
        }
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

/// `ADD #f0 :v0, #f1 :v1, ...` for a rollup step's fields.
pub(super) fn rollup_expression(
    step: &CounterStep,
) -> (
    String,
    std::collections::HashMap<String, String>,
    std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>,
) {
    let mut names = std::collections::HashMap::new();
    let mut values = std::collections::HashMap::new();
    let mut parts = Vec::with_capacity(step.adds.len());
    for (i, (field, by)) in step.adds.iter().enumerate() {
        names.insert(format!("#f{i}"), field.clone());
        values.insert(format!(":v{i}"), n(by));
        parts.push(format!("#f{i} :v{i}"));
    }
    (format!("ADD {}", parts.join(", ")), names, values)
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

    async fn add(&self, steps: &[CounterStep]) -> Result<(), StoreError> {
        for step in steps.iter().filter(|s| !s.adds.is_empty()) {
            if step.is_plain_count() {
                match Counters::increment(self, &step.key, None, step.expires_at, Timestamp::EPOCH).await {
                    Ok(_) | Err(CountError::LimitReached { .. }) => {}
                    Err(CountError::Store(e)) => return Err(e),
                }
                continue;
            }
            let (expression, names, values) = rollup_expression(step);
            self.client
                .update_item()
                .table_name(&self.tables.clicks)
                .set_key(Some(row_key(&step.key, step.slot)))
                .update_expression(expression)
                .set_expression_attribute_names(Some(names))
                .set_expression_attribute_values(Some(values))
                .send()
                .await
                .map_err(unavailable("add to a rollup"))?;
        }
        Ok(())
    }

    async fn rows(&self, series: &str, from: i64, to: i64) -> Result<Vec<RollupRow>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .key_condition_expression("attribution_id = :k AND click_ts BETWEEN :from AND :to")
            .expression_attribute_values(":k", s(format!("counter#{series}")))
            .expression_attribute_values(":from", n(from))
            .expression_attribute_values(":to", n(to))
            .consistent_read(true);
        let items = self.query_all("read a rollup", q).await?;
        Ok(items
            .iter()
            .filter_map(|it| {
                let slot = get_n(it, "click_ts")?;
                let fields = it
                    .iter()
                    .filter(|(k, _)| !NOT_FIELDS.contains(&k.as_str()))
                    .filter_map(|(k, v)| Some((k.clone(), v.as_n().ok()?.parse().ok()?)))
                    .collect();
                Some(RollupRow { slot, fields })
            })
            .collect())
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
