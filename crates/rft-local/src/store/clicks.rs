//! `ClickStore`: the click log ([`crate::clicklog`]) answers every read from its own index;
//! reads and erasure run on the blocking pool (they read and write files).

use async_trait::async_trait;

use rft_core::click::TouchKey;
use rft_core::identity::IdentityHash;
use rft_core::ports::{ClickStore, StoreError};
use rft_core::{Click, Timestamp};

use super::LocalStore;

impl LocalStore {
    async fn on_log<T: Send + 'static>(
        &self,
        op: &'static str,
        f: impl FnOnce(&crate::clicklog::ClickLog) -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let log = self.clicks.clone();
        tokio::task::spawn_blocking(move || f(&log)).await.map_err(|e| StoreError::unavailable(op, e))
    }
}

#[async_trait]
impl ClickStore for LocalStore {
    async fn record(&self, click: &Click) -> Result<(), StoreError> {
        self.clicks.record(click).await
    }

    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError> {
        let key = key.clone();
        self.on_log("read a token's clicks", move |log| log.touches(&key, now)).await
    }

    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError> {
        let key = key.clone();
        self.on_log("forget touches", move |log| log.forget(&key))
            .await?
            .map_err(|e| StoreError::unavailable("forget touches", e))
    }

    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        let browser = browser.clone();
        self.on_log("find a browser's latest click", move |log| log.latest_from_browser(&browser, since, now)).await
    }
}
