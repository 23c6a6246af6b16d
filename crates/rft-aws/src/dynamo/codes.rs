//! `CodeStore` on `rft-codes`: a code and its "one active code per customer" guard are claimed in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, Put, TransactWriteItem, Update};

use rft_core::ports::{ClaimError, CodeStore, ListWindow, StoreError};
use rft_core::{Code, CodeRecord, CodeStatus, CustomerId, Timestamp};

use super::items::{code_item, guard_key};
use super::listing::Listing;
use super::{DynamoStore, NOT_EXISTS, cancelled_items, put, tx_put, unavailable};
use crate::item::{doc, from_doc, get_s, item, s};
use crate::tables::{CODES_BY_REFERRER, CODES_BY_STATUS};

#[async_trait]
impl CodeStore for DynamoStore {
    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        let mut req = self.client.transact_write_items().transact_items(tx_put(
            Put::builder()
                .table_name(&self.tables.codes)
                .set_item(Some(code_item(record)))
                .condition_expression(NOT_EXISTS)
                .expression_attribute_names("#pk", "code")
                .build()
                .expect("table and item are set"),
        ));
        if record.is_active() {
            req = req.transact_items(tx_put(
                Put::builder()
                    .table_name(&self.tables.codes)
                    .set_item(Some(item([
                        ("code", s(guard_key(&record.referrer_id))),
                        ("active_code", s(record.code.as_str())),
                    ])))
                    .condition_expression(NOT_EXISTS)
                    .expression_attribute_names("#pk", "code")
                    .build()
                    .expect("table and item are set"),
            ));
        }
        let Err(err) = req.send().await else { return Ok(()) };
        let failed = cancelled_items("claim a code", err)?;
        if failed.contains(&0) {
            return Err(ClaimError::CodeTaken);
        }
        let guard = self
            .get_item(
                "read the active-code guard",
                &self.tables.codes,
                item([("code", s(guard_key(&record.referrer_id)))]),
            )
            .await?;
        match guard.as_ref().and_then(|g| get_s(g, "active_code")).map(Code::parse) {
            Some(Ok(code)) => Err(ClaimError::CustomerHasActiveCode(code)),
            // The guard vanished between the two calls (a concurrent retire): let the caller retry.
            _ => Err(ClaimError::CodeTaken),
        }
    }

    async fn forget_referrer(&self, code: &Code, opaque: &CustomerId, at: Timestamp) -> Result<(), StoreError> {
        let Some(mut record) = CodeStore::get(self, code).await? else { return Ok(()) };
        let owner = record.referrer_id.clone();
        if record.status == CodeStatus::Active {
            record.status = CodeStatus::Retired;
            record.retired_at = Some(at);
        }
        record.referrer_id = opaque.clone();
        record.referrer = Default::default();
        let release = Delete::builder()
            .table_name(&self.tables.codes)
            .key("code", s(guard_key(&owner)))
            .condition_expression("attribute_not_exists(code) OR active_code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .build()
            .expect("table and key are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(tx_put(put(&self.tables.codes, code_item(&record), None)))
            .transact_items(TransactWriteItem::builder().delete(release).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                // The guard names another code: rewrite this one alone.
                cancelled_items("forget a code's owner", err)?;
                self.client
                    .put_item()
                    .table_name(&self.tables.codes)
                    .set_item(Some(code_item(&record)))
                    .send()
                    .await
                    .map_err(unavailable("forget a code's owner"))?;
                Ok(())
            }
        }
    }

    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let found = self.get_item("read a code", &self.tables.codes, item([("code", s(code.as_str()))])).await?;
        found.map(|it| from_doc(&it, code.as_str())).transpose()
    }

    async fn active_code_of(&self, customer: &CustomerId) -> Result<Option<CodeRecord>, StoreError> {
        let guard = self
            .get_item("read the active-code guard", &self.tables.codes, item([("code", s(guard_key(customer)))]))
            .await?;
        let Some(code) = guard.as_ref().and_then(|g| get_s(g, "active_code")) else { return Ok(None) };
        let code = Code::parse(code).map_err(|e| StoreError::corrupt(guard_key(customer), e))?;
        CodeStore::get(self, &code).await
    }

    async fn codes_of(&self, customer: &CustomerId) -> Result<Vec<CodeRecord>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.codes)
            .index_name(CODES_BY_REFERRER)
            .key_condition_expression("referrer_id = :c")
            .expression_attribute_values(":c", s(customer.as_str()));
        let items = self.query_all("list a customer's codes", q).await?;
        items.iter().map(|it| from_doc(it, customer.as_str())).collect()
    }

    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        let Some(mut record) = CodeStore::get(self, code).await? else { return Ok(None) };
        if record.status == CodeStatus::Retired {
            return Ok(Some(record));
        }
        record.status = CodeStatus::Retired;
        record.retired_at = Some(at);
        let flip = Update::builder()
            .table_name(&self.tables.codes)
            .key("code", s(code.as_str()))
            .update_expression("SET #status = :retired, #doc = :doc")
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#doc", "doc")
            .expression_attribute_values(":retired", s(CodeStatus::Retired.as_str()))
            .expression_attribute_values(":active", s(CodeStatus::Active.as_str()))
            .expression_attribute_values(":doc", doc(&record))
            .build()
            .expect("table, key and expression are set");
        let release = Delete::builder()
            .table_name(&self.tables.codes)
            .key("code", s(guard_key(&record.referrer_id)))
            .condition_expression("attribute_not_exists(code) OR active_code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .build()
            .expect("table and key are set");
        let result = self
            .client
            .transact_write_items()
            .transact_items(TransactWriteItem::builder().update(flip.clone()).build())
            .transact_items(TransactWriteItem::builder().delete(release).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(Some(record)),
            Err(err) => {
                let failed = cancelled_items("retire a code", err)?;
                if failed.contains(&0) {
                    // Retired concurrently: report what is stored.
                    return CodeStore::get(self, code).await;
                }
                // The guard names another code: retire this one alone.
                self.client
                    .transact_write_items()
                    .transact_items(TransactWriteItem::builder().update(flip).build())
                    .send()
                    .await
                    .map_err(unavailable("retire a code"))?;
                Ok(Some(record))
            }
        }
    }

    async fn in_status(&self, status: CodeStatus, window: &ListWindow) -> Result<Vec<CodeRecord>, StoreError> {
        let listing =
            Listing { table: &self.tables.codes, index: CODES_BY_STATUS, group_attr: "status", id_attr: "code" };
        let items = self.newest_first("list codes by status", &listing, status.as_str(), window).await?;
        items.iter().map(|it| from_doc(it, get_s(it, "code").unwrap_or_default())).collect()
    }
}
