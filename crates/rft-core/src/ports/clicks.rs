//! The click log (`rft-clicks`).

use async_trait::async_trait;

use super::StoreError;
use crate::click::{Click, TouchKey};
use crate::identity::IdentityHash;
use crate::time::Timestamp;

/// The click log (`rft-clicks`): one write per click, read at sign-up by token, email or
/// browser. Counts of clicks (per code, per day, per hour) are not read here but from the
/// rollups ([`crate::rollup`]), which the log's follower keeps, so no read walks a code's clicks.
#[async_trait]
pub trait ClickStore: Send + Sync {
    /// Logs a click (or an email invite). Returns once it is durable. A caller may stop
    /// waiting (the redirect waits two seconds at most): the click is then still written if the
    /// store can, since the embedded log's writer runs until its queue is empty and the
    /// DynamoDB put runs as its own task.
    async fn record(&self, click: &Click) -> Result<(), StoreError>;
    /// The unexpired touches filed under `key`, newest first.
    async fn touches(&self, key: &TouchKey, now: Timestamp) -> Result<Vec<Click>, StoreError>;
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
