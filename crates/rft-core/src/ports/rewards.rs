//! The store's reward endpoint.

use async_trait::async_trait;
use serde::Serialize;

use super::BoxError;
use crate::ids::{CustomerId, ReferralId};
use crate::ledger::Side;
use crate::money::Reward;

/// What the store's reward endpoint is asked to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FulfilmentRequest {
    /// The referral paid.
    pub referral_id: ReferralId,
    /// Referrer or friend; with the referral, the idempotency key.
    pub side: Side,
    /// Who receives it.
    pub customer_id: CustomerId,
    /// The reward as pinned at mint (and stepped by the referrer's tier).
    pub reward: Reward,
}

impl FulfilmentRequest {
    /// `<referral_id>:<side>`, sent as `Idempotency-Key`.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.referral_id, self.side.as_str())
    }
}

/// The store acknowledged a reward.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FulfilOutcome {
    /// 2xx: applied now.
    Applied,
    /// 409: it had applied it before.
    AlreadyApplied,
}

/// A fulfilment attempt failed: retried with backoff if [`FulfilError::is_retryable`], else
/// parked for a person at once.
#[derive(Debug, thiserror::Error)]
#[error("the store's reward endpoint failed{}", status.map(|s| format!(" with HTTP {s}")).unwrap_or_default())]
pub struct FulfilError {
    /// HTTP status, if the store answered.
    pub status: Option<u16>,
    /// Transport error or timeout, if it did not.
    #[source]
    pub source: Option<BoxError>,
}

impl FulfilError {
    /// Whether asking again can help: no answer, a timeout, throttling or a server error can
    /// pass; any other refusal (a bad key, an unknown customer, a rejected body) will not
    /// change by itself and goes to a person.
    pub fn is_retryable(&self) -> bool {
        match self.status {
            None => true,
            Some(status) => status >= 500 || status == 408 || status == 429,
        }
    }
}

/// The store's reward endpoint.
#[async_trait]
pub trait RewardClient: Send + Sync {
    /// Asks the store to apply one side's reward (idempotent by key).
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError>;
}
