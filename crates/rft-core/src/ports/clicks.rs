//! The click log (`rft-clicks`).

use async_trait::async_trait;

use super::StoreError;
use crate::click::{Click, TouchKey};
use crate::code::Code;
use crate::identity::IdentityHash;
use crate::time::Timestamp;

/// The click log (`rft-clicks`): one write per click, read at sign-up.
#[async_trait]
pub trait ClickStore: Send + Sync {
    /// Logs a click (or an email invite).
    async fn record(&self, click: &Click) -> Result<(), StoreError>;
    /// The unexpired touches filed under `key`, newest first.
    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError>;
    /// How many unexpired clicks a code received at or after `since` (velocity).
    async fn count_for_code(&self, code: &Code, since: Timestamp, now: Timestamp) -> Result<u64, StoreError>;
    /// A code's unexpired clicks at or after `since`, oldest first, as (time, channel) pairs
    /// (the referrer's stats).
    async fn clicks_of_code(
        &self,
        code: &Code,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Vec<(Timestamp, Option<String>)>, StoreError>;
    /// Erasure: deletes every touch filed under `key`; returns how many.
    async fn forget(&self, key: &TouchKey) -> Result<usize, StoreError>;
    /// The newest unexpired click from a browser (IP and user agent hash) at or after `since`.
    async fn latest_from_browser(
        &self,
        browser: &IdentityHash,
        since: Timestamp,
        now: Timestamp,
    ) -> Result<Option<Click>, StoreError>;
}
