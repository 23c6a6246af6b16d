//! The rollups' follower in AWS: `rft-sweep` consumes the DynamoDB Stream of `rft-clicks` in
//! batches and counts each batch's clicks into the rollup rows ([`rft_core::rollup`]).
//!
//! A batch becomes one row step per code and day, plus the programme's day: many clicks, one
//! `UpdateItem` each. The steps go in `TransactWriteItems` of up to 99 rows together with a
//! marker item (`counter#seen#<digest of the batch>`, kept two days, longer than a stream
//! record lives) written only if absent: a batch that Lambda delivers again (the function
//! failed or timed out after a commit) finds its marker and counts nothing twice. Lambda
//! retries a failed batch whole (no bisecting, no partial batch responses), so the same
//! records make the same markers.
//!
//! Records that are not new clicks (counter rows, deletions by erasure or TTL, updates) are
//! left out by the event source mapping's filter and, again, here.

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{TransactWriteItem, Update};
use serde_json::Value;
use sha2::Digest;

use rft_core::Timestamp;
use rft_core::ledger::CounterStep;
use rft_core::ports::StoreError;
use rft_core::rollup::{ClickCell, click_steps};

use crate::DynamoStore;
use crate::item::{item, n, s};

/// Rows per transaction, beside the marker (DynamoDB takes 100 items).
const ROWS_PER_TRANSACTION: usize = 99;
/// How long a batch's marker is kept: stream records live 24 hours.
const MARKER_LIFETIME: Duration = Duration::from_secs(2 * 86_400);

/// What a batch did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Followed {
    /// Clicks counted.
    pub clicks: usize,
    /// Records that were not new clicks.
    pub skipped: usize,
    /// Transactions that had already been applied (a batch delivered again).
    pub repeated: usize,
}

/// Whether a Lambda event is a batch of DynamoDB Stream records (else: the sweep's schedule).
pub fn is_stream_event(event: &Value) -> bool {
    event["Records"].as_array().is_some_and(|r| r.iter().all(|r| r["eventSource"] == "aws:dynamodb"))
}

/// The click cell of a stream record, if it is a new click (or email invite).
fn cell_of(record: &Value) -> Option<ClickCell> {
    if record["eventName"] != "INSERT" {
        return None;
    }
    let image = &record["dynamodb"]["NewImage"];
    let id = image["attribution_id"]["S"].as_str()?;
    if id.starts_with("counter#") {
        return None;
    }
    let code = image["c"]["S"].as_str().or_else(|| image["code"]["S"].as_str())?;
    let at = image["click_ts"]["N"].as_str()?.parse().ok()?;
    let channel = image["ch"]["S"].as_str().or_else(|| image["channel"]["S"].as_str());
    Some(ClickCell::of(&rft_core::Code::parse(code).ok()?, Timestamp::from_millis(at), channel))
}

/// Counts stream batches into the rollups.
pub struct ClickFollower {
    store: DynamoStore,
}

impl ClickFollower {
    /// A follower writing to `store`'s tables.
    pub fn new(store: DynamoStore) -> Self {
        ClickFollower { store }
    }

    /// Counts one batch (the Lambda event). An error means the batch is to be retried whole.
    pub async fn handle(&self, event: &Value, now: Timestamp) -> Result<Followed, StoreError> {
        let records = event["Records"].as_array().map(Vec::as_slice).unwrap_or_default();
        let mut cells: BTreeMap<ClickCell, u64> = BTreeMap::new();
        let mut followed = Followed::default();
        for record in records {
            match cell_of(record) {
                Some(cell) => {
                    *cells.entry(cell).or_default() += 1;
                    followed.clicks += 1;
                }
                None => followed.skipped += 1,
            }
        }
        if cells.is_empty() {
            return Ok(followed);
        }
        let batch: String = records
            .iter()
            .map(|r| r["eventID"].as_str().or_else(|| r["dynamodb"]["SequenceNumber"].as_str()).unwrap_or_default())
            .collect::<Vec<_>>()
            .join(",");
        let steps = click_steps(cells.iter().map(|(c, n)| (c, *n)));
        for (i, chunk) in steps.chunks(ROWS_PER_TRANSACTION).enumerate() {
            let marker = hex::encode(&sha2::Sha256::digest(format!("{batch}#{i}").as_bytes())[..16]);
            if !self.apply(&marker, chunk, now).await? {
                followed.repeated += 1;
            }
        }
        Ok(followed)
    }

    /// One transaction: the marker (if absent) and the rows. `false` if the marker was there.
    async fn apply(&self, marker: &str, steps: &[CounterStep], now: Timestamp) -> Result<bool, StoreError> {
        let expires = now.plus(MARKER_LIFETIME);
        let mark = Update::builder()
            .table_name(&self.store.tables().clicks)
            .set_key(Some(item([("attribution_id", s(format!("counter#seen#{marker}"))), ("click_ts", n(0))])))
            .update_expression("SET expires_at = :ttl, expires_at_ms = :exp")
            .condition_expression("attribute_not_exists(attribution_id)")
            .expression_attribute_values(":ttl", n(expires.as_secs() + 1))
            .expression_attribute_values(":exp", n(expires.as_millis()))
            .build()
            .expect("table, key and expression are set");
        let mut backoff = Duration::from_millis(25);
        for attempt in 0..6 {
            let mut transaction = self
                .store
                .client()
                .transact_write_items()
                .client_request_token(marker)
                .transact_items(TransactWriteItem::builder().update(mark.clone()).build());
            for step in steps {
                transaction = transaction
                    .transact_items(TransactWriteItem::builder().update(self.store.rollup_update(step)).build());
            }
            let err = match transaction.send().await {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            if let SdkError::ServiceError(service) = &err
                && let TransactWriteItemsError::TransactionCanceledException(e) = service.err()
            {
                let reasons: Vec<Option<&str>> = e.cancellation_reasons().iter().map(|r| r.code()).collect();
                if reasons.first() == Some(&Some("ConditionalCheckFailed")) {
                    return Ok(false);
                }
                // Another batch moved the same row at the same moment: try again shortly.
                if reasons.contains(&Some("TransactionConflict")) && attempt < 5 {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    continue;
                }
            }
            return Err(StoreError::unavailable("count a batch of clicks", err));
        }
        Err(StoreError::unavailable("count a batch of clicks", "the rows stayed contended"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_new_clicks_are_counted() {
        let click = json!({"eventID": "1", "eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": {
            "attribution_id": {"S": "abc"}, "click_ts": {"N": "1900000000000"}, "c": {"S": "7QK2A9"}, "ch": {"S": "sms"}}}});
        let counter = json!({"eventID": "2", "eventName": "INSERT", "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": {
            "attribution_id": {"S": "counter#r#all"}, "click_ts": {"N": "1"}}}});
        let removed = json!({"eventID": "3", "eventName": "REMOVE", "eventSource": "aws:dynamodb", "dynamodb": {}});
        let cell = cell_of(&click).unwrap();
        assert_eq!((cell.code.as_str(), cell.channel.as_deref()), ("7QK2A9", Some("sms")));
        assert!(cell_of(&counter).is_none() && cell_of(&removed).is_none());
        assert!(is_stream_event(&json!({"Records": [click, counter, removed]})));
        assert!(!is_stream_event(&json!({"source": "aws.scheduler"})));
    }
}
