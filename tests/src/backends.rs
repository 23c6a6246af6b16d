//! Fresh, isolated stores and queues per test on each backend.

use std::sync::Arc;

use rft_aws::{DynamoStore, SqsQueue, TableNames};
use rft_core::ids::random_base32;
use rft_core::ports::{JobQueue, Stores};
use rft_core::time::SystemClock;
use rft_local::{LocalQueue, LocalStore};

/// An AWS service the tests reach on an emulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// DynamoDB (DynamoDB Local under `make test`).
    DynamoDb,
    /// SQS (moto).
    Sqs,
    /// SES v2, the API the product sends mail through (moto).
    SesV2,
    /// SNS, for SMS (moto).
    Sns,
    /// Secrets Manager (moto).
    SecretsManager,
}

impl Service {
    /// The variable the AWS SDKs read this service's endpoint from: `AWS_ENDPOINT_URL_` and the
    /// SDK's service id upper-cased with spaces as underscores (`SESv2` is `SESV2`; SES v1's
    /// `AWS_ENDPOINT_URL_SES` is another service, which the product does not use).
    pub fn endpoint_var(self) -> &'static str {
        match self {
            Service::DynamoDb => "AWS_ENDPOINT_URL_DYNAMODB",
            Service::Sqs => "AWS_ENDPOINT_URL_SQS",
            Service::SesV2 => "AWS_ENDPOINT_URL_SESV2",
            Service::Sns => "AWS_ENDPOINT_URL_SNS",
            Service::SecretsManager => "AWS_ENDPOINT_URL_SECRETS_MANAGER",
        }
    }
}

/// Where the tests reach `service`, read as the AWS SDKs read it: its own
/// `AWS_ENDPOINT_URL_<SERVICE>`, else `AWS_ENDPOINT_URL`. `make test-rust`
/// (`scripts/emulators.py`) sets the former for each service it starts an emulator for, so a
/// user can point some services at an emulator of their own (say, a LocalStack) and have the
/// rest started.
pub fn endpoint(service: Service) -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    var(service.endpoint_var()).or_else(|| var("AWS_ENDPOINT_URL")).unwrap_or_else(|| {
        panic!(
            "no emulator for {service:?}: set {} or AWS_ENDPOINT_URL, or run the tests with `make test-rust`, \
             which starts DynamoDB Local and moto",
            service.endpoint_var()
        )
    })
}

/// The DynamoDB emulator's endpoint.
pub fn dynamodb_endpoint() -> String {
    endpoint(Service::DynamoDb)
}

/// The endpoint of SQS's emulator (moto under `make test`), which the fault tests put a switch in
/// front of to take the queues away.
pub fn moto_endpoint() -> String {
    endpoint(Service::Sqs)
}

/// SDK configuration for `service`'s emulator (fixed test credentials and region).
pub async fn sdk_config(service: Service) -> aws_config::SdkConfig {
    rft_aws::config::for_emulator(&endpoint(service)).await
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
    aws_sdk_dynamodb::Client::new(&sdk_config(Service::DynamoDb).await)
}

/// Fresh stores on the DynamoDB emulator: five new tables under a unique prefix.
pub async fn dynamo_stores() -> Stores {
    let client = dynamodb_client().await;
    let names = TableNames::with_prefix(&unique_prefix());
    rft_aws::tables::create_tables(&client, &names).await.expect("create tables on the emulator");
    Stores::from_backend(Arc::new(DynamoStore::new(client, names)))
}

/// Stores and a way to bring their click counts up to date: nothing to do for the embedded
/// store (its click log counts as it writes), `rft-clicks`' stream pumped through the follower
/// for DynamoDB (as Lambda does within seconds in AWS).
pub struct Following {
    /// The stores.
    pub stores: Stores,
    /// The DynamoDB store's stream and follower.
    pub stream: Option<(crate::streams::StreamPump, rft_aws::follower::ClickFollower)>,
}

