//! `ClickStore` on `rft-clicks`: one item per click, read by token, email, code or browser.

use async_trait::async_trait;
use aws_sdk_dynamodb::types::Select;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityHash;
use rft_core::ports::{ClickStore, StoreError};
use rft_core::{Click, Code, Timestamp};

use super::items::click_item;
use super::{DynamoStore, unavailable};
use crate::item::{from_doc, get_n, get_s, n, s};
use crate::tables::{CLICKS_BY_BROWSER, CLICKS_BY_CODE};

#[async_trait]
impl ClickStore for DynamoStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.tables.clicks)
            .set_item(Some(click_item(click)))
            .send()
            .await
            .map_err(unavailable("log a click"))?;
        Ok(())
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let id = key.attribution_id();
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .key_condition_expression("attribution_id = :t")
            .filter_expression("expires_at_ms > :now")
            .expression_attribute_values(":t", s(id.as_str()))
            .expression_attribute_values(":now", n(now.as_millis()))
            .scan_index_forward(false)
            .consistent_read(true);
        let items = self.query_all("read a token's clicks", q).await?;
        items.iter().map(|it| from_doc(it, &id)).collect()
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let id = key.attribution_id();
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .key_condition_expression("attribution_id = :t")
            .expression_attribute_values(":t", s(id.as_str()))
            .consistent_read(true);
        let items = self.query_all("list touches to forget", q).await?;
        for it in &items {
            let ts = get_n(it, "click_ts").unwrap_or_default();
            self.client
                .delete_item()
                .table_name(&self.tables.clicks)
                .key("attribution_id", s(id.as_str()))
                .key("click_ts", n(ts))
                .send()
                .await
                .map_err(unavailable("forget a touch"))?;
        }
        Ok(items.len())
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.clicks)
                .index_name(CLICKS_BY_BROWSER)
                .key_condition_expression("browser = :b AND click_ts BETWEEN :since AND :now")
                .filter_expression("expires_at_ms > :now")
                .expression_attribute_values(":b", s(browser.as_str()))
                .expression_attribute_values(":since", n(since.as_millis()))
                .expression_attribute_values(":now", n(now.as_millis()))
                .scan_index_forward(false)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("find a browser's latest click"))?;
            if let Some(first) = page.items.unwrap_or_default().first() {
                return from_doc(first, browser.as_str()).map(Some);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(None),
            }
        }
    }

    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError> {
        let q = self
            .client
            .query()
            .table_name(&self.tables.clicks)
            .index_name(CLICKS_BY_CODE)
            .key_condition_expression("code = :c AND click_ts BETWEEN :since AND :now")
            .filter_expression("expires_at_ms > :now")
            .expression_attribute_values(":c", s(code.as_str()))
            .expression_attribute_values(":since", n(since.as_millis()))
            .expression_attribute_values(":now", n(now.as_millis()));
        let items = self.query_all("list a code's clicks", q).await?;
        Ok(items
            .iter()
            .filter_map(|it| {
                Some((Timestamp::from_millis(get_n(it, "click_ts")?), get_s(it, "channel").map(str::to_owned)))
            })
            .collect())
    }

    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
        let mut total = 0u64;
        let mut start = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.tables.clicks)
                .index_name(CLICKS_BY_CODE)
                .key_condition_expression("code = :c AND click_ts >= :since")
                .filter_expression("expires_at_ms > :now")
                .expression_attribute_values(":c", s(code.as_str()))
                .expression_attribute_values(":since", n(since.as_millis()))
                .expression_attribute_values(":now", n(now.as_millis()))
                .select(Select::Count)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(unavailable("count a code's clicks"))?;
            total += u64::try_from(page.count).unwrap_or(0);
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(total),
            }
        }
    }
}
