//! `ClickStore` on `rft-clicks`: one item per click, read by token, email, code or browser.

use std::ops::ControlFlow;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder;
use aws_sdk_dynamodb::types::Select;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityHash;
use rft_core::ports::{ClickStore, StoreError};
use rft_core::{Click, Code, Timestamp};

use super::items::click_item;
use super::requests::docs;
use super::{DynamoStore, unavailable};
use crate::item::{from_doc, get_n, get_s, n, s};
use crate::tables::{CLICKS_BY_BROWSER, CLICKS_BY_CODE};

impl DynamoStore {
    /// A query of an `rft-clicks` index for the unexpired clicks whose `attr` is `value`, made
    /// at or after `since` (and, if `until_now`, not after `now`).
    fn live_clicks(
        &self,
        index: &str,
        attr: &str,
        value: &str,
        since: Timestamp,
        now: Timestamp,
        until_now: bool,
    ) -> QueryFluentBuilder {
        let range = if until_now { "click_ts BETWEEN :since AND :now" } else { "click_ts >= :since" };
        self.client
            .query()
            .table_name(&self.tables.clicks)
            .index_name(index)
            .key_condition_expression(format!("#key = :key AND {range}"))
            .filter_expression("expires_at_ms > :now")
            .expression_attribute_names("#key", attr)
            .expression_attribute_values(":key", s(value))
            .expression_attribute_values(":since", n(since.as_millis()))
            .expression_attribute_values(":now", n(now.as_millis()))
    }
}

#[async_trait]
impl ClickStore for DynamoStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.put_item("log a click", &self.tables.clicks, click_item(click)).await
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let id = key.attribution_id();
        let q = self
            .query_key(&self.tables.clicks, None, "attribution_id", &id)
            .filter_expression("expires_at_ms > :now")
            .expression_attribute_values(":now", n(now.as_millis()))
            .scan_index_forward(false)
            .consistent_read(true);
        docs(&self.query_all("read a token's clicks", q).await?, &id)
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let id = key.attribution_id();
        let q = self.query_key(&self.tables.clicks, None, "attribution_id", &id).consistent_read(true);
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
        let q = self
            .live_clicks(CLICKS_BY_BROWSER, "browser", browser.as_str(), since, now, true)
            .scan_index_forward(false);
        // Newest first: the first item of the first page that has one.
        self.paginate("find a browser's latest click", q, |page| {
            Ok(match page.items.unwrap_or_default().first() {
                Some(first) => ControlFlow::Break(from_doc(first, browser.as_str())?),
                None => ControlFlow::Continue(()),
            })
        })
        .await
    }

    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError> {
        let q = self.live_clicks(CLICKS_BY_CODE, "code", code.as_str(), since, now, true);
        let items = self.query_all("list a code's clicks", q).await?;
        Ok(items
            .iter()
            .filter_map(|it| {
                Some((Timestamp::from_millis(get_n(it, "click_ts")?), get_s(it, "channel").map(str::to_owned)))
            })
            .collect())
    }

    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
        let q = self.live_clicks(CLICKS_BY_CODE, "code", code.as_str(), since, now, false).select(Select::Count);
        let mut total = 0u64;
        self.paginate("count a code's clicks", q, |page| {
            total += u64::try_from(page.count).unwrap_or(0);
            Ok(ControlFlow::<()>::Continue(()))
        })
        .await?;
        Ok(total)
    }
}
