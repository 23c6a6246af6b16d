//! Every store port on DynamoDB, on the six tables of [`crate::tables`]. Conditions do the
//! work: a code is claimed with `attribute_not_exists`, a referral changes only at the version
//! it was read, and a payout (flip, both ledger rows, tally, audit) is one TransactWriteItems.
//! Condition failures and cancellation reasons come back as typed domain errors.
//!
//! One file per port: [`codes`], [`clicks`], [`referrals`], [`ledger`], [`audit`], [`webhooks`],
//! [`counters`], [`orders`], [`unsubscribes`]; item layouts in [`items`]; how a request is sent
//! and read in [`requests`]; the console's listings in [`listing`]; personal fields sealed, and
//! the keys erasure destroys, in [`seal`]; the operators' whole-table calls in [`upkeep`].

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use rft_core::Referral;
use rft_core::ports::StoreError;

use crate::item::{Item, get_s, item, s};
use crate::tables::TableNames;

mod audit;
mod clicks;
mod codes;
mod counters;
mod items;
mod ledger;
mod listing;
mod orders;
mod referrals;
mod requests;
mod seal;
mod unsubscribes;
mod upkeep;
mod webhooks;

/// The DynamoDB store.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    tables: TableNames,
    keys: std::sync::Arc<seal::KeyCache>,
}

impl DynamoStore {
    /// A store over `tables` using `client`.
    pub fn new(client: Client, tables: TableNames) -> Self {
        DynamoStore { client, tables, keys: Default::default() }
    }

    /// Opens the connection (DNS, TLS) during init, so the first request does not pay for it.
    /// Failure is only logged: the first real call will report it properly.
    pub async fn warm(&self) {
        let probe = self.client.get_item().table_name(&self.tables.codes).key("code", s("warmup#")).send().await;
        if let Err(e) = probe {
            tracing::warn!(error = %e, "warm-up read failed");
        }
    }

    /// The table names in use.
    pub fn tables(&self) -> &TableNames {
        &self.tables
    }

    pub(crate) fn client(&self) -> &Client {
        &self.client
    }

    /// A counter step as a transaction's update (see `counters.rs`).
    pub(crate) fn rollup_update(&self, step: &rft_core::ledger::CounterStep) -> aws_sdk_dynamodb::types::Update {
        self.counter_step(step)
    }
}

pub(super) fn unavailable<E>(op: &'static str) -> impl FnOnce(E) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
{
    move |e| StoreError::unavailable(op, e)
}

/// Which transaction items failed their condition (by position); any other failure is a
/// storage error.
pub(super) fn cancelled_items<R>(
    op: &'static str,
    err: SdkError<TransactWriteItemsError, R>,
) -> Result<Vec<usize>, StoreError>
where
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match err {
        SdkError::ServiceError(service) => match service.err() {
            TransactWriteItemsError::TransactionCanceledException(e) => Ok(e
                .cancellation_reasons()
                .iter()
                .enumerate()
                .filter(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
                .map(|(i, _)| i)
                .collect()),
            _ => Err(StoreError::unavailable(op, SdkError::ServiceError(service))),
        },
        other => Err(StoreError::unavailable(op, other)),
    }
}

pub(super) fn put(table: &str, item: Item, condition: Option<&str>) -> Put {
    let mut p = Put::builder().table_name(table).set_item(Some(item));
    if let Some(c) = condition {
        p = p.condition_expression(c);
    }
    p.build().expect("table and item are set")
}

/// A transaction's put of an item whose partition key `pk` must not exist yet.
pub(super) fn put_absent(table: &str, item: Item, pk: &str) -> Put {
    Put::builder()
        .table_name(table)
        .set_item(Some(item))
        .condition_expression(NOT_EXISTS)
        .expression_attribute_names("#pk", pk)
        .build()
        .expect("table and item are set")
}

pub(super) fn tx_put(p: Put) -> TransactWriteItem {
    TransactWriteItem::builder().put(p).build()
}

pub(super) const NOT_EXISTS: &str = "attribute_not_exists(#pk)";

impl DynamoStore {
    pub(super) async fn referral_by_id(&self, id: &str) -> Result<Option<Referral>, StoreError> {
        let key = item([("referred_id", s(format!("referral#{id}")))]);
        let found = self.get_item("read a referral", &self.tables.referrals, key).await?;
        match found {
            Some(it) => Ok(Some(self.open(&it, id).await?)),
            None => Ok(None),
        }
    }

    pub(super) async fn referral_id_for_claim(&self, claim: &str) -> Result<Option<String>, StoreError> {
        let found =
            self.get_item("read an identity claim", &self.tables.referrals, item([("referred_id", s(claim))])).await?;
        Ok(found.and_then(|it| get_s(&it, "referral_id").map(str::to_owned)))
    }
}
