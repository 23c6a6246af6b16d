//! Shared by the benches: a whole system on an in-memory store, and a click store that keeps
//! nothing, to time the redirect handler's own CPU apart from storage.

use async_trait::async_trait;

use rft_core::click::TouchKey;
use rft_core::ports::{ClickStore, StoreError};
use rft_core::secrets::SecretSet;
use rft_core::{Click, Settings, Timestamp};
use rft_local::system::System;

/// A click store that accepts every click and keeps none.
pub struct DiscardClicks;

#[async_trait]
impl ClickStore for DiscardClicks {
    async fn record(&self, _click: &Click) -> Result<(), StoreError> {
        Ok(())
    }
    async fn touches(&self, _key: &TouchKey, _now: Timestamp) -> Result<Vec<Click>, StoreError> {
        Ok(Vec::new())
    }
    async fn forget(&self, _key: &TouchKey) -> Result<usize, StoreError> {
        Ok(0)
    }
    async fn latest_from_browser(
        &self,
        _browser: &rft_core::identity::IdentityHash,
        _since: Timestamp,
        _now: Timestamp,
    ) -> Result<Option<Click>, StoreError> {
        Ok(None)
    }
}

/// The whole system on an in-memory embedded store with the example settings.
pub fn system() -> (System, SecretSet) {
    System::in_memory(Settings::parse(include_str!("../../../settings.example.toml")).expect("example settings parse"))
}
