//! The friend's discount at a connected store: the referral code itself, as a discount at the
//! provider's checkout (a Stripe promotion code, a Shopify discount code). Minting a code makes
//! it, retiring the code deactivates it.

use async_trait::async_trait;

use super::BoxError;
use crate::code::Code;
use crate::money::Terms;

/// Why the provider could not make or deactivate a code's discount.
#[derive(Debug, thiserror::Error)]
#[error("the friend's discount for code {code} could not be {action}")]
pub struct DiscountError {
    /// The code.
    pub code: Code,
    /// `created` or `deactivated`.
    pub action: &'static str,
    /// Whether trying again later can help (an outage, throttling, a timeout).
    pub retryable: bool,
    /// The provider's error.
    #[source]
    pub source: BoxError,
}

/// The provider's side of a code's friend discount.
#[async_trait]
pub trait Discounts: Send + Sync {
    /// Whether a provider holds the discounts. `false` for a store on our own webhooks, whose
    /// checkout applies the friend's reward itself: nothing is made, nothing is queued.
    fn connected(&self) -> bool;

    /// Makes sure the discount under `code` exists for `terms.friend_reward`, creating it once:
    /// a repeat, also a concurrent one, finds the first instead of making a second. Returns the
    /// provider's reference for it.
    async fn ensure_for(&self, code: &Code, terms: &Terms) -> Result<Option<String>, DiscountError>;

    /// Makes the discount under `code` unusable (its code was retired). Repeating it, or
    /// deactivating a discount that was never made, is harmless.
    async fn deactivate(&self, code: &Code) -> Result<(), DiscountError>;
}

/// `store.kind = "webhooks"`: the store's own checkout handles the friend's reward.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoDiscounts;

#[async_trait]
impl Discounts for NoDiscounts {
    fn connected(&self) -> bool {
        false
    }

    async fn ensure_for(&self, _code: &Code, _terms: &Terms) -> Result<Option<String>, DiscountError> {
        Ok(None)
    }

    async fn deactivate(&self, _code: &Code) -> Result<(), DiscountError> {
        Ok(())
    }
}
