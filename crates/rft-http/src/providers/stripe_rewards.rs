//! The reward port and the discount port for a Stripe account.
//!
//! A side's reward (the referrer's, and the friend's when their checkout did not already use
//! the code) is, per `store.stripe.referrer_reward`:
//! - `balance`: a credit on the customer's balance (`POST /v1/customers/{id}/balance_transactions`,
//!   `Idempotency-Key: <referral_id>:<side>`), referenced by its `cbtxn_...` id. A customer id
//!   that is not a Stripe customer's (a guest, known by email) cannot hold a balance, so they
//!   get a code instead;
//! - `promotion_code`: a single-use promotion code derived from the key, limited to the
//!   customer, referenced by its `promo_...` id; its text reaches them in their thank-you.
//!
//! Every POST carries a key derived from `<referral_id>:<side>`, so a retry gets the first
//! call's object back instead of a second credit.

use async_trait::async_trait;

use rft_core::code::Code;
use rft_core::money::Terms;
use rft_core::ports::{DiscountError, Discounts, FulfilError, FulfilOutcome, FulfilmentRequest, Issued, RewardClient};
use rft_core::settings::StripeReferrerReward;

use super::StripeClient;

/// Whether `id` is a Stripe customer id (`cus_...`), which can hold a balance and own a code.
fn stripe_customer(id: &str) -> Option<&str> {
    id.starts_with("cus_").then_some(id)
}

/// Rewards through the Stripe API.
#[derive(Clone, Debug)]
pub struct StripeRewards {
    client: StripeClient,
    method: StripeReferrerReward,
}

impl StripeRewards {
    /// Rewards paid by `method` through `client`.
    pub fn new(client: StripeClient, method: StripeReferrerReward) -> Self {
        StripeRewards { client, method }
    }
}

#[async_trait]
impl RewardClient for StripeRewards {
    async fn fulfil(&self, request: &FulfilmentRequest) -> Result<FulfilOutcome, FulfilError> {
        let key = request.idempotency_key();
        let reward = &request.reward;
        let customer = stripe_customer(request.customer_id.as_str());
        let issued = match (self.method, customer) {
            (StripeReferrerReward::Balance, Some(customer)) => {
                let credit = self
                    .client
                    .credit_balance(customer, reward.amount_minor, &reward.currency, &reward.description, &key)
                    .await
                    .map_err(|e| e.into_fulfil_error())?;
                Issued { reference: credit.id, code: None }
            }
            _ => {
                let promo = self
                    .client
                    .single_use_promotion_code(
                        customer,
                        reward.amount_minor,
                        &reward.currency,
                        &reward.description,
                        &key,
                    )
                    .await
                    .map_err(|e| e.into_fulfil_error())?;
                Issued { reference: promo.id, code: Some(promo.code) }
            }
        };
        Ok(FulfilOutcome::Issued(issued))
    }
}

/// The friend's discount: coupon `rft_<CODE>` for the code's pinned friend terms and promotion
/// code `CODE` for first-time customers; retiring deactivates the promotion code.
#[derive(Clone, Debug)]
pub struct StripeDiscounts {
    client: StripeClient,
}

impl StripeDiscounts {
    /// Discounts through `client`.
    pub fn new(client: StripeClient) -> Self {
        StripeDiscounts { client }
    }
}

#[async_trait]
impl Discounts for StripeDiscounts {
    fn connected(&self) -> bool {
        true
    }

    async fn ensure_for(&self, code: &Code, terms: &Terms) -> Result<Option<String>, DiscountError> {
        let friend = &terms.friend_reward;
        let promo = self
            .client
            .ensure_friend_discount(code, friend.amount_minor, &friend.currency, &friend.description)
            .await
            .map_err(|e| e.into_discount_error(code, "created"))?;
        Ok(Some(promo.id))
    }

    async fn deactivate(&self, code: &Code) -> Result<(), DiscountError> {
        let found = self.client.find_promotion_code(code.as_str()).await;
        match found.map_err(|e| e.into_discount_error(code, "deactivated"))? {
            Some(promo) if promo.active => {
                self.client
                    .deactivate_promotion_code(&promo.id, &format!("rft-retire:{code}"))
                    .await
                    .map_err(|e| e.into_discount_error(code, "deactivated"))?;
                Ok(())
            }
            // Never made, or deactivated already.
            _ => Ok(()),
        }
    }
}
