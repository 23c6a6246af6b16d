//! The ports: small traits the domain needs and the adapters implement (DynamoDB, SQS, SES,
//! Bedrock in AWS; redb, a file outbox and HTTP clients locally). Every store method takes
//! `now` where expiry matters, so expired items are filtered by the code, never left to TTL.

use std::sync::Arc;

mod audit;
mod clicks;
mod codes;
mod counters;
mod discounts;
mod functions;
mod ledger;
mod listing;
mod messaging;
mod orders;
mod personal_keys;
mod queue;
mod referrals;
mod rewards;
mod unsubscribes;
mod webhooks;

pub use audit::*;
pub use clicks::*;
pub use codes::*;
pub use counters::*;
pub use discounts::*;
pub use functions::*;
pub use ledger::*;
pub use listing::*;
pub use messaging::*;
pub use orders::*;
pub use personal_keys::*;
pub use queue::*;
pub use referrals::*;
pub use rewards::*;
pub use unsubscribes::*;
pub use webhooks::*;

/// Any underlying error, kept as a source rather than flattened to a string.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An error and its sources as one line, for logs and cross-function replies.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

/// A store could not do what was asked, for reasons that are not the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed or could not be reached; retrying may help.
    #[error("storage failed while trying to {op}")]
    Unavailable {
        /// What was being attempted.
        op: &'static str,
        /// The backend's error.
        #[source]
        source: BoxError,
    },
    /// An item exists but cannot be decoded.
    #[error("stored item {key} could not be decoded")]
    Corrupt {
        /// The item's key.
        key: String,
        /// The decoding error.
        #[source]
        source: BoxError,
    },
}

impl StoreError {
    /// Wraps a backend failure.
    pub fn unavailable(op: &'static str, source: impl Into<BoxError>) -> Self {
        StoreError::Unavailable { op, source: source.into() }
    }

    /// Wraps a decoding failure.
    pub fn corrupt(key: impl Into<String>, source: impl Into<BoxError>) -> Self {
        StoreError::Corrupt { key: key.into(), source: source.into() }
    }
}

/// A conditional write lost to a concurrent one.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The item changed since it was read (version mismatch) or is gone.
    #[error("the item changed since it was read")]
    Conflict,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Every store port over one backend, as the services use them.
#[derive(Clone)]
pub struct Stores {
    /// `rft-codes`.
    pub codes: Arc<dyn CodeStore>,
    /// `rft-clicks`.
    pub clicks: Arc<dyn ClickStore>,
    /// `rft-referrals`.
    pub referrals: Arc<dyn ReferralStore>,
    /// `rft-rewards`.
    pub ledger: Arc<dyn LedgerStore>,
    /// `rft-audit`.
    pub audit: Arc<dyn AuditStore>,
    /// Processed webhook ids.
    pub webhooks: Arc<dyn WebhookLog>,
    /// Quotas and velocity counters.
    pub counters: Arc<dyn Counters>,
    /// The store's orders, for refunds.
    pub orders: Arc<dyn OrderStore>,
    /// Addresses that asked for no more programme email.
    pub unsubscribes: Arc<dyn Unsubscribes>,
    /// The keys sealing personal fields, destroyed on erasure.
    pub keys: Arc<dyn PersonalKeys>,
}

impl Stores {
    /// Every port from one backend that implements them all.
    pub fn from_backend<S>(backend: Arc<S>) -> Self
    where
        S: CodeStore
            + ClickStore
            + ReferralStore
            + LedgerStore
            + AuditStore
            + WebhookLog
            + Counters
            + OrderStore
            + Unsubscribes
            + PersonalKeys
            + 'static,
    {
        Stores {
            codes: backend.clone(),
            clicks: backend.clone(),
            referrals: backend.clone(),
            ledger: backend.clone(),
            audit: backend.clone(),
            webhooks: backend.clone(),
            counters: backend.clone(),
            orders: backend.clone(),
            unsubscribes: backend.clone(),
            keys: backend,
        }
    }
}
