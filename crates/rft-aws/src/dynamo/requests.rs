//! The request shapes every adapter uses, once: a consistent read of one item, a query by one
//! key followed to its last page, a put that reports whether its condition held. Each port's
//! file says what it asks; these say how a request is sent and its answer read.

use std::ops::ControlFlow;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::operation::scan::builders::ScanFluentBuilder;
use serde::de::DeserializeOwned;

use rft_core::ports::StoreError;

use super::{DynamoStore, NOT_EXISTS, unavailable};
use crate::item::{Item, from_doc, s};

/// Sends a conditional write: `Some(output)` if it landed, `None` if its condition failed.
pub(super) async fn conditional<T, E, R>(
    op: &'static str,
    request: impl Future<Output = Result<T, SdkError<E, R>>>,
) -> Result<Option<T>, StoreError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    match request.await {
        Ok(output) => Ok(Some(output)),
        Err(e) if e.code() == Some("ConditionalCheckFailedException") => Ok(None),
        Err(e) => Err(StoreError::unavailable(op, e)),
    }
}

/// Every item's record, read from its `doc`; `key` names the items in a decoding error.
pub(super) fn docs<T: DeserializeOwned>(items: &[Item], key: &str) -> Result<Vec<T>, StoreError> {
    items.iter().map(|it| from_doc(it, key)).collect()
}

impl DynamoStore {
    /// One item, read consistently.
    pub(super) async fn get_item(&self, op: &'static str, table: &str, key: Item) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(table)
            .set_key(Some(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(unavailable(op))?;
        Ok(out.item)
    }

    /// Writes an item, replacing any with its key.
    pub(super) async fn put_item(&self, op: &'static str, table: &str, item: Item) -> Result<(), StoreError> {
        self.client.put_item().table_name(table).set_item(Some(item)).send().await.map_err(unavailable(op))?;
        Ok(())
    }

    /// Writes an item unless one with its partition key (`pk`) exists; `false` if one did.
    pub(super) async fn put_if_absent(
        &self,
        op: &'static str,
        table: &str,
        pk: &str,
        item: Item,
    ) -> Result<bool, StoreError> {
        let put = self
            .client
            .put_item()
            .table_name(table)
            .set_item(Some(item))
            .condition_expression(NOT_EXISTS)
            .expression_attribute_names("#pk", pk);
        Ok(conditional(op, put.send()).await?.is_some())
    }

    /// A query of `table` (or of its `index`) for the items whose partition key `attr` is `value`.
    pub(super) fn query_key(&self, table: &str, index: Option<&str>, attr: &str, value: &str) -> QueryFluentBuilder {
        self.client
            .query()
            .table_name(table)
            .set_index_name(index.map(str::to_owned))
            .key_condition_expression("#key = :key")
            .expression_attribute_names("#key", attr)
            .expression_attribute_values(":key", s(value))
    }

    /// Runs a query page by page, handing each page to `take` until it breaks or the last page
    /// is taken; the break's value, if any.
    pub(super) async fn paginate<B>(
        &self,
        op: &'static str,
        query: QueryFluentBuilder,
        mut take: impl FnMut(QueryOutput) -> Result<ControlFlow<B>, StoreError>,
    ) -> Result<Option<B>, StoreError> {
        let mut start = None;
        loop {
            let mut page = query.clone().set_exclusive_start_key(start).send().await.map_err(unavailable(op))?;
            let next = page.last_evaluated_key.take().filter(|k| !k.is_empty());
            if let ControlFlow::Break(b) = take(page)? {
                return Ok(Some(b));
            }
            match next {
                Some(k) => start = Some(k),
                None => return Ok(None),
            }
        }
    }

    /// Runs a scan to its last page and returns every item (the operators' whole-table calls).
    pub(super) async fn scan_all(&self, op: &'static str, scan: ScanFluentBuilder) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = scan.clone().set_exclusive_start_key(start).send().await.map_err(unavailable(op))?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(items),
            }
        }
    }

    /// Runs a query to its last page and returns every item.
    pub(super) async fn query_all(&self, op: &'static str, query: QueryFluentBuilder) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        self.paginate(op, query, |page| {
            items.extend(page.items.unwrap_or_default());
            Ok(ControlFlow::<()>::Continue(()))
        })
        .await?;
        Ok(items)
    }
}
