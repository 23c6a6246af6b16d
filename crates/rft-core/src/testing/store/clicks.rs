//! `ClickStore`: touches are invisible once `expires_at` is not after `now`.

use async_trait::async_trait;

use super::MemoryStore;
use crate::click::{Click, TouchKey};
use crate::code::Code;
use crate::identity::IdentityHash;
use crate::ports::{ClickStore, StoreError};
use crate::time::Timestamp;

#[async_trait]
impl ClickStore for MemoryStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.enter("record")?.clicks.push(click.clone());
        Ok(())
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let s = self.enter("touches")?;
        let mut found: Vec<Click> = s.clicks.iter().filter(|c| c.key == *key && c.expires_at > now).cloned().collect();
        found.sort_by_key(|c| std::cmp::Reverse(c.at));
        Ok(found)
    }

    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
        let s = self.enter("count_for_code")?;
        Ok(s.clicks.iter().filter(|c| c.code == *code && c.at >= since && c.expires_at > now).count() as u64)
    }

    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError> {
        let s = self.enter("clicks_of_code")?;
        let mut found: Vec<(Timestamp, Option<String>)> = s
            .clicks
            .iter()
            .filter(|c| c.code == *code && c.at >= since && c.at <= now && c.expires_at > now)
            .map(|c| (c.at, c.channel.clone()))
            .collect();
        found.sort_by_key(|(at, _)| *at);
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