impl Following {
    /// Counts every click written so far.
    pub async fn follow(&self) {
        if let Some((pump, follower)) = &self.stream {
            pump.follow(follower, rft_core::Clock::now(&SystemClock)).await;
        }
    }
}

/// The embedded store, following itself.
pub fn local_following() -> Following {
    Following { stores: local_stores(), stream: None }
}

/// Fresh DynamoDB stores with their stream's follower.
pub async fn dynamo_following() -> Following {
    let client = dynamodb_client().await;
    let names = TableNames::with_prefix(&unique_prefix());
    rft_aws::tables::create_tables(&client, &names).await.expect("create tables on the emulator");
    let store = DynamoStore::new(client, names.clone());
    Following {
        stores: Stores::from_backend(Arc::new(store.clone())),
        stream: Some((crate::streams::StreamPump::new(&names.clicks), rft_aws::follower::ClickFollower::new(store))),
    }
}

/// A fresh queue on the embedded store.
pub fn local_queue() -> Arc<dyn JobQueue> {
    Arc::new(LocalQueue::new(LocalStore::in_memory(), "rft-signup-jobs", Arc::new(SystemClock)))
}

/// A fresh queue with its DLQ on the SQS emulator.
pub async fn sqs_queue() -> Arc<dyn JobQueue> {
    let client = aws_sdk_sqs::Client::new(&sdk_config(Service::Sqs).await);
    let name = format!("{}rft-signup-jobs", unique_prefix());
    Arc::new(SqsQueue::create(client, &name).await.expect("create a queue on the emulator"))
}

/// A harness on the embedded store.
pub fn local_harness(settings: rft_core::Settings) -> crate::harness::Harness {
    crate::harness::Harness::local_with(settings)
}

/// A harness on DynamoDB Local.
pub async fn dynamo_harness(settings: rft_core::Settings) -> crate::harness::Harness {
    let Following { stores, stream } = dynamo_following().await;
    let mut harness = crate::harness::Harness::new(stores, settings);
    harness.clicks_stream = stream;
    harness
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

/// Every item of the five data tables, raw, each followed by what the store can read of it
/// with the live keys (tests only: a scan reads everything).
pub async fn scan_all(client: &aws_sdk_dynamodb::Client, names: &TableNames) -> String {
    render(client, names, &scan_items(client, names).await).await
}

/// Every item of the five data tables (not `rft-keys`): what a backup of them holds.
pub async fn scan_items(client: &aws_sdk_dynamodb::Client, names: &TableNames) -> Vec<rft_aws::item::Item> {
    let mut out = Vec::new();
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
            out.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => break,
            }
        }
    }
    out
}

/// Rewrites a sealed `item` of `table` as a version before sealing wrote it: the whole record,
/// opened with the live keys, in `doc`, and nothing sealed.
pub async fn write_as_before_sealing(
    client: &aws_sdk_dynamodb::Client,
    names: &TableNames,
    table: &str,
    item: &rft_aws::item::Item,
) {
    let store = DynamoStore::new(client.clone(), names.clone());
    let mut legacy = item.clone();
    legacy.insert("doc".into(), rft_aws::item::s(store.readable(item).await.expect("the item reads")));
    legacy.retain(|name, _| !["p", "ko", "kg"].contains(&name.as_str()));
    client.put_item().table_name(table).set_item(Some(legacy)).send().await.expect("rewritten");
}

/// Items as text, one per line: the raw item, then what the store reads of it with the keys in
/// `names.keys` as they are now (a restored copy is read with the live keys).
pub async fn render(client: &aws_sdk_dynamodb::Client, names: &TableNames, items: &[rft_aws::item::Item]) -> String {
    let store = DynamoStore::new(client.clone(), names.clone());
    let mut out = String::new();
    for item in items {
        let readable = store.readable(item).await.expect("every item reads");
        out.push_str(&format!("{item:?} {readable}\n"));
    }
    out
}
