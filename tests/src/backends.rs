//! Fresh, isolated stores and queues per test on each backend.

use std::sync::Arc;

use rft_aws::{DynamoStore, SqsQueue, TableNames};
use rft_core::ids::random_base32;
use rft_core::ports::{JobQueue, Stores};
use rft_core::time::SystemClock;
use rft_local::{LocalQueue, LocalStore};

/// The emulator endpoint for DynamoDB: `AWS_ENDPOINT_URL` if the user set one (LocalStack),
/// else the DynamoDB Local that `make test` started.
pub fn dynamodb_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("RFT_TEST_DYNAMODB_ENDPOINT"))
        .expect("no DynamoDB emulator: run the tests with `make test`, which starts DynamoDB Local and moto")
}

/// The emulator endpoint for SQS, SES, SNS and Secrets Manager (moto, or `AWS_ENDPOINT_URL`).
pub fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL")
        .or_else(|_| std::env::var("RFT_TEST_MOTO_ENDPOINT"))
        .expect("no AWS emulator: run the tests with `make test`, which starts DynamoDB Local and moto")
}

/// A unique prefix so concurrent tests never share tables or queues.
pub fn unique_prefix() -> String {
    format!("t{}-", &random_base32()[..12])
}

/// Fresh stores on an in-memory redb.
pub fn local_stores() -> Stores {
    Stores::from_backend(Arc::new(LocalStore::in_memory()))
}

/// A DynamoDB client for the emulator.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let config = rft_aws::config::for_emulator(&dynamodb_endpoint()).await;
    aws_sdk_dynamodb::Client::new(&config)
}

/// Fresh stores on DynamoDB Local: five new tables under a unique prefix.
pub async fn dynamo_stores() -> Stores {
    let client = dynamodb_client().await;
    let names = TableNames::with_prefix(&unique_prefix());
    rft_aws::tables::create_tables(&client, &names).await.expect("create tables on the emulator");
    Stores::from_backend(Arc::new(DynamoStore::new(client, names)))
}

/// A fresh queue on the embedded store.
pub fn local_queue() -> Arc<dyn JobQueue> {
    Arc::new(LocalQueue::new(LocalStore::in_memory(), "rft-signup-jobs", Arc::new(SystemClock)))
}

/// A fresh queue with its DLQ on moto's SQS.
pub async fn sqs_queue() -> Arc<dyn JobQueue> {
    let config = rft_aws::config::for_emulator(&moto_endpoint()).await;
    let client = aws_sdk_sqs::Client::new(&config);
    let name = format!("{}rft-signup-jobs", unique_prefix());
    Arc::new(SqsQueue::create(client, &name).await.expect("create a queue on the emulator"))
}

/// A harness on the embedded store.
pub fn local_harness(settings: rft_core::Settings) -> crate::harness::Harness {
    crate::harness::Harness::local_with(settings)
}

/// A harness on DynamoDB Local.
pub async fn dynamo_harness(settings: rft_core::Settings) -> crate::harness::Harness {
    crate::harness::Harness::new(dynamo_stores().await, settings)
}

/// A harness on the embedded store, with the store itself (for dumps).
pub fn local_harness_with_store(settings: rft_core::Settings) -> (crate::harness::Harness, LocalStore) {
    let store = LocalStore::in_memory();
    (crate::harness::Harness::new(Stores::from_backend(Arc::new(store.clone())), settings), store)
}

/// A harness on DynamoDB Local, with its client and table names (for scans).
pub async fn dynamo_harness_with_tables(
    settings: rft_core::Settings,
) -> (crate::harness::Harness, aws_sdk_dynamodb::Client, TableNames) {
    let client = dynamodb_client().await;
    let names = TableNames::with_prefix(&unique_prefix());
    rft_aws::tables::create_tables(&client, &names).await.expect("create tables on the emulator");
    let stores = Stores::from_backend(Arc::new(DynamoStore::new(client.clone(), names.clone())));
    (crate::harness::Harness::new(stores, settings), client, names)
}

/// Every item of the five tables, as text (tests only: a scan reads everything).
pub async fn scan_all(client: &aws_sdk_dynamodb::Client, names: &TableNames) -> String {
    let mut out = String::new();
    for table in [&names.codes, &names.clicks, &names.referrals, &names.rewards, &names.audit] {
        let mut start = None;
        loop {
            let page = client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            for item in page.items.unwrap_or_default() {
                out.push_str(&format!("{item:?}\n"));
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
    }
    out
}
