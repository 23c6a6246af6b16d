//! The reward port: one side's reward delivered to whoever hands it out (the store's own
//! `reward_url`, or the Stripe or Shopify API for a connected store).

use async_trait::async_trait;
use serde::Serialize;

use super::BoxError;
use crate::ids::{CustomerId, ReferralId};
use crate::ledger::Side;
use crate::money::Reward;

/// What the reward client is asked to do.
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
    /// `<referral_id>:<side>`: the store's `Idempotency-Key`, and the root of every provider
    /// key or deterministic code for this reward.
    pub fn idempotency_key(&self) -> String {
        format!("{}:{}", self.referral_id, self.side.as_str())
    }
}

/// What a provider made when it applied a reward: its own reference, for the ledger, and for a
/// code reward the code the customer types (it reaches them in their thank-you).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    /// The provider's id for it: a Stripe balance transaction (`cbtxn_...`) or promotion code
    /// (`promo_...`), a Shopify store credit transaction or discount node (`gid://...`).
    pub reference: String,
    /// The code to send the customer, when the reward is a code.
    pub code: Option<String>,
}

/// The reward was acknowledged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FulfilOutcome {
    /// The store's endpoint answered 2xx: applied now.
    Applied,
    /// The store's endpoint answered 409: it had applied it before.
    AlreadyApplied,
    /// A provider applied it (now, or on an earlier attempt it recognised by its key) and said
    /// what it made.
    Issued(Issued),
}

impl FulfilOutcome {
    /// The provider's reference, if it gave one.
    pub fn reference(&self) -> Option<&str> {
        match self {
            FulfilOutcome::Issued(i) => Some(&i.reference),
            _ => None,
        }
    }

    /// The code to send the customer, if the reward is one.
    pub fn code(&self) -> Option<&str> {
        match self {
            FulfilOutcome::Issued(i) => i.code.as_deref(),
            _ => None,
        }
    }
}

/// A fulfilment attempt failed: retried with backoff if [`FulfilError::is_retryable`], else
/// parked for a person at once.
#[derive(Debug, thiserror::Error)]
#[error(
    "the reward was not acknowledged{}{}",
    status.map(|s| format!(" (HTTP {s})")).unwrap_or_default(),
    if *outcome_unknown { "; no answer came back, so it may have been applied" } else { "" }
)]
pub struct FulfilError {
    /// HTTP status, if the store or provider answered with one.
    pub status: Option<u16>,
    /// The underlying failure: a transport error, a timeout, the provider's own error.
    #[source]
    pub source: Option<BoxError>,
    /// The adapter's own verdict on retrying, where the status alone would mislead (Stripe's
    /// 409 is a concurrent request holding the idempotency key, worth retrying; Shopify's
    /// throttling comes with a 200). `None`: decided by `status`.
    pub retryable: Option<bool>,
    /// The call may have taken effect although no answer came back (a timeout, a dropped
    /// connection). Idempotent calls retry anyway; a call that is not idempotent reports such
    /// a failure as not retryable, so a person checks before anything is sent again.
    pub outcome_unknown: bool,
}

impl FulfilError {
    /// The store or provider answered with an HTTP error status.
    pub fn status(status: u16) -> Self {
        FulfilError { status: Some(status), source: None, retryable: None, outcome_unknown: false }
    }

    /// No answer came back (timeout, connection lost): the call may have landed. Retryable,
    /// since the store dedupes by `Idempotency-Key`.
    pub fn no_answer(source: impl Into<BoxError>) -> Self {
        FulfilError { status: None, source: Some(source.into()), retryable: None, outcome_unknown: true }
    }

    /// Whether asking again can help: no answer, a timeout, throttling or a server error can
    /// pass; any other refusal (a bad key, an unknown customer, a rejected body) will not
    /// change by itself and goes to a person. An adapter's own verdict wins.
    pub fn is_retryable(&self) -> bool {
        if let Some(verdict) = self.retryable {
            return verdict;
        }
        match self.status {
            None => true,
            Some(status) => status >= 500 || status == 408 || status == 429,
        }
    }
}

/// Whoever hands rewards out: the store's endpoint or a provider's API.
#[async_trait]
pub trait RewardClient: Send + Sync {
    /// Applies one side's reward, idempotently by [`FulfilmentRequest::idempotency_key`].
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError>;

    /// Whether a repeated call with the same key can never apply the reward twice. `false`
    /// (Shopify store credit, which takes no key and cannot be looked up) makes the `fulfil`
    /// job claim the ledger row before each call, and park the row rather than call again
    /// when an earlier call's outcome is unknown.
    fn idempotent(&self) -> bool {
        true
    }
}
