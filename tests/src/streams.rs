//! `rft-clicks`' DynamoDB Stream as Lambda's event source mapping hands it to `rft-sweep`: the
//! emulator's stream records, filtered as the mapping in `infra/lib/stack.ts` filters them (new
//! items with a code), in batches, to the real follower. Spoken as raw JSON over HTTP (the
//! Streams API that DynamoDB Local serves beside DynamoDB), so the tests need no SDK for it.

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Value, json};

use rft_aws::follower::{ClickFollower, Followed};
use rft_core::Timestamp;

use crate::backends::dynamodb_endpoint;

/// Records per batch, as the event source mapping's `BatchSize`.
pub const BATCH: usize = 100;

/// Reads one table's stream from where it last stopped.
pub struct StreamPump {
    endpoint: String,
    table: String,
    http: reqwest::Client,
    after: Mutex<HashMap<String, String>>,
    last_batch: Mutex<Option<Value>>,
}

/// What the event source mapping lets through to the function (see `infra/lib/stack.ts`).
pub fn passes_filter(record: &Value) -> bool {
    record["eventName"] == "INSERT" && record["dynamodb"]["NewImage"]["c"]["S"].is_string()
}

impl StreamPump {
    /// A pump over `table`'s stream on the DynamoDB emulator.
    pub fn new(table: &str) -> Self {
        StreamPump {
            endpoint: dynamodb_endpoint(),
            table: table.to_owned(),
            http: rft_http::store_client::http_client().build().expect("an HTTP client"),
            after: Mutex::new(HashMap::new()),
            last_batch: Mutex::new(None),
        }
    }

    async fn call(&self, target: &str, body: Value) -> Value {
        let answer = self
            .http
            .post(&self.endpoint)
            .header("content-type", "application/x-amz-json-1.0")
            .header("x-amz-target", target)
            // The emulator wants a signature's shape, not a valid one.
            .header(
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20260101/eu-west-2/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
            )
            .body(body.to_string())
            .send()
            .await
            .expect("the emulator answers");
        let value: Value = answer.json().await.expect("JSON");
        assert!(value.get("__type").is_none(), "{target}: {value}");
        value
    }

    /// Every record written since the last call, in order per shard, filtered as Lambda does.
    pub async fn records(&self) -> Vec<Value> {
        let table = self.call("DynamoDB_20120810.DescribeTable", json!({ "TableName": self.table })).await;
        let arn = table["Table"]["LatestStreamArn"].as_str().expect("the table has a stream").to_owned();
        let stream = self.call("DynamoDBStreams_20120810.DescribeStream", json!({ "StreamArn": arn })).await;
        let mut out = Vec::new();
        for shard in stream["StreamDescription"]["Shards"].as_array().cloned().unwrap_or_default() {
            let id = shard["ShardId"].as_str().unwrap_or_default().to_owned();
            let after = self.after.lock().unwrap().get(&id).cloned();
            let mut ask = json!({ "StreamArn": arn, "ShardId": id, "ShardIteratorType": "TRIM_HORIZON" });
            if let Some(seq) = &after {
                ask["ShardIteratorType"] = json!("AFTER_SEQUENCE_NUMBER");
                ask["SequenceNumber"] = json!(seq);
            }
            let mut iterator = self.call("DynamoDBStreams_20120810.GetShardIterator", ask).await["ShardIterator"]
                .as_str()
                .map(str::to_owned);
            while let Some(it) = iterator.take() {
                let page = self.call("DynamoDBStreams_20120810.GetRecords", json!({ "ShardIterator": it })).await;
                let records = page["Records"].as_array().cloned().unwrap_or_default();
                if records.is_empty() {
                    break;
                }
                for mut r in records {
                    if let Some(seq) = r["dynamodb"]["SequenceNumber"].as_str() {
                        self.after.lock().unwrap().insert(id.clone(), seq.to_owned());
                    }
                    if passes_filter(&r) {
                        r["eventSourceARN"] = json!(arn);
                        out.push(r);
                    }
                }
                iterator = page["NextShardIterator"].as_str().map(str::to_owned);
            }
        }
        out
    }

    /// Hands every new record to `follower` in batches of [`BATCH`], as Lambda would.
    pub async fn follow(&self, follower: &ClickFollower, now: Timestamp) -> Followed {
        let mut total = Followed::default();
        for batch in self.records().await.chunks(BATCH) {
            let event = json!({ "Records": batch });
            let done = follower.handle(&event, now).await.expect("the follower counts the batch");
            *self.last_batch.lock().unwrap() = Some(event);
            total.clicks += done.clicks;
            total.skipped += done.skipped;
            total.repeated += done.repeated;
        }
        total
    }

    /// Hands the last batch again: what Lambda does when a function fails after its writes.
    pub async fn redeliver(&self, follower: &ClickFollower, now: Timestamp) -> Followed {
        let event = self.last_batch.lock().unwrap().clone().expect("a batch was delivered");
        follower.handle(&event, now).await.expect("the follower handles the batch again")
    }
}
