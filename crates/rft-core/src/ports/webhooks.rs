//! Processed webhook ids (replay protection).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::time::Timestamp;

/// The response given to a signed request, kept so a replay gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body.
    pub body: String,
}

/// What `begin` found for a webhook id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Begin {
    /// First time: the caller now holds it and must `finish` or `abandon`.
    Fresh,
    /// Another delivery of the same id is being handled right now.
    InFlight,
    /// Already handled: answer the same again, do nothing.
    Done(StoredResponse),
}

/// How long processed webhook ids are remembered (stores retry for days).
pub const WEBHOOK_MEMORY: Duration = Duration::from_secs(7 * 24 * 3600);

/// Processed webhook ids, so a replay is acknowledged and has no second effect.
#[async_trait]
pub trait WebhookLog: Send + Sync {
    /// Claims an id for `lease` (a crashed holder's claim lapses), or reports its state.
    async fn begin(&self, id: &str, now: Timestamp, lease: Duration) -> Result<Begin, StoreError>;
    /// Records the answer given; remembered for [`WEBHOOK_MEMORY`].
    async fn finish(&self, id: &str, response: &StoredResponse, now: Timestamp) -> Result<(), StoreError>;
    /// Releases a claim after a failure, so the store's retry is processed afresh.
    async fn abandon(&self, id: &str) -> Result<(), StoreError>;
}
