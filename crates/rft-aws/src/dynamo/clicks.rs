//! `ClickStore` on `rft-clicks`: one compact item per click ([`super::items::click_item`]),
//! read by token (filed under its digest) or email (the table's key) and by browser (the
//! sparse `by_browser` index, only populated with the fingerprint fallback on). Clicks logged
//! before the digest were filed under the token itself; those are read and forgotten too until
//! they expire (the window, at most), after which that second query finds nothing. Nothing reads a code's clicks: counts come
//! from the rollups, which the table's stream feeds ([`crate::follower`]). Expired clicks are
//! filtered here, from each item's own expiry.

use std::ops::ControlFlow;

use async_trait::async_trait;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityHash;
use rft_core::ports::{ClickStore, StoreError};
use rft_core::{Click, Timestamp};

use super::items::{click_from_item, click_item, touch_row_id};
use super::{DynamoStore, unavailable};
use crate::item::{get_n, n, s};
use crate::tables::CLICKS_BY_BROWSER;

#[async_trait]
impl ClickStore for DynamoStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        // Its own task, so a redirect that stops waiting leaves the put running.
        let put = self.client.put_item().table_name(&self.tables.clicks).set_item(Some(click_item(click)?)).send();
        match tokio::spawn(put).await {
            Ok(done) => done.map(|_| ()).map_err(unavailable("log a click")),
            Err(e) => Err(StoreError::unavailable("log a click", e)),
        }
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let token = match key {
            TouchKey::Token(token) => Some(token),
            TouchKey::Email(_) => None,
        };
        let read = |id: String| {
            let q = self
                .query_key(&self.tables.clicks, None, "attribution_id", &id)
                .scan_index_forward(false)
                .consistent_read(true);
            self.query_all("read a token's clicks", q)
        };
        let (filed, before_digest) = futures_util::future::try_join(read(touch_row_id(key)), async {
            match token {
                Some(_) => read(key.attribution_id()).await,
                None => Ok(Vec::new()),
            }
        })
        .await?;
        let mut clicks = Vec::with_capacity(filed.len() + before_digest.len());
        for it in filed.iter().chain(&before_digest) {
            let click = click_from_item(it, token)?;
            if click.expires_at > now {
                clicks.push(click);
            }
        }
        clicks.sort_by_key(|c| std::cmp::Reverse(c.at));
        Ok(clicks)
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let mut ids = vec![touch_row_id(key)];
        if matches!(key, TouchKey::Token(_)) {
            ids.push(key.attribution_id());
        }
        let mut forgotten = 0;
        for id in ids {
            let q = self
                .query_key(&self.tables.clicks, None, "attribution_id", &id)
                .projection_expression("click_ts")
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
            forgotten += items.len();
        }
        Ok(forgotten)
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let q = self
            .query_key(&self.tables.clicks, Some(CLICKS_BY_BROWSER), "browser", browser.as_str())
            .key_condition_expression("#key = :key AND click_ts BETWEEN :since AND :now")
            .expression_attribute_values(":since", n(since.as_millis()))
            .expression_attribute_values(":now", n(now.as_millis()))
            .scan_index_forward(false);
        // Newest first: the first unexpired click (its expiry is its own, read from the item).
        self.paginate("find a browser's latest click", q, |page| {
            for item in page.items.unwrap_or_default() {
                let click = click_from_item(&item, None)?;
                if click.expires_at > now {
                    return Ok(ControlFlow::Break(click));
                }
            }
            Ok(ControlFlow::Continue(()))
        })
        .await
    }
}
