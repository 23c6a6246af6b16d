//! Processed webhook ids (replay protection).

use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::ids::CustomerId;
use crate::time::Timestamp;

/// The response given to a signed request, kept so a replay gets the same answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredResponse {
    /// HTTP status.
    pub status: u16,
    /// JSON body ([`ANSWER_ERASED`] once the customer it was about is erased).
    #[serde(default)]
    pub body: String,
    /// The opaque id ([`crate::service::erase::opaque_id`]) of the customer the request was
    /// about (a link's owner, an erased customer), whose erasure forgets the body: it may hold
    /// their invite or their portal link. Opaque, so the kept answer does not name them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub about: Option<CustomerId>,
}

impl StoredResponse {
    /// An answer about nobody in particular.
    pub fn new(status: u16, body: impl Into<String>) -> Self {
        StoredResponse { status, body: body.into(), about: None }
    }

    /// The same answer with its body forgotten (the customer it was about was erased).
    pub fn erased(&self) -> Self {
        StoredResponse { body: ANSWER_ERASED.to_owned(), ..self.clone() }
    }
}

/// What a replay gets in place of an answer about a customer since erased.
pub const ANSWER_ERASED: &str = r#"{"status":"already_handled","message":"this delivery was handled before; its answer was about a customer since erased"}"#;

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
    /// Forgets the bodies of the answers about the customer with this opaque id (erasure): a
    /// replay then gets [`ANSWER_ERASED`] with the same status.
    async fn forget_answers_about(&self, opaque: &CustomerId) -> Result<(), StoreError>;
}
