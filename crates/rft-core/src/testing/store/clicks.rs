//! `ClickStore`: touches are invisible once `expires_at` is not after `now`; each click is counted
//! into the rollups as it is recorded.

use async_trait::async_trait;

use super::MemoryStore;
use crate::click::{Click, TouchKey};
use crate::identity::IdentityHash;
use crate::ports::{ClickStore, StoreError};
use crate::rollup::{ClickCell, click_steps};
use crate::time::Timestamp;

#[async_trait]
impl ClickStore for MemoryStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        let mut s = self.enter("record")?;
        s.clicks.push(click.clone());
        // Counted at once, as the embedded click log counts each durable click.
        let cell = ClickCell::of(&click.code, click.at, click.channel.as_deref());
        let steps = click_steps([(&cell, 1)]);
        super::counters::apply_steps(&mut s, &steps, click.at);
        Ok(())
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let s = self.enter("touches")?;
        let mut found: Vec<Click> = s.clicks.iter().filter(|c| c.key == *key && c.expires_at > now).cloned().collect();
        found.sort_by_key(|c| std::cmp::Reverse(c.at));
        Ok(found)
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let mut s = self.enter("forget")?;
        let before = s.clicks.len();
        s.clicks.retain(|c| c.key != *key);
        Ok(before - s.clicks.len())
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let s = self.enter("latest_from_browser")?;
        let matching = s
            .clicks
            .iter()
            .filter(|c| c.browser.as_ref() == Some(browser) && c.at >= since && c.at <= now && c.expires_at > now);
        Ok(matching.max_by_key(|c| c.at).cloned())
    }
}
