//! `CodeStore` on `rft-codes`: a code and its "one active code per customer" guard are claimed in one transaction.

use async_trait::async_trait;
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::types::{Delete, TransactWriteItem, Update};

use rft_core::code::CodeFlag;
use rft_core::ports::{ClaimError, CodeStore, ListWindow, StoreError};
use rft_core::{Code, CodeRecord, CodeStatus, CustomerId, Timestamp};

use super::items::{FLAG_QUEUE, guard_key};
use super::listing::Listing;
use super::{DynamoStore, cancelled_items, put, put_absent, tx_put, unavailable};
use crate::item::{get_s, item, n, s};
use crate::tables::{CODES_BY_FLAG, CODES_BY_REFERRER, CODES_BY_STATUS};

impl DynamoStore {
    /// Rewrites a code's record as `change` makes it, on the condition that it did not change
    /// meanwhile (codes carry no version: the stored record itself is the condition). Returns
    /// the record before and after, or `None` if there is no such code or `change` declined.
    async fn update_code(
        &self,
        code: &Code,
        change: impl Fn(&CodeRecord) -> Option<CodeRecord>,
    ) -> Result<Option<(CodeRecord, CodeRecord)>, StoreError> {
        for _ in 0..4 {
            let key = item([("code", s(code.as_str()))]);
            let Some(found) = self.get_item("read a code", &self.tables.codes, key.clone()).await? else {
                return Ok(None);
            };
            let before: CodeRecord = self.open(&found, code.as_str()).await?;
            let Some(after) = change(&before) else { return Ok(None) };
            let stored = self.seal(&after, after.referrer_id.as_str()).await?.update();
            let mut update = self
                .client
                .update_item()
                .table_name(&self.tables.codes)
                .set_key(Some(key))
                .condition_expression("#doc = :old")
                .expression_attribute_names("#doc", "doc")
                .set_expression_attribute_values(Some(stored.values.iter().cloned().collect()))
                .expression_attribute_values(":old", found.get("doc").cloned().unwrap_or_else(|| s("")));
            update = match &after.flag {
                Some(flag) => update
                    .update_expression(stored.expression(&["flag_queue = :q", "flagged_at = :at"], &[]))
                    .expression_attribute_values(":q", s(FLAG_QUEUE))
                    .expression_attribute_values(":at", n(flag.at.as_millis())),
                None => update.update_expression(stored.expression(&[], &["flag_queue", "flagged_at"])),
            };
            match update.send().await {
                Ok(_) => return Ok(Some((before, after))),
                Err(SdkError::ServiceError(e)) if e.err().is_conditional_check_failed_exception() => continue,
                Err(e) => return Err(StoreError::unavailable("update a code", e)),
            }
        }
        Err(StoreError::unavailable("update a code", "the code kept changing"))
    }
}

impl DynamoStore {
    /// Deletes `owner`'s active-code guard if it names `code` (or is already gone): a code that
    /// stops being active frees its owner for a new one, never someone else's guard.
    fn release_guard(&self, owner: &CustomerId, code: &Code) -> Delete {
        Delete::builder()
            .table_name(&self.tables.codes)
            .key("code", s(guard_key(owner)))
            .condition_expression("attribute_not_exists(code) OR active_code = :code")
            .expression_attribute_values(":code", s(code.as_str()))
            .build()
            .expect("table and key are set")
    }
}

#[async_trait]
impl CodeStore for DynamoStore {
    async fn flag(&self, code: &Code, flag: &CodeFlag) -> Result<bool, StoreError> {
        let changed = self
            .update_code(code, |r| r.flag.is_none().then(|| CodeRecord { flag: Some(flag.clone()), ..r.clone() }))
            .await?;
        Ok(changed.is_some())
    }

    async fn clear_flag(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        match self.update_code(code, |r| r.flag.is_some().then(|| CodeRecord { flag: None, ..r.clone() })).await? {
            Some((_, after)) => Ok(Some(after)),
            None => CodeStore::get(self, code).await,
        }
    }

    async fn flagged(&self, limit: usize) -> Result<Vec<CodeRecord>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.codes)
            .index_name(CODES_BY_FLAG)
            .key_condition_expression("flag_queue = :q")
            .expression_attribute_values(":q", s(FLAG_QUEUE));
        let items = self.query_all("list flagged codes", q).await?;
        let mut out = Vec::new();
        for it in &items {
            let record: CodeRecord = self.open(it, get_s(it, "code").unwrap_or_default()).await?;
            if record.is_active() && record.flag.is_some() {
                out.push(record);
            }
        }
        out.truncate(limit);
        Ok(out)
    }

    async fn claim(&self, record: &CodeRecord) -> Result<(), ClaimError> {
        let mut req = self.client.transact_write_items().transact_items(tx_put(put_absent(
            &self.tables.codes,
            self.stored_code(record).await?,
            "code",
        )));
        if record.is_active() {
            let guard = item([("code", s(guard_key(&record.referrer_id))), ("active_code", s(record.code.as_str()))]);
            req = req.transact_items(tx_put(put_absent(&self.tables.codes, guard, "code")));
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
        // The invite names the referrer.
        record.invite.clear();
        let release = self.release_guard(&owner, code);
        let result = self
            .client
            .transact_write_items()
            .transact_items(tx_put(put(&self.tables.codes, self.stored_code(&record).await?, None)))
            .transact_items(TransactWriteItem::builder().delete(release).build())
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => {
                // The guard names another code: rewrite this one alone.
                cancelled_items("forget a code's owner", err)?;
                self.put_item("forget a code's owner", &self.tables.codes, self.stored_code(&record).await?).await
            }
        }
    }

    async fn get(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let found = self.get_item("read a code", &self.tables.codes, item([("code", s(code.as_str()))])).await?;
        match found {
            Some(it) => Ok(Some(self.open(&it, code.as_str()).await?)),
            None => Ok(None),
        }
    }

    async fn get_public(&self, code: &Code) -> Result<Option<CodeRecord>, StoreError> {
        let found = self.get_item("read a code", &self.tables.codes, item([("code", s(code.as_str()))])).await?;
        found.map(|it| crate::item::from_doc(&it, code.as_str())).transpose()
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
        let q = self.query_key(&self.tables.codes, Some(CODES_BY_REFERRER), "referrer_id", customer.as_str());
        self.open_all(&self.query_all("list a customer's codes", q).await?, customer.as_str()).await
    }

    async fn retire(&self, code: &Code, at: Timestamp) -> Result<Option<CodeRecord>, StoreError> {
        let Some(mut record) = CodeStore::get(self, code).await? else { return Ok(None) };
        if record.status == CodeStatus::Retired {
            return Ok(Some(record));
        }
        record.status = CodeStatus::Retired;
        record.retired_at = Some(at);
        let stored = self.seal(&record, record.referrer_id.as_str()).await?.update();
        let flip = Update::builder()
            .table_name(&self.tables.codes)
            .key("code", s(code.as_str()))
            .update_expression(stored.expression(&["#status = :retired"], &[]))
            .condition_expression("#status = :active")
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#doc", "doc")
            .set_expression_attribute_values(Some(stored.values.into_iter().collect()))
            .expression_attribute_values(":retired", s(CodeStatus::Retired.as_str()))
            .expression_attribute_values(":active", s(CodeStatus::Active.as_str()))
            .build()
            .expect("table, key and expression are set");
        let release = self.release_guard(&record.referrer_id, code);
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
        self.open_all(&items, "a listed code").await
    }
}
