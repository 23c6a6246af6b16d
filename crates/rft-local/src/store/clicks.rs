//! `ClickStore`: clicks by token or email, by code and by browser; written through the click log.

use async_trait::async_trait;
use redb::ReadableTable;
use redb::WriteTransaction;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityHash;
use rft_core::ports::{ClickStore, StoreError};
use rft_core::{Click, Code, Timestamp};

use super::index::span;
use super::{CLICKS, CLICKS_BY_BROWSER, CLICKS_BY_CODE, LocalStore, decode, decode_w, encode};

#[async_trait]
impl ClickStore for LocalStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.clicks.record(click.clone()).await
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let id = key.attribution_id();
        self.clicks.settle().await?;
        self.read("read a token's clicks", move |txn| {
            let clicks = txn.open_table(CLICKS)?;
            let mut out = Vec::new();
            for entry in clicks.range((id.as_str(), i64::MIN)..=(id.as_str(), i64::MAX))?.rev() {
                let (_, v) = entry?;
                let click: Click = decode(&id, v.value())?;
                if click.expires_at > now {
                    out.push(click);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let id = key.attribution_id();
        self.clicks.settle().await?;
        self.write_ok("forget touches", move |txn| {
            let mut clicks = txn.open_table(CLICKS)?;
            let mut doomed: Vec<(i64, Click)> = Vec::new();
            for entry in clicks.range((id.as_str(), i64::MIN)..=(id.as_str(), i64::MAX))? {
                let (k, v) = entry?;
                doomed.push((k.value().1, decode_w::<Click>(&id, v.value())?));
            }
            let mut by_code = txn.open_table(CLICKS_BY_CODE)?;
            let mut by_browser = txn.open_table(CLICKS_BY_BROWSER)?;
            for (at, click) in &doomed {
                clicks.remove((id.as_str(), *at))?;
                by_code.remove((click.code.as_str(), *at, id.as_str()))?;
                if let Some(b) = &click.browser {
                    by_browser.remove((b.as_str(), *at, id.as_str()))?;
                }
            }
            Ok(doomed.len())
        })
        .await
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let browser = browser.clone();
        self.clicks.settle().await?;
        self.read("find a browser's latest click", move |txn| {
            let index = txn.open_table(CLICKS_BY_BROWSER)?;
            let clicks = txn.open_table(CLICKS)?;
            let b = browser.as_str();
            for entry in span(&index, b, since.as_millis()..=now.as_millis())?.rev() {
                let (key, expires_at) = entry?;
                if expires_at.value() <= now.as_millis() {
                    continue;
                }
                let (_, at, id) = key.value();
                if let Some(v) = clicks.get((id, at))? {
                    return Ok(Some(decode(id, v.value())?));
                }
            }
            Ok(None)
        })
        .await
    }

    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError> {
        let code = code.clone();
        self.clicks.settle().await?;
        self.read("list a code's clicks", move |txn| {
            let index = txn.open_table(CLICKS_BY_CODE)?;
            let clicks = txn.open_table(CLICKS)?;
            let mut out = Vec::new();
            for entry in span(&index, code.as_str(), since.as_millis()..=now.as_millis())? {
                let (key, expires_at) = entry?;
                if expires_at.value() <= now.as_millis() {
                    continue;
                }
                let (_, at, id) = key.value();
                if let Some(v) = clicks.get((id, at))? {
                    let click: Click = decode(id, v.value())?;
                    out.push((click.at, click.channel));
                }
            }
            Ok(out)
        })
        .await
    }

    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError> {
        let code = code.clone();
        self.clicks.settle().await?;
        self.read("count a code's clicks", move |txn| {
            let index = txn.open_table(CLICKS_BY_CODE)?;
            let mut n = 0;
            for entry in span(&index, code.as_str(), since.as_millis()..=i64::MAX)? {
                let (_, expires_at) = entry?;
                if expires_at.value() > now.as_millis() {
                    n += 1;
                }
            }
            Ok(n)
        })
        .await
    }
}

/// Writes clicks and their index entries; the tables are opened once for the whole group.
pub(crate) fn insert_clicks<'c>(
    txn: &WriteTransaction,
    clicks: impl IntoIterator<Item = &'c Click>,
) -> Result<(), redb::Error> {
    let mut by_id = txn.open_table(CLICKS)?;
    let mut by_code = txn.open_table(CLICKS_BY_CODE)?;
    let mut by_browser = txn.open_table(CLICKS_BY_BROWSER)?;
    for click in clicks {
        let id = click.key.attribution_id();
        let (at, expires_at) = (click.at.as_millis(), click.expires_at.as_millis());
        by_id.insert((id.as_str(), at), encode(click).as_slice())?;
        by_code.insert((click.code.as_str(), at, id.as_str()), expires_at)?;
        if let Some(browser) = &click.browser {
            by_browser.insert((browser.as_str(), at, id.as_str()), expires_at)?;
        }
    }
    Ok(())
}
